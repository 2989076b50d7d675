//! f32 matrix product, c[m, n] = a[m, k] @ b[k, n], row-major.
//!
//! A register-tiled micro-kernel: each step computes a 4 x 16 tile of c, keeping its 64 sums in
//! registers while walking a block of k; per k it loads 16 numbers of a b row (one cache line)
//! and 4 numbers of a, and does 64 multiply-adds. The b strip (K_BLOCK x 16) is packed once and
//! stays in L1 across all the row tiles. Natively it is compiled twice: with AVX2 + FMA (fused
//! multiply-add) when the processor has them, and plain. In wasm the plain version vectorises to
//! SIMD128; the relaxed-SIMD build (`+relaxed-simd`, for browsers that have it) uses its fused
//! multiply-add instead.

/// Rows of a and c per tile.
const TILE_ROWS: usize = 4;
/// Columns of b and c per tile: two AVX registers, four SIMD128 registers.
const TILE_COLS: usize = 16;
/// Depth of k per pass, so a tile's strip of b (16 KiB) stays in L1.
const K_BLOCK: usize = 256;
/// Rows of a per pass, so the a block (64 KiB) stays in L2 while the b strips go by.
const M_BLOCK: usize = 64;

use crate::backend::cpu_parallel as parallel;

/// c[i] = a[i] @ b[i] for each of `batch` products; a batch stride of 0 reuses one matrix.
/// With several threads (natively, or the threaded WebAssembly build) they share the work: whole
/// products when there are several (the largest tasks, so waking a thread pays off), else rows of
/// one big product. Each task owns its part of c, so no synchronisation is needed. Products too
/// small to be worth a hand-off stay on the calling thread.
#[allow(clippy::too_many_arguments)]
pub fn batched_matmul(a: &[f32], b: &[f32], c: &mut [f32], batch: usize, m: usize, k: usize, n: usize, a_stride: usize, b_stride: usize) {
    let product =
        |i: usize, c_item: &mut [f32]| matmul_one_thread(&a[i * a_stride..][..m * k], &b[i * b_stride..][..k * n], c_item, m, k, n);
    let c = &mut c[..batch * m * n];
    let threads = parallel::threads();
    if threads == 1 || batch * m * n * k < PARALLEL_MIN_WORK {
        c.chunks_mut(m * n).enumerate().for_each(|(i, c_item)| product(i, c_item));
    } else if batch > 1 {
        parallel::for_each_chunk(c, m * n, product);
    } else {
        let rows_per_task = m.div_ceil(threads).next_multiple_of(TILE_ROWS);
        parallel::for_each_chunk(c, rows_per_task * n, |task, c_rows| {
            let rows = c_rows.len() / n;
            matmul_one_thread(&a[task * rows_per_task * k..][..rows * k], b, c_rows, rows, k, n);
        });
    }
}

/// Multiply-adds below which a product runs on the calling thread alone (measured: splitting
/// one 512^3 product over two threads is barely faster than one thread on this machine).
const PARALLEL_MIN_WORK: usize = 1 << 24;

