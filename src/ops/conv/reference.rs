//! The convolution sums written out directly, in f64, for tests only.

use super::ConvGeometry;
use crate::ops::matmul::reference::finish;

/// For every (output element, input element, weight element) triple the convolution multiplies,
/// calls `visit(out index, input index, weight index)`.
fn for_each_term(g: &ConvGeometry, mut visit: impl FnMut(usize, usize, usize)) {
    let (per_group_in, per_group_out) = (g.in_channels / g.groups, g.out_channels / g.groups);
    for n in 0..g.batch {
        for o in 0..g.out_channels {
            for (oy, ox) in (0..g.out_h).flat_map(|y| (0..g.out_w).map(move |x| (y, x))) {
                for c in 0..per_group_in {
                    let channel = (o / per_group_out) * per_group_in + c;
                    for (ky, kx) in (0..g.kernel_h).flat_map(|y| (0..g.kernel_w).map(move |x| (y, x))) {
                        let iy = (oy * g.stride_h + ky) as isize - g.pad_h as isize;
                        let ix = (ox * g.stride_w + kx) as isize - g.pad_w as isize;
                        if iy < 0 || ix < 0 || iy >= g.height as isize || ix >= g.width as isize {
                            continue;
                        }
                        let out = ((n * g.out_channels + o) * g.out_h + oy) * g.out_w + ox;
                        let input = ((n * g.in_channels + channel) * g.height + iy as usize) * g.width + ix as usize;
                        let weight = ((o * per_group_in + c) * g.kernel_h + ky) * g.kernel_w + kx;
                        visit(out, input, weight);
                    }
                }
            }
        }
    }
}

/// The kernel's output. Inputs as the kernel takes them: forward (x, w), d input (g, w), d weight (x, g).
pub fn run(kernel: &super::ConvKernel, first: &[f32], second: &[f32]) -> Vec<f32> {
    let (g, len) = match kernel {
        super::ConvKernel::Forward(g, _) => (g, g.output_len()),
        super::ConvKernel::BackwardInput(g) => (g, g.input_len()),
        super::ConvKernel::BackwardWeight(g) => (g, g.weight_len()),
    };
    let mut sums = vec![0f64; len];
    for_each_term(g, |out, input, weight| match kernel {
        super::ConvKernel::Forward(..) => sums[out] += first[input] as f64 * second[weight] as f64,
        super::ConvKernel::BackwardInput(_) => sums[input] += first[out] as f64 * second[weight] as f64,
        super::ConvKernel::BackwardWeight(_) => sums[weight] += first[input] as f64 * second[out] as f64,
    });
    // The forward epilogue: + the output channel's bias (after the weights), clamped to [0, 6].
    if let super::ConvKernel::Forward(g, epilogue) = kernel {
        let weights = g.weight_len();
        let pixels = g.out_h * g.out_w;
        for (i, sum) in sums.iter_mut().enumerate() {
            *sum = finish(*epilogue, *sum, || second[weights + (i / pixels) % g.out_channels]);
        }
    }
    sums.into_iter().map(|v| v as f32).collect()
}
