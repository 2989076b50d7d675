//! Depthwise convolution on the CPU (one filter per channel: MobileNetV2's 3 x 3 convolutions),
//! plane by plane, the planes shared among threads.
//!
//! Each input plane is copied once into a zero-padded buffer split by stride phase in both
//! directions: padded pixel (row, col) lives in phase (row mod s_h, col mod s_w), at (row / s_h,
//! col / s_w) of that phase's grid, whose rows are `cols` long. Output pixel (y, x) meets, through tap
//! (ky, kx), padded pixel (y s_h + ky, x s_w + kx): in phase (ky mod s_h, kx mod s_w), at
//! (y + ky / s_h, x + kx / s_w). Its buffer index is offset[tap] + y cols + x, so with the output
//! plane laid out at the same row pitch `cols` (the "flat" plane, i = y cols + x), the forward pass
//! for any stride is a sum of shifted copies of the buffer,
//!     out[i] = Σ_t w[t] buffer[offset[t] + i],
//! one vector loop over the whole plane. Columns x ≥ out_w of each flat row are computed and
//! dropped ((k - 1) / s_w + 1 of them at most per row); small planes (4 x 4, 8 x 8) stay one long
//! loop instead of many short ones. The input's gradient is the same sum with the offsets
//! reversed, over the gradient laid out flat; the weight's is a dot product per tap.

use super::cpu::{columns_inside, gather, scatter};
use super::ConvGeometry;
use crate::backend::cpu_parallel as parallel;
use crate::ops::matmul::Epilogue;

/// Outputs summed at a time: a fixed-size array the compiler keeps in vector registers.
const LANES: usize = 8;

/// Where the taps of one plane meet its phase-split, zero-padded copy.
struct Layout {
    /// Each phase's grid is ⌈padded rows / s_h⌉ x `cols` (⌈padded columns / s_w⌉); `cols` is also the
    /// flat planes' row pitch.
    cols: usize,
    /// Where each phase's grid starts in the buffer: phase k at k `phase_len` (rows cols rounded
    /// up to whole LANES, so that each phase's grid is whole vectors too).
    phase_len: usize,
    /// Per tap (ky kw + kx): where in the buffer flat output 0 reads.
    offsets: Vec<usize>,
    /// The taps of each phase (phase k: those with (ky mod s_h) s_w + kx mod s_w = k), and all.
    phase_taps: Vec<Vec<usize>>,
    all_taps: Vec<usize>,
    /// The flat output plane's length: out_h rows of `cols`, rounded up to whole LANES.
    flat_len: usize,
    /// The buffer's length: the phase grids, and long enough for every tap's read of `flat_len`
    /// values.
    buffer_len: usize,
    /// `runs` of each input row, worked out once (the divisions would cost more than a small
    /// plane's copying).
    row_runs: Vec<Vec<(usize, usize, usize)>>,
}

impl Layout {
    fn new(g: &ConvGeometry) -> Layout {
        let (s_h, s_w) = (g.stride_h, g.stride_w);
        let rows = (g.height + 2 * g.pad_h).div_ceil(s_h);
        let cols = (g.width + 2 * g.pad_w).div_ceil(s_w);
        let phase_len = (rows * cols).next_multiple_of(LANES);
        let taps = g.kernel_h * g.kernel_w;
        let mut layout = Layout {
            cols,
            phase_len,
            offsets: Vec::new(),
            phase_taps: Vec::new(),
            all_taps: (0..taps).collect(),
            flat_len: (g.out_h * cols).next_multiple_of(LANES),
            buffer_len: 0,
            row_runs: Vec::new(),
        };
        // Output (0, 0) meets padded pixel (ky, kx) through tap (ky, kx).
        layout.offsets = (0..taps).map(|t| layout.index(g, t / g.kernel_w, t % g.kernel_w)).collect();
        layout.phase_taps = (0..s_h * s_w).map(|k| (0..taps).filter(|&t| layout.offsets[t] / phase_len == k).collect()).collect();
        layout.buffer_len = (s_h * s_w * phase_len).max(layout.offsets.iter().max().unwrap_or(&0) + layout.flat_len);
        layout.row_runs = (0..g.height).map(|iy| layout.runs(g, iy)).collect();
        layout
    }

