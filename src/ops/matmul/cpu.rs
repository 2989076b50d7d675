//! f32 matrix product, c[m, n] = a[m, k] @ b[k, n], row-major, either operand possibly stored
//! transposed (`MatMul`'s flags: read by strides, never copied).
//!
//! A register-tiled micro-kernel: each step computes a TILE_ROWS x 16 tile of c (4 x 16 natively,
//! 2 x 16 in wasm), keeping its sums in registers while walking a block of k; per k it loads 16
//! numbers of a b row (one cache line) and TILE_ROWS numbers of a, and does 16 TILE_ROWS
//! multiply-adds. The b strip (K_BLOCK x 16) is packed once and stays in L1 across all the row
//! tiles. Natively it is compiled twice: with AVX2 + FMA (fused multiply-add) when the processor
//! has them, and plain. In wasm the plain version vectorises to SIMD128; the relaxed-SIMD build
//! (`+relaxed-simd`, for browsers that have it) uses its fused multiply-add instead.

/// Rows of a and c per tile: 4 x 16 sums are 8 AVX registers of x86's 16. In wasm they would be
/// 16 SIMD128 registers, which V8 maps onto the same 16 x86 registers, spilling some: there 2 x 16
/// is faster.
const TILE_ROWS: usize = if cfg!(target_family = "wasm") { 2 } else { 4 };
/// Columns of b and c per tile: two AVX registers, four SIMD128 registers.
const TILE_COLS: usize = 16;
/// Depth of k per pass, so a tile's strip of b (16 KiB) stays in L1.
const K_BLOCK: usize = 256;
/// Rows of a per pass, so the a block (64 KiB) stays in L2 while the b strips go by.
const M_BLOCK: usize = 64;

use super::{Epilogue, MatMul};
use crate::backend::cpu_parallel as parallel;

/// An operand: element [r, c] at data[r row + c col] (row-major: (cols, 1); stored
/// transposed: (1, rows)).
#[derive(Clone, Copy)]
struct Matrix<'a> {
    data: &'a [f32],
    row: usize,
    col: usize,
}

impl<'a> Matrix<'a> {
    #[inline(always)]
    fn at(&self, r: usize, c: usize) -> f32 {
        self.data[r * self.row + c * self.col]
    }

    /// The matrix from row r on.
    fn rows_from(self, r: usize) -> Matrix<'a> {
        Matrix { data: &self.data[r * self.row..], ..self }
    }
}

/// c = op(a[i]) @ op(b[i]) for each of the kernel's `batch` products (or their sum, with
/// `sum_batch`); a batch stride of 0 reuses one matrix.
/// With several threads (natively, or the threaded WebAssembly build) they share the work: whole
/// products when there are several outputs (the largest tasks, so waking a thread pays off), else
/// rows of the one output (each task walking every product of a sum). Each task owns its part of
/// c, so no synchronisation is needed, and every sum is added in the same order whatever the
/// number of threads: results do not depend on it. Products too small to be worth a hand-off stay
/// on the calling thread.
pub fn batched_matmul(kernel: &MatMul, a: &[f32], b: &[f32], c: &mut [f32]) {
    let MatMul { batch, m, k, n, a_batch_stride, b_batch_stride, sum_batch, epilogue, .. } = *kernel;
    let [(a_row, a_col), (b_row, b_col)] = kernel.strides();
    let a_item = |i: usize| Matrix { data: &a[i * a_batch_stride..], row: a_row, col: a_col };
    let b_item = |i: usize| Matrix { data: &b[i * b_batch_stride..], row: b_row, col: b_col };
    // The products that add into output o.
    let items = |o: usize| if sum_batch { 0..batch } else { o..o + 1 };
    // The epilogue's row biases follow a's matrix; each task applies it to its rows once summed,
    // while they are still in cache.
    let bias = if epilogue == Epilogue::None { &[][..] } else { &a[m * k..][..m] };
    let c = &mut c[..kernel.out_batch() * m * n];
    if batch == 0 || c.is_empty() {
        return c.fill(0.0); // a sum of no products, or no outputs at all
    }
    // The first product into each part of c stores its sums, the others add theirs: c is never
    // zeroed first (for the many products with a short k, such as a 1x1 convolution's, zeroing
    // and then reading c back cost as much memory traffic as writing it).
    let threads = parallel::threads();
    if threads == 1 || batch * m * n * k < PARALLEL_MIN_WORK {
        for (o, c_item) in c.chunks_mut(m * n).enumerate() {
            for (nth, i) in items(o).enumerate() {
                matmul_one_thread(a_item(i), b_item(i), c_item, m, k, n, nth == 0);
            }
            epilogue.apply(c_item, n, bias);
        }
    } else if kernel.out_batch() > 1 {
        parallel::for_each_chunk(c, m * n, |i, c_item| {
            matmul_one_thread(a_item(i), b_item(i), c_item, m, k, n, true);
            epilogue.apply(c_item, n, bias);
        });
    } else {
        let rows_per_task = m.div_ceil(threads).next_multiple_of(TILE_ROWS);
        parallel::for_each_chunk(c, rows_per_task * n, |task, c_rows| {
            let rows = c_rows.len() / n;
            for (nth, i) in items(0).enumerate() {
                matmul_one_thread(a_item(i).rows_from(task * rows_per_task), b_item(i), c_rows, rows, k, n, nth == 0);
            }
            epilogue.apply(c_rows, n, bias.get(task * rows_per_task..).unwrap_or_default());
        });
    }
}

