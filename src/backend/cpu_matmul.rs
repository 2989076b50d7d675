//! f32 matrix product, c[m, n] = a[m, k] @ b[k, n], row-major.
//!
//! A register-tiled micro-kernel: each step computes a 4 x 16 tile of c, keeping its 64 sums in
//! registers while walking a block of k; per k it loads 16 numbers of a b row (one cache line)
//! and 4 numbers of a, and does 64 multiply-adds. The b strip (K_BLOCK x 16) is packed once and
//! stays in L1 across all the row tiles. Natively it is compiled twice: with AVX2 + FMA (fused multiply-add) when
//! the processor has them, and plain; in wasm the plain version vectorises to SIMD128.

/// Rows of a and c per tile.
const TILE_ROWS: usize = 4;
/// Columns of b and c per tile: two AVX registers, four SIMD128 registers.
const TILE_COLS: usize = 16;
/// Depth of k per pass, so a tile's strip of b (16 KiB) stays in L1.
const K_BLOCK: usize = 256;
/// Rows of a per pass, so the a block (64 KiB) stays in L2 while the b strips go by.
const M_BLOCK: usize = 64;

/// c[i] = a[i] @ b[i] for each of `batch` products; a batch stride of 0 reuses one matrix.
/// Natively, rayon's threads share the work: whole products when there are several (the largest
/// tasks, so waking a thread pays off), else rows of one big product. Each task owns its part of
/// c, so no synchronisation is needed. Products too small to be worth a hand-off stay on the
/// calling thread.
#[allow(clippy::too_many_arguments)]
pub fn batched_matmul(a: &[f32], b: &[f32], c: &mut [f32], batch: usize, m: usize, k: usize, n: usize, a_stride: usize, b_stride: usize) {
    let product =
        |i: usize, c_item: &mut [f32]| matmul_one_thread(&a[i * a_stride..][..m * k], &b[i * b_stride..][..k * n], c_item, m, k, n);
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        let work = batch * m * n * k;
        if rayon::current_num_threads() > 1 && work >= PARALLEL_MIN_WORK {
            if batch > 1 {
                c.par_chunks_mut(m * n).enumerate().for_each(|(i, c_item)| product(i, c_item));
            } else {
                let rows_per_task = m.div_ceil(rayon::current_num_threads()).next_multiple_of(TILE_ROWS);
                c.par_chunks_mut(rows_per_task * n).enumerate().for_each(|(task, c_rows)| {
                    let rows = c_rows.len() / n;
                    matmul_one_thread(&a[task * rows_per_task * k..][..rows * k], b, c_rows, rows, k, n);
                });
            }
            return;
        }
    }
    c[..batch * m * n].chunks_mut(m * n).enumerate().for_each(|(i, c_item)| product(i, c_item));
}

/// Multiply-adds below which a product runs on the calling thread alone (measured: splitting
/// one 512^3 product over two threads is barely faster than one thread on this machine).
#[cfg(not(target_family = "wasm"))]
const PARALLEL_MIN_WORK: usize = 1 << 24;

fn matmul_one_thread(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the processor supports AVX2 and FMA, checked just above.
        return unsafe { matmul_avx2_fma(a, b, c, m, k, n) };
    }
    matmul_tiled(a, b, c, m, k, n, |x, y, acc| acc + x * y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn matmul_avx2_fma(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    // mul_add becomes one vfmadd instruction here (elsewhere it would be a slow library call).
    matmul_tiled(a, b, c, m, k, n, f32::mul_add)
}

/// The tiled loops; `madd(x, y, acc)` = acc + x * y, fused or not.
#[inline(always)]
fn matmul_tiled(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize, madd: impl Fn(f32, f32, f32) -> f32 + Copy) {
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
                    packed.copy_from_slice(&b[kk * n + j..kk * n + j + TILE_COLS]);
                }
                for i in (i0..(i0 + M_BLOCK).min(full_rows)).step_by(TILE_ROWS) {
                    let mut acc = [[0f32; TILE_COLS]; TILE_ROWS];
                    for (kk, b_row) in (k0..k_end).zip(strip.chunks_exact(TILE_COLS)) {
                        for (r, acc_row) in acc.iter_mut().enumerate() {
                            let av = a[(i + r) * k + kk];
                            for t in 0..TILE_COLS {
                                acc_row[t] = madd(av, b_row[t], acc_row[t]);
                            }
                        }
                    }
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
