// Training-mode batch normalisation of x viewed as [N, C, L] (L = H W, or 1 for BatchNorm1d),
// over every axis but the channel axis. Channel c's M = N L values are x[(n C + c) L + l].
// `p.group` threads share a channel (a power of two, 1 to WORKGROUP_SIZE, by M and the channel
// count: `threads_per_output` in src/ops/reduce/mod.rs, as the reductions pick theirs). Thread k
// works on channel k / group as lane k % group: it strides over the M values by group, then the
// lanes combine their partial sums in a tree in workgroup memory (log2(group) barriers). With
// group = 1 (small M: 960 channels of M = 4 at 32 px) each thread loops over its channel alone,
// with no barrier at all: on lavapipe a barrier tree per channel cost far more than the sums.
// The formulas are written out once, beside `NormKernel` in src/ops/norm/mod.rs:
//   batch_norm:                 mean, var (two passes, no cancellation), inv_std, scale, y (then
//                               relu6 when asked); saved[.., c] = (mean, inv_std, scale, bias);
//                               the running statistics
//                               move in place: running = (1 - m) running + m batch, with the
//                               unbiased variance Σ (x - mean)² / (M - 1)
//   batch_norm_backward_params: d weight = Σ g x̂,  d bias = Σ g
//   batch_norm_backward:        the same, then d x = scale g - k (x - mean) - scale Σ g / M
// (after relu6, g is first zeroed where the batch norm's output z lies outside (0, 6)).

// Params and WORKGROUP_SIZE: norm_params.wgsl.

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

// Thread k's (channel, lane), from linear_groups' two folded dimensions.
fn channel_lane(wid: vec3<u32>, groups: vec3<u32>, t: u32) -> vec2<u32> {
    let k = (wid.x + wid.y * groups.x) * WORKGROUP_SIZE + t;
    return vec2(k / p.group, k % p.group);
}

// The sum over a channel's lanes of each lane's pair of numbers; every lane gets the result. After
// the step with stride s, lane j < s holds the sum of lanes j, j + s, j + 2s, ...
fn group_sum(t: u32, lane: u32, value: vec2<f32>) -> vec2<f32> {
    if (p.group == 1u) { return value; }
    workgroupBarrier(); // partial may still be read from the previous sum
    partial[t] = value;
    for (var stride = p.group / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (lane < stride) { partial[t] += partial[t + stride]; }
    }
    workgroupBarrier();
    return partial[t - lane];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
              @builtin(local_invocation_index) t: u32) {
    let cl = channel_lane(wid, groups, t);
    let c = cl.x;
    let lane = cl.y;
    let real = c < p.channels; // the threads past the last channel only join the barriers
    let m = p.batch * p.len;
    var sum = 0.0;
    for (var e = lane; real && e < m; e += p.group) { sum += x[at(c, e)]; }
    let mean = group_sum(t, lane, vec2<f32>(sum, 0.0)).x / f32(m);
    var squares = 0.0;
    for (var e = lane; real && e < m; e += p.group) {
        let d = x[at(c, e)] - mean;
        squares += d * d;
    }
    let total_squares = group_sum(t, lane, vec2<f32>(squares, 0.0)).x;
    if (!real) { return; }
    let inv_std = 1.0 / sqrt(total_squares / f32(m) + p.eps);
    let scale = weight_or_g[c] * inv_std;
    let shift = bias_or_saved[c];
    for (var e = lane; e < m; e += p.group) {
        let i = at(c, e);
        out[i] = activate((x[i] - mean) * scale + shift);
    }
    if (lane == 0u) {
        saved[c] = mean;
        saved[p.channels + c] = inv_std;
        saved[2u * p.channels + c] = scale;
        saved[3u * p.channels + c] = shift;
        let keep = 1.0 - p.momentum;
        running_mean_or_d_weight[c] = keep * running_mean_or_d_weight[c] + p.momentum * mean;
        running_var_or_d_bias[c] = keep * running_var_or_d_bias[c] + p.momentum * (total_squares / f32(m - 1u));
    }
}

// (d weight, d bias) of channel c, written by lane 0 and returned to all (the threads past the
// last channel only join the barriers and get zeros).
fn param_grads(c: u32, lane: u32, t: u32) -> vec2<f32> {
    let real = c < p.channels;
    var sums = vec2<f32>(0.0, 0.0); // (Σ g (x - mean), Σ g)
    if (real) {
        let mean = bias_or_saved[c];
        for (var e = lane; e < p.batch * p.len; e += p.group) {
            let i = at(c, e);
            let g = grad_at(c, i);
            sums += vec2<f32>(g * (x[i] - mean), g);
        }
    }
    sums = group_sum(t, lane, sums);
    if (!real) { return sums; }
    let grads = vec2<f32>(sums.x * bias_or_saved[p.channels + c], sums.y);
    if (lane == 0u) {
        running_mean_or_d_weight[c] = grads.x;
        running_var_or_d_bias[c] = grads.y;
    }
    return grads;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm_backward_params(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                              @builtin(local_invocation_index) t: u32) {
    let cl = channel_lane(wid, groups, t);
    param_grads(cl.x, cl.y, t);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                       @builtin(local_invocation_index) t: u32) {
    let cl = channel_lane(wid, groups, t);
    let c = cl.x;
    let lane = cl.y;
    let grads = param_grads(c, lane, t);
    if (c >= p.channels) { return; }
    let m = p.batch * p.len;
    let mean = bias_or_saved[c];
    let inv_std = bias_or_saved[p.channels + c];
    let scale = bias_or_saved[2u * p.channels + c];
    let k = scale * inv_std * grads.x / f32(m);
    let shift = scale * grads.y / f32(m);
    for (var e = lane; e < m; e += p.group) {
        let i = at(c, e);
        out[i] = scale * grad_at(c, i) - k * (x[i] - mean) - shift;
    }
}
