//! Plain-loop references of the elementwise kernels, in f64, for tests only.

use super::{BinaryOp, UnaryOp};
use crate::shape::BroadcastPlan;

pub fn unary(op: UnaryOp, x: &[f32]) -> Vec<f32> {
    x.iter()
        .map(|&v| {
            let v = v as f64;
            (match op {
                UnaryOp::Neg => -v,
                UnaryOp::Exp => v.exp(),
                UnaryOp::Log => v.ln(),
                UnaryOp::Relu => v.max(0.0),
                UnaryOp::Pow(p) => v.powf(p as f64),
                UnaryOp::Affine { scale, shift } => v * scale as f64 + shift as f64,
                UnaryOp::Clamp { min, max } => v.max(min as f64).min(max as f64),
            }) as f32
        })
        .collect()
}

pub fn binary(op: BinaryOp, plan: &BroadcastPlan, a: &[f32], b: &[f32]) -> Vec<f32> {
    (0..plan.out_shape.iter().product())
        .map(|i| {
            let (ia, ib) = operand_offsets(plan, i);
            let (x, y) = (a[ia] as f64, b[ib] as f64);
            (match op {
                BinaryOp::Add => x + y,
                BinaryOp::Sub => x - y,
                BinaryOp::Mul => x * y,
                BinaryOp::Div => x / y,
                BinaryOp::ClampBackward { min, max } => {
                    if x > min as f64 && x < max as f64 {
                        y
                    } else {
                        0.0
                    }
                }
            }) as f32
        })
        .collect()
}

/// Where output element i reads a and b: its coordinates times each operand's strides.
pub fn operand_offsets(plan: &BroadcastPlan, mut i: usize) -> (usize, usize) {
    let (mut ia, mut ib) = (0, 0);
    for axis in (0..plan.out_shape.len()).rev() {
        let coord = i % plan.out_shape[axis];
        i /= plan.out_shape[axis];
        ia += coord * plan.a_strides[axis];
        ib += coord * plan.b_strides[axis];
    }
    (ia, ib)
}
