//! Convolution on the CPU. Ungrouped convolutions (such as a network's first layer) become
//! matrix products through im2col: the k x k windows of each image are laid out as the columns
//! of a matrix, so out = weight [o, c k k] @ columns [c k k, h' w'], and both gradients are
//! products too (with col2im to fold the column gradient back into the image). Grouped
//! convolutions, whose products would be tiny, run as direct loops; depthwise ones as sums of
//! shifted planes (depthwise.rs).

use super::{depthwise, ConvGeometry};
use crate::backend::cpu_parallel as parallel;
use crate::ops::layout::cpu::transpose;
use crate::ops::matmul::cpu::batched_matmul;
use crate::ops::matmul::{Epilogue, MatMul};

/// The forward convolution, then the epilogue with the biases stored after the weights.
pub fn conv2d(g: &ConvGeometry, epilogue: Epilogue, x: &[f32], w: &[f32], out: &mut [f32]) {
    let weights = g.weight_len();
    let (w, bias) = w.split_at(weights);
    let pixels = g.out_h * g.out_w;
    if g.groups == 1 {
        // One task per image, each with its own columns: a single image's product is too small
        // to be worth sharing among threads.
        let taps = g.in_channels * g.kernel_h * g.kernel_w;
        parallel::for_each_chunk(out, g.out_channels * pixels, |n, out_image| {
            let mut columns = vec![0.0; taps * pixels];
            im2col(g, image(g, x, n), &mut columns, pixels);
            batched_matmul(&MatMul::plain(g.out_channels, taps, pixels), w, &columns, out_image);
            epilogue.apply(out_image, pixels, bias);
        });
        return;
    }
    if is_depthwise(g) {
        return depthwise::forward(g, epilogue, x, w, bias, out);
    }
    out.fill(0.0);
    for_each_tap_row(g, |tap| {
        let wv = w[tap.weight];
        let out_row = &mut out[tap.output..][..tap.columns];
        if g.stride_w == 1 {
            out_row.iter_mut().zip(&x[tap.input..][..tap.columns]).for_each(|(o, &xv)| *o += wv * xv);
        } else {
            out_row.iter_mut().enumerate().for_each(|(j, o)| *o += wv * x[tap.input + j * g.stride_w]);
        }
    });
    epilogue.apply(out, pixels, bias);
}

/// d loss / d input: columns' gradient = weight^T @ grad, folded back by col2im.
pub fn conv2d_backward_input(g: &ConvGeometry, grad: &[f32], w: &[f32], dx: &mut [f32]) {
    if is_depthwise(g) {
        return depthwise::backward_input(g, grad, w, dx);
    }
    dx.fill(0.0);
    if g.groups == 1 {
        // One task per image, as in the forward pass.
        let (taps, pixels) = (g.in_channels * g.kernel_h * g.kernel_w, g.out_h * g.out_w);
        // columns = weightᵀ @ grad, the weight read transposed in place.
        let product = MatMul { transpose_a: true, ..MatMul::plain(taps, g.out_channels, pixels) };
        parallel::for_each_chunk(dx, g.in_channels * g.height * g.width, |n, dx_image| {
            let grad_image = &grad[n * g.out_channels * pixels..][..g.out_channels * pixels];
            let mut columns = vec![0.0; taps * pixels];
            batched_matmul(&product, w, grad_image, &mut columns);
            col2im(g, &columns, dx_image);
        });
        return;
    }
    for_each_tap_row(g, |tap| {
        let wv = w[tap.weight];
        let grad_row = &grad[tap.output..][..tap.columns];
        if g.stride_w == 1 {
            dx[tap.input..][..tap.columns].iter_mut().zip(grad_row).for_each(|(d, &gv)| *d += wv * gv);
        } else {
            grad_row.iter().enumerate().for_each(|(j, &gv)| dx[tap.input + j * g.stride_w] += wv * gv);
        }
    });
}

/// d loss / d weight = Σ over images n of grad_n [o, h' w'] @ columns_n^T [h' w', c k k]. Computed
/// transposed as one product whose inner dimension runs over every image, long enough to share
/// among threads: d weight^T [c k k, o] = columns [c k k, N h' w'] @ grad^T [N h' w', o].
pub fn conv2d_backward_weight(g: &ConvGeometry, x: &[f32], grad: &[f32], dw: &mut [f32]) {
    if is_depthwise(g) {
        return depthwise::backward_weight(g, x, grad, dw);
    }
    if g.groups == 1 {
        let (taps, pixels) = (g.in_channels * g.kernel_h * g.kernel_w, g.out_h * g.out_w);
        let span = g.batch * pixels;
        let mut columns = vec![0.0; taps * span];
        for n in 0..g.batch {
            im2col(g, image(g, x, n), &mut columns[n * pixels..], span);
        }
        let mut grad_t = vec![0.0; span * g.out_channels];
        transpose(grad, &mut grad_t, g.out_channels, pixels); // [N, o, h' w'] -> [N h' w', o]
        let mut dw_t = vec![0.0; taps * g.out_channels];
        batched_matmul(&MatMul::plain(taps, span, g.out_channels), &columns, &grad_t, &mut dw_t);
        transpose(&dw_t, dw, taps, g.out_channels);
        return;
    }
    dw.fill(0.0);
    for_each_tap_row(g, |tap| {
        let grad_row = &grad[tap.output..][..tap.columns];
        dw[tap.weight] += if g.stride_w == 1 {
            grad_row.iter().zip(&x[tap.input..][..tap.columns]).map(|(&gv, &xv)| gv * xv).sum::<f32>()
        } else {
            grad_row.iter().enumerate().map(|(j, &gv)| gv * x[tap.input + j * g.stride_w]).sum::<f32>()
        };
    });
}

