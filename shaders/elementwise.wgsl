// Elementwise kernels: one thread per output element.
// Unary entry points read `a` and write `out`; binary ones read `a` and `b` with NumPy
// broadcasting: each operand is read through its own strides (0 along a broadcast axis).

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    n: u32,        // output elements
    rank: u32,     // axes in shape/strides (binary only; the host merges contiguous axes)
    s0: f32,       // pow: exponent p; affine: scale; clamp, clamp_backward: min
    s1: f32,       // affine: shift; clamp, clamp_backward: max
    shape: array<vec4<u32>, 2>,      // output shape, up to 8 axes
    a_strides: array<vec4<u32>, 2>,
    b_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// Workgroups may be laid out in two dimensions when there are more than 65535 of them.
fn element_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * WORKGROUP_SIZE;
}

fn at(v: array<vec4<u32>, 2>, i: u32) -> u32 {
    return v[i / 4u][i % 4u];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unary_neg(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) { out[i] = -a[i]; }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unary_exp(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) { out[i] = exp(a[i]); }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unary_log(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) { out[i] = log(a[i]); }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unary_relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) { out[i] = select(a[i], 0.0, a[i] < 0.0); } // NaN stays NaN
}

// x^p with IEEE semantics for any sign of x: WGSL's pow is only defined for x >= 0, so
// negative bases are handled here (finite result for integer p, NaN otherwise, as powf does).
fn ieee_pow(x: f32, e: f32) -> f32 {
    if (e == 0.0) { return 1.0; }
    if (e == 1.0) { return x; }
    if (e == 1.0) { return x; }
    if (e == 2.0) { return x * x; } // exact, and the common case (squared errors)
    if (x >= 0.0 || x != x) { return pow(x, e); }
    if (e != floor(e)) {
        // NaN; built at run time because shader compilers reject a NaN constant.
        var nan_bits = 0x7fc00000u;
        return bitcast<f32>(nan_bits);
    }
    let magnitude = pow(-x, e);
    let odd = (abs(e) % 2.0) == 1.0;
    return select(magnitude, -magnitude, odd);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unary_pow(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) { out[i] = ieee_pow(a[i], p.s0); }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unary_affine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) { out[i] = a[i] * p.s0 + p.s1; }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn unary_clamp(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) {
        let x = a[i];
        out[i] = select(select(x, p.s1, x > p.s1), p.s0, x < p.s0); // NaN stays NaN
    }
}

// Offsets of output element i in a and b: peel off the axes from the last one.
fn operand_offsets(i: u32) -> vec2<u32> {
    var rest = i;
    var offsets = vec2<u32>(0u, 0u);
    for (var axis = i32(p.rank) - 1; axis >= 0; axis--) {
        let size = at(p.shape, u32(axis));
        let coord = rest % size;
        rest = rest / size;
        offsets += coord * vec2<u32>(at(p.a_strides, u32(axis)), at(p.b_strides, u32(axis)));
    }
    return offsets;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn binary_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) { let o = operand_offsets(i); out[i] = a[o.x] + b[o.y]; }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn binary_sub(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) { let o = operand_offsets(i); out[i] = a[o.x] - b[o.y]; }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn binary_mul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) { let o = operand_offsets(i); out[i] = a[o.x] * b[o.y]; }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn binary_div(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) { let o = operand_offsets(i); out[i] = a[o.x] / b[o.y]; }
}

// d clamp(x, min, max)/dx = 1 where min < x < max, else 0 (relu: min 0, max +inf); so the
// incoming gradient g (in b) passes where x (in a) lies strictly inside.
@compute @workgroup_size(WORKGROUP_SIZE)
fn binary_clamp_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) { let o = operand_offsets(i); out[i] = select(0.0, b[o.y], a[o.x] > p.s0 && a[o.x] < p.s1); }
}

// Broadcasting made explicit: out[i] = a at its broadcast offset (torch's expand).
@compute @workgroup_size(WORKGROUP_SIZE)
fn expand(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(gid, groups);
    if (i < p.n) { out[i] = a[operand_offsets(i).x]; }
}
