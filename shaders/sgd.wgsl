// PyTorch's SGD step, in place, one thread per weight, for up to three parameter tensors per
// dispatch (the threads run over their weights one after another):
//   d = g + wd * p
//   with momentum: m = d on the first step, else m = momentum * m + d (no dampening); d = m
//   p = p - lr * d
// The momentum buffers of every tensor live in one flat state buffer; `UpdateKernel` in
// src/ops/update/mod.rs.

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    momentum: f32,
    // Per tensor s: one past its last thread, where its momentum buffer starts in `state`, and
    // (lr, weight decay, 1 on its first step, unused).
    ends: vec4<u32>,
    states: vec4<u32>,
    rates: array<vec4<f32>, 3>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad0: array<f32>;
@group(0) @binding(2) var<storage, read> grad1: array<f32>;
@group(0) @binding(3) var<storage, read> grad2: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
@group(0) @binding(5) var<storage, read_write> param0: array<f32>;
@group(0) @binding(6) var<storage, read_write> param1: array<f32>;
@group(0) @binding(7) var<storage, read_write> param2: array<f32>;

// Weight j of tensor s, with gradient g: updates its momentum buffer and returns the new weight.
fn sgd(s: u32, j: u32, weight: f32, g: f32) -> f32 {
    let rate = p.rates[s];
    var d = g + rate.y * weight;
    if (p.momentum != 0.0) {
        let k = p.states[s] + j;
        if (rate.z == 1.0) {
            state[k] = d;
        } else {
            state[k] = p.momentum * state[k] + d;
        }
        d = state[k];
    }
    return weight - rate.x * d;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgd_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if (i < p.ends.x) {
        param0[i] = sgd(0u, i, param0[i], grad0[i]);
    } else if (i < p.ends.y) {
        let j = i - p.ends.x;
        param1[j] = sgd(1u, j, param1[j], grad1[j]);
    } else if (i < p.ends.z) {
        let j = i - p.ends.y;
        param2[j] = sgd(2u, j, param2[j], grad2[j]);
    }
}
