//! Neural-network building blocks in PyTorch's shape: a `Module` has a forward pass, named
//! parameters and buffers (with PyTorch's names, so torchvision state dicts load directly) and a
//! training flag (batch norm statistics, dropout).

pub mod layers;
mod mobilenet;
pub mod onnx;
mod state;

pub use layers::{BatchNorm, Conv2d, Dropout, Linear, Sequential, Stateless};
pub use mobilenet::{mobilenet_v2, MobileNetV2};
pub use state::{load_safetensors, save_safetensors};

use crate::error::Result;
use crate::tensor::Tensor;

/// Whether a named tensor is trained (a parameter) or only tracked (a buffer: running statistics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorKind {
    Parameter,
    Buffer,
}

/// One entry of a module's state: "features.0.1.running_mean" and its tensor.
#[derive(Clone, Debug)]
pub struct NamedTensor {
    pub name: String,
    pub tensor: Tensor,
    pub kind: TensorKind,
}

pub trait Module {
    fn forward(&self, x: &Tensor) -> Result<Tensor>;

    /// Appends every parameter and buffer of this module and its children, named
    /// `prefix` + PyTorch's path, in definition order.
    fn collect_tensors(&self, prefix: &str, out: &mut Vec<NamedTensor>);

    /// Training mode (true) or evaluation mode (false), for this module and its children.
    fn set_training(&self, training: bool);

    /// Adds this module's evaluation-mode computation of `x` to an ONNX graph, its tensors named
    /// `prefix` + PyTorch's path as in `collect_tensors`, and returns the result (`onnx::export`).
    /// A module without an ONNX form refuses.
    fn onnx(&self, prefix: &str, _graph: &mut onnx::Graph, _x: onnx::Value) -> Result<onnx::Value> {
        Err(onnx::unsupported(prefix, std::any::type_name::<Self>(), "it has no ONNX form"))
    }

    /// This module as a convolution, and as a batch norm: so that `Sequential` can run a
    /// convolution and the batch norm after it as one kernel in inference.
    fn as_conv2d(&self) -> Option<&layers::Conv2d> {
        None
    }

    fn as_batch_norm(&self) -> Option<&layers::BatchNorm> {
        None
    }

    /// All parameters and buffers with their full names (PyTorch's `state_dict()` keys).
    fn state(&self) -> Vec<NamedTensor> {
        let mut out = Vec::new();
        self.collect_tensors("", &mut out);
        out
    }

    /// The trainable tensors (PyTorch's `parameters()`).
    fn parameters(&self) -> Vec<Tensor> {
        self.state().into_iter().filter(|t| t.kind == TensorKind::Parameter).map(|t| t.tensor).collect()
    }
}

/// "prefix.name", or "name" at the top.
pub(crate) fn child_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}
