//! Ops that move numbers without arithmetic: transpose (a copy: tensors are contiguous), reshape
//! (a view), flatten, and joining and slicing along an axis. Kernels: shaders/transpose.wgsl,
//! shaders/concat.wgsl.

pub(crate) mod cpu;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod reference;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod tests;

use crate::autograd::{record, wanted, Derivative};
use crate::backend::{linear_groups, Kernel, Shader};
use crate::error::{Error, Result};
use crate::shape::{self, show};
use crate::tensor::Tensor;

pub static TRANSPOSE_SHADER: Shader = Shader { name: "transpose", source: include_str!("../../../shaders/transpose.wgsl") };
pub static CONCAT_SHADER: Shader = Shader { name: "concat", source: include_str!("../../../shaders/concat.wgsl") };

crate::params_struct! {
    /// [batch, rows, cols] -> [batch, cols, rows].
    TransposeParams { batch: u32, rows: u32, cols: u32 }
}

crate::params_struct! {
    /// Tensors viewed as [outer, width]. concat_pair: out = a [outer, a_width] then
    /// b [outer, b_width]; slice_columns: out [outer, b_width] = columns start .. start + b_width of
    /// a [outer, a_width].
    ConcatParams { outer: u32, a_width: u32, b_width: u32, start: u32 }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayoutKernel {
    /// Input [batch, rows, cols] -> out [batch, cols, rows].
    Transpose { batch: usize, rows: usize, cols: usize },
    /// Inputs a [outer, a_width], b [outer, b_width] -> out [outer, a_width + b_width].
    ConcatPair { outer: usize, a_width: usize, b_width: usize },
    /// Input [outer, width] -> out [outer, len]: columns start .. start + len.
    SliceColumns { outer: usize, width: usize, start: usize, len: usize },
}

impl Kernel for LayoutKernel {
    fn name(&self) -> &'static str {
        match self {
            LayoutKernel::Transpose { .. } => "transpose",
            LayoutKernel::ConcatPair { .. } => "concat_pair",
            LayoutKernel::SliceColumns { .. } => "slice_columns",
        }
    }

    fn shader(&self) -> &'static Shader {
        match self {
            LayoutKernel::Transpose { .. } => &TRANSPOSE_SHADER,
            _ => &CONCAT_SHADER,
        }
    }

    fn params(&self) -> Vec<u8> {
        let u = |v: usize| v as u32;
        match *self {
            LayoutKernel::Transpose { batch, rows, cols } => {
                super::bytes(TransposeParams { batch: u(batch), rows: u(rows), cols: u(cols) })
            }
            LayoutKernel::ConcatPair { outer, a_width, b_width } => {
                super::bytes(ConcatParams { outer: u(outer), a_width: u(a_width), b_width: u(b_width), start: 0 })
            }
            LayoutKernel::SliceColumns { outer, width, start, len } => {
                super::bytes(ConcatParams { outer: u(outer), a_width: u(width), b_width: u(len), start: u(start) })
            }
        }
    }

    fn workgroups(&self) -> [u32; 3] {
        // One thread per output element.
        linear_groups(match *self {
            LayoutKernel::Transpose { batch, rows, cols } => batch * rows * cols,
            LayoutKernel::ConcatPair { outer, a_width, b_width } => outer * (a_width + b_width),
            LayoutKernel::SliceColumns { outer, len, .. } => outer * len,
        })
    }

    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        match *self {
            LayoutKernel::Transpose { rows, cols, .. } => cpu::transpose(inputs[0], outputs[0], rows, cols),
            LayoutKernel::ConcatPair { a_width, b_width, .. } => cpu::concat(inputs[0], inputs[1], outputs[0], a_width, b_width),
            LayoutKernel::SliceColumns { width, start, len, .. } => cpu::slice_columns(inputs[0], outputs[0], width, start, len),
        }
    }
}

