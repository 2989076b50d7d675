// Batched matrix product: out[b] = a[b] @ bm[b], a[b]: [m, k], bm[b]: [k, n], out[b]: [m, n].
// A batch stride of 0 reuses one matrix for every batch entry (a 2-D operand of a batched product).
// Each operand is read through its strides, a[b][r, l] = a[b a_batch_stride + r a_row_stride +
// l a_col_stride]: a row-major matrix has strides (k, 1), one stored transposed (1, m), so the
// backward's g @ bmᵀ and aᵀ @ g need no transposed copy. With sum_batch = 1 the batch's products
// add up into one output, out = Σ_b a[b] @ bm[b] (a contraction over (b, l): the gradient of a
// 2-D operand shared by the batch).
// Two kernels, chosen by shape in src/ops/matmul/mod.rs:
//   matmul:        tiled, for products whose m and n fill most of a 64 x 64 tile and k of a panel;
//   matmul_direct: blocks of 4 rows of one column, `lanes` threads per block (a power of two,
//                  often 1), for thin products (a 1x1 convolution on a 2x2 image has n = 4; its
//                  weight gradient k = 4) where a tile would be mostly padding.

const TILE: u32 = 64u;     // output tile edge (TILE in src/ops/matmul/mod.rs)
const DEPTH: u32 = 32u;    // k values per panel
const THREADS: u32 = 256u; // 16 x 16 threads, each computing a 4 x 4 block of the tile
const QUADS: u32 = 16u;    // TILE / 4: a panel row holds QUADS vec4s

struct Params {
    m: u32,
    k: u32,
    n: u32,
    batch: u32,
    a_batch_stride: u32,
    b_batch_stride: u32,
    a_row_stride: u32,
    a_col_stride: u32,
    b_row_stride: u32,
    b_col_stride: u32,
    sum_batch: u32,
    lanes: u32,
    epilogue: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> bm: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// What is written for output row r's sum (`Epilogue` in src/ops/matmul/mod.rs): the sum (0); plus
// the row's bias, stored in `a` after its m x k weights (1); that, clamped to [0, 6] (2).
fn finish(sum: f32, r: u32) -> f32 {
    if (p.epilogue == 0u) { return sum; }
    let y = sum + a[p.m * p.k + r];
    return select(y, clamp(y, 0.0, 6.0), p.epilogue == 2u);
}

// The panels of one k-step, both k-major so that a thread reads its 4 rows of `a` and its 4
// columns of `bm` at one kk as one vec4 each:
//   a_panel[kk * QUADS + q] = a[row0 + 4q .. row0 + 4q + 3, k0 + kk]
//   b_panel[kk * QUADS + q] = bm[k0 + kk, col0 + 4q .. col0 + 4q + 3]
// Entries past m, k or n are zero, so they add nothing and any shape works.
var<workgroup> a_panel: array<vec4<f32>, 512>; // DEPTH * QUADS
var<workgroup> b_panel: array<vec4<f32>, 512>;

// The batch entries whose products add into output z: all of them with sum_batch, else one.
fn summed_entries(z: u32) -> vec2<u32> {
    if (p.sum_batch == 1u) { return vec2(0u, p.batch); }
    return vec2(z, z + 1u);
}

// The tiled kernel contracts over j = (z - z0) k + l, the entries z from z0 on, each with its l
// in 0..k (one entry: j = l), so a summed batch fills the panels as one long k would.
// a[z][r, l] at j, or 0 outside the matrix (j runs to `depth`).
fn a_at(z0: u32, depth: u32, r: u32, j: u32) -> f32 {
    if (r < p.m && j < depth) { return a[(z0 + j / p.k) * p.a_batch_stride + r * p.a_row_stride + (j % p.k) * p.a_col_stride]; }
    return 0.0;
}

// bm[z][l, c] at j, or 0 outside the matrix.
fn b_at(z0: u32, depth: u32, j: u32, c: u32) -> f32 {
    if (j < depth && c < p.n) { return bm[(z0 + j / p.k) * p.b_batch_stride + (j % p.k) * p.b_row_stride + c * p.b_col_stride]; }
    return 0.0;
}

// Each 16 x 16 workgroup computes a 64 x 64 tile of out[wid.z]; thread (x, y) the 4 x 4 block at
// rows 4y.., columns 4x.. of it, in four vec4 accumulators (acc[i] = row 4y + i). The j axis is
// walked DEPTH at a time: the workgroup copies a 64 x DEPTH panel of `a` and a DEPTH x 64 panel
// of `bm` into workgroup memory (two barriers per step), then each thread does, per kk,
//   acc[i] += a_panel[kk][y][i] * b_panel[kk][x]   (i = 0..3: 16 multiply-adds, two vec4 reads).
@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
          @builtin(local_invocation_index) t: u32) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    var acc: array<vec4<f32>, 4>;
    let entries = summed_entries(wid.z);
    let z0 = entries.x;
    let depth = (entries.y - entries.x) * p.k;
    for (var k0 = 0u; k0 < depth; k0 += DEPTH) {
        // 512 vec4s per panel, 256 threads: two each. Neighbouring threads take neighbouring
        // k of a and neighbouring columns of bm: coalesced reads when stored row-major.
        for (var e = 0u; e < 2u; e++) {
            let slot = t + e * THREADS;
            let kk = slot % DEPTH;
            let q = slot / DEPTH;
            let r = row0 + 4u * q;
            let ja = k0 + kk;
            a_panel[kk * QUADS + q] = vec4(a_at(z0, depth, r, ja), a_at(z0, depth, r + 1u, ja),
                                           a_at(z0, depth, r + 2u, ja), a_at(z0, depth, r + 3u, ja));
            let jb = k0 + slot / QUADS;
            let c = col0 + 4u * (slot % QUADS);
            b_panel[slot] = vec4(b_at(z0, depth, jb, c), b_at(z0, depth, jb, c + 1u),
                                 b_at(z0, depth, jb, c + 2u), b_at(z0, depth, jb, c + 3u));
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
                if (c + j < p.n) { out[out_base + r * p.n + c + j] = finish(acc[i][j], r); }
            }
        }
    }
}

