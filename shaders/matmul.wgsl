// Batched matrix product: out[b] = a[b] @ bm[b], a[b]: [m, k], bm[b]: [k, n], out[b]: [m, n].
// A batch stride of 0 reuses one matrix for every batch entry (a 2-D operand of a batched product).
//
// Each 16x16 workgroup computes a 64x64 tile of the output, each thread a 4x4 block of it held in
// registers. The k axis is walked 16 at a time: the workgroup first copies a 64x16 panel of `a`
// and a 16x64 panel of `bm` into workgroup memory (zero-filled past the edges, so any m, k, n
// works), then every thread does 16 x 4 x 4 multiply-adds from there.

const TILE: u32 = 64u;      // output tile edge (kept in step with MATMUL_TILE in gpu.rs)
const DEPTH: u32 = 16u;     // k values per panel
const THREADS: u32 = 256u;  // 16 x 16
const PER_THREAD: u32 = 4u; // each thread computes PER_THREAD x PER_THREAD outputs

struct Params {
    m: u32,
    k: u32,
    n: u32,
    a_batch_stride: u32,
    b_batch_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> bm: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> a_panel: array<f32, 1024>; // [TILE rows][DEPTH]
var<workgroup> b_panel: array<f32, 1024>; // [DEPTH][TILE cols]

@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
          @builtin(local_invocation_index) t: u32) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let a_base = wid.z * p.a_batch_stride;
    let b_base = wid.z * p.b_batch_stride;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < p.k; k0 += DEPTH) {
        // 1024 panel entries each, 256 threads: four loads per thread per panel.
        for (var e = 0u; e < 4u; e++) {
            let idx = t + e * THREADS;
            let r = row0 + idx / DEPTH;
            let ka = k0 + idx % DEPTH;
            var va = 0.0;
            if (r < p.m && ka < p.k) { va = a[a_base + r * p.k + ka]; }
            a_panel[idx] = va;
            let kb = k0 + idx / TILE;
            let c = col0 + idx % TILE;
            var vb = 0.0;
            if (kb < p.k && c < p.n) { vb = bm[b_base + kb * p.n + c]; }
            b_panel[idx] = vb;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < DEPTH; kk++) {
            var a_vals: array<f32, 4>;
            var b_vals: array<f32, 4>;
            for (var i = 0u; i < PER_THREAD; i++) {
                a_vals[i] = a_panel[(lid.y * PER_THREAD + i) * DEPTH + kk];
                b_vals[i] = b_panel[kk * TILE + lid.x * PER_THREAD + i];
            }
            for (var i = 0u; i < PER_THREAD; i++) {
                for (var j = 0u; j < PER_THREAD; j++) {
                    acc[i * PER_THREAD + j] += a_vals[i] * b_vals[j];
                }
            }
        }
        workgroupBarrier();
    }
    let out_base = wid.z * p.m * p.n;
    for (var i = 0u; i < PER_THREAD; i++) {
        let r = row0 + lid.y * PER_THREAD + i;
        for (var j = 0u; j < PER_THREAD; j++) {
            let c = col0 + lid.x * PER_THREAD + j;
            if (r < p.m && c < p.n) { out[out_base + r * p.n + c] = acc[i * PER_THREAD + j]; }
        }
    }
}
