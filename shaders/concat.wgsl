// Joining and slicing along one axis, with tensors viewed as [outer, width]:
//   concat_pair:   out [outer, a_width + b_width] = a [outer, a_width] then b [outer, b_width]
//   slice_columns: out [outer, b_width] = a [outer, a_width] columns start .. start + b_width
// One thread per output element.

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    outer: u32,
    a_width: u32,
    b_width: u32,
    start: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn thread_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * WORKGROUP_SIZE;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn concat_pair(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let width = p.a_width + p.b_width;
    let k = thread_index(gid, groups);
    if (k >= p.outer * width) { return; }
    let o = k / width;
    let j = k % width;
    if (j < p.a_width) {
        out[k] = a[o * p.a_width + j];
    } else {
        out[k] = b[o * p.b_width + j - p.a_width];
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn slice_columns(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let k = thread_index(gid, groups);
    if (k >= p.outer * p.b_width) { return; }
    out[k] = a[(k / p.b_width) * p.a_width + p.start + k % p.b_width];
}
