//! The optimizer steps against their formulas in f64, on the CPU and the GPU: one to three tensors
//! per dispatch (fewer than SLOTS pads with stand-ins), odd sizes, each tensor's state at its own
//! offset in the flat buffer and carried in as on a later step.

use super::{reference, Rule, Slot, UpdateKernel, SLOTS};
use crate::ops::testing::{check, random, Case};

/// One dispatch over tensors of `sizes` (rates and steps differing per tensor).
fn case(rule: Rule, sizes: &[usize], first_step: bool, seed: u64) -> Case {
    let width = rule.state_width();
    // The state starts after some other tensor's, so offsets matter.
    let mut state = random(width * (3 + sizes.iter().sum::<usize>()), seed, 0.0);
    if let Rule::Adam { .. } = rule {
        state.chunks_exact_mut(2).for_each(|mv| mv[1] *= mv[1]); // v >= 0
    }
    let (mut expected_state, mut grads, mut params, mut expected_params, mut slots) = (state.clone(), vec![], vec![], vec![], vec![]);
    let mut offset = 3;
    for (s, &n) in sizes.iter().enumerate() {
        let seed = seed + 10 * s as u64;
        let step = if first_step { 1 } else { 7 + s as u32 };
        let slot = Slot { n, state: offset, lr: 1e-3 * (s + 1) as f32, weight_decay: 0.01 * s as f32, step };
        let (grad, param) = (random(n, seed + 1, 0.0), random(n, seed + 2, 0.0));
        let old = &state[width * offset..width * (offset + n)];
        let (new_param, new_state) = match rule {
            Rule::Sgd { momentum } => reference::sgd(&slot, momentum, &grad, &param, old),
            Rule::Adam { momentum, sqr_momentum, eps } => reference::adam(&slot, [momentum, sqr_momentum, eps], &grad, &param, old),
        };
        expected_state[width * offset..width * (offset + n)].copy_from_slice(&new_state);
        offset += n;
        grads.push(grad);
        params.push(param);
        expected_params.push(new_param);
        slots.push(slot);
    }
    // Stand-ins for the empty slots, which must stay as they are.
    grads.resize(SLOTS, vec![0.5]);
    params.resize(SLOTS, vec![0.25]);
    expected_params.resize(SLOTS, vec![0.25]);
    let outputs_in = [vec![state], params].concat();
    let expected = [vec![expected_state], expected_params].concat();
    Case::new(UpdateKernel { rule, slots }, grads, expected, 1e-5).in_place(outputs_in)
}

pub fn cases() -> Vec<Case> {
    let rules = [Rule::Sgd { momentum: 0.0 }, Rule::Sgd { momentum: 0.9 }, Rule::Adam { momentum: 0.9, sqr_momentum: 0.99, eps: 1e-5 }];
    let mut cases = Vec::new();
    for (i, rule) in rules.into_iter().enumerate() {
        for (j, sizes) in [&[1][..], &[7, 1000], &[65537, 1, 300]].into_iter().enumerate() {
            for first_step in [true, false] {
                cases.push(case(rule, sizes, first_step, 100 * i as u64 + 10 * j as u64));
            }
        }
    }
    cases
}

#[test]
fn optimizer_steps_match_the_reference() {
    check(cases());
}
