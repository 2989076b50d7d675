//! Plain-loop references of the reductions, in f64, for tests only.

/// [outer, len, inner] -> [outer, inner]: the sum, the largest value or its first index.
pub fn reduce(op: super::ReduceOp, x: &[f32], outer: usize, len: usize, inner: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let column: Vec<f64> = (0..len).map(|l| x[(o * len + l) * inner + i] as f64).collect();
            let first_max =
                (0..len).fold(0, |best, l| if column[l] > column[best] || column[l].is_nan() && !column[best].is_nan() { l } else { best });
            out.push(match op {
                super::ReduceOp::Sum => column.iter().sum::<f64>() as f32,
                super::ReduceOp::Max => column[first_max] as f32,
                super::ReduceOp::Argmax => first_max as f32,
            });
        }
    }
    out
}

/// values [outer, inner] placed at indices along a new axis of length len.
pub fn scatter(values: &[f32], indices: &[f32], outer: usize, len: usize, inner: usize) -> Vec<f32> {
    let mut out = vec![0.0; outer * len * inner];
    for o in 0..outer {
        for i in 0..inner {
            let l = indices[o * inner + i] as usize;
            out[(o * len + l) * inner + i] = values[o * inner + i];
        }
    }
    out
}
