//! Picking values along an axis by index (gather), and its inverse (scatter).

use super::Op;
use crate::backend::Kernel;
use crate::error::{Error, Result};
use crate::shape::{self, show};
use crate::tensor::Tensor;

impl Tensor {
    /// out[..., j, ...] = self[..., indices[..., j, ...], ...] along `axis`, where `indices` has
    /// self's shape with that axis set to 1 (torch.gather with one index per row). Indices are f32
    /// holding whole numbers; they get no gradient. An index out of range picks 0.
    pub fn gather_axis(&self, axis: isize, indices: &Tensor) -> Result<Tensor> {
        self.check_same("gather", indices)?;
        let axis = shape::normalize_axis("gather", axis, self.shape())?;
        let mut expected = self.shape().to_vec();
        expected[axis] = 1;
        if indices.shape() != expected {
            return Err(Error::new(
                "gather",
                format!(
                    "indices of shape {} do not fit input {} along axis {axis} (expected {})",
                    show(indices.shape()),
                    show(self.shape()),
                    show(&expected)
                ),
            ));
        }
        let (outer, len, inner) = shape::split_at_axis(self.shape(), axis);
        let op = Op::Gather(self.clone(), indices.clone(), axis);
        self.run_kernel(Kernel::Gather { outer, len, inner }, &[self, indices], expected, Some(op))
    }

    /// The inverse of gather, for backward: a tensor with `len` entries along `axis`, all zero
    /// except self's values at `indices` (both shaped like the output with that axis set to 1).
    pub(crate) fn scatter_axis(&self, indices: &Tensor, axis: usize, len: usize) -> Result<Tensor> {
        let mut out_shape = self.shape().to_vec();
        out_shape[axis] = len;
        let (outer, _, inner) = shape::split_at_axis(&out_shape, axis);
        self.run_kernel(Kernel::Scatter { outer, len, inner }, &[self, indices], out_shape, None)
    }
}
