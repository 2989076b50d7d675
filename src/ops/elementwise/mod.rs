//! Elementwise ops: functions of one tensor (`UnaryOp`), of two with NumPy broadcasting
//! (`BinaryOp`), and broadcasting made explicit (`expand`). Kernels: shaders/elementwise.wgsl.

mod cpu;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod reference;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod tests;

use crate::autograd::{record, wanted, Derivative};
use crate::backend::{linear_groups, Kernel, Shader};
use crate::error::{Error, Result};
use crate::shape::{self, show, BroadcastPlan, MAX_RANK};
use crate::tensor::{no_grad, Tensor};

pub static SHADER: Shader = Shader { name: "elementwise", source: include_str!("../../../shaders/elementwise.wgsl") };

crate::params_struct! {
    /// out has `n` elements; shape and strides describe a broadcast (binary and expand only).
    Params {
        n: u32,
        rank: u32,
        /// pow: the exponent; affine: the scale; clamp and clamp_backward: min.
        s0: f32,
        /// affine: the shift; clamp and clamp_backward: max.
        s1: f32,
        shape: [u32; MAX_RANK],
        a_strides: [u32; MAX_RANK],
        b_strides: [u32; MAX_RANK],
    }
}

/// Elementwise functions of one tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Exp,
    Log,
    Relu,
    /// x^p for a number p.
    Pow(f32),
    /// x * scale + shift: scalar arithmetic, means, and gradient scaling.
    Affine {
        scale: f32,
        shift: f32,
    },
    /// min(max(x, min), max); relu6 is Clamp { min: 0, max: 6 }. NaN stays NaN.
    Clamp {
        min: f32,
        max: f32,
    },
}

/// Elementwise functions of two tensors, with broadcasting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// The derivative of relu and clamp applied to a gradient: a = the op's input x, b = the
    /// incoming gradient g; g where min < x < max, else 0.
    ClampBackward {
        min: f32,
        max: f32,
    },
}

/// The kernels: out[i] = op(x[i]) over n elements; out = op(a, b) over the plan's output shape,
/// each operand read through its strides; out = the input read through the plan's a-strides.
#[derive(Clone, Debug, PartialEq)]
pub enum ElementwiseKernel {
    Unary { op: UnaryOp, n: usize },
    Binary { op: BinaryOp, plan: BroadcastPlan },
    Expand { plan: BroadcastPlan },
}

impl Kernel for ElementwiseKernel {
    fn name(&self) -> &'static str {
        use {BinaryOp as B, ElementwiseKernel as K, UnaryOp as U};
        match self {
            K::Unary { op: U::Neg, .. } => "unary_neg",
            K::Unary { op: U::Exp, .. } => "unary_exp",
            K::Unary { op: U::Log, .. } => "unary_log",
            K::Unary { op: U::Relu, .. } => "unary_relu",
            K::Unary { op: U::Pow(_), .. } => "unary_pow",
            K::Unary { op: U::Affine { .. }, .. } => "unary_affine",
            K::Unary { op: U::Clamp { .. }, .. } => "unary_clamp",
            K::Binary { op: B::Add, .. } => "binary_add",
            K::Binary { op: B::Sub, .. } => "binary_sub",
            K::Binary { op: B::Mul, .. } => "binary_mul",
            K::Binary { op: B::Div, .. } => "binary_div",
            K::Binary { op: B::ClampBackward { .. }, .. } => "binary_clamp_backward",
            K::Expand { .. } => "expand",
        }
    }

    fn shader(&self) -> &'static Shader {
        &SHADER
    }

    fn params(&self) -> Vec<u8> {
        let (s0, s1) = match *self {
            ElementwiseKernel::Unary { op: UnaryOp::Pow(p), .. } => (p, 0.0),
            ElementwiseKernel::Unary { op: UnaryOp::Affine { scale, shift }, .. } => (scale, shift),
            ElementwiseKernel::Unary { op: UnaryOp::Clamp { min, max }, .. }
            | ElementwiseKernel::Binary { op: BinaryOp::ClampBackward { min, max }, .. } => (min, max),
            _ => (0.0, 0.0),
        };
        let padded = |dims: &[usize]| {
            let mut out = [0u32; MAX_RANK];
            dims.iter().zip(&mut out).for_each(|(&d, o)| *o = d as u32);
            out
        };
        let (rank, shape, a_strides, b_strides) = match self {
            ElementwiseKernel::Unary { .. } => (1, [0; MAX_RANK], [0; MAX_RANK], [0; MAX_RANK]),
            ElementwiseKernel::Binary { plan, .. } | ElementwiseKernel::Expand { plan } => {
                (plan.out_shape.len() as u32, padded(&plan.out_shape), padded(&plan.a_strides), padded(&plan.b_strides))
            }
        };
        super::bytes(Params { n: self.len() as u32, rank, s0, s1, shape, a_strides, b_strides })
    }

    fn workgroups(&self) -> [u32; 3] {
        linear_groups(self.len())
    }

    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        match self {
            ElementwiseKernel::Unary { op, .. } => cpu::unary(*op, inputs[0], outputs[0]),
            ElementwiseKernel::Binary { op, plan } => cpu::binary(*op, plan, inputs[0], inputs[1], outputs[0]),
            // The plan's b-strides are all 0, so reading the input as `b` too stays in bounds.
            ElementwiseKernel::Expand { plan } => cpu::broadcast(plan, inputs[0], inputs[0], outputs[0], |x, _| x),
        }
    }
}

