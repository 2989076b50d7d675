//! The matrix product against the f64 triple loop, on the CPU (both the one-thread and the
//! shared-among-threads paths) and the GPU, on odd shapes.

use super::{reference, MatMul};
use crate::ops::testing::{check, random, Case};

pub fn cases() -> Vec<Case> {
    // (batch, m, k, n, a batched, b batched): thin ones (m or n under 32, k under 16) run matmul_direct,
    // the rest the tiled matmul, with edges off the 64-tile, the 32-deep panel and the vec4.
    let shapes = [
        (1, 1, 1, 1, false, false),
        (1, 3, 5, 7, false, false),
        (1, 17, 129, 65, false, false),
        (2, 65, 129, 17, true, false),
        (4, 960, 160, 1, false, true), // a 1x1 convolution on a 1x1 image
        (1, 32, 33, 32, false, false),
        (2, 65, 3, 33, false, true),
        (1, 65, 17, 67, true, false),
        (1, 129, 65, 67, false, false),
        (2, 3, 70, 9, true, false),
        (3, 5, 17, 4, false, true),
        (4, 63, 1, 65, true, true),
        (1, 300, 200, 301, false, false), // 18M multiply-adds: split among threads
        (3, 130, 257, 131, true, true),
    ];
    shapes
        .iter()
        .enumerate()
        .map(|(i, &(batch, m, k, n, a_batched, b_batched))| {
            let kernel = MatMul {
                batch,
                m,
                k,
                n,
                a_batch_stride: if a_batched { m * k } else { 0 },
                b_batch_stride: if b_batched { k * n } else { 0 },
            };
            let a = random(if a_batched { batch } else { 1 } * m * k, i as u64, 0.0);
            let b = random(if b_batched { batch } else { 1 } * k * n, 100 + i as u64, 0.0);
            let expected = reference::matmul(&kernel, &a, &b);
            Case::new(kernel, vec![a, b], vec![expected], 2e-5)
        })
        .collect()
}

#[test]
fn matmul_matches_the_reference() {
    check(cases());
}
