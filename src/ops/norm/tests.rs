//! Batch norm's kernels against its definition in f64, on the CPU (serial and per-channel
//! threads) and the GPU: training mode forward and backward, with more values per channel than a
//! workgroup has threads, and evaluation mode.

use super::reference::{self, Norm};
use super::NormKernel;
use crate::ops::testing::{check, random, Case};

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let eps = 1e-5;
    // Threads per channel (`threads_per_output`): 1 (a serial loop; 300 channels span two
    // workgroups), 2, 4 and 32 (workgroups holding many channels, the last one part-filled), 256.
    let shapes = [[2, 3, 1], [3, 5, 7], [4, 300, 1], [2, 37, 25], [3, 70, 33], [5, 4, 117], [16, 3, 1031]];
    for (i, (&[n, c, l], relu6)) in shapes.iter().flat_map(|s| [(s, false), (s, true)]).enumerate() {
        let (seed, k) = (10 * i as u64, Norm { dims: [n, c, l], eps, relu6 });
        // Shifted and scaled, so the mean and variance matter; with relu6, weight and bias put
        // some of z below 0 and some above 6.
        let x: Vec<f32> = random(n * c * l, seed, 0.0).iter().map(|v| 3.0 * v + 2.0).collect();
        let (weight, bias, g) = (random(c, seed + 1, 0.1), random(c, seed + 2, 0.0), random(n * c * l, seed + 3, 0.0));
        let (weight, bias): (Vec<f32>, Vec<f32>) = match relu6 {
            true => (weight.iter().map(|w| 4.0 * w).collect(), bias.iter().map(|b| b + 3.0).collect()),
            false => (weight, bias),
        };
        let (saved, y) = reference::batch_norm(&x, &weight, &bias, k);
        // Running statistics carried in as on a later step.
        let (mean, var): (Vec<f32>, Vec<f32>) = (random(c, seed + 4, 0.0), random(c, seed + 5, 0.0).iter().map(|v| v * v).collect());
        let (new_mean, new_var) = reference::running_stats(&x, [n, c, l], 0.1, &mean, &var);
        let forward = NormKernel::Forward { batch: n, channels: c, len: l, eps, momentum: 0.1, relu6 };
        let case = Case::new(forward, vec![x.clone(), weight.clone(), bias.clone()], vec![new_mean, new_var, y, saved.clone()], 2e-5);
        cases.push(case.in_place(vec![mean, var, vec![f32::NAN; n * c * l], vec![f32::NAN; 4 * c]]));
        let [d_weight, d_bias, dx] = reference::batch_norm_backward(&x, &g, &weight, &bias, k);
        for input_grad in [true, false] {
            let mut expected = vec![d_weight.clone(), d_bias.clone(), dx.clone()];
            expected.truncate(if input_grad { 3 } else { 2 });
            let kernel = NormKernel::Backward { batch: n, channels: c, len: l, input_grad, relu6 };
            cases.push(Case::new(kernel, vec![x.clone(), g.clone(), saved.clone()], expected, 1e-4));
        }
        // Evaluation: y = x scale + shift per channel (the same weight and bias as scale and shift).
        let eval: Vec<f32> = (0..n * c * l)
            .map(|i| {
                let z = x[i] as f64 * weight[(i / l) % c] as f64 + bias[(i / l) % c] as f64;
                (if relu6 { z.clamp(0.0, 6.0) } else { z }) as f32
            })
            .collect();
        let kernel = NormKernel::Evaluate { batch: n, channels: c, len: l, relu6 };
        cases.push(Case::new(kernel, vec![x.clone(), weight.clone(), bias.clone()], vec![eval], 1e-5));
        // Folded into a convolution weight [c, l] (inference's conv + batch norm in one kernel):
        // each row scaled by weight / sqrt(var + eps), then the shifts bias - mean scale.
        let (mean, var) = (random(c, seed + 6, 0.0), random(c, seed + 7, 0.1).iter().map(|v| v * v).collect::<Vec<f32>>());
        let scale = |ch: usize| weight[ch] as f64 / (var[ch] as f64 + eps as f64).sqrt();
        let conv_weight = random(c * l, seed + 8, 0.0);
        let folded: Vec<f32> = (0..c * l)
            .map(|i| (conv_weight[i] as f64 * scale(i / l)) as f32)
            .chain((0..c).map(|ch| (bias[ch] as f64 - mean[ch] as f64 * scale(ch)) as f32))
            .collect();
        let kernel = NormKernel::Fold { channels: c, len: l, eps };
        cases.push(Case::new(kernel, vec![conv_weight, weight.clone(), bias.clone(), mean, var], vec![folded], 1e-5));
    }
    cases
}

#[test]
fn norm_kernels_match_the_reference() {
    check(cases());
}
