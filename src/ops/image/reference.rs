//! Augmentation one output value at a time, in f64, for tests only: the homography, the
//! reflection about the end pixels' centres, bilinear interpolation, lighting, normalisation.

use super::cpu::{reflect, LOGIT_EPS};
use super::{Augment, AUGMENT_PARAMS};

pub fn augment(kernel: &Augment, images: &[f32], params: &[f32]) -> Vec<f32> {
    let Augment { images: n, height, width, mean, std } = *kernel;
    let mut out = Vec::with_capacity(n * 3 * height * width);
    for i in 0..n {
        let h: Vec<f64> = params[i * AUGMENT_PARAMS..][..AUGMENT_PARAMS].iter().map(|&v| v as f64).collect();
        for c in 0..3 {
            for y in 0..height {
                for x in 0..width {
                    let (xf, yf) = (x as f64, y as f64);
                    let w = h[6] * xf + h[7] * yf + h[8];
                    let sx = reflect(((h[0] * xf + h[1] * yf + h[2]) / w) as f32, width) as f64;
                    let sy = reflect(((h[3] * xf + h[4] * yf + h[5]) / w) as f32, height) as f64;
                    let pixel = |yy: f64, xx: f64| {
                        let (yy, xx) = ((yy as usize).min(height - 1), (xx as usize).min(width - 1));
                        images[((i * 3 + c) * height + yy) * width + xx] as f64
                    };
                    let (x0, y0) = (sx.floor(), sy.floor());
                    let (fx, fy) = (sx - x0, sy - y0);
                    let mut v = (1.0 - fy) * ((1.0 - fx) * pixel(y0, x0) + fx * pixel(y0, x0 + 1.0))
                        + fy * ((1.0 - fx) * pixel(y0 + 1.0, x0) + fx * pixel(y0 + 1.0, x0 + 1.0));
                    if h[9] != 0.0 {
                        let p = v.clamp(LOGIT_EPS as f64, 1.0 - LOGIT_EPS as f64);
                        let logit = (p / (1.0 - p)).ln();
                        v = 1.0 / (1.0 + (-(h[11] * (logit + h[10]))).exp());
                    }
                    out.push(((v - mean[c] as f64) / std[c] as f64) as f32);
                }
            }
        }
    }
    out
}
