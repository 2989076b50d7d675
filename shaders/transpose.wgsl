// Data movement. transpose: [batch, rows, cols] -> [batch, cols, rows], one thread per element.

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    batch: u32,
    rows: u32,
    cols: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn transpose(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE; // index into the output
    let matrix = p.rows * p.cols;
    if (i >= p.batch * matrix) { return; }
    let b = i / matrix;
    let c = (i % matrix) / p.rows; // out[b, c, r] = x[b, r, c]
    let r = i % p.rows;
    out[i] = x[b * matrix + r * p.cols + c];
}
