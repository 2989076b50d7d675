// PyTorch's SGD step, in place, one thread per weight.
//
// sgd_step, PyTorch's SGD: d = g + wd * p
//   with momentum: m = d on the first step, else m = momentum * m + d (no dampening); d = m
//   p = p - lr * d

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    n: u32,
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    first_step: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> param: array<f32>;
@group(0) @binding(4) var<storage, read_write> momentum_buffer: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgd_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if (i >= p.n) { return; }
    var d = grad[i] + p.weight_decay * param[i];
    if (p.momentum != 0.0) {
        if (p.first_step == 1u) {
            momentum_buffer[i] = d;
        } else {
            momentum_buffer[i] = p.momentum * momentum_buffer[i] + d;
        }
        d = momentum_buffer[i];
    }
    param[i] = param[i] - p.lr * d;
}
