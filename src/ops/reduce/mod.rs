//! Reductions along one axis (sum, max, argmax) and what is built on them (sum of everything,
//! means, summing a broadcast gradient back), plus max's gradient (scatter). Kernels:
//! shaders/reduce.wgsl.

pub(crate) mod cpu;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod reference;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod tests;

use crate::autograd::{record, Derivative};
use crate::backend::{linear_groups, Kernel, Shader, WORKGROUP_SIZE};
use crate::error::Result;
use crate::shape;
use crate::tensor::Tensor;

pub static SHADER: Shader = Shader { name: "reduce", source: include_str!("../../../shaders/reduce.wgsl") };

crate::params_struct! {
    /// The input viewed as [outer, len, inner], reduced (or scattered) along len; `group`
    /// threads share each output of a reduction (`threads_per_output`).
    Params { outer: u32, len: u32, inner: u32, group: u32 }
}

/// Outputs that keep a device busy with one thread each: past this, a reduction runs one thread
/// per output with a serial loop.
const BUSY_THREADS: usize = 4096;
/// The fewest values worth a thread of their own in a shared reduction.
const MIN_PER_THREAD: usize = 16;

/// How many threads of a workgroup share one output of a reduction along an axis of `len`: a
/// power of two up to `WORKGROUP_SIZE`. One, with a serial loop and no barrier, when the axis is
/// short or the outputs alone fill the device (a broadcast gradient summed over a batch of 4 has
/// 400,000 outputs; a barrier tree for each cost ~20 µs on lavapipe). Otherwise enough threads
/// for about `BUSY_THREADS` in all, each with at least `MIN_PER_THREAD` values, combined in a
/// tree of log2(group) barriers (the sum of a whole tensor: one output, 256 threads).
pub fn threads_per_output(outputs: usize, len: usize) -> usize {
    if outputs >= BUSY_THREADS || len < 2 * MIN_PER_THREAD {
        return 1;
    }
    let wanted = BUSY_THREADS.div_ceil(outputs).next_power_of_two();
    let useful = 1 << (usize::BITS - 1 - (len / MIN_PER_THREAD).leading_zeros());
    wanted.min(useful).min(WORKGROUP_SIZE)
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReduceOp {
    Sum,
    /// The largest value (NaN if any is NaN).
    Max,
    /// The index of the largest value, as an f32 (the first one on ties; a NaN counts as largest).
    Argmax,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReduceKernel {
    /// Input viewed as [outer, len, inner]; out[o, i] = op over l of x[o, l, i].
    Reduce { op: ReduceOp, outer: usize, len: usize, inner: usize },
    /// Inputs [values [outer, inner], indices [outer, inner]]: out [outer, len, inner] is zero
    /// except out[o, indices[o, i], i] = values[o, i]. Max's gradient.
    Scatter { outer: usize, len: usize, inner: usize },
}

impl Kernel for ReduceKernel {
    fn name(&self) -> &'static str {
        match self {
            ReduceKernel::Reduce { op: ReduceOp::Sum, .. } => "sum_axis",
            ReduceKernel::Reduce { op: ReduceOp::Max, .. } => "max_axis",
            ReduceKernel::Reduce { op: ReduceOp::Argmax, .. } => "argmax_axis",
            ReduceKernel::Scatter { .. } => "scatter_axis",
        }
    }

    fn shader(&self) -> &'static Shader {
        &SHADER
    }

    fn params(&self) -> Vec<u8> {
        let (group, outer, len, inner) = match *self {
            ReduceKernel::Reduce { outer, len, inner, .. } => (threads_per_output(outer * inner, len), outer, len, inner),
            ReduceKernel::Scatter { outer, len, inner } => (1, outer, len, inner),
        };
        super::bytes(Params { outer: outer as u32, len: len as u32, inner: inner as u32, group: group as u32 })
    }

    fn workgroups(&self) -> [u32; 3] {
        match *self {
            // `threads_per_output` threads for each output element.
            ReduceKernel::Reduce { outer, len, inner, .. } => linear_groups(outer * inner * threads_per_output(outer * inner, len)),
            ReduceKernel::Scatter { outer, len, inner } => linear_groups(outer * len * inner),
        }
    }

    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        match *self {
            ReduceKernel::Reduce { op: ReduceOp::Sum, outer, len, inner } => cpu::sum_axis(inputs[0], outputs[0], outer, len, inner),
            ReduceKernel::Reduce { op, outer, len, inner } => {
                cpu::largest_axis(op == ReduceOp::Argmax, inputs[0], outputs[0], outer, len, inner)
            }
            ReduceKernel::Scatter { len, inner, .. } => cpu::scatter(inputs[0], inputs[1], outputs[0], len, inner),
        }
    }
}

