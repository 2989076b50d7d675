//! The reductions and scatter against the f64 reference, on the CPU and the GPU, on odd shapes.

use super::{reference, threads_per_output, ReduceKernel, ReduceOp};
use crate::ops::testing::{check, random, Case};

// (outer, len, inner) and the threads per output `threads_per_output` picks: every way it splits
// the work, one thread per output (short axes; outputs past BUSY_THREADS, inner 1 and > 1), a
// few threads, a whole workgroup.
const SHAPES: [((usize, usize, usize), usize); 12] = [
    ((1, 1, 1), 1),
    ((3, 5, 7), 1),
    ((1, 3, 4099), 1),
    ((5000, 1, 1), 1),
    ((1, 4, 12289), 1),
    ((4101, 257, 1), 1),
    ((2, 1001, 2100), 1),
    ((129, 65, 1), 4),
    ((2, 257, 3), 16),
    ((7, 1000, 3), 32),
    ((1, 1000, 1), 32),
    ((1, 1000003, 1), 256),
];

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, &((outer, len, inner), _)) in SHAPES.iter().enumerate() {
        let x = random(outer * len * inner, i as u64, 0.01);
        for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Argmax] {
            let expected = reference::reduce(op, &x, outer, len, inner);
            // A sum's rounding error scales with its partial sums, ~√len times the values: an
            // output near zero by cancellation has no relative accuracy to speak of.
            let tol = if op == ReduceOp::Sum { 1e-5 * (len as f32).sqrt() } else { 0.0 };
            cases.push(Case::new(ReduceKernel::Reduce { op, outer, len, inner }, vec![x.clone()], vec![expected], tol));
        }
    }
    // Ties and NaN: the first index wins; NaN counts as largest.
    let ties = vec![1.0, 3.0, 3.0, f32::NAN, 2.0, 2.0, 1.0, f32::NAN, 5.0];
    for op in [ReduceOp::Max, ReduceOp::Argmax] {
        let expected = reference::reduce(op, &ties, 3, 3, 1);
        cases.push(Case::new(ReduceKernel::Reduce { op, outer: 3, len: 3, inner: 1 }, vec![ties.clone()], vec![expected], 0.0));
    }
    for (outer, len, inner) in [(1, 1, 1), (3, 5, 7), (2, 300, 1)] {
        let values = random(outer * inner, 5, 0.0);
        let indices: Vec<f32> = (0..outer * inner).map(|k| ((k * 7) % len) as f32).collect();
        let expected = reference::scatter(&values, &indices, outer, len, inner);
        cases.push(Case::new(ReduceKernel::Scatter { outer, len, inner }, vec![values, indices], vec![expected], 0.0));
    }
    cases
}

#[test]
fn the_test_shapes_cover_each_split() {
    for ((outer, len, inner), group) in SHAPES {
        assert_eq!(threads_per_output(outer * inner, len), group, "[{outer}, {len}, {inner}]");
    }
}

#[test]
fn reduce_kernels_match_the_reference() {
    check(cases());
}
