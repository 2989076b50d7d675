//! Batch normalisation written out from its definition, in f64, for tests only.

/// Channel ch's flat indices in x [N, C, L], its mean and its biased variance.
fn moments(x: &[f32], [n, c, l]: [usize; 3], ch: usize) -> (Vec<usize>, f64, f64) {
    let idx: Vec<usize> = (0..n).flat_map(|b| (0..l).map(move |i| (b * c + ch) * l + i)).collect();
    let m = idx.len() as f64;
    let mean = idx.iter().map(|&i| x[i] as f64).sum::<f64>() / m;
    let var = idx.iter().map(|&i| (x[i] as f64 - mean).powi(2)).sum::<f64>() / m;
    (idx, mean, var)
}

/// Channel ch's flat indices, its mean and its inv_std = 1 / sqrt(biased var + eps).
fn channel(x: &[f32], dims: [usize; 3], ch: usize, eps: f32) -> (Vec<usize>, f64, f64) {
    let (idx, mean, var) = moments(x, dims, ch);
    (idx, mean, 1.0 / (var + eps as f64).sqrt())
}

/// The running statistics after one training step, PyTorch's formula with m = momentum:
/// running = (1 - m) running + m batch, the batch variance unbiased (M / (M - 1) var).
pub fn running_stats(x: &[f32], dims: [usize; 3], momentum: f32, mean: &[f32], var: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let m = momentum as f64;
    let mix = |old: f32, batch: f64| ((1.0 - m) * old as f64 + m * batch) as f32;
    (0..dims[1])
        .map(|ch| {
            let (idx, batch_mean, batch_var) = moments(x, dims, ch);
            let count = idx.len() as f64;
            (mix(mean[ch], batch_mean), mix(var[ch], batch_var * count / (count - 1.0)))
        })
        .unzip()
}

/// Settings of a case: x's [N, C, L], eps, and whether relu6 follows.
#[derive(Clone, Copy)]
pub struct Norm {
    pub dims: [usize; 3],
    pub eps: f32,
    pub relu6: bool,
}

/// Channel ch's z = (x - mean) inv_std weight + bias at each of its indices, and its indices,
/// mean and inv_std.
fn normalised(x: &[f32], weight: &[f32], bias: &[f32], k: Norm, ch: usize) -> (Vec<f64>, Vec<usize>, f64, f64) {
    let (idx, mean, inv_std) = channel(x, k.dims, ch, k.eps);
    let z = idx.iter().map(|&i| (x[i] as f64 - mean) * inv_std * weight[ch] as f64 + bias[ch] as f64).collect();
    (z, idx, mean, inv_std)
}

/// (saved [4, C] = (mean, inv_std, scale, bias), y) for x [N, C, L].
pub fn batch_norm(x: &[f32], weight: &[f32], bias: &[f32], k: Norm) -> (Vec<f32>, Vec<f32>) {
    let c = k.dims[1];
    let (mut saved, mut y) = (vec![0.0; 4 * c], vec![0.0; x.len()]);
    for ch in 0..c {
        let (z, idx, mean, inv_std) = normalised(x, weight, bias, k, ch);
        for (&i, z) in idx.iter().zip(z) {
            y[i] = if k.relu6 { z.clamp(0.0, 6.0) } else { z } as f32;
        }
        saved[ch] = mean as f32;
        saved[c + ch] = inv_std as f32;
        saved[2 * c + ch] = (weight[ch] as f64 * inv_std) as f32;
        saved[3 * c + ch] = bias[ch];
    }
    (saved, y)
}

/// (d weight, d bias, d x) from the definition d x = weight inv_std / M (M g - Σ g - x̂ Σ g x̂),
/// with g = d loss / d z (after relu6: 0 where z is outside (0, 6)).
pub fn batch_norm_backward(x: &[f32], g: &[f32], weight: &[f32], bias: &[f32], k: Norm) -> [Vec<f32>; 3] {
    let c = k.dims[1];
    let (mut d_weight, mut d_bias, mut dx) = (vec![0.0; c], vec![0.0; c], vec![0.0; x.len()]);
    let mut g = g.to_vec();
    for ch in 0..c {
        let (z, idx, mean, inv_std) = normalised(x, weight, bias, k, ch);
        for (&i, z) in idx.iter().zip(z) {
            if k.relu6 && !(z > 0.0 && z < 6.0) {
                g[i] = 0.0;
            }
        }
        let m = idx.len() as f64;
        let x_hat = |i: usize| (x[i] as f64 - mean) * inv_std;
        let sum_g: f64 = idx.iter().map(|&i| g[i] as f64).sum();
        let sum_g_xhat: f64 = idx.iter().map(|&i| g[i] as f64 * x_hat(i)).sum();
        for &i in &idx {
            dx[i] = (weight[ch] as f64 * inv_std / m * (m * g[i] as f64 - sum_g - x_hat(i) * sum_g_xhat)) as f32;
        }
        d_weight[ch] = sum_g_xhat as f32;
        d_bias[ch] = sum_g as f32;
    }
    [d_weight, d_bias, dx]
}
