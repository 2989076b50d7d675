// fastai's Adam (decoupled weight decay, dampened averages, bias correction), in place, one
// thread per weight, at step t (from 1):
//   p = p (1 - lr wd)
//   m = mom m + (1 - mom) g            v = sqr_mom v + (1 - sqr_mom) g^2
//   p = p - lr / (1 - mom^t) * m / (sqrt(v / (1 - sqr_mom^t)) + eps)

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    n: u32,
    lr: f32,
    momentum: f32,
    sqr_momentum: f32,
    eps: f32,
    weight_decay: f32,
    step: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> param: array<f32>;
@group(0) @binding(4) var<storage, read_write> avg: array<f32>;
@group(0) @binding(5) var<storage, read_write> sqr_avg: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if (i >= p.n) { return; }
    let g = grad[i];
    let t = f32(p.step);
    let m = p.momentum * avg[i] + (1.0 - p.momentum) * g;
    let v = p.sqr_momentum * sqr_avg[i] + (1.0 - p.sqr_momentum) * g * g;
    avg[i] = m;
    sqr_avg[i] = v;
    let debias1 = 1.0 - pow(p.momentum, t);
    let debias2 = 1.0 - pow(p.sqr_momentum, t);
    let decayed = param[i] * (1.0 - p.lr * p.weight_decay);
    param[i] = decayed - p.lr / debias1 * m / (sqrt(v / debias2) + p.eps);
}
