//! fastai's schedules as pure functions of the training position, with the formulas of fastai
//! 2.x's source (`fastai/callback/schedule.py`): one-cycle, SGDR, the exponential sweep of
//! lr_find, discriminative rates and the smoothed loss.
//!
//! - Position: batch k (counted from 0 over the whole fit) of N = epochs * batches per epoch is at
//!   pos = k / N in [0, 1).
//! - Cosine annealing from s (p = 0) to e (p = 1): s + (1 + cos(pi (1 - p))) (e - s) / 2.
//! - Phases (fastai's combine_scheds): fractions pct_i adding up to 1, cum = [0, pct_1,
//!   pct_1 + pct_2, ...]; at pos the phase is i = the last with cum[i] <= pos, and within it
//!   p = (pos - cum[i]) / pct_i.
//! - One-cycle (fit_one_cycle(n_epoch, lr_max = 1e-3, div = 25, div_final = 1e5,
//!   pct_start = 0.25, moms = (0.95, 0.85, 0.95))): two cosine phases of pct_start and
//!   1 - pct_start. The rate warms up from lr_max / div to lr_max, then anneals to
//!   lr_max / div_final; momentum (Adam's beta1) goes the other way, 0.95 -> 0.85, then back
//!   0.85 -> 0.95. Both are set before every batch, the rate per parameter group.
//!   With N = 100 and lr_max = 1e-3: k = 0 gives lr 4e-5 and mom 0.95; k = 25 lr 1e-3, mom 0.85;
//!   k = 50 lr 7.500025e-4, mom 0.875; k = 99 lr 4.4858e-7, mom 0.949956.
//! - fine_tune(epochs, base_lr = 2e-3, freeze_epochs = 1, lr_mult = 100) runs one-cycle frozen
//!   for freeze_epochs at slice(base_lr) with pct_start 0.99, then unfrozen for epochs at
//!   slice(base_lr / 2 / lr_mult, base_lr / 2) with pct_start 0.3 and div 5 (in `learner`).
//! - Discriminative rates: slice(a, b) gives even_mults(a, b, groups) = a (b / a)^(i / (n - 1));
//!   slice(b) gives b / 10 to every group but the last, b to the last.
//! - SGDR (fit_sgdr(n_cycles, cycle_len, lr_max, cycle_mult = 2)): cycle i lasts
//!   cycle_len * cycle_mult^i epochs, each a cosine from lr_max to 0, no warm-up.
//! - lr_find: lr_i = start (end / start)^(i / num_it), defaults 1e-7, 10, 100.
//! - Smoothed loss: v_t = 0.98 v_(t-1) + 0.02 loss_t from v_0 = 0, shown as v_t / (1 - 0.98^t).

use std::f64::consts::PI;

use crate::error::{Error, Result};

/// Cosine from `start` (p = 0) to `end` (p = 1): s + (1 + cos(pi (1 - p))) (e - s) / 2.
pub fn cos_anneal(start: f64, end: f64, p: f64) -> f64 {
    start + (1.0 + (PI * (1.0 - p)).cos()) * (end - start) / 2.0
}

/// Exponential from `start` to `end`: s (e / s)^p.
pub fn exp_anneal(start: f64, end: f64, p: f64) -> f64 {
    start * (end / start).powf(p)
}

/// A schedule made of phases, each a fraction of training with its own start and end value,
/// annealed by cosine (fastai's combine_scheds with SchedCos phases).
#[derive(Clone, Debug, PartialEq)]
pub struct Phases {
    /// (fraction of training, start value, end value) per phase; fractions add up to 1.
    pub phases: Vec<(f64, f64, f64)>,
}

impl Phases {
    /// The value at position `pos` in [0, 1]: the phase i with cum[i] <= pos (the last one at
    /// most), at p = (pos - cum[i]) / pct[i] within it.
    pub fn at(&self, pos: f64) -> f64 {
        let mut start = 0.0;
        for (i, &(pct, from, to)) in self.phases.iter().enumerate() {
            let last = i + 1 == self.phases.len();
            if pos < start + pct || last {
                return cos_anneal(from, to, ((pos - start) / pct).min(1.0));
            }
            start += pct;
        }
        unreachable!("Phases always has at least one phase")
    }
}

