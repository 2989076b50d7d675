//! Convolution on the CPU. Ungrouped convolutions (such as a network's first layer) become
//! matrix products through im2col: the k x k windows of each image are laid out as the columns
//! of a matrix, so out = weight [o, c k k] @ columns [c k k, h' w'], and both gradients are
//! products too (with col2im to fold the column gradient back into the image). Grouped and
//! depthwise convolutions, whose products would be tiny, run as direct loops.

use super::cpu::transpose;
use super::cpu_matmul::batched_matmul;
use super::cpu_simd::wide;
use super::ConvGeometry;

pub fn conv2d(g: &ConvGeometry, x: &[f32], w: &[f32], out: &mut [f32]) {
    if g.groups == 1 {
        let (taps, pixels) = (g.in_channels * g.kernel_h * g.kernel_w, g.out_h * g.out_w);
        let mut columns = vec![0.0; taps * pixels];
        for (n, out_image) in out.chunks_mut(g.out_channels * pixels).enumerate() {
            im2col(g, image(g, x, n), &mut columns, pixels);
            batched_matmul(w, &columns, out_image, 1, g.out_channels, taps, pixels, 0, 0);
        }
        return;
    }
    if is_depthwise(g) {
        return depthwise(g, x, w, out);
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
}

/// d loss / d input: columns' gradient = weight^T @ grad, folded back by col2im.
pub fn conv2d_backward_input(g: &ConvGeometry, grad: &[f32], w: &[f32], dx: &mut [f32]) {
    if is_depthwise(g) {
        return depthwise_backward_input(g, grad, w, dx);
    }
    dx.fill(0.0);
    if g.groups == 1 {
        let (taps, pixels) = (g.in_channels * g.kernel_h * g.kernel_w, g.out_h * g.out_w);
        let w_t = transposed(w, g.out_channels, taps);
        let mut columns = vec![0.0; taps * pixels];
        for (n, dx_image) in dx.chunks_mut(g.in_channels * g.height * g.width).enumerate() {
            let grad_image = &grad[n * g.out_channels * pixels..][..g.out_channels * pixels];
            batched_matmul(&w_t, grad_image, &mut columns, 1, taps, g.out_channels, pixels, 0, 0);
            col2im(g, &columns, dx_image);
        }
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
        batched_matmul(&columns, &grad_t, &mut dw_t, 1, taps, span, g.out_channels, 0, 0);
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

/// Depthwise convolution (one filter per channel), plane by plane (over threads natively).
/// Each input plane is copied once into a zero-padded buffer split into stride phases: phase
/// (r, q) holds padded rows r, r + s_h, ... and, of those, columns q, q + s_w, ..., as rows of
/// `row_len` numbers. Output pixel (y, x) at tap (ky, kx) then reads the buffer at
/// `phase_index(ky, kx) + y row_len + x`, so for each tap the whole output plane, laid out with
/// rows `row_len` apart, is one contiguous run: long enough to vectorise even for MobileNet's
/// 8 x 8 and 4 x 4 planes (where row-by-row loops ran scalar). The row_len - out_w columns
/// between rows compute values that are thrown away. The two gradients walk the same layout.
fn depthwise(g: &ConvGeometry, x: &[f32], w: &[f32], out: &mut [f32]) {
    let (taps, row_len, span) = (g.kernel_h * g.kernel_w, phase_row_len(g), run_span(g));
    for_each_plane(
        out,
        g.out_h * g.out_w,
        #[inline(always)]
        |plane, out_plane| {
            let phases = phase_split(g, &x[plane * g.height * g.width..][..g.height * g.width]);
            let weights = &w[(plane % g.in_channels) * taps..][..taps];
            let mut sums = vec![0.0f32; span];
            for_each_tap_run(
                g,
                #[inline(always)]
                |tap, run| add_scaled(&mut sums, weights[tap], &phases[run..][..span]),
            );
            for (out_row, sum_row) in out_plane.chunks_mut(g.out_w).zip(sums.chunks(row_len)) {
                out_row.copy_from_slice(&sum_row[..g.out_w]);
            }
        },
    );
}

/// d loss / d input of a depthwise convolution: the gradient plane (rows spaced as the runs
/// want, zeros between) is spread back through the taps into a phase-split padded buffer,
/// which is then read back without its padding.
fn depthwise_backward_input(g: &ConvGeometry, grad: &[f32], w: &[f32], dx: &mut [f32]) {
    let (taps, span) = (g.kernel_h * g.kernel_w, run_span(g));
    for_each_plane(
        dx,
        g.height * g.width,
        #[inline(always)]
        |plane, dx_plane| {
            let grad_rows = spaced_rows(g, grad, plane);
            let weights = &w[(plane % g.in_channels) * taps..][..taps];
            let mut phases = vec![0.0f32; phase_buffer_len(g)];
            for_each_tap_run(
                g,
                #[inline(always)]
                |tap, run| add_scaled(&mut phases[run..][..span], weights[tap], &grad_rows),
            );
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
        },
    );
}

/// d loss / d weight of a depthwise convolution: for each channel (over threads natively), the
/// sum over images of each tap's run dotted with the spaced gradient plane (whose zeros drop
/// the thrown-away columns).
fn depthwise_backward_weight(g: &ConvGeometry, x: &[f32], grad: &[f32], dw: &mut [f32]) {
    let (taps, image, span) = (g.kernel_h * g.kernel_w, g.height * g.width, run_span(g));
    for_each_plane(
        dw,
        taps,
        #[inline(always)]
        |c, dw_c| {
            dw_c.fill(0.0);
            for n in 0..g.batch {
                let plane = n * g.in_channels + c;
                let phases = phase_split(g, &x[plane * image..][..image]);
                let grad_rows = spaced_rows(g, grad, plane);
                for_each_tap_run(
                    g,
                    #[inline(always)]
                    |tap, run| dw_c[tap] += dot(&grad_rows, &phases[run..][..span]),
                );
            }
        },
    );
}

/// One filter per channel (MobileNetV2's 3x3 convolutions).
fn is_depthwise(g: &ConvGeometry) -> bool {
    g.groups > 1 && g.groups == g.in_channels && g.groups == g.out_channels
}

/// Numbers per row of one stride phase: the padded width over the column stride.
fn phase_row_len(g: &ConvGeometry) -> usize {
    (g.width + 2 * g.pad_w).div_ceil(g.stride_w)
}

/// Rows of one stride phase: the padded height over the row stride.
fn phase_rows(g: &ConvGeometry) -> usize {
    (g.height + 2 * g.pad_h).div_ceil(g.stride_h)
}

fn phase_buffer_len(g: &ConvGeometry) -> usize {
    g.stride_h * g.stride_w * phase_rows(g) * phase_row_len(g)
}

/// Length of a tap's run: out_h rows row_len apart, the last one out_w long. It stays inside
/// its phase: ky / s_h + out_h <= phase rows and kx / s_w + out_w <= row_len.
fn run_span(g: &ConvGeometry) -> usize {
    (g.out_h - 1) * phase_row_len(g) + g.out_w
}

/// Where padded pixel (row, col) lives in the phase-split buffer.
#[inline(always)]
fn phase_index(g: &ConvGeometry, row: usize, col: usize) -> usize {
    let (sh, sw) = (g.stride_h, g.stride_w);
    (((row % sh) * sw + col % sw) * phase_rows(g) + row / sh) * phase_row_len(g) + col / sw
}

/// One input plane, zero-padded and split into stride phases.
#[inline(always)]
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

/// Where input row iy lives in the phase buffer, one run per column phase q: (the run's start
/// in the buffer, its first input column, its length); the run holds input columns first,
/// first + stride, ... (padded columns q, q + stride, ...).
#[inline(always)]
fn phase_runs(g: &ConvGeometry, iy: usize) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let s = g.stride_w;
    (0..s).filter_map(move |q| {
        // Padded column j s + q is input column j s + q - pad: keep 0 <= that < width.
        let first = g.pad_w.saturating_sub(q).div_ceil(s);
        let end = (g.pad_w + g.width).saturating_sub(q).div_ceil(s);
        (first < end).then(|| (phase_index(g, iy + g.pad_h, first * s + q), first * s + q - g.pad_w, end - first))
    })
}

/// Gradient plane `plane` with its rows row_len apart and zeros between, as the runs lay out
/// the output.
#[inline(always)]
fn spaced_rows(g: &ConvGeometry, grad: &[f32], plane: usize) -> Vec<f32> {
    let pixels = g.out_h * g.out_w;
    let mut rows = vec![0.0f32; run_span(g)];
    for (row, grad_row) in rows.chunks_mut(phase_row_len(g)).zip(grad[plane * pixels..][..pixels].chunks(g.out_w)) {
        row[..g.out_w].copy_from_slice(grad_row);
    }
    rows
}

/// For every kernel tap (ky, kx): where its run starts in the phase buffer.
#[inline(always)]
fn for_each_tap_run(g: &ConvGeometry, mut body: impl FnMut(usize, usize)) {
    for ky in 0..g.kernel_h {
        for kx in 0..g.kernel_w {
            body(ky * g.kernel_w + kx, phase_index(g, ky, kx));
        }
    }
}

/// y += a x, eight at a time (one AVX register, two SIMD128 ones), so short runs vectorise too.
#[inline(always)]
fn add_scaled(y: &mut [f32], a: f32, x: &[f32]) {
    let (mut ys, mut xs) = (y.chunks_exact_mut(8), x.chunks_exact(8));
    for (yc, xc) in (&mut ys).zip(&mut xs) {
        yc.iter_mut().zip(xc).for_each(|(y, &x)| *y += a * x);
    }
    ys.into_remainder().iter_mut().zip(xs.remainder()).for_each(|(y, &x)| *y += a * x);
}

/// a . b with eight partial sums, so the loop vectorises.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = chunks_a.remainder().iter().zip(chunks_b.remainder()).map(|(x, y)| x * y).sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        lanes.iter_mut().zip(ca.iter().zip(cb)).for_each(|(l, (&x, &y))| *l += x * y);
    }
    lanes.iter().sum::<f32>() + tail
}

