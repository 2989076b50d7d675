//! Optimizers update parameters in place, outside the autograd graph.

use crate::backend::Storage;
use crate::error::{Error, Result};
use crate::ops::update::{AdamStep, SgdStep};
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
            let kernel = SgdStep { n: param.numel(), lr, momentum, weight_decay, first_step };
            device.run(&kernel, &[&grad.storage()], &[&param.storage(), momentum_buffer])?;
        }
        Ok(())
    }

    pub fn zero_grad(&self) {
        self.params.iter().for_each(Tensor::zero_grad);
    }
}

/// Parameters that share a learning rate (fastai's layer groups, for discriminative rates) and a
/// weight decay (fastai applies none to batch-norm parameters and biases).
#[derive(Clone, Debug)]
pub struct ParamGroup {
    pub params: Vec<Tensor>,
    pub lr: f32,
    pub weight_decay: f32,
}

/// fastai's default optimizer: Adam(mom 0.9, sqr_mom 0.99, eps 1e-5) with decoupled weight
/// decay. `momentum` (beta1) is meant to follow the one-cycle schedule, so it is a field the
/// trainer sets before each step, like each group's `lr`.
pub struct Adam {
    pub groups: Vec<ParamGroup>,
    pub momentum: f32,
    pub sqr_momentum: f32,
    pub eps: f32,
    /// (average gradient, average squared gradient, steps taken) per parameter, created at its
    /// first step.
    state: Vec<Vec<Option<(Storage, Storage, u32)>>>,
}

impl Adam {
    pub fn new(groups: Vec<ParamGroup>) -> Result<Self> {
        for group in &groups {
            if !(group.lr > 0.0 && group.lr.is_finite()) || !(group.weight_decay >= 0.0) {
                return Err(Error::new(
                    "Adam",
                    format!("learning rates must be positive and weight decay >= 0, got {} and {}", group.lr, group.weight_decay),
                ));
            }
            if let Some(p) = group.params.iter().find(|p| !p.requires_grad()) {
                return Err(Error::new("Adam", format!("parameter with shape {:?} does not require grad", p.shape())));
            }
        }
        let state = groups.iter().map(|g| g.params.iter().map(|_| None).collect()).collect();
        Ok(Adam { groups, momentum: 0.9, sqr_momentum: 0.99, eps: 1e-5, state })
    }

    /// One update of every parameter that has a gradient.
    pub fn step(&mut self) -> Result<()> {
        for (group, states) in self.groups.iter().zip(self.state.iter_mut()) {
            for (param, state) in group.params.iter().zip(states.iter_mut()) {
                let Some(grad) = param.grad() else { continue };
                let device = param.device();
                if state.is_none() {
                    // Averages start at zero, as in fastai (the bias correction accounts for it).
                    let zeros = vec![0.0; param.numel()];
                    *state = Some((device.upload(&zeros)?, device.upload(&zeros)?, 0));
                }
                let (avg, sqr_avg, steps) = state.as_mut().expect("state was just created");
                *steps += 1;
                let kernel = AdamStep {
                    n: param.numel(),
                    lr: group.lr,
                    momentum: self.momentum,
                    sqr_momentum: self.sqr_momentum,
                    eps: self.eps,
                    weight_decay: group.weight_decay,
                    step: *steps,
                };
                device.run(&kernel, &[&grad.storage()], &[&param.storage(), avg, sqr_avg])?;
            }
        }
        Ok(())
    }

    pub fn zero_grad(&self) {
        self.groups.iter().flat_map(|g| &g.params).for_each(Tensor::zero_grad);
    }

    /// Forgets the averages (fastai clears optimizer state on freeze / unfreeze).
    pub fn clear_state(&mut self) {
        self.state.iter_mut().flatten().for_each(|s| *s = None);
    }
}
