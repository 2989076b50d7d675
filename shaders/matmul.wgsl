// Batched matrix product: out[b] = a[b] @ bm[b], a[b]: [m, k], bm[b]: [k, n], out[b]: [m, n].
// A batch stride of 0 reuses one matrix for every batch entry (a 2-D operand of a batched product).
// Two kernels, chosen by shape in src/ops/matmul/mod.rs:
//   matmul:        tiled, for products whose m and n fill most of a 64 x 64 tile and k of a panel;
//   matmul_direct: one thread per output element, for thin products (a 1x1 convolution on a 2x2
//                  image has n = 4; its weight gradient k = 4) where a tile would be mostly padding.

const TILE: u32 = 64u;     // output tile edge (TILE in src/ops/matmul/mod.rs)
const DEPTH: u32 = 32u;    // k values per panel
const THREADS: u32 = 256u; // 16 x 16 threads, each computing a 4 x 4 block of the tile
const QUADS: u32 = 16u;    // TILE / 4: a panel row holds QUADS vec4s

struct Params {
    m: u32,
    k: u32,
    n: u32,
    a_batch_stride: u32,
    b_batch_stride: u32,
    batch: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> bm: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// The panels of one k-step, both k-major so that a thread reads its 4 rows of `a` and its 4
// columns of `bm` at one kk as one vec4 each:
//   a_panel[kk * QUADS + q] = a[row0 + 4q .. row0 + 4q + 3, k0 + kk]
//   b_panel[kk * QUADS + q] = bm[k0 + kk, col0 + 4q .. col0 + 4q + 3]
// Entries past m, k or n are zero, so they add nothing and any shape works.
var<workgroup> a_panel: array<vec4<f32>, 512>; // DEPTH * QUADS
var<workgroup> b_panel: array<vec4<f32>, 512>;

// a[b][r, c], or 0 outside the matrix.
fn a_at(base: u32, r: u32, c: u32) -> f32 {
    if (r < p.m && c < p.k) { return a[base + r * p.k + c]; }
    return 0.0;
}

fn b_at(base: u32, r: u32, c: u32) -> f32 {
    if (r < p.k && c < p.n) { return bm[base + r * p.n + c]; }
    return 0.0;
}

// Each 16 x 16 workgroup computes a 64 x 64 tile of out[wid.z]; thread (x, y) the 4 x 4 block at
// rows 4y.., columns 4x.. of it, in four vec4 accumulators (acc[i] = row 4y + i). The k axis is
// walked DEPTH at a time: the workgroup copies a 64 x DEPTH panel of `a` and a DEPTH x 64 panel
// of `bm` into workgroup memory (two barriers per step), then each thread does, per kk,
//   acc[i] += a_panel[kk][y][i] * b_panel[kk][x]   (i = 0..3: 16 multiply-adds, two vec4 reads).
@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
          @builtin(local_invocation_index) t: u32) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let a_base = wid.z * p.a_batch_stride;
    let b_base = wid.z * p.b_batch_stride;
    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += DEPTH) {
        // 512 vec4s per panel, 256 threads: two each. Neighbouring threads take neighbouring
        // k (for a, rows are k-contiguous) or neighbouring columns (for bm): coalesced reads.
        for (var e = 0u; e < 2u; e++) {
            let slot = t + e * THREADS;
            let kk = slot % DEPTH;
            let q = slot / DEPTH;
            let r = row0 + 4u * q;
            let ka = k0 + kk;
            a_panel[kk * QUADS + q] =
                vec4(a_at(a_base, r, ka), a_at(a_base, r + 1u, ka), a_at(a_base, r + 2u, ka), a_at(a_base, r + 3u, ka));
            let kb = k0 + slot / QUADS;
            let c = col0 + 4u * (slot % QUADS);
            b_panel[slot] = vec4(b_at(b_base, kb, c), b_at(b_base, kb, c + 1u), b_at(b_base, kb, c + 2u), b_at(b_base, kb, c + 3u));
        }
        workgroupBarrier();
        for (var kk = 0u; kk < DEPTH; kk++) {
            let a4 = a_panel[kk * QUADS + lid.y];
            let b4 = b_panel[kk * QUADS + lid.x];
            acc[0] += a4.x * b4;
            acc[1] += a4.y * b4;
            acc[2] += a4.z * b4;
            acc[3] += a4.w * b4;
        }
        workgroupBarrier();
    }
    let out_base = wid.z * p.m * p.n;
    let c = col0 + 4u * lid.x;
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + 4u * lid.y + i;
        if (r < p.m) {
            for (var j = 0u; j < 4u; j++) {
                if (c + j < p.n) { out[out_base + r * p.n + c + j] = acc[i][j]; }
            }
        }
    }
}

// out[b, r, c] = Σ_l a[b, r, l] bm[b, l, c], one thread per output element (threads in
// linear_groups' folded order; neighbouring threads take neighbouring c).
@compute @workgroup_size(THREADS)
fn matmul_direct(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let index = gid.x + gid.y * groups.x * THREADS;
    if (index >= p.batch * p.m * p.n) { return; }
    let c = index % p.n;
    let r = (index / p.n) % p.m;
    let b = index / (p.m * p.n);
    let a_row = b * p.a_batch_stride + r * p.k;
    let b_col = b * p.b_batch_stride + c;
    var sum = 0.0;
    for (var l = 0u; l < p.k; l++) { sum += a[a_row + l] * bm[b_col + l * p.n]; }
    out[index] = sum;
}