/// fastai v2's fit_one_cycle settings (defaults: div 25, div_final 1e5, pct_start 0.25,
/// moms 0.95 -> 0.85 -> 0.95).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneCycle {
    pub lr_max: f64,
    pub div: f64,
    pub div_final: f64,
    pub pct_start: f64,
    pub moms: (f64, f64, f64),
}

impl OneCycle {
    pub fn new(lr_max: f64) -> Self {
        OneCycle { lr_max, div: 25.0, div_final: 1e5, pct_start: 0.25, moms: (0.95, 0.85, 0.95) }
    }

    /// Learning rate: warm up lr_max/div -> lr_max over pct_start, then anneal to lr_max/div_final.
    pub fn lr(&self) -> Phases {
        let (warm, peak, low) = (self.lr_max / self.div, self.lr_max, self.lr_max / self.div_final);
        Phases { phases: vec![(self.pct_start, warm, peak), (1.0 - self.pct_start, peak, low)] }
    }

    /// Momentum: down while the rate goes up, and back.
    pub fn momentum(&self) -> Phases {
        let (a, b, c) = self.moms;
        Phases { phases: vec![(self.pct_start, a, b), (1.0 - self.pct_start, b, c)] }
    }
}

/// fastai v2's fit_sgdr: n_cycles cosine cycles from lr_max to 0, the i-th cycle_len * mult^i
/// epochs long. Returns the schedule and the total number of epochs.
pub fn sgdr(n_cycles: usize, cycle_len: usize, lr_max: f64, cycle_mult: usize) -> (Phases, usize) {
    let lengths: Vec<usize> = (0..n_cycles).map(|i| cycle_len * cycle_mult.pow(i as u32)).collect();
    let epochs: usize = lengths.iter().sum();
    let phases = lengths.iter().map(|&l| (l as f64 / epochs as f64, lr_max, 0.0)).collect();
    (Phases { phases }, epochs)
}

/// fastai's even_mults(a, b, n): n values from a to b evenly spaced on a log scale.
pub fn even_mults(start: f64, end: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![end];
    }
    (0..n).map(|i| start * (end / start).powf(i as f64 / (n - 1) as f64)).collect()
}

/// A learning rate as fastai accepts it: one value for every group, or a slice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LearningRate {
    Single(f64),
    /// slice(b): b / 10 for every group but the last, b for the last.
    UpTo(f64),
    /// slice(a, b): even_mults(a, b, groups).
    Range(f64, f64),
}

impl LearningRate {
    /// The rate of each of `groups` parameter groups.
    pub fn per_group(&self, groups: usize) -> Result<Vec<f64>> {
        let rates = match *self {
            LearningRate::Single(lr) => vec![lr; groups],
            LearningRate::UpTo(lr) => (0..groups).map(|i| if i + 1 == groups { lr } else { lr / 10.0 }).collect(),
            LearningRate::Range(a, b) => even_mults(a, b, groups),
        };
        if let Some(bad) = rates.iter().find(|lr| !(**lr > 0.0 && lr.is_finite())) {
            return Err(Error::new("learning rate", format!("must be a positive number, got {bad}")));
        }
        Ok(rates)
    }
}

/// lr_find's sweep: lr_i = start (end / start)^(i / num_it) (defaults 1e-7, 10, 100).
pub fn lr_find_rate(start: f64, end: f64, i: usize, num_it: usize) -> f64 {
    exp_anneal(start, end, i as f64 / num_it as f64)
}

/// The exponentially weighted loss fastai reports: v = beta v + (1 - beta) loss, shown
/// debiased as v / (1 - beta^t).
#[derive(Clone, Debug)]
pub struct SmoothedLoss {
    beta: f64,
    value: f64,
    count: i32,
}

impl Default for SmoothedLoss {
    fn default() -> Self {
        SmoothedLoss { beta: 0.98, value: 0.0, count: 0 }
    }
}