    /// The buffer index of padded pixel (row, col).
    fn index(&self, g: &ConvGeometry, row: usize, col: usize) -> usize {
        let (s_h, s_w) = (g.stride_h, g.stride_w);
        (row % s_h * s_w + col % s_w) * self.phase_len + row / s_h * self.cols + col / s_w
    }

    /// Where input row iy lives in the buffer, one run per column phase q: (the run's start in
    /// the buffer, its first input column, its length); the run holds input columns first,
    /// first + s_w, ... (padded columns q, q + s_w, ...), side by side.
    fn runs(&self, g: &ConvGeometry, iy: usize) -> Vec<(usize, usize, usize)> {
        let s = g.stride_w;
        (0..s)
            .filter_map(|q| {
                let inside = columns_inside(g, q);
                let first = inside.start * s + q; // the run's first padded column
                (!inside.is_empty()).then(|| (self.index(g, iy + g.pad_h, first), first - g.pad_w, inside.len()))
            })
            .collect()
    }

    /// One input plane, phase-split into `buffer`. Only the plane's own pixels are written: a
    /// buffer that starts as zeros keeps its padding zero however many planes it holds in turn.
    fn split(&self, g: &ConvGeometry, plane: &[f32], buffer: &mut [f32]) {
        for (iy, line) in plane.chunks(g.width).enumerate() {
            for &(at, first, count) in &self.row_runs[iy] {
                gather(&mut buffer[at..][..count], &line[first..], g.stride_w);
            }
        }
    }

    /// The inverse of `split`: the input plane's pixels read back out of a buffer (its padding dropped).
    fn unsplit(&self, g: &ConvGeometry, buffer: &[f32], plane: &mut [f32]) {
        for (iy, line) in plane.chunks_mut(g.width).enumerate() {
            for &(at, first, count) in &self.row_runs[iy] {
                scatter(&mut line[first..], &buffer[at..][..count], g.stride_w);
            }
        }
    }

    /// An output-shaped plane (out_h rows of out_w) laid out flat at row pitch `cols` in `flat`,
    /// from `lead` on. As in `split`, the rest of `flat` is left as it was: zeros.
    fn flat(&self, g: &ConvGeometry, plane: &[f32], lead: usize, flat: &mut [f32]) {
        for (row, line) in flat[lead..].chunks_mut(self.cols).zip(plane.chunks(g.out_w)) {
            gather(&mut row[..g.out_w], line, 1);
        }
    }
}

/// out[i] = Σ over taps t of weights[t] src[shifts[t] + i], LANES outputs at a time (out.len() is a
/// multiple of LANES, and every src read is in bounds).
fn shifted_sum(src: &[f32], taps: &[usize], shifts: &[usize], weights: &[f32], out: &mut [f32]) {
    for (chunk, i) in out.chunks_exact_mut(LANES).zip((0..).step_by(LANES)) {
        let mut sum = [0f32; LANES];
        for &t in taps {
            let (shift, w) = (shifts[t], weights[t]);
            let values: &[f32; LANES] = src[shift + i..][..LANES].try_into().expect("LANES values");
            sum.iter_mut().zip(values).for_each(|(s, &v)| *s += w * v);
        }
        chunk.copy_from_slice(&sum);
    }
}