/// Calls `f(plane index, plane)` for each `plane_len`-sized chunk of `out`, compiled for the
/// widest vectors the processor has (see `wide`; the depthwise loops are a fifth of training
/// time and twice as fast with AVX2); natively the planes are shared among rayon's threads.
fn for_each_plane(out: &mut [f32], plane_len: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(plane_len).enumerate().for_each(|(i, plane)| {
            wide(
                #[inline(always)]
                || f(i, plane),
            )
        });
    }
    #[cfg(target_family = "wasm")]
    out.chunks_mut(plane_len).enumerate().for_each(|(i, plane)| {
        wide(
            #[inline(always)]
            || f(i, plane),
        )
    });
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

fn transposed(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; rows * cols];
    transpose(m, &mut t, rows, cols);
    t
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

#[cfg(test)]
mod tests {
    use super::*;

    /// out[n, c, y, x] = Σ w[c, ky, kx] x[n, c, y s - p + ky, x s - p + kx], as plainly as possible.
    fn naive_depthwise(g: &ConvGeometry, x: &[f32], w: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; g.batch * g.in_channels * g.out_h * g.out_w];
        for plane in 0..g.batch * g.in_channels {
            for (y, xo, ky, kx) in (0..g.out_h).flat_map(|y| {
                (0..g.out_w).flat_map(move |xo| (0..g.kernel_h).flat_map(move |ky| (0..g.kernel_w).map(move |kx| (y, xo, ky, kx))))
            }) {
                let (iy, ix) = ((y * g.stride_h + ky) as isize - g.pad_h as isize, (xo * g.stride_w + kx) as isize - g.pad_w as isize);
                if (0..g.height as isize).contains(&iy) && (0..g.width as isize).contains(&ix) {
                    let wv = w[((plane % g.in_channels) * g.kernel_h + ky) * g.kernel_w + kx];
                    out[(plane * g.out_h + y) * g.out_w + xo] += wv * x[(plane * g.height + iy as usize) * g.width + ix as usize];
                }
            }
        }
        out
    }

    #[test]
    fn depthwise_matches_naive_loops_and_its_gradients_are_its_transpose() {
        let mut rng = crate::rng::Pcg32::new(7);
        for &(h, w_, k, s, p) in
            &[(4, 4, 3, 1, 1), (8, 7, 3, 2, 1), (9, 9, 3, 2, 1), (5, 6, 3, 1, 0), (7, 5, 5, 2, 2), (6, 6, 1, 1, 0), (3, 3, 3, 3, 1)]
        {
            let (batch, channels) = (2, 3);
            let (out_h, out_w) = ((h + 2 * p - k) / s + 1, (w_ + 2 * p - k) / s + 1);
            let g = ConvGeometry {
                batch,
                in_channels: channels,
                height: h,
                width: w_,
                out_channels: channels,
                kernel_h: k,
                kernel_w: k,
                stride_h: s,
                stride_w: s,
                pad_h: p,
                pad_w: p,
                groups: channels,
                out_h,
                out_w,
            };
            let x: Vec<f32> = (0..batch * channels * h * w_).map(|_| rng.normal()).collect();
            let w: Vec<f32> = (0..channels * k * k).map(|_| rng.normal()).collect();
            let grad: Vec<f32> = (0..batch * channels * out_h * out_w).map(|_| rng.normal()).collect();
            let mut out = vec![f32::NAN; grad.len()];
            conv2d(&g, &x, &w, &mut out);
            let close = |a: f32, b: f32| (a - b).abs() <= 1e-4 * (1.0 + b.abs());
            for (a, b) in out.iter().zip(naive_depthwise(&g, &x, &w)) {
                assert!(close(*a, b), "{h}x{w_} k{k} s{s} p{p}: {a} vs {b}");
            }
            // The convolution is linear in x and in w: grad . conv(e_i) is each gradient's entry.
            let (mut dx, mut dw) = (vec![f32::NAN; x.len()], vec![f32::NAN; w.len()]);
            conv2d_backward_input(&g, &grad, &w, &mut dx);
            conv2d_backward_weight(&g, &x, &grad, &mut dw);
            let dot_grad = |v: Vec<f32>| v.iter().zip(&grad).map(|(a, b)| a * b).sum::<f32>();
            for i in 0..x.len() {
                let mut e = vec![0.0; x.len()];
                e[i] = 1.0;
                assert!(close(dx[i], dot_grad(naive_depthwise(&g, &e, &w))), "d x[{i}] {h}x{w_} k{k} s{s} p{p}");
            }
            for i in 0..w.len() {
                let mut e = vec![0.0; w.len()];
                e[i] = 1.0;
                assert!(close(dw[i], dot_grad(naive_depthwise(&g, &x, &e))), "d w[{i}] {h}x{w_} k{k} s{s} p{p}");
            }
        }
    }
}
