//! Elementwise ops on the CPU. Each function gets its own loop (generic over the closure), which
//! the compiler vectorises: AVX2 natively, SIMD128 in wasm.

use super::{BinaryOp, UnaryOp};
use crate::shape::BroadcastPlan;

pub fn unary(op: UnaryOp, x: &[f32], out: &mut [f32]) {
    fn map(x: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
        out.iter_mut().zip(x).for_each(|(o, &v)| *o = f(v));
    }
    match op {
        UnaryOp::Neg => map(x, out, |v| -v),
        UnaryOp::Exp => map(x, out, f32::exp),
        UnaryOp::Log => map(x, out, f32::ln),
        UnaryOp::Relu => map(x, out, |v| if v < 0.0 { 0.0 } else { v }), // NaN stays NaN
        UnaryOp::Pow(2.0) => map(x, out, |v| v * v),
        UnaryOp::Pow(1.0) => map(x, out, |v| v),
        UnaryOp::Pow(-0.5) => map(x, out, |v| 1.0 / v.sqrt()),
        UnaryOp::Pow(p) => map(x, out, |v| v.powf(p)),
        UnaryOp::Affine { scale, shift } => map(x, out, |v| v * scale + shift),
        UnaryOp::Clamp { min, max } => map(x, out, |v| {
            if v < min {
                min
            } else if v > max {
                max
            } else {
                v
            }
        }),
    }
}

pub fn binary(op: BinaryOp, plan: &BroadcastPlan, a: &[f32], b: &[f32], out: &mut [f32]) {
    match op {
        BinaryOp::Add => broadcast(plan, a, b, out, |a, b| a + b),
        BinaryOp::Sub => broadcast(plan, a, b, out, |a, b| a - b),
        BinaryOp::Mul => broadcast(plan, a, b, out, |a, b| a * b),
        BinaryOp::Div => broadcast(plan, a, b, out, |a, b| a / b),
        BinaryOp::ClampBackward { min, max } => broadcast(plan, a, b, out, |x, g| if x > min && x < max { g } else { 0.0 }),
    }
}

/// out = f(a, b) over the plan's output shape. Walks the output in row-major order with an
/// odometer over all axes but the last; the last axis is a plain strided loop, which is where the
/// time goes.
pub fn broadcast(plan: &BroadcastPlan, a: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32, f32) -> f32) {
    let shape = &plan.out_shape;
    let last = shape.len() - 1;
    let (sa, sb) = (plan.a_strides[last], plan.b_strides[last]);
    let mut index = vec![0usize; shape.len()];
    let (mut base_a, mut base_b) = (0usize, 0usize);
    for row in out.chunks_mut(shape[last]) {
        if sa == 1 && sb == 1 {
            let (ra, rb) = (&a[base_a..base_a + row.len()], &b[base_b..base_b + row.len()]);
            row.iter_mut().zip(ra.iter().zip(rb)).for_each(|(o, (&x, &y))| *o = f(x, y));
        } else if sa == 1 && sb == 0 {
            // A row against one number (a per-channel scale or shift): the common broadcast.
            let (ra, y) = (&a[base_a..base_a + row.len()], b[base_b]);
            row.iter_mut().zip(ra).for_each(|(o, &x)| *o = f(x, y));
        } else if sa == 0 && sb == 1 {
            let (x, rb) = (a[base_a], &b[base_b..base_b + row.len()]);
            row.iter_mut().zip(rb).for_each(|(o, &y)| *o = f(x, y));
        } else {
            row.iter_mut().enumerate().for_each(|(j, o)| *o = f(a[base_a + j * sa], b[base_b + j * sb]));
        }
        for axis in (0..last).rev() {
            index[axis] += 1;
            base_a += plan.a_strides[axis];
            base_b += plan.b_strides[axis];
            if index[axis] < shape[axis] {
                break;
            }
            base_a -= plan.a_strides[axis] * shape[axis];
            base_b -= plan.b_strides[axis] * shape[axis];
            index[axis] = 0;
        }
    }
}
