// Training-mode batch normalisation of x viewed as [N, C, L] (L = H W, or 1 for BatchNorm1d),
// over every axis but the channel axis. One workgroup per channel c: its M = N L values are
// x[(n C + c) L + l]; the threads stride over them and combine partial sums in workgroup memory.
// The formulas are written out once, beside `NormKernel` in src/ops/norm/mod.rs:
//   batch_norm:                 mean, var (two passes, no cancellation), inv_std, scale, y (then
//                               relu6 when asked); saved[.., c] = (mean, inv_std, scale, bias);
//                               the running statistics
//                               move in place: running = (1 - m) running + m batch, with the
//                               unbiased variance Σ (x - mean)² / (M - 1)
//   batch_norm_backward_params: d weight = Σ g x̂,  d bias = Σ g
//   batch_norm_backward:        the same, then d x = scale g - k (x - mean) - scale Σ g / M
// (after relu6, g is first zeroed where the batch norm's output z lies outside (0, 6)).

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    batch: u32,
    channels: u32,
    len: u32,
    eps: f32,
    momentum: f32,
    relu6: u32,
}

// The kernels of one file share their declarations, so bindings 2-6 serve both directions:
//   batch_norm           (x, weight, bias) -> (running mean, running var, y, saved)
//   batch_norm_backward* (x, g, saved)     -> (d weight, d bias, d x)
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight_or_g: array<f32>;
@group(0) @binding(3) var<storage, read> bias_or_saved: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_mean_or_d_weight: array<f32>;
@group(0) @binding(5) var<storage, read_write> running_var_or_d_bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read_write> saved: array<f32>;

var<workgroup> partial: array<vec2<f32>, WORKGROUP_SIZE>;

// Where value e (0 <= e < M) of channel c lives.
fn at(c: u32, e: u32) -> u32 {
    return ((e / p.len) * p.channels + c) * p.len + e % p.len;
}

// min(max(z, 0), 6) when the kernel applies relu6 (NaN stays NaN, as `unary_clamp`).
fn activate(z: f32) -> f32 {
    if (p.relu6 == 0u) { return z; }
    return select(select(z, 6.0, z > 6.0), 0.0, z < 0.0);
}

// g = d loss / d y at element i of channel c, carried back through relu6 (1 strictly inside
// (0, 6), as `binary_clamp_backward`) to d loss / d z, z recomputed from the saved statistics.
fn grad_at(c: u32, i: u32) -> f32 {
    let g = weight_or_g[i];
    if (p.relu6 == 0u) { return g; }
    let z = (x[i] - bias_or_saved[c]) * bias_or_saved[2u * p.channels + c] + bias_or_saved[3u * p.channels + c];
    return select(0.0, g, z > 0.0 && z < 6.0);
}

// Tree sum over the workgroup of each thread's pair of numbers; every thread gets the result.
fn workgroup_sum(t: u32, value: vec2<f32>) -> vec2<f32> {
    workgroupBarrier(); // partial may still be read from the previous sum
    partial[t] = value;
    workgroupBarrier();
    for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
        if (t < stride) { partial[t] += partial[t + stride]; }
        workgroupBarrier();
    }
    return partial[0];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let c = wid.x;
    let m = p.batch * p.len;
    var sum = 0.0;
    for (var e = t; e < m; e += WORKGROUP_SIZE) { sum += x[at(c, e)]; }
    let mean = workgroup_sum(t, vec2<f32>(sum, 0.0)).x / f32(m);
    var squares = 0.0;
    for (var e = t; e < m; e += WORKGROUP_SIZE) {
        let d = x[at(c, e)] - mean;
        squares += d * d;
    }
    let total_squares = workgroup_sum(t, vec2<f32>(squares, 0.0)).x;
    let inv_std = 1.0 / sqrt(total_squares / f32(m) + p.eps);
    let scale = weight_or_g[c] * inv_std;
    let shift = bias_or_saved[c];
    for (var e = t; e < m; e += WORKGROUP_SIZE) {
        let i = at(c, e);
        out[i] = activate((x[i] - mean) * scale + shift);
    }
    if (t == 0u) {
        saved[c] = mean;
        saved[p.channels + c] = inv_std;
        saved[2u * p.channels + c] = scale;
        saved[3u * p.channels + c] = shift;
        let keep = 1.0 - p.momentum;
        running_mean_or_d_weight[c] = keep * running_mean_or_d_weight[c] + p.momentum * mean;
        running_var_or_d_bias[c] = keep * running_var_or_d_bias[c] + p.momentum * (total_squares / f32(m - 1u));
    }
}

// (d weight, d bias) of channel c, written by thread 0 and returned to all.
fn param_grads(c: u32, t: u32) -> vec2<f32> {
    let mean = bias_or_saved[c];
    var sums = vec2<f32>(0.0, 0.0); // (Σ g (x - mean), Σ g)
    for (var e = t; e < p.batch * p.len; e += WORKGROUP_SIZE) {
        let i = at(c, e);
        let g = grad_at(c, i);
        sums += vec2<f32>(g * (x[i] - mean), g);
    }
    sums = workgroup_sum(t, sums);
    let grads = vec2<f32>(sums.x * bias_or_saved[p.channels + c], sums.y);
    if (t == 0u) {
        running_mean_or_d_weight[c] = grads.x;
        running_var_or_d_bias[c] = grads.y;
    }
    return grads;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm_backward_params(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    param_grads(wid.x, t);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let c = wid.x;
    let grads = param_grads(c, t);
    let m = p.batch * p.len;
    let mean = bias_or_saved[c];
    let inv_std = bias_or_saved[p.channels + c];
    let scale = bias_or_saved[2u * p.channels + c];
    let k = scale * inv_std * grads.x / f32(m);
    let shift = scale * grads.y / f32(m);
    for (var e = t; e < m; e += WORKGROUP_SIZE) {
        let i = at(c, e);
        out[i] = scale * grad_at(c, i) - k * (x[i] - mean) - shift;
    }
}
