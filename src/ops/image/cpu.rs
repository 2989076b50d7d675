//! Data augmentation on the CPU, with the same f32 operations in the same order as
//! shaders/image.wgsl (where the formulas are written out), so the two agree to rounding.

use super::AUGMENT_PARAMS;

/// fastai's `logit` clamps its input to [eps, 1 - eps] so black and white stay finite.
pub const LOGIT_EPS: f32 = 1e-7;

/// `Augment`: each output pixel reads its source position through the image's homography
/// (reflected, bilinear), its three channels together; then lighting and normalisation.
pub fn augment(images: &[f32], params: &[f32], out: &mut [f32], height: usize, width: usize, mean: [f32; 3], std: [f32; 3]) {
    let plane = height * width;
    let per_image = images.chunks(3 * plane).zip(params.chunks(AUGMENT_PARAMS)).zip(out.chunks_mut(3 * plane));
    for ((image, row), out) in per_image {
        for y in 0..height {
            for x in 0..width {
                let (xf, yf) = (x as f32, y as f32);
                let w = row[6] * xf + row[7] * yf + row[8];
                let sx = reflect((row[0] * xf + row[1] * yf + row[2]) / w, width);
                let sy = reflect((row[3] * xf + row[4] * yf + row[5]) / w, height);
                let (x0f, y0f) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0f, sy - y0f);
                let (x0, y0) = (x0f as usize, y0f as usize);
                // The weight of x1 (y1) is 0 when x0 (y0) is the last column (row).
                let (x1, y1) = ((x0 + 1).min(width - 1), (y0 + 1).min(height - 1));
                for c in 0..3 {
                    let at = |yy: usize, xx: usize| image[(c * height + yy) * width + xx];
                    let top = (1.0 - fx) * at(y0, x0) + fx * at(y0, x1);
                    let bottom = (1.0 - fx) * at(y1, x0) + fx * at(y1, x1);
                    let mut v = (1.0 - fy) * top + fy * bottom;
                    if row[9] != 0.0 {
                        let logit = -(1.0 / v.clamp(LOGIT_EPS, 1.0 - LOGIT_EPS) - 1.0).ln();
                        v = 1.0 / (1.0 + (-(row[11] * (logit + row[10]))).exp());
                    }
                    out[c * plane + y * width + x] = (v - mean[c]) / std[c];
                }
            }
        }
    }
}

/// A pixel coordinate reflected into [0, size - 1] about the end pixels' centres (PyTorch's
/// grid_sample reflection with align_corners=True): |t| is folded back and forth over spans of
/// size - 1, then clipped against rounding.
pub fn reflect(t: f32, size: usize) -> f32 {
    let span = (size - 1) as f32;
    if span == 0.0 {
        return 0.0;
    }
    let d = t.abs();
    let flips = (d / span).floor();
    let extra = d - flips * span;
    let odd = flips - 2.0 * (flips / 2.0).floor() == 1.0;
    (if odd { span - extra } else { extra }).clamp(0.0, span)
}