/// One filter per channel (MobileNetV2's 3x3 convolutions).
fn is_depthwise(g: &ConvGeometry) -> bool {
    g.groups > 1 && g.groups == g.in_channels && g.groups == g.out_channels
}

fn image<'a>(g: &ConvGeometry, x: &'a [f32], n: usize) -> &'a [f32] {
    let size = g.in_channels * g.height * g.width;
    &x[n * size..][..size]
}

/// columns[(c k_h + ky) k_w + kx][y w' + x] = image[c, y s - p + ky, x s - p + kx], 0 in the padding;
/// the rows of columns lie `row_stride` apart.
fn im2col(g: &ConvGeometry, image: &[f32], columns: &mut [f32], row_stride: usize) {
    let pixels = g.out_h * g.out_w;
    for_each_tap(g, |row, c, ky, inside| {
        let out_row = &mut columns[row * row_stride..][..pixels];
        for (y, out_line) in out_row.chunks_mut(g.out_w).enumerate() {
            match input_row(g, y, ky) {
                Some(iy) => {
                    let line = &image[(c * g.height + iy) * g.width..][..g.width];
                    out_line[..inside.first].fill(0.0);
                    out_line[inside.end..].fill(0.0);
                    gather(&mut out_line[inside.first..inside.end], &line[inside.input..], g.stride_w);
                }
                None => out_line.fill(0.0),
            }
        }
    });
}

/// The transpose of im2col: every column entry is added back to the pixel it was copied from.
fn col2im(g: &ConvGeometry, columns: &[f32], image: &mut [f32]) {
    let pixels = g.out_h * g.out_w;
    for_each_tap(g, |row, c, ky, inside| {
        let in_row = &columns[row * pixels..][..pixels];
        for (y, in_line) in in_row.chunks(g.out_w).enumerate() {
            if let Some(iy) = input_row(g, y, ky) {
                let line = &mut image[(c * g.height + iy) * g.width..][..g.width];
                let pixels = line[inside.input..].iter_mut().step_by(g.stride_w);
                pixels.zip(&in_line[inside.first..inside.end]).for_each(|(p, &v)| *p += v);
            }
        }
    });
}

/// Values `gather` and `scatter` copy per loop step: a fixed-size array, moved in vector registers.
const RUN_CHUNK: usize = 8;

/// dst[j] = src[j stride] for every j of dst: a row's run of one stride phase, or a row copied
/// (im2col's rows, depthwise.rs's phase split).
/// Strides 1 and 2 (MobileNetV2's) are known to the compiler, so their loops vectorise with no
/// call per run: a slice copy is a memmove call natively and a memory.copy in wasm, both slow for
/// the short rows of small planes.
pub(super) fn gather(dst: &mut [f32], src: &[f32], stride: usize) {
    debug_assert!(dst.is_empty() || src.len() > (dst.len() - 1) * stride, "src too short to fill dst");
    match stride {
        1 => gather_by::<1>(dst, src),
        2 => gather_by::<2>(dst, src),
        _ => dst.iter_mut().zip(src.iter().step_by(stride)).for_each(|(d, &v)| *d = v),
    }
}

fn gather_by<const STRIDE: usize>(dst: &mut [f32], src: &[f32]) {
    // Whole chunks while RUN_CHUNK STRIDE source values remain, then one by one.
    let whole = (dst.len() / RUN_CHUNK).min(src.len() / (RUN_CHUNK * STRIDE));
    let (head, tail) = dst.split_at_mut(whole * RUN_CHUNK);
    for (chunk, from) in head.chunks_exact_mut(RUN_CHUNK).zip(src.chunks_exact(RUN_CHUNK * STRIDE)) {
        (0..RUN_CHUNK).for_each(|j| chunk[j] = from[j * STRIDE]);
    }
    tail.iter_mut().zip(src[whole * RUN_CHUNK * STRIDE..].iter().step_by(STRIDE)).for_each(|(d, &v)| *d = v);
}

