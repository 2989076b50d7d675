//! Max pooling written out window by window, for tests only.

use crate::ops::conv::ConvGeometry;

/// The flat input index of each output's winner: the largest value in its window, the first in
/// row-major order on ties, a NaN counting as largest; windows are clipped to the image (padding
/// never wins).
pub fn winners(g: &ConvGeometry, x: &[f32]) -> Vec<usize> {
    let mut out = Vec::with_capacity(g.output_len());
    for plane in 0..g.batch * g.in_channels {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                let mut best: Option<usize> = None;
                for ky in 0..g.kernel_h {
                    for kx in 0..g.kernel_w {
                        let (iy, ix) =
                            ((oy * g.stride_h + ky) as isize - g.pad_h as isize, (ox * g.stride_w + kx) as isize - g.pad_w as isize);
                        if iy < 0 || ix < 0 || iy >= g.height as isize || ix >= g.width as isize {
                            continue;
                        }
                        let i = (plane * g.height + iy as usize) * g.width + ix as usize;
                        if best.is_none_or(|b| !x[b].is_nan() && (x[i] > x[b] || x[i].is_nan())) {
                            best = Some(i);
                        }
                    }
                }
                out.push(best.expect("every window overlaps the image"));
            }
        }
    }
    out
}

pub fn max_pool2d(g: &ConvGeometry, x: &[f32]) -> Vec<f32> {
    winners(g, x).into_iter().map(|i| x[i]).collect()
}

pub fn max_pool2d_backward(g: &ConvGeometry, x: &[f32], grad: &[f32]) -> Vec<f32> {
    let mut dx = vec![0f64; g.input_len()];
    winners(g, x).into_iter().zip(grad).for_each(|(i, &gv)| dx[i] += gv as f64);
    dx.into_iter().map(|v| v as f32).collect()
}
