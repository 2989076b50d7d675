//! The primitive ops (the one list autograd knows) and their forward passes. Composite ops
//! (mean, sum of all elements, scalar arithmetic) are written in terms of these.

mod conv;
mod image;
mod indexing;
mod norm;
mod pool;
mod softmax;

pub use norm::BatchNormConfig;

use crate::backend::{BinaryOp, ConvGeometry, Kernel, ReduceOp, Storage, UnaryOp};
use crate::error::{Error, Result};
use crate::shape::{self, show, BroadcastPlan};
use crate::tensor::{no_grad, Tensor};

/// How a tensor was made, holding its inputs: an edge of the autograd graph.
#[derive(Clone)]
pub enum Op {
    Unary(UnaryOp, Tensor),
    Binary(BinaryOp, Tensor, Tensor),
    MatMul(Tensor, Tensor),
    /// Swap of the last two axes.
    Transpose(Tensor),
    Reshape(Tensor),
    Expand(Tensor),
    /// Sum along one axis (the output keeps or drops the axis; backward only needs the input).
    SumAxis(Tensor, usize),
    /// 2-D convolution of an input with a weight (bias is added separately).
    Conv2d(Tensor, Tensor, ConvGeometry),
    /// The largest value along an axis.
    MaxAxis(Tensor, usize),
    /// Values picked along an axis by indices (which get no gradient).
    Gather(Tensor, Tensor, usize),
    /// Two tensors joined along an axis.
    Concat(Tensor, Tensor, usize),
    /// Max pooling of an input.
    MaxPool2d(Tensor, ConvGeometry),
    /// Fused softmax + per-row cross-entropy: logits, targets (no gradient), label smoothing.
    SoftmaxCrossEntropy(Tensor, Tensor, f32),
    /// Fused training-mode batch norm: x, weight, bias, and the statistics the forward kernel
    /// saved (no gradient).
    BatchNorm(Tensor, Tensor, Tensor, Tensor),
}

impl Op {
    pub fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Op::Binary(_, a, b) | Op::MatMul(a, b) | Op::Conv2d(a, b, _) | Op::Concat(a, b, _) => {
                vec![a, b]
            }
            Op::BatchNorm(x, weight, bias, _) => vec![x, weight, bias],
            Op::Gather(x, _, _) | Op::MaxPool2d(x, _) | Op::SoftmaxCrossEntropy(x, _, _) => vec![x],
            Op::Unary(_, x) | Op::Transpose(x) | Op::Reshape(x) | Op::Expand(x) | Op::SumAxis(x, _) | Op::MaxAxis(x, _) => {
                vec![x]
            }
        }
    }
}

impl Tensor {
    /// Allocates the output, runs the kernel on it and records the op (None for the kernels that
    /// only backward uses, which never need a graph).
    pub(crate) fn run_kernel(&self, kernel: Kernel, inputs: &[&Tensor], out_shape: Vec<usize>, op: Option<Op>) -> Result<Tensor> {
        let out = self.launch(&kernel, inputs, &[shape::numel(&out_shape)])?.pop().expect("one output");
        Ok(Tensor::from_op(out_shape, self.device(), out, op))
    }

    /// Allocates outputs of the given lengths, runs the kernel on them and returns them: for
    /// kernels with several outputs, whose tensors the caller builds.
    pub(crate) fn launch(&self, kernel: &Kernel, inputs: &[&Tensor], out_lens: &[usize]) -> Result<Vec<Storage>> {
        let device = self.device();
        let outs = out_lens.iter().map(|&len| device.alloc(len)).collect::<Result<Vec<_>>>()?;
        let storages: Vec<_> = inputs.iter().map(|t| t.storage()).collect();
        let storage_refs: Vec<_> = storages.iter().map(|s| s.as_ref()).collect();
        device.run(kernel, &storage_refs, &outs.iter().collect::<Vec<_>>())?;
        Ok(outs)
    }

    fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        let kernel = Kernel::Unary { op, n: self.numel() };
        self.run_kernel(kernel, &[self], self.shape().to_vec(), Some(Op::Unary(op, self.clone())))
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
        let record = (!matches!(op, BinaryOp::ClampBackward { .. })).then(|| Op::Binary(op, self.clone(), other.clone()));
        self.run_kernel(Kernel::Binary { op, plan }, &[self, other], out_shape, record)
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

