//! Training-mode batch normalisation on the CPU, over x viewed as [N, C, L] (L = H W, or 1 for
//! BatchNorm1d): channel c's M = N L values are the N rows x[n, c, ..] of length L. Each channel
//! is one task, so its rows stay in cache from one pass to the next; the CPU backend's threads share
//! the channels. Sums run in f32 within a row (eight partial sums, so they vectorise) and in f64
//! across rows.

use crate::backend::cpu_parallel;
use crate::ops::reduce::cpu::sum_lanes;

/// [N, C, L].
type Dims = [usize; 3];

/// Elements below which the channels stay on the calling thread (a hand-off costs microseconds).
const PARALLEL_MIN_LEN: usize = 1 << 15;

/// Forward (the formulas: `NormKernel::Forward` in mod.rs). Inputs: [x, weight, bias]; outputs:
/// [running mean, running var] (updated in place), y, saved. The variance takes two passes, as
/// E[x²] - mean² would cancel.
pub fn batch_norm(inputs: &[&[f32]], [eps, momentum]: [f32; 2], relu6: bool, outputs: [&mut [f32]; 4], dims: Dims) {
    let (x, weight, bias) = (inputs[0], inputs[1], inputs[2]);
    let [running_mean, running_var, y, saved] = outputs;
    let count = (dims[0] * dims[2]) as f64;
    let stats = per_channel(Some(y), dims, |c, y_rows| {
        let rows = || channel_rows(x, dims, c);
        let mean = (rows().map(|r| sum_lanes(r) as f64).sum::<f64>() / count) as f32;
        let squares = rows().map(|r| sum_pairs(r, r, |v, _| (v - mean) * (v - mean)) as f64).sum::<f64>();
        let inv_std = (1.0 / (squares / count + eps as f64).sqrt()) as f32;
        let (scale, shift) = (weight[c] * inv_std, bias[c]);
        for (out, row) in y_rows.iter_mut().zip(rows()) {
            out.iter_mut().zip(row).for_each(|(o, &v)| *o = activate(relu6, (v - mean) * scale + shift));
        }
        [mean, inv_std, scale, shift, (squares / (count - 1.0)) as f32]
    });
    let channels = dims[1];
    for (c, [mean, inv_std, scale, shift, unbiased_var]) in stats.into_iter().enumerate() {
        (saved[c], saved[channels + c], saved[2 * channels + c], saved[3 * channels + c]) = (mean, inv_std, scale, shift);
        running_mean[c] = (1.0 - momentum) * running_mean[c] + momentum * mean;
        running_var[c] = (1.0 - momentum) * running_var[c] + momentum * unbiased_var;
    }
}

/// Backward (the formulas: `NormKernel::Backward` in mod.rs), in two passes over each channel:
/// the sums Σ g and Σ g x̂, then d x. Inputs: [x, g, saved]; outputs d weight, d bias and, when
/// asked for, d x. After relu6, each channel's g is first masked into a copy.
pub fn batch_norm_backward(inputs: &[&[f32]], relu6: bool, [d_weight, d_bias]: [&mut [f32]; 2], dx: Option<&mut [f32]>, dims: Dims) {
    let (x, g, saved) = (inputs[0], inputs[1], inputs[2]);
    let [_, channels, len] = dims;
    let count = (dims[0] * dims[2]) as f32;
    let grads = per_channel(dx, dims, |c, dx_rows| {
        let (mean, inv_std, scale, shift) = (saved[c], saved[channels + c], saved[2 * channels + c], saved[3 * channels + c]);
        // d loss / d z = g where 0 < z < 6, else 0 (as `binary_clamp_backward`). Row by row into
        // a buffer sized up front, so each row's loop vectorises (a flattened iterator collected
        // element by element took a fifth of a training step).
        let masked: Option<Vec<f32>> = relu6.then(|| {
            let mut masked = vec![0f32; dims[0] * len];
            let rows = masked.chunks_exact_mut(len.max(1)).zip(channel_rows(g, dims, c).zip(channel_rows(x, dims, c)));
            for (m_row, (g_row, x_row)) in rows {
                m_row.iter_mut().zip(g_row.iter().zip(x_row)).for_each(|(m, (&gv, &xv))| {
                    let z = (xv - mean) * scale + shift;
                    *m = if z > 0.0 && z < 6.0 { gv } else { 0.0 };
                });
            }
            masked
        });
        let g_rows: Vec<&[f32]> = match &masked {
            Some(masked) => masked.chunks(len).collect(),
            None => channel_rows(g, dims, c).collect(),
        };
        let rows = || g_rows.iter().copied().zip(channel_rows(x, dims, c));
        let (mut sum_g, mut sum_g_centered) = (0f64, 0f64);
        for (g_row, x_row) in rows() {
            sum_g += sum_lanes(g_row) as f64;
            sum_g_centered += sum_pairs(g_row, x_row, |gv, xv| gv * (xv - mean)) as f64;
        }
        let (d_weight, d_bias) = ((sum_g_centered * inv_std as f64) as f32, sum_g as f32);
        let (k, shift) = (scale * inv_std * d_weight / count, scale * d_bias / count);
        for (out, (g_row, x_row)) in dx_rows.iter_mut().zip(rows()) {
            out.iter_mut().zip(g_row.iter().zip(x_row)).for_each(|(o, (&gv, &xv))| *o = scale * gv - k * (xv - mean) - shift);
        }
        (d_weight, d_bias)
    });
    for (c, (w, b)) in grads.into_iter().enumerate() {
        (d_weight[c], d_bias[c]) = (w, b);
    }
}