fn matmul_one_thread(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    #[cfg(target_arch = "x86_64")]
    if crate::backend::cpu::has_avx2_fma() {
        // SAFETY: the processor supports AVX2 and FMA, checked just above.
        return unsafe { matmul_avx2_fma(a, b, c, m, k, n) };
    }
    let madd = |x: f32, y: f32, acc: f32| acc + x * y;
    #[cfg(all(target_family = "wasm", target_feature = "relaxed-simd"))]
    return matmul_tiled(a, b, c, m, k, n, madd, relaxed_simd::tile);
    #[allow(unreachable_code)]
    matmul_tiled(a, b, c, m, k, n, madd, |a, i, k, ks, strip| tile(a, i, k, ks, strip, madd))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn matmul_avx2_fma(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    // mul_add becomes one vfmadd instruction here (elsewhere it would be a slow library call).
    matmul_tiled(a, b, c, m, k, n, f32::mul_add, |a, i, k, ks, strip| tile(a, i, k, ks, strip, f32::mul_add))
}

/// One tile's sums over a block of k: acc[r][t] = Σ_kk a[i + r, kk] strip[kk - k0, t].
type Tile = [[f32; TILE_COLS]; TILE_ROWS];

/// The tiled loops; `madd(x, y, acc)` = acc + x * y, fused or not, for the edges, and `tile` for
/// the 4 x 16 tiles (the micro-kernel, where nearly all the time goes).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn matmul_tiled(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
    madd: impl Fn(f32, f32, f32) -> f32 + Copy,
    tile: impl Fn(&[f32], usize, usize, std::ops::Range<usize>, &[f32]) -> Tile,
) {
    c.fill(0.0);
    let full_rows = m - m % TILE_ROWS;
    let full_cols = n - n % TILE_COLS;
    // The strip of b a tile column reads, copied contiguous: read in place, its rows lie n floats
    // apart and (for n a multiple of 1024) all land in the same few L1 cache sets.
    let mut strip = vec![0f32; K_BLOCK * TILE_COLS];
    for k0 in (0..k).step_by(K_BLOCK) {
        let k_end = (k0 + K_BLOCK).min(k);
        for i0 in (0..full_rows).step_by(M_BLOCK) {
            for j in (0..full_cols).step_by(TILE_COLS) {
                for (kk, packed) in (k0..k_end).zip(strip.chunks_exact_mut(TILE_COLS)) {
                    // A fixed-size copy, so it compiles to vector loads and stores: a slice copy
                    // would be a memory.copy call in the threaded wasm builds, slow on shared memory.
                    let row: &[f32; TILE_COLS] = b[kk * n + j..][..TILE_COLS].try_into().expect("a full row of the tile");
                    let packed: &mut [f32; TILE_COLS] = packed.try_into().expect("chunks_exact gives full rows");
                    *packed = *row;
                }
                for i in (i0..(i0 + M_BLOCK).min(full_rows)).step_by(TILE_ROWS) {
                    let acc = tile(a, i, k, k0..k_end, &strip);
                    for (r, acc_row) in acc.iter().enumerate() {
                        let c_row = &mut c[(i + r) * n + j..][..TILE_COLS];
                        c_row.iter_mut().zip(acc_row).for_each(|(cv, &s)| *cv += s);
                    }
                }
            }
        }
        for r in 0..full_rows {
            row_times_panel(a, b, c, r, k0..k_end, full_cols..n, k, n, madd);
        }
        for r in full_rows..m {
            row_times_panel(a, b, c, r, k0..k_end, 0..n, k, n, madd);
        }
    }
}

/// The micro-kernel in plain Rust: 64 sums kept in registers, 16 numbers of b and 4 of a loaded
/// per step of k. The compiler turns the inner loop into vector instructions (AVX2 or SIMD128).
#[inline(always)]
fn tile(a: &[f32], i: usize, k: usize, ks: std::ops::Range<usize>, strip: &[f32], madd: impl Fn(f32, f32, f32) -> f32) -> Tile {
    let mut acc = [[0f32; TILE_COLS]; TILE_ROWS];
    for (kk, b_row) in ks.zip(strip.chunks_exact(TILE_COLS)) {
        for (r, acc_row) in acc.iter_mut().enumerate() {
            let av = a[(i + r) * k + kk];
            for t in 0..TILE_COLS {
                acc_row[t] = madd(av, b_row[t], acc_row[t]);
            }
        }
    }
    acc
}

/// The micro-kernel with WebAssembly's relaxed SIMD: `f32x4_relaxed_madd` is one fused
/// multiply-add where the processor has one (a separate multiply and add elsewhere, which is why
/// it is "relaxed": the last bit of a sum may differ between machines). Plain Rust cannot ask for
/// it: the compiler never fuses `acc + x * y` by itself, since that would change the rounding.
#[cfg(all(target_family = "wasm", target_feature = "relaxed-simd"))]
mod relaxed_simd {
    use super::{Tile, TILE_COLS, TILE_ROWS};
    use core::arch::wasm32::{f32x4_relaxed_madd, f32x4_splat, v128, v128_load, v128_store};

