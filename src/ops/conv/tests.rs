//! Convolution and both its gradients against the sums written out in f64, on the CPU (im2col +
//! matmul, direct grouped loops, depthwise shifted-plane sums) and the GPU, on odd shapes.

use super::{reference, ConvGeometry, ConvKernel};
use crate::ops::matmul::Epilogue;
use crate::ops::testing::{check, random, Case};

pub fn cases() -> Vec<Case> {
    let shapes = [
        ([1, 1, 1, 1], [1, 1, 1, 1], (1, 1), (0, 0), 1),
        ([2, 3, 9, 7], [5, 3, 3, 3], (1, 1), (1, 1), 1),
        ([3, 4, 13, 11], [4, 1, 3, 3], (2, 2), (1, 1), 4), // depthwise, strided
        ([2, 5, 10, 9], [5, 1, 3, 3], (1, 1), (1, 1), 5),  // depthwise
        ([2, 6, 8, 9], [9, 2, 3, 1], (2, 1), (0, 2), 3),   // grouped
        ([1, 32, 17, 17], [16, 32, 1, 1], (1, 1), (0, 0), 1),
        ([3, 3, 33, 31], [8, 3, 3, 3], (2, 2), (1, 1), 1), // MobileNetV2's stem, odd sizes
        // Lanes sharing each weight gradient's sum: 256 over 320 rows; 8 over 6 rows (2 idle).
        ([8, 3, 40, 37], [3, 1, 3, 3], (1, 1), (1, 1), 3),
        ([2, 2, 3, 40], [2, 1, 3, 3], (1, 1), (1, 1), 2),
        // Depthwise with a different stride and padding each way, a non-square kernel and planes
        // whose flat rows leave a part-filled last vector (CPU: depthwise.rs's phase layout).
        ([2, 3, 11, 7], [3, 1, 2, 5], (1, 3), (0, 2), 3),
        ([1, 2, 4, 4], [2, 1, 3, 3], (2, 1), (1, 1), 2),
        // A kernel wider than the image: some kernel columns meet only padding.
        ([1, 2, 1, 1], [3, 2, 5, 5], (1, 1), (2, 2), 1),
    ];
    let mut cases = Vec::new();
    for (i, &(x, w, stride, pad, groups)) in shapes.iter().enumerate() {
        let g = ConvGeometry::new(x, w, stride, pad, groups);
        let seed = 10 * i as u64;
        let (input, weight) = (random(g.input_len(), seed, 0.0), random(w.iter().product(), seed + 1, 0.0));
        let grad = random(g.output_len(), seed + 2, 0.0);
        for (kernel, first, second) in [
            (ConvKernel::Forward(g, Epilogue::None), &input, &weight),
            (ConvKernel::BackwardInput(g), &grad, &weight),
            (ConvKernel::BackwardWeight(g), &input, &grad),
        ] {
            let expected = reference::run(&kernel, first, second);
            cases.push(Case::new(kernel, vec![first.clone(), second.clone()], vec![expected], 2e-5));
        }
        // The forward epilogue (inference's folded conv + batch norm + ReLU6): the weight followed
        // by one bias per output channel, shifted so outputs fall on both sides of 0 and 6.
        let with_bias: Vec<f32> =
            weight.iter().copied().chain(random(g.out_channels, seed + 3, 0.0).iter().map(|b| 2.0 * b + 1.0)).collect();
        for epilogue in [Epilogue::Bias, Epilogue::BiasRelu6] {
            let kernel = ConvKernel::Forward(g, epilogue);
            let expected = reference::run(&kernel, &input, &with_bias);
            cases.push(Case::new(kernel, vec![input.clone(), with_bias.clone()], vec![expected], 2e-5));
        }
    }
    cases
}

#[test]
fn conv_kernels_match_the_reference() {
    check(cases());
}