/// Evaluation mode (`NormKernel::Evaluate`): inputs [x, scale, shift]; y = x scale + shift per
/// channel, then relu6 when asked.
pub fn batch_norm_eval(inputs: &[&[f32]], relu6: bool, y: &mut [f32], dims: Dims) {
    let (x, scale, shift) = (inputs[0], inputs[1], inputs[2]);
    per_channel(Some(y), dims, |c, y_rows| {
        for (out, row) in y_rows.iter_mut().zip(channel_rows(x, dims, c)) {
            out.iter_mut().zip(row).for_each(|(o, &v)| *o = activate(relu6, v * scale[c] + shift[c]));
        }
    });
}

/// Folded into the convolution before it (`NormKernel::Fold`): inputs [conv weight [C, L], weight,
/// bias, running_mean, running_var]; out = [conv weight scale (row c by scale[c]), then bias -
/// running_mean scale], with scale = weight / sqrt(running_var + eps).
pub fn batch_norm_fold(inputs: &[&[f32]], eps: f32, out: &mut [f32], [_, channels, len]: Dims) {
    let [conv_weight, weight, bias, mean, var] = inputs else { unreachable!("batch_norm_fold reads five tensors") };
    let (weights, shifts) = out.split_at_mut(channels * len);
    for c in 0..channels {
        let scale = weight[c] / (var[c] + eps).sqrt();
        weights[c * len..][..len].iter_mut().zip(&conv_weight[c * len..][..len]).for_each(|(o, &w)| *o = w * scale);
        shifts[c] = bias[c] - mean[c] * scale;
    }
}

/// min(max(z, 0), 6) under relu6 (NaN stays NaN, as `unary_clamp`), else z.
fn activate(relu6: bool, z: f32) -> f32 {
    match relu6 {
        true if z < 0.0 => 0.0,
        true if z > 6.0 => 6.0,
        _ => z,
    }
}

/// Channel c's rows of a [N, C, L] tensor.
fn channel_rows(t: &[f32], [batch, channels, len]: Dims, c: usize) -> impl Iterator<Item = &[f32]> {
    (0..batch).map(move |n| &t[(n * channels + c) * len..][..len])
}

/// Runs `task(c, channel c's rows of out)` for every channel and returns the results in channel
/// order; without `out` the tasks get no rows.
fn per_channel<R: Send>(out: Option<&mut [f32]>, dims: Dims, task: impl Fn(usize, &mut [&mut [f32]]) -> R + Sync) -> Vec<R> {
    let [batch, channels, len] = dims;
    let mut rows: Vec<Vec<&mut [f32]>> = (0..channels).map(|_| Vec::with_capacity(batch)).collect();
    if let Some(out) = out {
        for (i, row) in out.chunks_mut(len).enumerate() {
            rows[i % channels].push(row);
        }
    }
    if batch * channels * len >= PARALLEL_MIN_LEN {
        return cpu_parallel::map(rows, |c, mut r| task(c, &mut r));
    }
    rows.into_iter().enumerate().map(|(c, mut r)| task(c, &mut r)).collect()
}

/// Σ f(a_i, b_i) with eight partial sums, so the loop vectorises (see `sum_lanes`).
fn sum_pairs(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [0f32; 8];
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = chunks_a.remainder().iter().zip(chunks_b.remainder()).map(|(&x, &y)| f(x, y)).sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        lanes.iter_mut().zip(ca.iter().zip(cb)).for_each(|(l, (&x, &y))| *l += f(x, y));
    }
    lanes.iter().sum::<f32>() + tail
}
