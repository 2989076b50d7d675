//! The optimizer steps against their formulas in f64, on the CPU and the GPU, on odd sizes, with
//! state carried in (momentum buffers, averages) as on a later step.

use super::{reference, AdamStep, SgdStep};
use crate::ops::testing::{check, random, Case};

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, n) in [1usize, 7, 1000, 65537].into_iter().enumerate() {
        let seed = 10 * i as u64;
        let (grad, param, state) = (random(n, seed, 0.0), random(n, seed + 1, 0.0), random(n, seed + 2, 0.0));
        for (momentum, first_step) in [(0.0, false), (0.9, true), (0.9, false)] {
            let kernel = SgdStep { n, lr: 0.1, momentum, weight_decay: 0.01, first_step };
            let (p, m) = reference::sgd(&kernel, &grad, &param, &state);
            let case = Case::new(kernel, vec![grad.clone()], vec![p, m], 1e-6);
            cases.push(case.in_place(vec![param.clone(), state.clone()]));
        }
        let sqr_avg: Vec<f32> = state.iter().map(|v| v * v).collect();
        for step in [1, 7] {
            let kernel = AdamStep { n, lr: 1e-3, momentum: 0.9, sqr_momentum: 0.99, eps: 1e-5, weight_decay: 0.01, step };
            let expected = reference::adam(&kernel, &grad, &param, &state, &sqr_avg);
            let case = Case::new(kernel, vec![grad.clone()], expected.to_vec(), 1e-5);
            cases.push(case.in_place(vec![param.clone(), state.clone(), sqr_avg.clone()]));
        }
    }
    cases
}

#[test]
fn optimizer_steps_match_the_reference() {
    check(cases());
}
