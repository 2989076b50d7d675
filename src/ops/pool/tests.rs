//! Max pooling and its gradient against the window-by-window reference, on the CPU and the GPU,
//! ties and padding included.

use super::{reference, PoolKernel};
use crate::ops::conv::ConvGeometry;
use crate::ops::testing::{check, random, Case};

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let shapes = [([1, 1, 1, 1], 1, 1, 0), ([2, 3, 9, 7], 3, 2, 1), ([3, 5, 8, 8], 2, 2, 0), ([1, 4, 13, 11], 3, 1, 1)];
    for (i, &(x, k, s, p)) in shapes.iter().enumerate() {
        let g = ConvGeometry::new(x, [x[1], 1, k, k], (s, s), (p, p), x[1]);
        let input = random(g.input_len(), i as u64, 0.0);
        let grad = random(g.output_len(), 50 + i as u64, 0.0);
        cases.push(Case::new(PoolKernel::Max(g), vec![input.clone()], vec![reference::max_pool2d(&g, &input)], 0.0));
        let expected = reference::max_pool2d_backward(&g, &input, &grad);
        cases.push(Case::new(PoolKernel::MaxBackward(g), vec![input, grad], vec![expected], 1e-6));
    }
    // A NaN wins its windows (it propagates, as in PyTorch).
    let g = ConvGeometry::new([1, 2, 5, 5], [2, 1, 3, 3], (2, 2), (1, 1), 2);
    let mut with_nan = random(g.input_len(), 7, 0.0);
    with_nan[12] = f32::NAN;
    cases.push(Case::new(PoolKernel::Max(g), vec![with_nan.clone()], vec![reference::max_pool2d(&g, &with_nan)], 0.0));
    // All equal: every window's gradient goes to its first element.
    let g = ConvGeometry::new([1, 1, 4, 4], [1, 1, 3, 3], (1, 1), (1, 1), 1);
    let (flat, grad) = (vec![0.5; 16], random(16, 9, 0.0));
    let expected = reference::max_pool2d_backward(&g, &flat, &grad);
    cases.push(Case::new(PoolKernel::MaxBackward(g), vec![flat, grad], vec![expected], 1e-6));
    cases
}

#[test]
fn pool_kernels_match_the_reference() {
    check(cases());
}
