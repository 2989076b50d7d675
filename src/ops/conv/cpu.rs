//! Convolution on the CPU. Ungrouped convolutions (such as a network's first layer) become
//! matrix products through im2col: the k x k windows of each image are laid out as the columns
//! of a matrix, so out = weight [o, c k k] @ columns [c k k, h' w'], and both gradients are
//! products too (with col2im to fold the column gradient back into the image). Grouped and
//! depthwise convolutions, whose products would be tiny, run as direct loops.

use super::ConvGeometry;
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
        return depthwise(g, epilogue, x, w, bias, out);
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
        return depthwise_backward_input(g, grad, w, dx);
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
        return depthwise_backward_weight(g, x, grad, dw);
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

/// Depthwise convolution (one filter per channel), plane by plane (shared among threads).
/// Each input plane is copied once into a zero-padded buffer whose rows are split into `stride`
/// phases (phase q holds padded columns q, q + s, q + 2s, ...), so output column x at kernel
/// column kx reads phase kx mod s at position x + kx / s: contiguous for every stride, which lets
/// the compiler vectorise the inner loops. The two gradients walk the same layout.
fn depthwise(g: &ConvGeometry, epilogue: Epilogue, x: &[f32], w: &[f32], bias: &[f32], out: &mut [f32]) {
    let taps = g.kernel_h * g.kernel_w;
    parallel::for_each_chunk(out, g.out_h * g.out_w, |plane, out_plane| {
        let phases = phase_split(g, &x[plane * g.height * g.width..][..g.height * g.width]);
        let weights = &w[(plane % g.in_channels) * taps..][..taps];
        out_plane.fill(0.0);
        for_each_phase_run(g, |y, tap, run| {
            let wv = weights[tap];
            out_plane[y * g.out_w..][..g.out_w].iter_mut().zip(&phases[run..][..g.out_w]).for_each(|(o, &v)| *o += wv * v);
        });
        let channel = plane % g.out_channels;
        epilogue.apply(out_plane, out_plane.len(), bias.get(channel..).unwrap_or_default());
    });
}

/// d loss / d input of a depthwise convolution: each gradient row is spread back through the
/// taps into a phase-split padded buffer, which is then read back without its padding.
fn depthwise_backward_input(g: &ConvGeometry, grad: &[f32], w: &[f32], dx: &mut [f32]) {
    let (taps, pixels) = (g.kernel_h * g.kernel_w, g.out_h * g.out_w);
    parallel::for_each_chunk(dx, g.height * g.width, |plane, dx_plane| {
        let grad_plane = &grad[plane * pixels..][..pixels];
        let weights = &w[(plane % g.in_channels) * taps..][..taps];
        let mut phases = vec![0.0f32; phase_buffer_len(g)];
        for_each_phase_run(g, |y, tap, run| {
            let wv = weights[tap];
            phases[run..][..g.out_w].iter_mut().zip(&grad_plane[y * g.out_w..][..g.out_w]).for_each(|(p, &gv)| *p += wv * gv);
        });
        for (iy, line) in dx_plane.chunks_mut(g.width).enumerate() {
            for (at, first, count) in phase_runs(g, iy) {
                let run = &phases[at..][..count];
                if g.stride_w == 1 {
                    line[first..][..count].copy_from_slice(run);
                } else {
                    line[first..].iter_mut().step_by(g.stride_w).zip(run).for_each(|(d, &p)| *d = p);
                }
            }
        }
    });
}

/// d loss / d weight of a depthwise convolution: for each channel (shared among threads), the
/// sum over images of each tap's run dotted with the gradient rows.
fn depthwise_backward_weight(g: &ConvGeometry, x: &[f32], grad: &[f32], dw: &mut [f32]) {
    let (taps, pixels, image) = (g.kernel_h * g.kernel_w, g.out_h * g.out_w, g.height * g.width);
    parallel::for_each_chunk(dw, taps, |c, dw_c| {
        dw_c.fill(0.0);
        for n in 0..g.batch {
            let plane = n * g.in_channels + c;
            let phases = phase_split(g, &x[plane * image..][..image]);
            let grad_plane = &grad[plane * pixels..][..pixels];
            for_each_phase_run(g, |y, tap, run| dw_c[tap] += dot(&grad_plane[y * g.out_w..][..g.out_w], &phases[run..][..g.out_w]));
        }
    });
}

/// One filter per channel (MobileNetV2's 3x3 convolutions).
fn is_depthwise(g: &ConvGeometry) -> bool {
    g.groups > 1 && g.groups == g.in_channels && g.groups == g.out_channels
}

fn phase_buffer_len(g: &ConvGeometry) -> usize {
    (g.height + 2 * g.pad_h) * g.stride_w * (g.width + 2 * g.pad_w).div_ceil(g.stride_w)
}

/// Where padded pixel (row, col) lives in the phase-split buffer.
fn phase_index(g: &ConvGeometry, row: usize, col: usize) -> usize {
    let (s, phase_len) = (g.stride_w, (g.width + 2 * g.pad_w).div_ceil(g.stride_w));
    (row * s + col % s) * phase_len + col / s
}

/// One input plane, zero-padded and split into stride phases.
fn phase_split(g: &ConvGeometry, plane: &[f32]) -> Vec<f32> {
    let mut phases = vec![0.0f32; phase_buffer_len(g)];
    for (iy, line) in plane.chunks(g.width).enumerate() {
        for (at, first, count) in phase_runs(g, iy) {
            let run = &mut phases[at..][..count];
            if g.stride_w == 1 {
                run.copy_from_slice(&line[first..][..count]);
            } else {
                run.iter_mut().zip(line[first..].iter().step_by(g.stride_w)).for_each(|(p, &v)| *p = v);
            }
        }
    }
    phases
}

