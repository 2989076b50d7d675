// Indexing along one axis, with indices stored as f32 (exact below 2^24). x is viewed as
// [outer, len, inner] and indices as [outer, inner]; an index outside 0..len reads or writes 0.
//   gather_axis:  out[o, i] = x[o, indices[o, i], i]                           (one thread per output)
//   scatter_axis: out[o, l, i] = values[o, i] if l == indices[o, i], else 0    (one thread per output)

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    outer: u32,
    len: u32,
    inner: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> source: array<f32>; // gather: x; scatter: values
@group(0) @binding(2) var<storage, read> indices: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn thread_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * WORKGROUP_SIZE;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn gather_axis(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let k = thread_index(gid, groups);
    if (k >= p.outer * p.inner) { return; }
    let l = indices[k];
    var value = 0.0;
    if (l >= 0.0 && l < f32(p.len)) {
        value = source[((k / p.inner) * p.len + u32(l)) * p.inner + k % p.inner];
    }
    out[k] = value;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn scatter_axis(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let k = thread_index(gid, groups);
    if (k >= p.outer * p.len * p.inner) { return; }
    let i = k % p.inner;
    let l = (k / p.inner) % p.len;
    let o = k / (p.inner * p.len);
    let source_index = o * p.inner + i;
    out[k] = select(0.0, source[source_index], indices[source_index] == f32(l));
}
