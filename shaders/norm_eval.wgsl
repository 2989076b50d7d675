// Evaluation-mode batch normalisation of x viewed as [N, C, L] (L = H W, or 1 for BatchNorm1d),
// the running statistics folded into one scale and shift per channel by the host
// (`NormKernel::Evaluate` in src/ops/norm/mod.rs):
//   y = x scale[c] + shift[c],  then min(max(y, 0), 6) when relu6;
// one thread per element, element i of channel (i / L) mod C.

// Params and WORKGROUP_SIZE: norm_params.wgsl.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read> shift: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn batch_norm_eval(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    // Workgroups are laid out in two dimensions when there are more than 65535 of them.
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if (i >= p.batch * p.channels * p.len) { return; }
    let c = (i / p.len) % p.channels;
    let z = x[i] * scale[c] + shift[c];
    // NaN stays NaN, as `unary_clamp`.
    y[i] = select(z, select(select(z, 6.0, z > 6.0), 0.0, z < 0.0), p.relu6 != 0u);
}
