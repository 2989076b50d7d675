//! The optimizer steps from their formulas, in f64, for tests only: one tensor at a time, its
//! state given apart. Each returns the new (weights, state).

use super::Slot;

/// (weights, momentum buffer) after one SGD step.
pub fn sgd(slot: &Slot, momentum: f32, grad: &[f32], param: &[f32], buffer: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (lr, momentum, wd) = (slot.lr as f64, momentum as f64, slot.weight_decay as f64);
    let mut out = (Vec::new(), Vec::new());
    for ((&g, &p), &m) in grad.iter().zip(param).zip(buffer) {
        let d = g as f64 + wd * p as f64;
        let m = if momentum == 0.0 {
            m as f64
        } else if slot.step == 1 {
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

/// (weights, (m, v) pairs) after one Adam step.
pub fn adam(slot: &Slot, [b1, b2, eps]: [f32; 3], grad: &[f32], param: &[f32], state: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (lr, b1, b2, eps, wd) = (slot.lr as f64, b1 as f64, b2 as f64, eps as f64, slot.weight_decay as f64);
    let t = slot.step as i32;
    let mut out = (Vec::new(), Vec::new());
    for i in 0..grad.len() {
        let g = grad[i] as f64;
        let m = b1 * state[2 * i] as f64 + (1.0 - b1) * g;
        let v = b2 * state[2 * i + 1] as f64 + (1.0 - b2) * g * g;
        let p = param[i] as f64 * (1.0 - lr * wd) - lr / (1.0 - b1.powi(t)) * m / ((v / (1.0 - b2.powi(t))).sqrt() + eps);
        out.0.push(p as f32);
        out.1.extend([m as f32, v as f32]);
    }
    out
}