impl SmoothedLoss {
    /// Adds one batch's loss and returns the smoothed value.
    pub fn push(&mut self, loss: f64) -> f64 {
        self.count += 1;
        self.value = self.beta * self.value + (1.0 - self.beta) * loss;
        self.value()
    }

    pub fn value(&self) -> f64 {
        self.value / (1.0 - self.beta.powi(self.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_rel(got: f64, want: f64, what: &str) {
        assert!((got - want).abs() <= 1e-6 * want.abs().max(1e-300), "{what}: {got} vs {want}");
    }

    #[test]
    fn one_cycle_v2_test_vectors() {
        let cycle = OneCycle::new(1e-3);
        let (lr, mom) = (cycle.lr(), cycle.momentum());
        let n = 100.0;
        for (k, want_lr, want_mom) in
            [(0, 4e-5, 0.95), (10, 3.7167e-4, 0.91545), (25, 1e-3, 0.85), (50, 7.500025e-4, 0.875), (99, 4.4858e-7, 0.949956)]
        {
            let pos = k as f64 / n;
            // The spec's vectors are printed to 5 significant digits.
            assert!((lr.at(pos) - want_lr).abs() <= 5e-5 * want_lr, "lr at {k}: {} vs {want_lr}", lr.at(pos));
            assert!((mom.at(pos) - want_mom).abs() <= 5e-6, "mom at {k}: {} vs {want_mom}", mom.at(pos));
        }
        assert_rel(lr.at(0.0), 1e-3 / 25.0, "start");
        assert_rel(lr.at(0.25), 1e-3, "peak");
        assert_rel(lr.at(1.0), 1e-3 / 1e5, "end");
    }

    #[test]
    fn lr_find_and_even_mults_test_vectors() {
        assert_rel(lr_find_rate(1e-7, 10.0, 0, 100), 1e-7, "i = 0");
        assert_rel(lr_find_rate(1e-7, 10.0, 50, 100), 1e-3, "i = 50");
        assert!((lr_find_rate(1e-7, 10.0, 99, 100) - 8.3176).abs() < 5e-5, "i = 99");
        let rates = LearningRate::Range(1e-5, 1e-3).per_group(3).unwrap();
        [1e-5, 1e-4, 1e-3].iter().zip(&rates).for_each(|(w, g)| assert_rel(*g, *w, "slice(1e-5, 1e-3)"));
        assert_eq!(LearningRate::UpTo(1e-3).per_group(3).unwrap(), vec![1e-4, 1e-4, 1e-3]);
        assert_eq!(LearningRate::Single(0.1).per_group(2).unwrap(), vec![0.1, 0.1]);
        assert_eq!(even_mults(1.0, 5.0, 1), vec![5.0]);
        assert!(LearningRate::Single(0.0).per_group(1).is_err());
    }

    #[test]
    fn sgdr_cycles() {
        let (schedule, epochs) = sgdr(3, 1, 0.1, 2);
        assert_eq!(epochs, 7, "cycles of 1, 2 and 4 epochs");
        assert_rel(schedule.at(0.0), 0.1, "each cycle starts at lr_max");
        assert_rel(schedule.at(1.0 / 7.0), 0.1, "second cycle restarts");
        assert_rel(schedule.at(3.0 / 7.0), 0.1, "third cycle restarts");
        assert_rel(schedule.at(2.0 / 7.0), 0.05, "half-way through the 2-epoch cycle");
        assert!(schedule.at(1.0) < 1e-12, "ends at 0");
    }

    #[test]
    fn smoothed_loss_is_debiased() {
        let mut smooth = SmoothedLoss::default();
        assert_rel(smooth.push(2.0), 2.0, "the first value is the loss itself");
        // v2 = 0.98 * 0.04 + 0.02 * 4 = 0.1192; / (1 - 0.98^2) = 0.0396 -> 3.0101...
        assert_rel(smooth.push(4.0), 0.1192 / (1.0 - 0.98f64.powi(2)), "second");
    }
}