    /// Four v128 registers hold a row of the tile.
    const VECTORS: usize = TILE_COLS / 4;

    #[inline(always)]
    pub fn tile(a: &[f32], i: usize, k: usize, ks: std::ops::Range<usize>, strip: &[f32]) -> Tile {
        let mut acc = [[f32x4_splat(0.0); VECTORS]; TILE_ROWS];
        for (kk, b_row) in ks.zip(strip.chunks_exact(TILE_COLS)) {
            // SAFETY: b_row holds TILE_COLS = 4 VECTORS floats; v128_load accepts any alignment.
            let b: [v128; VECTORS] = std::array::from_fn(|v| unsafe { v128_load(b_row.as_ptr().add(4 * v).cast()) });
            for (r, acc_row) in acc.iter_mut().enumerate() {
                let av = f32x4_splat(a[(i + r) * k + kk]);
                for v in 0..VECTORS {
                    acc_row[v] = f32x4_relaxed_madd(av, b[v], acc_row[v]);
                }
            }
        }
        let mut out = [[0f32; TILE_COLS]; TILE_ROWS];
        for (out_row, acc_row) in out.iter_mut().zip(&acc) {
            for (v, &sum) in acc_row.iter().enumerate() {
                // SAFETY: out_row holds 4 VECTORS floats; v128_store accepts any alignment.
                unsafe { v128_store(out_row.as_mut_ptr().add(4 * v).cast(), sum) };
            }
        }
        out
    }
}

/// The leftovers at the edges: c[r, cols] += a[r, ks] @ b[ks, cols], one row at a time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn row_times_panel(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    r: usize,
    ks: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    k: usize,
    n: usize,
    madd: impl Fn(f32, f32, f32) -> f32,
) {
    if cols.is_empty() {
        return;
    }
    let c_row = &mut c[r * n + cols.start..r * n + cols.end];
    for kk in ks {
        let av = a[r * k + kk];
        let b_row = &b[kk * n + cols.start..kk * n + cols.end];
        c_row.iter_mut().zip(b_row).for_each(|(cv, &bv)| *cv = madd(av, bv, *cv));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn tiled_matmul_matches_triple_loop_on_odd_sizes() {
        let mut rng = crate::rng::Pcg32::new(3);
        for &(m, k, n) in &[(1, 1, 1), (5, 3, 7), (4, 16, 16), (7, 300, 259), (130, 129, 65), (9, 600, 33), (300, 300, 259)] {
            let a: Vec<f32> = (0..m * k).map(|_| rng.normal()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
            let mut c = vec![f32::NAN; m * n];
            batched_matmul(&a, &b, &mut c, 1, m, k, n, 0, 0);
            for (x, y) in c.iter().zip(naive(&a, &b, m, k, n)) {
                assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{m}x{k}x{n}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn batched_products_with_shared_and_own_matrices() {
        // Large enough to be split over threads natively: 4 x 64 x 256 x 256 multiply-adds.
        let (batch, m, k, n) = (4, 64, 256, 256);
        let mut rng = crate::rng::Pcg32::new(5);
        let a: Vec<f32> = (0..batch * m * k).map(|_| rng.normal()).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
        let mut c = vec![f32::NAN; batch * m * n];
        batched_matmul(&a, &b, &mut c, batch, m, k, n, m * k, 0);
        for i in 0..batch {
            let expected = naive(&a[i * m * k..][..m * k], &b, m, k, n);
            for (x, y) in c[i * m * n..][..m * n].iter().zip(expected) {
                assert!((x - y).abs() <= 1e-3 * (1.0 + y.abs()), "item {i}: {x} vs {y}");
            }
        }
    }
}