/// The recorded layout ops: each moves g back the way the numbers came.
enum Layout {
    Transpose(Tensor),
    Reshape(Tensor),
    Concat(Tensor, Tensor, usize),
}

impl Derivative for Layout {
    fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Layout::Transpose(x) | Layout::Reshape(x) => vec![x],
            Layout::Concat(a, b, _) => vec![a, b],
        }
    }

    fn backward(&self, _y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        Ok(match self {
            Layout::Transpose(_) => vec![Some(g.transpose()?)], // y = x^T: dL/dx = g^T
            Layout::Reshape(x) => vec![Some(g.reshape(x.shape())?)],
            // Each input's part of the joined tensor is its gradient.
            Layout::Concat(a, b, axis) => {
                let split = a.shape()[*axis];
                vec![wanted(a, || g.narrow(*axis, 0, split))?, wanted(b, || g.narrow(*axis, split, b.shape()[*axis]))?]
            }
        })
    }
}

impl Tensor {
    /// Swaps the last two axes (a copy, since tensors are contiguous).
    pub fn transpose(&self) -> Result<Tensor> {
        let s = self.shape();
        if s.len() < 2 {
            return Err(Error::shape("transpose", format!("needs at least 2 dimensions, got shape {}", show(s))));
        }
        let (rows, cols) = (s[s.len() - 2], s[s.len() - 1]);
        let mut out_shape = s.to_vec();
        out_shape.swap(s.len() - 2, s.len() - 1);
        let kernel = LayoutKernel::Transpose { batch: self.numel() / (rows * cols), rows, cols };
        self.run_kernel(&kernel, &[self], out_shape, record(Layout::Transpose(self.clone())))
    }

    /// The same numbers in another shape with as many elements (no copy).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if shape::numel(shape) != self.numel() {
            return Err(Error::shape("reshape", format!("cannot reshape {} into {}", show(self.shape()), show(shape))));
        }
        let op = record(Layout::Reshape(self.clone())).expect("a recorded op");
        Ok(self.view(shape.to_vec(), op))
    }

    /// Keeps the first axis and flattens the rest: [N, ...] -> [N, product of the rest].
    pub fn flatten(&self) -> Result<Tensor> {
        let s = self.shape();
        if s.is_empty() {
            return Err(Error::shape("flatten", "needs at least one dimension, got a scalar"));
        }
        self.reshape(&[s[0], s[1..].iter().product()])
    }

    /// Joins `other` after self along `axis`; the other axes must match.
    pub fn concat(&self, other: &Tensor, axis: usize) -> Result<Tensor> {
        self.check_same("concat", other)?;
        let (a, b) = (self.shape(), other.shape());
        let same_elsewhere = a.len() == b.len() && (0..a.len()).all(|i| i == axis || a[i] == b[i]);
        if axis >= a.len() || !same_elsewhere {
            return Err(Error::shape("concat", format!("cannot join shapes {} and {} along axis {axis}", show(a), show(b))));
        }
        let outer: usize = a[..axis].iter().product();
        let inner: usize = a[axis + 1..].iter().product();
        let kernel = LayoutKernel::ConcatPair { outer, a_width: a[axis] * inner, b_width: b[axis] * inner };
        let mut out_shape = a.to_vec();
        out_shape[axis] += b[axis];
        self.run_kernel(&kernel, &[self, other], out_shape, record(Layout::Concat(self.clone(), other.clone(), axis)))
    }

    /// Entries start .. start + len along `axis` (a copy outside the graph; concat's gradient).
    pub(crate) fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Tensor> {
        let (outer, size, inner) = shape::split_at_axis(self.shape(), axis);
        let kernel = LayoutKernel::SliceColumns { outer, width: size * inner, start: start * inner, len: len * inner };
        let mut out_shape = self.shape().to_vec();
        out_shape[axis] = len;
        self.run_kernel(&kernel, &[self], out_shape, None)
    }
}