/// dst[j stride] = src[j] for every j of src: `gather` the other way (a phase's run back into
/// its row).
pub(super) fn scatter(dst: &mut [f32], src: &[f32], stride: usize) {
    debug_assert!(src.is_empty() || dst.len() > (src.len() - 1) * stride, "dst too short to take src");
    match stride {
        1 => scatter_by::<1>(dst, src),
        2 => scatter_by::<2>(dst, src),
        _ => dst.iter_mut().step_by(stride).zip(src).for_each(|(d, &v)| *d = v),
    }
}

fn scatter_by<const STRIDE: usize>(dst: &mut [f32], src: &[f32]) {
    let whole = (src.len() / RUN_CHUNK).min(dst.len() / (RUN_CHUNK * STRIDE));
    let (head, tail) = src.split_at(whole * RUN_CHUNK);
    for (chunk, to) in head.chunks_exact(RUN_CHUNK).zip(dst.chunks_exact_mut(RUN_CHUNK * STRIDE)) {
        (0..RUN_CHUNK).for_each(|j| to[j * STRIDE] = chunk[j]);
    }
    dst[whole * RUN_CHUNK * STRIDE..].iter_mut().step_by(STRIDE).zip(tail).for_each(|(d, &v)| *d = v);
}

/// The input row that output row y meets through kernel row ky (None in the padding).
fn input_row(g: &ConvGeometry, y: usize, ky: usize) -> Option<usize> {
    (y * g.stride_h + ky).checked_sub(g.pad_h).filter(|&i| i < g.height)
}

/// The j for which padded column j s_w + offset is inside the image: 0 <= j s_w + offset - pad_w
/// < width. (Output column j meets padded column j s_w + kx through kernel column kx; the phase
/// split of depthwise.rs puts padded columns q, q + s_w, ... side by side.)
pub(super) fn columns_inside(g: &ConvGeometry, offset: usize) -> std::ops::Range<usize> {
    g.pad_w.saturating_sub(offset).div_ceil(g.stride_w)..(g.width + g.pad_w).saturating_sub(offset).div_ceil(g.stride_w)
}

/// The output columns first..end that kernel column kx meets inside the image (the others meet
/// padding); output column x meets input column x s_w + kx - pad_w, the first of them `input`.
struct InsideColumns {
    first: usize,
    end: usize,
    input: usize,
}

impl InsideColumns {
    fn new(g: &ConvGeometry, kx: usize) -> InsideColumns {
        let inside = columns_inside(g, kx);
        let first = inside.start.min(g.out_w);
        let end = inside.end.clamp(first, g.out_w);
        // (When no column is inside, `input` is only kept within the row: nothing reads it.)
        InsideColumns { first, end, input: (first * g.stride_w + kx).saturating_sub(g.pad_w).min(g.width) }
    }
}

/// For each (channel, ky, kx) row of the columns matrix: its index, the channel, ky, and the
/// output columns kx meets inside the image.
fn for_each_tap(g: &ConvGeometry, mut body: impl FnMut(usize, usize, usize, InsideColumns)) {
    for c in 0..g.in_channels {
        for ky in 0..g.kernel_h {
            for kx in 0..g.kernel_w {
                body((c * g.kernel_h + ky) * g.kernel_w + kx, c, ky, InsideColumns::new(g, kx));
            }
        }
    }
}

/// One weight tap applied along one output row: output[output + j] pairs with input[input +
/// j * stride_w] for j in 0..columns (only the columns whose input lies inside the image).
struct TapRow {
    weight: usize,
    input: usize,
    output: usize,
    columns: usize,
}

/// The loop skeleton the three convolution kernels share: every (image, output channel, input
/// channel of its group, kernel tap, output row) with the run of output columns whose input
/// pixel is not padding. Each kernel supplies what to do along such a run.
fn for_each_tap_row(g: &ConvGeometry, mut body: impl FnMut(TapRow)) {
    let in_per_group = g.in_channels / g.groups;
    let out_per_group = g.out_channels / g.groups;
    for n in 0..g.batch {
        for o in 0..g.out_channels {
            let group = o / out_per_group;
            for ci in 0..in_per_group {
                let c = group * in_per_group + ci;
                for ky in 0..g.kernel_h {
                    for kx in 0..g.kernel_w {
                        let InsideColumns { first, end, input: ix } = InsideColumns::new(g, kx);
                        if first == end {
                            continue;
                        }
                        let weight = ((o * in_per_group + ci) * g.kernel_h + ky) * g.kernel_w + kx;
                        for y in 0..g.out_h {
                            let Some(iy) = input_row(g, y, ky) else { continue };
                            body(TapRow {
                                weight,
                                input: ((n * g.in_channels + c) * g.height + iy) * g.width + ix,
                                output: ((n * g.out_channels + o) * g.out_h + y) * g.out_w + first,
                                columns: end - first,
                            });
                        }
                    }
                }
            }
        }
    }
}
