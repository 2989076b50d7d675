//! Every elementwise kernel against the f64 reference, on the CPU and the GPU, on odd shapes,
//! including the two-dimensional dispatch used past 65535 workgroups (16.7M elements).

use super::{reference, BinaryOp, ElementwiseKernel, UnaryOp};
use crate::ops::testing::{check, random, Case};
use crate::shape::{numel, BroadcastPlan};

const UNARY: [UnaryOp; 8] = [
    UnaryOp::Neg,
    UnaryOp::Exp,
    UnaryOp::Log,
    UnaryOp::Relu,
    UnaryOp::Pow(2.0),
    UnaryOp::Pow(-1.5),
    UnaryOp::Affine { scale: -3.0, shift: 0.5 },
    UnaryOp::Clamp { min: -0.5, max: 0.25 },
];

const BINARY: [BinaryOp; 5] = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::ClampBackward { min: -0.3, max: 0.4 }];

/// Past 65535 workgroups of 256 threads the dispatch folds into two dimensions.
const FOLDED: usize = (1 << 24) + 3;

fn unary_case(op: UnaryOp, n: usize, seed: u64) -> Case {
    // log and fractional powers of negatives are NaN on both sides; keep the inputs positive.
    let x: Vec<f32> =
        random(n, seed, 0.05).into_iter().map(|v| if matches!(op, UnaryOp::Log | UnaryOp::Pow(_)) { v.abs() } else { v }).collect();
    let expected = reference::unary(op, &x);
    Case::new(ElementwiseKernel::Unary { op, n }, vec![x], vec![expected], 2e-6)
}

fn binary_case(op: BinaryOp, a: &[usize], b: &[usize], seed: u64) -> Case {
    let plan = BroadcastPlan::new("test", a, b).unwrap();
    let (x, y) = (random(numel(a), seed, 0.05), random(numel(b), seed + 1, 0.05));
    let expected = reference::binary(op, &plan, &x, &y);
    Case::new(ElementwiseKernel::Binary { op, plan }, vec![x, y], vec![expected], 1e-6)
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, op) in UNARY.into_iter().enumerate() {
        for n in [1, 7, 1000003] {
            cases.push(unary_case(op, n, i as u64));
        }
    }
    let pairs: &[(&[usize], &[usize])] =
        &[(&[1], &[1]), (&[3, 5, 7], &[3, 5, 7]), (&[3, 5, 7], &[7]), (&[3, 1, 7], &[5, 1]), (&[129, 65], &[129, 1]), (&[], &[2, 3])];
    for (i, op) in BINARY.into_iter().enumerate() {
        for &(a, b) in pairs {
            cases.push(binary_case(op, a, b, 10 + i as u64));
        }
    }
    for (from, to) in [(&[7][..], &[3, 5, 7][..]), (&[3, 1, 1], &[3, 4, 5]), (&[1], &[2, 3])] {
        let mut plan = BroadcastPlan::new("expand", from, to).unwrap();
        plan.b_strides.iter_mut().for_each(|s| *s = 0);
        let x = random(numel(from), 20, 0.0);
        let expected = reference::binary(BinaryOp::Add, &plan, &x, &[0.0]);
        cases.push(Case::new(ElementwiseKernel::Expand { plan }, vec![x], vec![expected], 0.0));
    }
    cases.push(unary_case(UnaryOp::Affine { scale: 2.0, shift: -1.0 }, FOLDED, 30));
    cases.push(binary_case(BinaryOp::Mul, &[FOLDED], &[1], 31));
    cases
}

#[test]
fn elementwise_kernels_match_the_reference() {
    check(cases());
}
