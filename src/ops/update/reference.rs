//! The optimizer steps from their formulas, in f64, for tests only. Each returns the new state.

use super::{AdamStep, SgdStep};

/// (param, momentum buffer) after one SGD step.
pub fn sgd(k: &SgdStep, grad: &[f32], param: &[f32], buffer: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (lr, momentum, wd) = (k.lr as f64, k.momentum as f64, k.weight_decay as f64);
    let mut out = (Vec::new(), Vec::new());
    for ((&g, &p), &m) in grad.iter().zip(param).zip(buffer) {
        let d = g as f64 + wd * p as f64;
        let m = if momentum == 0.0 {
            m as f64
        } else if k.first_step {
            d
        } else {
            momentum * m as f64 + d
        };
        let step = if momentum == 0.0 { d } else { m };
        out.0.push((p as f64 - lr * step) as f32);
        out.1.push(m as f32);
    }
    out
}

/// (param, average gradient, average squared gradient) after one Adam step.
pub fn adam(k: &AdamStep, grad: &[f32], param: &[f32], avg: &[f32], sqr_avg: &[f32]) -> [Vec<f32>; 3] {
    let (lr, b1, b2, eps, wd) = (k.lr as f64, k.momentum as f64, k.sqr_momentum as f64, k.eps as f64, k.weight_decay as f64);
    let t = k.step as i32;
    let mut out = [Vec::new(), Vec::new(), Vec::new()];
    for i in 0..grad.len() {
        let g = grad[i] as f64;
        let m = b1 * avg[i] as f64 + (1.0 - b1) * g;
        let v = b2 * sqr_avg[i] as f64 + (1.0 - b2) * g * g;
        let p = param[i] as f64 * (1.0 - lr * wd) - lr / (1.0 - b1.powi(t)) * m / ((v / (1.0 - b2.powi(t))).sqrt() + eps);
        out[0].push(p as f32);
        out[1].push(m as f32);
        out[2].push(v as f32);
    }
    out
}
