//! The ops, one module per family. Each family holds everything about its ops:
//! - `mod.rs`: the `Tensor` methods that build the ops (checks, shapes), the derivative of each
//!   (`impl Derivative`, the math next to each arm), its kernels (`impl Kernel`) and the one
//!   `#[repr(C)]` parameter struct both backends read (`params_struct!`, mirrored by the WGSL
//!   `Params` struct of `shaders/<family>.wgsl`);
//! - `cpu.rs`: the fast CPU path (SIMD-friendly loops, threads);
//! - `reference.rs`: plain loops in f64, used only by tests;
//! - `tests.rs`: every kernel, on the CPU backend and on wgpu, against the reference on odd shapes.
//!
//! Composite ops (mean, softmax, linear, pooling by convolution) are written in terms of these.
//!
//! Adding a family: a module here and its line in `FAMILIES`.

use crate::autograd::Op;
use crate::backend::{Kernel, ParamsLayout, Shader, Storage};
use crate::error::Result;
use crate::shape;
use crate::tensor::Tensor;

pub mod conv;
pub mod elementwise;
pub mod image;
pub mod layout;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod softmax;
pub mod update;

// Kernel tests run natively: on the CPU backend and on a real wgpu adapter.
#[cfg(all(test, not(target_family = "wasm")))]
mod testing;
#[cfg(all(test, not(target_family = "wasm")))]
mod tests;

pub use conv::ConvGeometry;
pub use norm::BatchNormConfig;

/// One op family as the GPU sees it: its WGSL file and its parameter block's layout.
pub struct Family {
    pub shader: &'static Shader,
    /// (name, byte offset, Rust type) of each field of the `#[repr(C)]` parameter struct, in order.
    pub params_fields: &'static [(&'static str, usize, &'static str)],
    pub params_size: usize,
}

impl Family {
    const fn new<P: ParamsLayout>(shader: &'static Shader) -> Family {
        Family { shader, params_fields: P::FIELDS, params_size: std::mem::size_of::<P>() }
    }
}

/// Every op family, for the tests that check each WGSL file against its Rust side.
pub const FAMILIES: &[Family] = &[
    Family::new::<elementwise::Params>(&elementwise::SHADER),
    Family::new::<reduce::Params>(&reduce::SHADER),
    Family::new::<matmul::Params>(&matmul::SHADER),
    Family::new::<layout::TransposeParams>(&layout::TRANSPOSE_SHADER),
    Family::new::<layout::ConcatParams>(&layout::CONCAT_SHADER),
    Family::new::<conv::Params>(&conv::SHADER),
    Family::new::<conv::Params>(&pool::SHADER),
    Family::new::<norm::Params>(&norm::SHADER),
    Family::new::<norm::Params>(&norm::EVAL_SHADER),
    Family::new::<norm::Params>(&norm::FOLD_SHADER),
    Family::new::<softmax::Params>(&softmax::SHADER),
    Family::new::<image::Params>(&image::SHADER),
    Family::new::<update::SgdParams>(&update::SGD_SHADER),
    Family::new::<update::AdamParams>(&update::ADAM_SHADER),
];

/// The bytes of a parameter block, for `Kernel::params`.
pub(crate) fn bytes<P: ParamsLayout>(params: P) -> Vec<u8> {
    bytemuck::bytes_of(&params).to_vec()
}

impl Tensor {
    /// Allocates the output, runs the kernel on it and records the op (None for the kernels that
    /// only backward uses, which never need a graph).
    pub(crate) fn run_kernel(&self, kernel: &dyn Kernel, inputs: &[&Tensor], out_shape: Vec<usize>, op: Option<Op>) -> Result<Tensor> {
        let out = self.launch(kernel, inputs, &[shape::numel(&out_shape)])?.pop().expect("one output");
        Ok(Tensor::from_op(out_shape, self.device(), out, op))
    }

    /// Allocates outputs of the given lengths, runs the kernel on them and returns them: for
    /// kernels with several outputs, whose tensors the caller builds.
    pub(crate) fn launch(&self, kernel: &dyn Kernel, inputs: &[&Tensor], out_lens: &[usize]) -> Result<Vec<Storage>> {
        let device = self.device();
        let outs = out_lens.iter().map(|&len| device.alloc(len)).collect::<Result<Vec<_>>>()?;
        let storages: Vec<_> = inputs.iter().map(|t| t.storage()).collect();
        let storage_refs: Vec<_> = storages.iter().map(|s| s.as_ref()).collect();
        device.run(kernel, &storage_refs, &outs.iter().collect::<Vec<_>>())?;
        Ok(outs)
    }
}