impl ElementwiseKernel {
    /// Output elements.
    fn len(&self) -> usize {
        match self {
            ElementwiseKernel::Unary { n, .. } => *n,
            ElementwiseKernel::Binary { plan, .. } | ElementwiseKernel::Expand { plan } => plan.out_shape.iter().product(),
        }
    }
}

/// The recorded ops, each with its derivative.
enum Elementwise {
    Unary(UnaryOp, Tensor),
    Binary(BinaryOp, Tensor, Tensor),
    Expand(Tensor),
}

impl Derivative for Elementwise {
    fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Elementwise::Unary(_, x) | Elementwise::Expand(x) => vec![x],
            Elementwise::Binary(_, a, b) => vec![a, b],
        }
    }

    fn backward(&self, y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(match self {
            Elementwise::Unary(unary, x) => vec![Some(match *unary {
                UnaryOp::Neg => g.neg()?,                                      // d(-x) = -1
                UnaryOp::Exp => g.mul(y)?,                                     // d(e^x) = e^x = y
                UnaryOp::Log => g.div(x)?,                                     // d(ln x) = 1/x
                UnaryOp::Relu => x.clamp_backward(0.0, f32::INFINITY, g)?,     // d relu = 1 where x > 0
                UnaryOp::Pow(2.0) => g.mul(&x.mul_scalar(2.0)?)?,              // d(x^2) = 2x (one pass)
                UnaryOp::Pow(p) => g.mul(&x.pow(p - 1.0)?.mul_scalar(p)?)?,    // d(x^p) = p x^(p-1)
                UnaryOp::Affine { scale, .. } => g.mul_scalar(scale)?,         // d(sx + t) = s
                UnaryOp::Clamp { min, max } => x.clamp_backward(min, max, g)?, // 1 inside (min, max)
            })],
            // Broadcasting in the forward pass means summing the gradient back to each input's shape.
            Elementwise::Binary(binary, a, b) => {
                let ga = || match binary {
                    BinaryOp::Add | BinaryOp::Sub => Ok(g.clone()), // d(a+b)/da = d(a-b)/da = 1
                    BinaryOp::Mul => g.mul(b),                      // d(ab)/da = b
                    BinaryOp::Div => g.div(b),                      // d(a/b)/da = 1/b
                    BinaryOp::ClampBackward { .. } => unreachable!("clamp_backward is never recorded"),
                };
                let gb = || match binary {
                    BinaryOp::Add => Ok(g.clone()),           // d(a+b)/db = 1
                    BinaryOp::Sub => g.neg(),                 // d(a-b)/db = -1
                    BinaryOp::Mul => g.mul(a),                // d(ab)/db = a
                    BinaryOp::Div => g.mul(y)?.div(b)?.neg(), // d(a/b)/db = -a/b^2 = -y/b
                    BinaryOp::ClampBackward { .. } => unreachable!("clamp_backward is never recorded"),
                };
                vec![wanted(a, || ga()?.sum_to_shape(a.shape()))?, wanted(b, || gb()?.sum_to_shape(b.shape()))?]
            }
            // Each input element was copied to several outputs: their gradients add up.
            Elementwise::Expand(x) => vec![Some(g.sum_to_shape(x.shape())?)],
        })
    }
}

