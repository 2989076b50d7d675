// fastai's Adam (decoupled weight decay, dampened averages, bias correction), in place, one
// thread per weight, for up to three parameter tensors per dispatch (the threads run over their
// weights one after another), at step t (from 1):
//   p = p (1 - lr wd)
//   m = mom m + (1 - mom) g            v = sqr_mom v + (1 - sqr_mom) g^2
//   p = p - lr / (1 - mom^t) * m / (sqrt(v / (1 - sqr_mom^t)) + eps)
// (m, v) of every tensor live in one flat state buffer; `UpdateKernel` in src/ops/update/mod.rs.

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    momentum: f32,
    sqr_momentum: f32,
    eps: f32,
    // Per tensor s: one past its last thread, where its (m, v) pairs start in `state`, and
    // (lr, weight decay, 1 - mom^t, 1 - sqr_mom^t).
    ends: vec4<u32>,
    states: vec4<u32>,
    rates: array<vec4<f32>, 3>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad0: array<f32>;
@group(0) @binding(2) var<storage, read> grad1: array<f32>;
@group(0) @binding(3) var<storage, read> grad2: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> param0: array<f32>;
@group(0) @binding(6) var<storage, read_write> param1: array<f32>;
@group(0) @binding(7) var<storage, read_write> param2: array<f32>;

// Weight j of tensor s, with gradient g: updates its (m, v) and returns the new weight.
fn adam(s: u32, j: u32, weight: f32, g: f32) -> f32 {
    let rate = p.rates[s];
    let k = p.states[s] + j;
    let m = p.momentum * state[k].x + (1.0 - p.momentum) * g;
    let v = p.sqr_momentum * state[k].y + (1.0 - p.sqr_momentum) * g * g;
    state[k] = vec2<f32>(m, v);
    let decayed = weight * (1.0 - rate.x * rate.y);
    return decayed - rate.x / rate.z * m / (sqrt(v / rate.w) + p.eps);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if (i < p.ends.x) {
        param0[i] = adam(0u, i, param0[i], grad0[i]);
    } else if (i < p.ends.y) {
        let j = i - p.ends.x;
        param1[j] = adam(1u, j, param1[j], grad1[j]);
    } else if (i < p.ends.z) {
        let j = i - p.ends.y;
        param2[j] = adam(2u, j, param2[j], grad2[j]);
    }
}
