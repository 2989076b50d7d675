// Sum along one axis. The input is viewed as [outer, len, inner]; each workgroup produces one
// output element out[o, i] = sum_l x[o, l, i]: its threads stride over l, then combine their
// partial sums in a tree in workgroup memory.

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    outer: u32,
    len: u32,
    inner: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn sum_axis(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_index) t: u32) {
    let output = wid.x + wid.y * groups.x; // uniform across the workgroup
    let valid = output < p.outer * p.inner;
    let o = output / p.inner;
    let i = output % p.inner;
    var sum = 0.0;
    if (valid) {
        for (var l = t; l < p.len; l += WORKGROUP_SIZE) {
            sum += x[(o * p.len + l) * p.inner + i];
        }
    }
    partial[t] = sum;
    workgroupBarrier();
    for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
        if (t < stride) { partial[t] += partial[t + stride]; }
        workgroupBarrier();
    }
    if (valid && t == 0u) { out[output] = partial[0]; }
}
