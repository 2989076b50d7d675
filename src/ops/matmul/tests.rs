//! The matrix product against the f64 triple loop, on the CPU (both the one-thread and the
//! shared-among-threads paths) and the GPU, on odd shapes.

use super::{reference, Epilogue, MatMul};
use crate::ops::testing::{check, random, Case};

pub fn cases() -> Vec<Case> {
    // (batch, m, k, n, a batched, b batched): thin ones (m or n under 32, k under 16) run matmul_direct
    // (several threads per output when the outputs are few and their sums long),
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
        (3, 67, 5, 40, true, true),     // summed: a contraction of 15, direct; of 5, direct
        (4, 40, 9, 33, false, true),    // summed: 36 deep, tiled, panels crossing entries
        (5, 2000, 900, 3, true, false), // summed, split among threads
        (40, 3, 2, 5, true, true),      // summed: 4 lanes per output, more than k, crossing entries
        (2, 3, 1000, 2, false, false),  // summed: 6 outputs of 2,000 terms, 32 lanes each
    ];
    // Each shape plain, then with a transposed a, then b, then both, and the batched ones also
    // summed over the batch: each flag is somewhere on both kernels.
    let mut cases = Vec::new();
    for (i, &(batch, m, k, n, a_batched, b_batched)) in shapes.iter().enumerate() {
        let (transpose_a, transpose_b) = (i % 4 == 1 || i % 4 == 3, i % 4 >= 2);
        for sum_batch in [false, true] {
            if sum_batch && batch == 1 || !sum_batch && i >= 14 {
                continue;
            }
            let kernel = MatMul {
                batch,
                m,
                k,
                n,
                a_batch_stride: if a_batched { m * k } else { 0 },
                b_batch_stride: if b_batched { k * n } else { 0 },
                transpose_a,
                transpose_b,
                sum_batch,
                epilogue: Epilogue::None,
            };
            let a = random(if a_batched { batch } else { 1 } * m * k, i as u64, 0.0);
            let b = random(if b_batched { batch } else { 1 } * k * n, 100 + i as u64, 0.0);
            let expected = reference::matmul(&kernel, &a, &b);
            // A summed product adds up to 4,500 rounded terms.
            let tol = if sum_batch { 1e-4 } else { 2e-5 };
            cases.push(Case::new(kernel, vec![a, b], vec![expected], tol));
        }
    }
    // The epilogue (inference's folded conv + batch norm + ReLU6): one unbatched weight matrix with
    // its row biases after it, images batched; sums of 3 to 129 normal terms land on both sides
    // of 0 and 6. Tiled, direct with one lane, direct with several.
    for (i, &(batch, m, k, n)) in [(3, 70, 129, 33), (2, 5, 17, 3), (1, 6, 600, 2)].iter().enumerate() {
        for epilogue in [Epilogue::Bias, Epilogue::BiasRelu6] {
            let kernel = MatMul { batch, b_batch_stride: k * n, epilogue, ..MatMul::plain(m, k, n) };
            let a: Vec<f32> = random(m * k + m, 200 + i as u64, 0.0).iter().map(|v| v + 1.0).collect();
            let b = random(batch * k * n, 300 + i as u64, 0.0);
            let expected = reference::matmul(&kernel, &a, &b);
            cases.push(Case::new(kernel, vec![a, b], vec![expected], 2e-5));
        }
    }
    cases
}

#[test]
fn matmul_matches_the_reference() {
    check(cases());
}