impl Tensor {
    fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        let kernel = ElementwiseKernel::Unary { op, n: self.numel() };
        self.run_kernel(&kernel, &[self], self.shape().to_vec(), record(Elementwise::Unary(op, self.clone())))
    }

    pub fn neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg)
    }
    pub fn exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp)
    }
    /// Natural logarithm.
    pub fn log(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Log)
    }
    pub fn relu(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Relu)
    }
    /// Elementwise x^p for a number p.
    pub fn pow(&self, p: f32) -> Result<Tensor> {
        self.unary(UnaryOp::Pow(p))
    }
    /// x * scale + shift.
    pub fn affine(&self, scale: f32, shift: f32) -> Result<Tensor> {
        self.unary(UnaryOp::Affine { scale, shift })
    }
    /// min(max(x, min), max).
    pub fn clamp(&self, min: f32, max: f32) -> Result<Tensor> {
        if !(min <= max) {
            return Err(Error::new("clamp", format!("min {min} must not exceed max {max}")));
        }
        self.unary(UnaryOp::Clamp { min, max })
    }
    /// MobileNetV2's activation: clamp(x, 0, 6).
    pub fn relu6(&self) -> Result<Tensor> {
        self.clamp(0.0, 6.0)
    }
    pub fn mul_scalar(&self, s: f32) -> Result<Tensor> {
        self.affine(s, 0.0)
    }
    pub fn add_scalar(&self, s: f32) -> Result<Tensor> {
        self.affine(1.0, s)
    }
    /// A new tensor outside the graph with its own copy of the numbers, bit for bit
    /// (x * 1 + (-0.0) keeps every value, -0.0 and NaN included). `assign` alone would share
    /// storage, which optimizers then update in place.
    pub fn copy(&self) -> Result<Tensor> {
        no_grad(|| self.affine(1.0, -0.0))
    }

    fn binary(&self, op: BinaryOp, name: &str, other: &Tensor) -> Result<Tensor> {
        self.check_same(name, other)?;
        let plan = BroadcastPlan::new(name, self.shape(), other.shape())?;
        let out_shape = shape::broadcast_shapes(name, self.shape(), other.shape())?;
        let recorded = (!matches!(op, BinaryOp::ClampBackward { .. })).then(|| Elementwise::Binary(op, self.clone(), other.clone()));
        self.run_kernel(&ElementwiseKernel::Binary { op, plan }, &[self, other], out_shape, recorded.and_then(record))
    }

    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Add, "add", other)
    }
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Sub, "sub", other)
    }
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Mul, "mul", other)
    }
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Div, "div", other)
    }

    /// clamp's (and relu's) derivative applied to a gradient: `grad` where min < self < max,
    /// else 0. Used by backward.
    pub(crate) fn clamp_backward(&self, min: f32, max: f32, grad: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::ClampBackward { min, max }, "clamp_backward", grad)
    }

    /// Broadcasts to `shape` (NumPy rules), materialising the copies.
    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        let mut plan = BroadcastPlan::new("expand", self.shape(), shape)?;
        if shape::broadcast_shapes("expand", self.shape(), shape)? != shape {
            return Err(Error::shape("expand", format!("cannot expand shape {} to {}", show(self.shape()), show(shape))));
        }
        plan.b_strides.iter_mut().for_each(|s| *s = 0); // the kernel reads only the input
        self.run_kernel(&ElementwiseKernel::Expand { plan }, &[self], shape.to_vec(), record(Elementwise::Expand(self.clone())))
    }
}