    /// Matrix product of 2-D and batched 3-D operands: [m,k]@[k,n], [b,m,k]@[k,n], [m,k]@[b,k,n]
    /// or [b,m,k]@[b,k,n].
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        self.check_same("matmul", other)?;
        let (a, b) = (self.shape(), other.shape());
        let mismatch = || Error::new("matmul", format!("cannot multiply shapes {} and {}", show(a), show(b)));
        if !(2..=3).contains(&a.len()) || !(2..=3).contains(&b.len()) {
            return Err(Error::new("matmul", format!("needs 2-D or 3-D operands, got shapes {} and {}", show(a), show(b))));
        }
        let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
        let (k2, n) = (b[b.len() - 2], b[b.len() - 1]);
        let batch_a = if a.len() == 3 { Some(a[0]) } else { None };
        let batch_b = if b.len() == 3 { Some(b[0]) } else { None };
        if k != k2 || matches!((batch_a, batch_b), (Some(x), Some(y)) if x != y) {
            return Err(mismatch());
        }
        let batch = batch_a.or(batch_b);
        let kernel = Kernel::MatMul {
            batch: batch.unwrap_or(1),
            m,
            k,
            n,
            a_batch_stride: if batch_a.is_some() { m * k } else { 0 },
            b_batch_stride: if batch_b.is_some() { k * n } else { 0 },
        };
        let out_shape = match batch {
            Some(batch) => vec![batch, m, n],
            None => vec![m, n],
        };
        self.run_kernel(kernel, &[self, other], out_shape, Some(Op::MatMul(self.clone(), other.clone())))
    }

    /// Swaps the last two axes (a copy, since tensors are contiguous).
    pub fn transpose(&self) -> Result<Tensor> {
        let s = self.shape();
        if s.len() < 2 {
            return Err(Error::new("transpose", format!("needs at least 2 dimensions, got shape {}", show(s))));
        }
        let (rows, cols) = (s[s.len() - 2], s[s.len() - 1]);
        let mut out_shape = s.to_vec();
        out_shape.swap(s.len() - 2, s.len() - 1);
        let kernel = Kernel::Transpose { batch: self.numel() / (rows * cols), rows, cols };
        self.run_kernel(kernel, &[self], out_shape, Some(Op::Transpose(self.clone())))
    }

    /// The same numbers in another shape with as many elements (no copy).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if shape::numel(shape) != self.numel() {
            return Err(Error::new("reshape", format!("cannot reshape {} into {}", show(self.shape()), show(shape))));
        }
        Ok(self.view(shape.to_vec(), Op::Reshape(self.clone())))
    }

    /// Broadcasts to `shape` (NumPy rules), materialising the copies.
    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        let mut plan = BroadcastPlan::new("expand", self.shape(), shape)?;
        if shape::broadcast_shapes("expand", self.shape(), shape)? != shape {
            return Err(Error::new("expand", format!("cannot expand shape {} to {}", show(self.shape()), show(shape))));
        }
        plan.b_strides.iter_mut().for_each(|s| *s = 0); // the kernel reads only the input
        self.run_kernel(Kernel::Expand { plan }, &[self], shape.to_vec(), Some(Op::Expand(self.clone())))
    }

    /// A reduction along `axis` (negative counts from the end), keeping it as size 1 or dropping it.
    fn reduce(&self, op: ReduceOp, name: &str, axis: isize, keepdim: bool, record: impl FnOnce(usize) -> Option<Op>) -> Result<Tensor> {
        let s = self.shape();
        let axis = shape::normalize_axis(name, axis, s)?;
        let (outer, len, inner) = shape::split_at_axis(s, axis);
        let mut out_shape = s.to_vec();
        if keepdim {
            out_shape[axis] = 1;
        } else {
            out_shape.remove(axis);
        }
        self.run_kernel(Kernel::Reduce { op, outer, len, inner }, &[self], out_shape, record(axis))
    }

    /// Sum along `axis` (negative counts from the end), keeping it as size 1 or dropping it.
    pub fn sum_axis(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Sum, "sum", axis, keepdim, |axis| Some(Op::SumAxis(self.clone(), axis)))
    }

    /// The largest value along `axis` (torch.amax); NaN if the axis holds a NaN.
    pub fn max_axis(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Max, "max", axis, keepdim, |axis| Some(Op::MaxAxis(self.clone(), axis)))
    }

    /// The index of the largest value along `axis`, as f32 (the first on ties). No gradient.
    pub fn argmax_axis(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Argmax, "argmax", axis, keepdim, |_| None)
    }

    /// Sum of all elements: a scalar (shape []).
    pub fn sum(&self) -> Result<Tensor> {
        self.reshape(&[self.numel()])?.sum_axis(0, false)
    }

    /// Mean of all elements: a scalar.
    pub fn mean(&self) -> Result<Tensor> {
        self.sum()?.mul_scalar(1.0 / self.numel() as f32)
    }

    pub fn mean_axis(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        let len = self.shape()[shape::normalize_axis("mean", axis, self.shape())?];
        self.sum_axis(axis, keepdim)?.mul_scalar(1.0 / len as f32)
    }

    /// Sums a broadcast result back down to `shape`: the gradient rule for broadcasting.
    pub(crate) fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor> {
        let mut out = self.clone();
        while out.shape().len() > shape.len() {
            out = out.sum_axis(0, false)?;
        }
        for axis in 0..shape.len() {
            if shape[axis] == 1 && out.shape()[axis] != 1 {
                out = out.sum_axis(axis as isize, true)?;
            }
        }
        out.reshape(shape)
    }
}