/// The forward pass, then the epilogue (folded batch norm's bias, ReLU6) with `bias`.
pub fn forward(g: &ConvGeometry, epilogue: Epilogue, x: &[f32], w: &[f32], bias: &[f32], out: &mut [f32]) {
    let (layout, taps, image) = (Layout::new(g), g.kernel_h * g.kernel_w, g.height * g.width);
    let scratch = || (vec![0.0f32; layout.buffer_len], vec![0.0f32; layout.flat_len]);
    parallel::for_each_chunk_with(out, g.out_h * g.out_w, scratch, |(buffer, flat), plane, out_plane| {
        layout.split(g, &x[plane * image..][..image], buffer);
        shifted_sum(buffer, &layout.all_taps, &layout.offsets, &w[(plane % g.in_channels) * taps..][..taps], flat);
        for (line, row) in out_plane.chunks_mut(g.out_w).zip(flat.chunks(layout.cols)) {
            gather(line, row, 1);
        }
        epilogue.apply(out_plane, out_plane.len(), bias.get(plane % g.out_channels..).unwrap_or_default());
    });
}

/// d loss / d input: buffer gradient[j] = Σ_t w[t] grad_flat[j - offset[t]] (the forward's sum
/// transposed). Within phase k's grid only phase k's taps reach, so each grid is a shifted sum of
/// its own taps over the gradient laid out flat after a lead of zeros long enough that every shift
/// (lead + the grid's start - offset[t]) reads forward. Then the input pixels' entries are read
/// back out of the buffer.
pub fn backward_input(g: &ConvGeometry, grad: &[f32], w: &[f32], dx: &mut [f32]) {
    let (layout, taps, pixels) = (Layout::new(g), g.kernel_h * g.kernel_w, g.out_h * g.out_w);
    let grid_start = |t: usize| layout.offsets[t] / layout.phase_len * layout.phase_len;
    let lead = (0..taps).map(|t| layout.offsets[t] - grid_start(t)).max().unwrap_or(0);
    let shifts: Vec<usize> = (0..taps).map(|t| lead + grid_start(t) - layout.offsets[t]).collect();
    let scratch = || (vec![0.0f32; lead + layout.phase_len], vec![0.0f32; layout.phase_taps.len() * layout.phase_len]);
    parallel::for_each_chunk_with(dx, g.height * g.width, scratch, |(grad_flat, buffer), plane, dx_plane| {
        layout.flat(g, &grad[plane * pixels..][..pixels], lead, grad_flat);
        let weights = &w[(plane % g.in_channels) * taps..][..taps];
        for (grid, phase_taps) in buffer.chunks_exact_mut(layout.phase_len).zip(&layout.phase_taps) {
            shifted_sum(grad_flat, phase_taps, &shifts, weights, grid);
        }
        layout.unsplit(g, buffer, dx_plane);
    });
}

/// d loss / d weight[t] = Σ over images of grad_flat . buffer[offset[t]..] (grad_flat is zero in
/// the dropped columns), for each channel (shared among threads).
pub fn backward_weight(g: &ConvGeometry, x: &[f32], grad: &[f32], dw: &mut [f32]) {
    let (layout, taps, pixels, image) = (Layout::new(g), g.kernel_h * g.kernel_w, g.out_h * g.out_w, g.height * g.width);
    let scratch = || (vec![0.0f32; layout.buffer_len], vec![0.0f32; layout.flat_len]);
    parallel::for_each_chunk_with(dw, taps, scratch, |(buffer, grad_flat), c, dw_c| {
        dw_c.fill(0.0);
        for n in 0..g.batch {
            let plane = n * g.in_channels + c;
            layout.split(g, &x[plane * image..][..image], buffer);
            layout.flat(g, &grad[plane * pixels..][..pixels], 0, grad_flat);
            for (d, &offset) in dw_c.iter_mut().zip(&layout.offsets) {
                *d += dot(grad_flat, &buffer[offset..][..layout.flat_len]);
            }
        }
    });
}

/// a . b for lengths that are multiples of LANES, with LANES partial sums so the loop vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    for (ca, cb) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        lanes.iter_mut().zip(ca.iter().zip(cb)).for_each(|(l, (&x, &y))| *l += x * y);
    }
    lanes.iter().sum()
}
