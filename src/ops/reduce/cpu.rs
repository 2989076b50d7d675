//! Reductions on the CPU.

/// out[o, i] = Σ_l x[o, l, i].
pub fn sum_axis(x: &[f32], out: &mut [f32], outer: usize, len: usize, inner: usize) {
    if inner == 1 {
        // Each output sums a contiguous run: per-channel statistics, means over an image.
        out.iter_mut().zip(x.chunks(len)).for_each(|(o, run)| *o = sum_lanes(run));
        return;
    }
    out.fill(0.0);
    for o in 0..outer {
        let acc = &mut out[o * inner..(o + 1) * inner];
        for l in 0..len {
            let row = &x[(o * len + l) * inner..][..inner];
            acc.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
        }
    }
}

/// out[o, i] = max_l x[o, l, i], or (argmax) its index l as f32.
pub fn largest_axis(argmax: bool, x: &[f32], out: &mut [f32], outer: usize, len: usize, inner: usize) {
    for o in 0..outer {
        for i in 0..inner {
            let (best, at) = largest((0..len).map(|l| x[(o * len + l) * inner + i]));
            out[o * inner + i] = if argmax { at as f32 } else { best };
        }
    }
}

/// out [outer, len, inner] = 0 except out[o, indices[o, i], i] = values[o, i].
pub fn scatter(values: &[f32], indices: &[f32], out: &mut [f32], len: usize, inner: usize) {
    out.fill(0.0);
    for (k, &l) in indices.iter().enumerate() {
        if l >= 0.0 && (l as usize) < len {
            out[((k / inner) * len + l as usize) * inner + k % inner] = values[k];
        }
    }
}

/// The sum of a run with eight partial sums, which the compiler can keep in one vector register
/// (a single running f32 sum cannot be vectorised without reordering the additions).
pub fn sum_lanes(values: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        lanes.iter_mut().zip(chunk).for_each(|(l, &v)| *l += v);
    }
    lanes.iter().sum::<f32>() + tail
}

/// The largest value and its index: the first one on ties, a NaN counting as largest (torch.max).
pub fn largest(values: impl Iterator<Item = f32>) -> (f32, usize) {
    let mut best = (f32::NEG_INFINITY, 0);
    for (l, v) in values.enumerate() {
        if best.0.is_nan() {
            break;
        }
        if v > best.0 || v.is_nan() || l == 0 {
            best = (v, l);
        }
    }
    best
}
