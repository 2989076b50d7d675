//! The plain triple loop, in f64, for tests only.

/// c[i] = a[i] @ b[i] for each of `batch` products (a batch stride of 0 reuses one matrix).
pub fn matmul(kernel: &super::MatMul, a: &[f32], b: &[f32]) -> Vec<f32> {
    let super::MatMul { batch, m, k, n, a_batch_stride, b_batch_stride } = *kernel;
    let mut c = vec![0.0; batch * m * n];
    for p in 0..batch {
        let (a, b) = (&a[p * a_batch_stride..], &b[p * b_batch_stride..]);
        for i in 0..m {
            for j in 0..n {
                let sum: f64 = (0..k).map(|l| a[i * k + l] as f64 * b[l * n + j] as f64).sum();
                c[(p * m + i) * n + j] = sum as f32;
            }
        }
    }
    c
}