/// The recorded reductions (the output keeps or drops the axis; backward needs only the input).
enum Reduction {
    Sum(Tensor, usize),
    Max(Tensor, usize),
}

impl Derivative for Reduction {
    fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Reduction::Sum(x, _) | Reduction::Max(x, _) => vec![x],
        }
    }

    fn backward(&self, _y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let (Reduction::Sum(x, axis) | Reduction::Max(x, axis)) = self;
        let mut kept = x.shape().to_vec();
        kept[*axis] = 1;
        let g = g.reshape(&kept)?;
        Ok(vec![Some(match self {
            // y = Σ_l x_l: every x along the axis contributed once, dy/dx_l = 1: spread g back.
            Reduction::Sum(..) => g.expand(x.shape())?,
            // y = max_l x_l: only the winner moved it (the first on ties), dy/dx_l = [l = argmax].
            Reduction::Max(..) => g.scatter_axis(&x.argmax_axis(*axis as isize, true)?, *axis, x.shape()[*axis])?,
        })])
    }
}

impl Tensor {
    /// A reduction along `axis` (negative counts from the end), keeping it as size 1 or dropping it.
    fn reduce(&self, op: ReduceOp, name: &str, axis: isize, keepdim: bool) -> Result<Tensor> {
        let s = self.shape();
        let axis = shape::normalize_axis(name, axis, s)?;
        let (outer, len, inner) = shape::split_at_axis(s, axis);
        let mut out_shape = s.to_vec();
        if keepdim {
            out_shape[axis] = 1;
        } else {
            out_shape.remove(axis);
        }
        let recorded = match op {
            ReduceOp::Sum => record(Reduction::Sum(self.clone(), axis)),
            ReduceOp::Max => record(Reduction::Max(self.clone(), axis)),
            ReduceOp::Argmax => None,
        };
        self.run_kernel(&ReduceKernel::Reduce { op, outer, len, inner }, &[self], out_shape, recorded)
    }

    /// Sum along `axis` (negative counts from the end), keeping it as size 1 or dropping it.
    pub fn sum_axis(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Sum, "sum", axis, keepdim)
    }

    /// The largest value along `axis` (torch.amax); NaN if the axis holds a NaN.
    pub fn max_axis(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Max, "max", axis, keepdim)
    }

    /// The index of the largest value along `axis`, as f32 (the first on ties). No gradient.
    pub fn argmax_axis(&self, axis: isize, keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Argmax, "argmax", axis, keepdim)
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
        for (axis, &size) in shape.iter().enumerate() {
            if size == 1 && out.shape()[axis] != 1 {
                out = out.sum_axis(axis as isize, true)?;
            }
        }
        out.reshape(shape)
    }

    /// A tensor with `len` entries along `axis`, all zero except self's values at `indices`
    /// (both shaped like the output with that axis set to 1; indices as f32). For backward.
    pub(crate) fn scatter_axis(&self, indices: &Tensor, axis: usize, len: usize) -> Result<Tensor> {
        let mut out_shape = self.shape().to_vec();
        out_shape[axis] = len;
        let (outer, _, inner) = shape::split_at_axis(&out_shape, axis);
        self.run_kernel(&ReduceKernel::Scatter { outer, len, inner }, &[self, indices], out_shape, None)
    }
}
