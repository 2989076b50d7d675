//! Fused softmax cross-entropy, forward and backward, against its definition in f64, on the CPU
//! and the GPU, with and without label smoothing.

use super::{reference, CrossEntropyKernel};
use crate::ops::testing::{check, random, Case};

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, &(batch, classes)) in [(1, 1), (7, 10), (33, 1000), (3, 2)].iter().enumerate() {
        let logits: Vec<f32> = random(batch * classes, i as u64, 0.0).iter().map(|v| 4.0 * v).collect();
        let targets: Vec<f32> = (0..batch).map(|b| ((b * 7) % classes) as f32).collect();
        for smoothing in [0.0, 0.1] {
            let (losses, grads) = reference::cross_entropy(&logits, &targets, classes, smoothing);
            let inputs = vec![logits.clone(), targets.clone()];
            cases.push(Case::new(CrossEntropyKernel::Forward { batch, classes, smoothing }, inputs.clone(), vec![losses], 1e-5));
            cases.push(Case::new(CrossEntropyKernel::Backward { batch, classes, smoothing }, inputs, vec![grads], 1e-5));
        }
    }
    cases
}

#[test]
fn cross_entropy_kernels_match_the_reference() {
    check(cases());
}