/// Multiply-adds below which a product runs on the calling thread alone (measured: splitting
/// one 512^3 product over two threads is barely faster than one thread on this machine).
const PARALLEL_MIN_WORK: usize = 1 << 24;

/// c = a @ b when `store`, else c += a @ b.
fn matmul_one_thread(a: Matrix, b: Matrix, c: &mut [f32], m: usize, k: usize, n: usize, store: bool) {
    if store && k == 0 {
        return c.fill(0.0);
    }
    #[cfg(target_arch = "x86_64")]
    if crate::backend::cpu::has_avx2_fma() {
        // SAFETY: the processor supports AVX2 and FMA, checked just above.
        return unsafe { matmul_avx2_fma(a, b, c, m, k, n, store) };
    }
    #[cfg(all(target_family = "wasm", target_feature = "relaxed-simd"))]
    return matmul_tiled(a, b, c, (m, k, n), store, relaxed_simd::tile);
    // The micro-kernel closures here are `inline(always)`: matmul_tiled calls its micro-kernel at
    // several places, and left out of line the tile's sums went through memory (0.6x on 1x1
    // convolutions). Closures, not functions: only a closure inherits matmul_avx2_fma's target
    // features when it is compiled on its own, and a function passed as `impl Fn` goes through a
    // shim that is not inlined (f32::mul_add then becomes a library call).
    #[allow(unreachable_code)]
    matmul_tiled(
        a,
        b,
        c,
        (m, k, n),
        store,
        #[inline(always)]
        |a, i, ks, strip| tile(a, i, ks, strip, |x, y, acc| acc + x * y),
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn matmul_avx2_fma(a: Matrix, b: Matrix, c: &mut [f32], m: usize, k: usize, n: usize, store: bool) {
    // mul_add becomes one vfmadd instruction here (elsewhere it would be a slow library call).
    matmul_tiled(
        a,
        b,
        c,
        (m, k, n),
        store,
        #[inline(always)]
        |a, i, ks, strip| tile(a, i, ks, strip, f32::mul_add),
    )
}

/// One tile's sums over a block of k: acc[r][t] = Σ_kk a[i + r, kk] strip[kk - k0, t].
type Tile = [[f32; TILE_COLS]; TILE_ROWS];

/// c += a @ b by the tiled loops (c = a @ b when `store`: the first block of k stores its sums);
/// `tile` is the TILE_ROWS x 16 micro-kernel, where nearly all the time goes. Tiles at the edges
/// are computed whole too, as vectors, and only their rows and columns that exist are written
/// into c: the missing columns of b are packed as zeros, and the last rows of a are copied into a
/// zero-padded block of TILE_ROWS. (Thin products are common here: MobileNetV2's 1x1 convolutions
/// at 128 px have 24 output channels, or 16 pixels; a scalar edge loop took half their time.)
#[inline(always)]
fn matmul_tiled(
    a: Matrix,
    b: Matrix,
    c: &mut [f32],
    (m, k, n): (usize, usize, usize),
    store: bool,
    tile: impl Fn(Matrix, usize, std::ops::Range<usize>, &[f32]) -> Tile,
) {
    // The strip of b a tile column reads, copied contiguous: read in place, its rows lie n floats
    // apart and (for n a multiple of 1024) all land in the same few L1 cache sets.
    let mut strip = vec![0f32; K_BLOCK * TILE_COLS];
    let (full_rows, full_cols) = (m - m % TILE_ROWS, n - n % TILE_COLS);
    let mut last_rows = vec![0f32; if full_rows < m { TILE_ROWS * K_BLOCK } else { 0 }];
    for k0 in (0..k).step_by(K_BLOCK) {
        let ks = k0..(k0 + K_BLOCK).min(k);
        let store = store && k0 == 0;
        // Writes an edge tile's sums into c at (i, j), `rows` x `cols` of them.
        let write_edge = |c: &mut [f32], acc: &Tile, i: usize, j: usize, rows: usize, cols: usize| {
            for (r, acc_row) in acc.iter().enumerate().take(rows) {
                write_row(&mut c[(i + r) * n + j..][..cols], acc_row, store);
            }
        };
        // The whole tiles, where the time goes.
        for i0 in (0..full_rows).step_by(M_BLOCK) {
            for j in (0..full_cols).step_by(TILE_COLS) {
                pack_strip(b, ks.clone(), j, TILE_COLS, &mut strip);
                for i in (i0..(i0 + M_BLOCK).min(full_rows)).step_by(TILE_ROWS) {
                    let acc = tile(a, i, ks.clone(), &strip);
                    for (r, acc_row) in acc.iter().enumerate() {
                        // Fixed sizes, so the sums go from registers straight into c.
                        let c_row: &mut [f32; TILE_COLS] = (&mut c[(i + r) * n + j..][..TILE_COLS]).try_into().expect("a whole row");
                        write_row(c_row, acc_row, store);
                    }
                }
            }
        }
        // The last rows, under the whole columns, and then the last columns, every row.
        for (r, row) in (full_rows..m).zip(last_rows.chunks_exact_mut(K_BLOCK)) {
            row.iter_mut().zip(ks.clone()).for_each(|(v, kk)| *v = a.at(r, kk));
        }
        let last = Matrix { data: &last_rows, row: K_BLOCK, col: 1 };
        if full_rows < m {
            for j in (0..full_cols).step_by(TILE_COLS) {
                pack_strip(b, ks.clone(), j, TILE_COLS, &mut strip);
                write_edge(c, &tile(last, 0, 0..ks.len(), &strip), full_rows, j, m - full_rows, TILE_COLS);
            }
        }
        if full_cols < n {
            pack_strip(b, ks.clone(), full_cols, n - full_cols, &mut strip);
            for i in (0..full_rows).step_by(TILE_ROWS) {
                write_edge(c, &tile(a, i, ks.clone(), &strip), i, full_cols, TILE_ROWS, n - full_cols);
            }
            if full_rows < m {
                write_edge(c, &tile(last, 0, 0..ks.len(), &strip), full_rows, full_cols, m - full_rows, n - full_cols);
            }
        }
    }
}

/// c_row = sums when `store`, else c_row += sums (as many as c_row holds). Inlined, so a whole
/// tile's fixed-size rows go from registers straight into c.
#[inline(always)]
fn write_row(c_row: &mut [f32], sums: &[f32; TILE_COLS], store: bool) {
    match store {
        true => c_row.iter_mut().zip(sums).for_each(|(cv, &s)| *cv = s),
        false => c_row.iter_mut().zip(sums).for_each(|(cv, &s)| *cv += s),
    }
}

/// Copies b[ks, j..j + cols] into `strip` as rows of TILE_COLS, zeros past `cols`.
#[inline(always)]
fn pack_strip(b: Matrix, ks: std::ops::Range<usize>, j: usize, cols: usize, strip: &mut [f32]) {
    for (kk, packed) in ks.zip(strip.chunks_exact_mut(TILE_COLS)) {
        let packed: &mut [f32; TILE_COLS] = packed.try_into().expect("chunks_exact gives full rows");
        if b.col == 1 && cols == TILE_COLS {
            // A fixed-size copy, so it compiles to vector loads and stores: a slice copy would be
            // a memory.copy call in the threaded wasm builds, slow on shared memory.
            *packed = b.data[kk * b.row + j..][..TILE_COLS].try_into().expect("a full row of the tile");
        } else if cols == TILE_COLS {
            // A fixed count, so the gather is unrolled. (Plain loops: `array::from_fn` here was
            // left out of line, without AVX2.)
            for (t, p) in packed.iter_mut().enumerate() {
                *p = b.at(kk, j + t);
            }
        } else {
            packed[..cols].iter_mut().enumerate().for_each(|(t, p)| *p = b.at(kk, j + t));
            packed[cols..].fill(0.0);
        }
    }
}

/// The micro-kernel in plain Rust: TILE_ROWS x 16 sums kept in registers, 16 numbers of b and
/// TILE_ROWS of a loaded per step of k. The compiler turns the inner loop into vector
/// instructions (AVX2 or SIMD128).
#[inline(always)]
fn tile(a: Matrix, i: usize, ks: std::ops::Range<usize>, strip: &[f32], madd: impl Fn(f32, f32, f32) -> f32) -> Tile {
    let mut acc = [[0f32; TILE_COLS]; TILE_ROWS];
    for (kk, b_row) in ks.zip(strip.chunks_exact(TILE_COLS)) {
        for (r, acc_row) in acc.iter_mut().enumerate() {
            let av = a.at(i + r, kk);
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
    use super::{Matrix, Tile, TILE_COLS, TILE_ROWS};
    use core::arch::wasm32::{f32x4_relaxed_madd, f32x4_splat, v128, v128_load, v128_store};

    /// Four v128 registers hold a row of the tile.
    const VECTORS: usize = TILE_COLS / 4;

    #[inline(always)]
    pub fn tile(a: Matrix, i: usize, ks: std::ops::Range<usize>, strip: &[f32]) -> Tile {
        let mut acc = [[f32x4_splat(0.0); VECTORS]; TILE_ROWS];
        for (kk, b_row) in ks.zip(strip.chunks_exact(TILE_COLS)) {
            // SAFETY: b_row holds TILE_COLS = 4 VECTORS floats; v128_load accepts any alignment.
            let b: [v128; VECTORS] = std::array::from_fn(|v| unsafe { v128_load(b_row.as_ptr().add(4 * v).cast()) });
            for (r, acc_row) in acc.iter_mut().enumerate() {
                let av = f32x4_splat(a.at(i + r, kk));
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
        // Empty products too: no outputs, and outputs that are sums of nothing (zeros).
        for &(m, k, n) in
            &[(0, 3, 5), (3, 0, 5), (1, 1, 1), (5, 3, 7), (4, 16, 16), (7, 300, 259), (130, 129, 65), (9, 600, 33), (300, 300, 259)]
        {
            let a: Vec<f32> = (0..m * k).map(|_| rng.normal()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal()).collect();
            let mut c = vec![f32::NAN; m * n];
            batched_matmul(&MatMul::plain(m, k, n), &a, &b, &mut c);
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
        batched_matmul(&MatMul { batch, a_batch_stride: m * k, ..MatMul::plain(m, k, n) }, &a, &b, &mut c);
        for i in 0..batch {
            let expected = naive(&a[i * m * k..][..m * k], &b, m, k, n);
            for (x, y) in c[i * m * n..][..m * n].iter().zip(expected) {
                assert!((x - y).abs() <= 1e-3 * (1.0 + y.abs()), "item {i}: {x} vs {y}");
            }
        }
    }
}