/// Where input row iy lives in the phase buffer, one run per stride phase q: (the run's start
/// in the buffer, its first input column, its length); the run holds input columns first,
/// first + stride, ... (padded columns q, q + stride, ...).
fn phase_runs(g: &ConvGeometry, iy: usize) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let s = g.stride_w;
    (0..s).filter_map(move |q| {
        // Padded column j s + q is input column j s + q - pad: keep 0 <= that < width.
        let first = g.pad_w.saturating_sub(q).div_ceil(s);
        let end = (g.pad_w + g.width).saturating_sub(q).div_ceil(s);
        (first < end).then(|| (phase_index(g, iy + g.pad_h, first * s + q), first * s + q - g.pad_w, end - first))
    })
}

/// For every output row y and kernel tap (ky, kx): where in the phase buffer the out_w input
/// values that tap meets along that row start.
fn for_each_phase_run(g: &ConvGeometry, mut body: impl FnMut(usize, usize, usize)) {
    for y in 0..g.out_h {
        for ky in 0..g.kernel_h {
            for kx in 0..g.kernel_w {
                body(y, ky * g.kernel_w + kx, phase_index(g, y * g.stride_h + ky, kx));
            }
        }
    }
}

/// a . b with eight partial sums, so the loop vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = chunks_a.remainder().iter().zip(chunks_b.remainder()).map(|(x, y)| x * y).sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        lanes.iter_mut().zip(ca.iter().zip(cb)).for_each(|(l, (&x, &y))| *l += x * y);
    }
    lanes.iter().sum::<f32>() + tail
}

fn image<'a>(g: &ConvGeometry, x: &'a [f32], n: usize) -> &'a [f32] {
    let size = g.in_channels * g.height * g.width;
    &x[n * size..][..size]
}

/// columns[(c k_h + ky) k_w + kx][y w' + x] = image[c, y s - p + ky, x s - p + kx], 0 in the padding;
/// the rows of columns lie `row_stride` apart.
fn im2col(g: &ConvGeometry, image: &[f32], columns: &mut [f32], row_stride: usize) {
    let pixels = g.out_h * g.out_w;
    for_each_tap(g, |row, c, iy, ix_of| {
        let out_row = &mut columns[row * row_stride..][..pixels];
        for (y, out_line) in out_row.chunks_mut(g.out_w).enumerate() {
            match iy(y) {
                Some(iy) => {
                    let line = &image[(c * g.height + iy) * g.width..][..g.width];
                    out_line.iter_mut().enumerate().for_each(|(x, v)| *v = ix_of(x).map_or(0.0, |ix| line[ix]));
                }
                None => out_line.fill(0.0),
            }
        }
    });
}

/// The transpose of im2col: every column entry is added back to the pixel it was copied from.
fn col2im(g: &ConvGeometry, columns: &[f32], image: &mut [f32]) {
    let pixels = g.out_h * g.out_w;
    for_each_tap(g, |row, c, iy, ix_of| {
        let in_row = &columns[row * pixels..][..pixels];
        for (y, in_line) in in_row.chunks(g.out_w).enumerate() {
            if let Some(iy) = iy(y) {
                let line = &mut image[(c * g.height + iy) * g.width..][..g.width];
                in_line.iter().enumerate().for_each(|(x, &v)| {
                    if let Some(ix) = ix_of(x) {
                        line[ix] += v;
                    }
                });
            }
        }
    });
}

/// For each (channel, ky, kx) row of the columns matrix: its index, the channel, and the maps
/// from output row y / column x to the input row / column they read (None in the padding).
#[allow(clippy::type_complexity)]
fn for_each_tap(g: &ConvGeometry, mut body: impl FnMut(usize, usize, &dyn Fn(usize) -> Option<usize>, &dyn Fn(usize) -> Option<usize>)) {
    for c in 0..g.in_channels {
        for ky in 0..g.kernel_h {
            for kx in 0..g.kernel_w {
                let iy = |y: usize| (y * g.stride_h + ky).checked_sub(g.pad_h).filter(|&i| i < g.height);
                let ix = |x: usize| (x * g.stride_w + kx).checked_sub(g.pad_w).filter(|&i| i < g.width);
                body((c * g.kernel_h + ky) * g.kernel_w + kx, c, &iy, &ix);
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
                        // Output column x reads input column x*stride + kx - pad: keep 0 <= that < width.
                        let first = (g.pad_w.saturating_sub(kx)).div_ceil(g.stride_w);
                        let end = ((g.width + g.pad_w).saturating_sub(kx)).div_ceil(g.stride_w).min(g.out_w);
                        if first >= end {
                            continue;
                        }
                        let weight = ((o * in_per_group + ci) * g.kernel_h + ky) * g.kernel_w + kx;
                        for y in 0..g.out_h {
                            let iy = (y * g.stride_h + ky) as isize - g.pad_h as isize;
                            if iy < 0 || iy >= g.height as isize {
                                continue;
                            }
                            let ix = first * g.stride_w + kx - g.pad_w;
                            body(TapRow {
                                weight,
                                input: ((n * g.in_channels + c) * g.height + iy as usize) * g.width + ix,
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
