//! Optimizers update parameters in place, outside the autograd graph.

use crate::backend::{Kernel, Storage};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Settings of `Sgd`, with PyTorch's names and defaults (momentum 0, weight decay 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
}

impl SgdConfig {
    pub fn new(lr: f32) -> Self {
        SgdConfig { lr, momentum: 0.0, weight_decay: 0.0 }
    }
}

/// Stochastic gradient descent with PyTorch's semantics: weight decay is added to the gradient,
/// d = g + wd * p; with momentum, the buffer starts at the first d (no dampening) and then
/// m = momentum * m + d; the step is p -= lr * m (or lr * d without momentum).
pub struct Sgd {
    params: Vec<Tensor>,
    /// One buffer per parameter, created at its first step.
    momentum_buffers: Vec<Option<Storage>>,
    pub config: SgdConfig,
}

impl Sgd {
    pub fn new(params: Vec<Tensor>, config: SgdConfig) -> Result<Self> {
        if !(config.lr > 0.0 && config.lr.is_finite()) {
            return Err(Error::new("SGD", format!("the learning rate must be a positive number, got {}", config.lr)));
        }
        if !(0.0..1.0).contains(&config.momentum) || !(config.weight_decay >= 0.0) {
            return Err(Error::new(
                "SGD",
                format!("momentum must be in [0, 1) and weight decay >= 0, got {} and {}", config.momentum, config.weight_decay),
            ));
        }
        if let Some(p) = params.iter().find(|p| !p.requires_grad()) {
            return Err(Error::new("SGD", format!("parameter with shape {:?} does not require grad", p.shape())));
        }
        let momentum_buffers = params.iter().map(|_| None).collect();
        Ok(Sgd { params, momentum_buffers, config })
    }

    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    /// One update of every parameter that has a gradient; those without one are left alone,
    /// as in PyTorch.
    pub fn step(&mut self) -> Result<()> {
        let SgdConfig { lr, momentum, weight_decay } = self.config;
        for (param, buffer) in self.params.iter().zip(self.momentum_buffers.iter_mut()) {
            let Some(grad) = param.grad() else { continue };
            let device = param.device();
            let first_step = buffer.is_none();
            let momentum_buffer = match buffer {
                Some(existing) => existing,
                None => buffer.insert(device.alloc(param.numel())?),
            };
            let kernel = Kernel::SgdStep { n: param.numel(), lr, momentum, weight_decay, first_step };
            device.run(&kernel, &[&grad.storage()], &[&param.storage(), momentum_buffer])?;
        }
        Ok(())
    }

    pub fn zero_grad(&self) {
        self.params.iter().for_each(Tensor::zero_grad);
    }
}
