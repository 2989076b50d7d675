// Reductions along one axis. The input is viewed as [outer, len, inner] and each output
// out[o, i] combines x[o, 0..len, i]:
//   sum_axis:    the sum
//   max_axis:    the largest value (NaN if any is NaN)
//   argmax_axis: the index of the largest value, as f32 (the first on ties; NaN counts as largest)
// and max_axis's gradient, which puts values back where the winners were:
//   scatter_axis: out[o, l, i] = x[o, i] if l == indices[o, i], else 0   (one thread per output;
//                 indices are f32, exact below 2^24)
//
// How many threads share one output is `p.group` (a power of two, 1 to WORKGROUP_SIZE, chosen
// by shape in src/ops/reduce/mod.rs). Thread k works on output k / group as lane k % group: it
// strides over l by `group`, then the group's lanes combine their partial results in a tree in
// workgroup memory (log2(group) barriers). With group = 1 (a short axis, or outputs enough to
// fill the device) each thread loops over its whole column with no barrier at all, and
// neighbouring threads read neighbouring i: coalesced when inner > 1.

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    outer: u32,
    len: u32,
    inner: u32,
    group: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;
var<workgroup> partial_index: array<u32, WORKGROUP_SIZE>;

// The global thread index, unfolded from linear_groups' two dimensions.
fn thread_index(wid: vec3<u32>, groups: vec3<u32>, t: u32) -> u32 {
    return (wid.x + wid.y * groups.x) * WORKGROUP_SIZE + t;
}

// Whether thread k is lane 0 of a real output: the one that writes it.
fn writes(k: u32) -> bool {
    return k % p.group == 0u && k / p.group < p.outer * p.inner;
}

// x[o, l, i] for output = o * inner + i.
fn input_index(output: u32, l: u32) -> u32 {
    return ((output / p.inner) * p.len + l) * p.inner + output % p.inner;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sum_axis(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_index) t: u32) {
    let k = thread_index(wid, groups, t);
    let output = k / p.group;
    let lane = k % p.group;
    var sum = 0.0;
    if (output < p.outer * p.inner) {
        for (var l = lane; l < p.len; l += p.group) { sum += x[input_index(output, l)]; }
    }
    // Tree over the group's lanes: after the step with stride s, lane j < s holds the sum of
    // lanes j, j + s, j + 2s, ...; lane 0 ends with the group's total (it wrote it itself).
    partial[t] = sum;
    for (var stride = p.group / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (lane < stride) { partial[t] += partial[t + stride]; }
    }
    if (writes(k)) { out[output] = partial[t]; }
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

// The (value, index) of the largest element of this thread's output, left in partial[t] and
// partial_index[t] of its lane 0: each lane scans its strided share, then the same tree as sum's.
fn reduce_largest(k: u32, t: u32) {
    let output = k / p.group;
    let lane = k % p.group;
    var best = 0.0;
    var best_index = 0xffffffffu; // "none yet": loses to any real candidate
    if (output < p.outer * p.inner) {
        for (var l = lane; l < p.len; l += p.group) {
            let v = x[input_index(output, l)];
            if (best_index == 0xffffffffu || beats(v, l, best, best_index)) { best = v; best_index = l; }
        }
    }
    partial[t] = best;
    partial_index[t] = best_index;
    for (var stride = p.group / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (lane < stride) {
            let other = partial_index[t + stride];
            if (other != 0xffffffffu && (partial_index[t] == 0xffffffffu || beats(partial[t + stride], other, partial[t], partial_index[t]))) {
                partial[t] = partial[t + stride];
                partial_index[t] = other;
            }
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn max_axis(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_index) t: u32) {
    let k = thread_index(wid, groups, t);
    reduce_largest(k, t);
    if (writes(k)) { out[k / p.group] = partial[t]; }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn argmax_axis(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
               @builtin(local_invocation_index) t: u32) {
    let k = thread_index(wid, groups, t);
    reduce_largest(k, t);
    if (writes(k)) { out[k / p.group] = f32(partial_index[t]); }
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
