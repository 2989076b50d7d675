//! The crate's one seeded random generator, PCG32 (XSH-RR, O'Neill 2014): the same seed gives the
//! same numbers natively and in wasm, so splits, augmentations and initial weights reproduce.

pub struct Pcg32 {
    state: u64,
    increment: u64,
}

const MULTIPLIER: u64 = 6364136223846793005;

impl Pcg32 {
    pub fn new(seed: u64) -> Self {
        // The reference seeding routine: a fixed stream, the seed mixed in through two steps.
        let mut rng = Pcg32 { state: 0, increment: (0xda3e39cb94b95bdb << 1) | 1 };
        rng.next_u32();
        rng.state = rng.state.wrapping_add(seed);
        rng.next_u32();
        rng
    }

    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(MULTIPLIER).wrapping_add(self.increment);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        xorshifted.rotate_right((old >> 59) as u32)
    }

    /// Uniform in [0, 1): the top 24 bits, exactly representable in f32.
    pub fn uniform(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// Standard normal by the Box-Muller transform: sqrt(-2 ln u1) cos(2 pi u2), u1 in (0, 1].
    pub fn normal(&mut self) -> f32 {
        let u1 = 1.0 - self.uniform() as f64;
        let u2 = self.uniform() as f64;
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers() {
        let (mut a, mut b) = (Pcg32::new(42), Pcg32::new(42));
        assert!((0..100).all(|_| a.next_u32() == b.next_u32()));
        assert_ne!(Pcg32::new(1).next_u32(), Pcg32::new(2).next_u32());
    }

    #[test]
    fn moments_look_right() {
        let mut rng = Pcg32::new(7);
        let n = 100_000;
        let uniform: Vec<f32> = (0..n).map(|_| rng.uniform()).collect();
        assert!(uniform.iter().all(|&u| (0.0..1.0).contains(&u)));
        let mean = uniform.iter().sum::<f32>() / n as f32;
        assert!((mean - 0.5).abs() < 0.01, "uniform mean {mean}");
        let normal: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
        let mean = normal.iter().sum::<f32>() / n as f32;
        let var = normal.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n as f32;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.02, "normal mean {mean} var {var}");
    }
}
