// A batch norm (evaluation mode) folded into the convolution before it, so that inference runs
// conv + batch norm (+ ReLU6) as one kernel (`Epilogue` in src/ops/matmul/mod.rs). With
//   scale[c] = weight[c] / sqrt(running_var[c] + eps),
//   batch_norm(conv(x, w))[c] = conv(x, w)[c] scale[c] + bias[c] - running_mean[c] scale[c]
//                             = conv(x, w scale)[c] + shift[c]      (the convolution is linear in w),
// the output holds the scaled weights, then the shifts:
//   out[c len + j] = w[c len + j] scale[c]   (len: the numbers of one output channel's filter),
//   out[channels len + c] = bias[c] - running_mean[c] scale[c].
// One thread per number written.

// Params and WORKGROUP_SIZE: norm_params.wgsl.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> conv_weight: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> running_mean: array<f32>;
@group(0) @binding(5) var<storage, read> running_var: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm_fold(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    // Workgroups are laid out in two dimensions when there are more than 65535 of them.
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    let weights = p.channels * p.len;
    if (i >= weights + p.channels) { return; }
    if (i < weights) {
        let c = i / p.len;
        out[i] = conv_weight[i] * weight[c] / sqrt(running_var[c] + p.eps);
    } else {
        let c = i - weights;
        out[i] = bias[c] - running_mean[c] * weight[c] / sqrt(running_var[c] + p.eps);
    }
}
