//! kiln: tensors, reverse-mode autograd and optimizers on WebGPU (wgpu + WGSL) or the CPU,
//! compiled natively and to WebAssembly. Layers, bottom to top: `shape`, `backend` (+ `shaders/`),
//! `ops` + `autograd`, `nn`, `optim`, and `js` (the wasm-bindgen facade).

pub mod autograd;
pub mod backend;
pub mod data;
pub mod error;
pub mod inference;
pub mod interpret;
pub mod learner;
pub mod lr_find;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod options;
pub mod rng;
pub mod schedule;
pub mod shape;
pub mod tensor;

#[cfg(target_family = "wasm")]
pub mod js;

pub use backend::{BackendInfo, Device};
pub use error::{Error, ErrorKind, Result};
pub use optim::{Adam, ParamGroup, Sgd, SgdConfig};
pub use tensor::{no_grad, Tensor};