// out[b, r, c] = Σ_l a[b, r, l] bm[b, l, c] (with sum_batch, out[r, c] = Σ_b Σ_l ...), by blocks of
// 4 rows of one column: out[b, 4q .. 4q + 3, c], so that each bm[l, c] read serves 4 sums. Thread
// t works on block t / lanes as lane t % lanes: it sums the terms j = lane, lane + lanes, ... of
// the contraction over j = (z - z0) k + l, then the block's lanes add their partial sums in a tree
// in workgroup memory (log2(lanes) barriers); lane 0 writes the block's rows that exist. Blocks in
// linear_groups' folded order; neighbouring blocks take neighbouring c.
var<workgroup> partial: array<vec4<f32>, THREADS>;

@compute @workgroup_size(THREADS)
fn matmul_direct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                 @builtin(local_invocation_index) t: u32) {
    let thread = (wid.x + wid.y * groups.x) * THREADS + t;
    let block = thread / p.lanes;
    let lane = thread % p.lanes;
    let row_blocks = (p.m + 3u) / 4u;
    let blocks = select(p.batch, 1u, p.sum_batch == 1u) * row_blocks * p.n;
    let c = block % p.n;
    let r0 = 4u * ((block / p.n) % row_blocks);
    let out_entry = block / (row_blocks * p.n);
    // Rows past m read row m - 1 (any row would do) and are not written.
    let rows = min(vec4(r0, r0 + 1u, r0 + 2u, r0 + 3u), vec4(p.m - 1u)) * p.a_row_stride;
    var sum = vec4(0.0);
    if (block < blocks && p.k > 0u) {
        let entries = summed_entries(out_entry);
        // (z, l) walks j = lane, lane + lanes, ... without a division per term.
        var z = entries.x + lane / p.k;
        var l = lane % p.k;
        while (z < entries.y) {
            let a_at = z * p.a_batch_stride + l * p.a_col_stride;
            let column = vec4(a[a_at + rows.x], a[a_at + rows.y], a[a_at + rows.z], a[a_at + rows.w]);
            sum += column * bm[z * p.b_batch_stride + l * p.b_row_stride + c * p.b_col_stride];
            l += p.lanes;
            while (l >= p.k) { l -= p.k; z++; }
        }
    }
    // After the step with stride s, lane j < s holds the sum of lanes j, j + s, j + 2s, ...
    partial[t] = sum;
    for (var stride = p.lanes / 2u; stride > 0u; stride /= 2u) {
        workgroupBarrier();
        if (lane < stride) { partial[t] += partial[t + stride]; }
    }
    if (lane == 0u && block < blocks) {
        let total = partial[t];
        let base = out_entry * p.m * p.n + c;
        for (var i = 0u; i < 4u && r0 + i < p.m; i++) { out[base + (r0 + i) * p.n] = finish(total[i], r0 + i); }
    }
}
