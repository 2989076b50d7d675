//! The plain triple loop, in f64, for tests only.

use super::Epilogue;

/// out[i] = op(a[i]) @ op(b[i]) for each of `batch` products, or their sum with `sum_batch` (a
/// batch stride of 0 reuses one matrix; op reads a stored-transposed operand by its strides),
/// then the epilogue: + a[m k + row], clamped to [0, 6] with `BiasRelu6`.
pub fn matmul(kernel: &super::MatMul, a: &[f32], b: &[f32]) -> Vec<f32> {
    let super::MatMul { batch, m, k, n, a_batch_stride, b_batch_stride, sum_batch, epilogue, .. } = *kernel;
    let [(a_row, a_col), (b_row, b_col)] = kernel.strides();
    let mut c = vec![0.0; kernel.out_batch() * m * n];
    for p in 0..batch {
        let (a, b) = (&a[p * a_batch_stride..], &b[p * b_batch_stride..]);
        let out = if sum_batch { 0 } else { p };
        for i in 0..m {
            for j in 0..n {
                let sum: f64 = (0..k).map(|l| a[i * a_row + l * a_col] as f64 * b[l * b_row + j * b_col] as f64).sum();
                c[(out * m + i) * n + j] += sum;
            }
        }
    }
    for (row, sums) in c.chunks_mut(n).enumerate() {
        for sum in sums {
            *sum = finish(epilogue, *sum, || a[m * k + row % m]);
        }
    }
    c.into_iter().map(|v| v as f32).collect()
}

/// The epilogue applied to one f64 sum, its bias read only when the epilogue has one.
pub fn finish(epilogue: Epilogue, sum: f64, bias: impl Fn() -> f32) -> f64 {
    match epilogue {
        Epilogue::None => sum,
        Epilogue::Bias => sum + bias() as f64,
        Epilogue::BiasRelu6 => (sum + bias() as f64).clamp(0.0, 6.0),
    }
}
