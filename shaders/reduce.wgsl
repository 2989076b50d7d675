// Reductions along one axis. The input is viewed as [outer, len, inner]; each workgroup produces
// one output element out[o, i] from x[o, 0..len, i]: its threads stride over l, then combine their
// partial results in a tree in workgroup memory.
//   sum_axis:    the sum
//   max_axis:    the largest value (NaN if any is NaN)
//   argmax_axis: the index of the largest value, as f32 (the first on ties; NaN counts as largest)
// and max_axis's gradient, which puts values back where the winners were:
//   scatter_axis: out[o, l, i] = x[o, i] if l == indices[o, i], else 0   (one thread per output;
//                 indices are f32, exact below 2^24)

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    outer: u32,
    len: u32,
    inner: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;
var<workgroup> partial_index: array<u32, WORKGROUP_SIZE>;

// The output this workgroup computes (uniform across it), and where its inputs start.
fn output_index(wid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return wid.x + wid.y * groups.x;
}

fn input_index(output: u32, l: u32) -> u32 {
    return ((output / p.inner) * p.len + l) * p.inner + output % p.inner;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sum_axis(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_index) t: u32) {
    let output = output_index(wid, groups);
    let valid = output < p.outer * p.inner;
    var sum = 0.0;
    if (valid) {
        for (var l = t; l < p.len; l += WORKGROUP_SIZE) { sum += x[input_index(output, l)]; }
    }
    partial[t] = sum;
    workgroupBarrier();
    for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
        if (t < stride) { partial[t] += partial[t + stride]; }
        workgroupBarrier();
    }
    if (valid && t == 0u) { out[output] = partial[0]; }
}

// By its bits (exponent all ones, mantissa not zero): shader compilers may assume v != v is false.
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Whether candidate (v, i) beats the current best (b, j): larger, or NaN, or equal with a smaller index.
fn beats(v: f32, i: u32, b: f32, j: u32) -> bool {
    if (is_nan(b)) { return is_nan(v) && i < j; }
    return is_nan(v) || v > b || (v == b && i < j);
}

// Finds (value, index) of the largest element in partial / partial_index slot 0.
fn reduce_largest(output: u32, valid: bool, t: u32) {
    var best = 0.0;
    var best_index = 0xffffffffu; // "none yet": loses to any real candidate
    if (valid) {
        for (var l = t; l < p.len; l += WORKGROUP_SIZE) {
            let v = x[input_index(output, l)];
            if (best_index == 0xffffffffu || beats(v, l, best, best_index)) { best = v; best_index = l; }
        }
    }
    partial[t] = best;
    partial_index[t] = best_index;
    workgroupBarrier();
    for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
        if (t < stride) {
            let other = partial_index[t + stride];
            if (other != 0xffffffffu && (partial_index[t] == 0xffffffffu || beats(partial[t + stride], other, partial[t], partial_index[t]))) {
                partial[t] = partial[t + stride];
                partial_index[t] = other;
            }
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn max_axis(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_index) t: u32) {
    let output = output_index(wid, groups);
    let valid = output < p.outer * p.inner;
    reduce_largest(output, valid, t);
    if (valid && t == 0u) { out[output] = partial[0]; }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn argmax_axis(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
               @builtin(local_invocation_index) t: u32) {
    let output = output_index(wid, groups);
    let valid = output < p.outer * p.inner;
    reduce_largest(output, valid, t);
    if (valid && t == 0u) { out[output] = f32(partial_index[0]); }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn scatter_axis(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let k = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if (k >= p.outer * p.len * p.inner) { return; }
    let i = k % p.inner;
    let l = (k / p.inner) % p.len;
    let o = k / (p.inner * p.len);
    let source_index = o * p.inner + i;
    out[k] = select(0.0, x[source_index], indices[source_index] == f32(l));
}
