//! Layout ops on the CPU.

use crate::backend::cpu_parallel as parallel;

/// out[b] = x[b]^T for each [rows, cols] matrix, in 8 x 8 blocks so that both the reads and the
/// strided writes stay within a few cache lines; large batches of matrices are shared among threads.
pub fn transpose(x: &[f32], out: &mut [f32], rows: usize, cols: usize) {
    let size = rows * cols;
    if size == 0 {
        return;
    }
    let one = |b: usize, t: &mut [f32]| {
        let m = &x[b * size..][..size];
        for r0 in (0..rows).step_by(8) {
            for c0 in (0..cols).step_by(8) {
                for r in r0..(r0 + 8).min(rows) {
                    for c in c0..(c0 + 8).min(cols) {
                        t[c * rows + r] = m[r * cols + c];
                    }
                }
            }
        }
    };
    if out.len() >= TRANSPOSE_PARALLEL_MIN && out.len() > size {
        parallel::for_each_chunk(out, size, one);
    } else {
        out.chunks_mut(size).enumerate().for_each(|(b, t)| one(b, t));
    }
}

/// Numbers below which a batch of transposes stays on the calling thread.
const TRANSPOSE_PARALLEL_MIN: usize = 1 << 18;

/// Each row of out = a row of a, then a row of b.
pub fn concat(a: &[f32], b: &[f32], out: &mut [f32], a_width: usize, b_width: usize) {
    for (row, (ra, rb)) in out.chunks_mut(a_width + b_width).zip(a.chunks(a_width).zip(b.chunks(b_width))) {
        row[..a_width].copy_from_slice(ra);
        row[a_width..].copy_from_slice(rb);
    }
}

/// Each row of out = columns start .. start + len of a row of x.
pub fn slice_columns(x: &[f32], out: &mut [f32], width: usize, start: usize, len: usize) {
    for (row, source) in out.chunks_mut(len).zip(x.chunks(width)) {
        row.copy_from_slice(&source[start..start + len]);
    }
}
