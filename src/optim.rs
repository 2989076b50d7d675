//! Optimizers update parameters in place, outside the autograd graph, a few parameter tensors
//! per dispatch (src/ops/update/mod.rs says why not all at once).

use std::collections::HashSet;
use std::rc::Rc;

use crate::backend::Storage;
use crate::error::{Error, Result};
use crate::ops::update::{update, Rule, Slot};
use crate::tensor::Tensor;

/// An optimizer's state for all its parameters in one flat buffer, in parameter order (Adam's
/// (m, v) pairs, SGD's momentum), and the steps each parameter has taken.
#[derive(Default)]
struct FlatState {
    buffer: Option<Storage>,
    steps: Vec<u32>,
}

impl FlatState {
    /// One update by `rule` of each (parameter, lr, weight decay) that has a gradient; those
    /// without one are left alone, as in PyTorch. The state starts at zero (fastai's Adam: the
    /// bias correction accounts for it; SGD's momentum takes the first d), and starts again when
    /// the parameters change.
    fn update(&mut self, rule: Rule, params: &[(&Tensor, f32, f32)]) -> Result<()> {
        let Some((first, ..)) = params.first() else { return Ok(()) };
        // A dispatch writes several parameters: each must have numbers of its own.
        let mut seen = HashSet::new();
        if !params.iter().all(|(p, ..)| seen.insert(Rc::as_ptr(&p.storage()))) {
            return Err(Error::new("optimizer", "a parameter appears twice, or two parameters share their numbers"));
        }
        let len = rule.state_width() * params.iter().map(|(p, ..)| p.numel()).sum::<usize>();
        let buffer = match &mut self.buffer {
            Some(buffer) if buffer.len() == len && self.steps.len() == params.len() => buffer,
            buffer => {
                self.steps = vec![0; params.len()];
                buffer.insert(first.device().upload(&vec![0.0; len])?)
            }
        };
        let mut tensors = Vec::with_capacity(params.len());
        let mut state = 0;
        for (&(param, lr, weight_decay), steps) in params.iter().zip(&mut self.steps) {
            let n = param.numel();
            if let Some(grad) = param.grad() {
                *steps += 1;
                tensors.push((param, grad, Slot { n, state, lr, weight_decay, step: *steps }));
            }
            state += n;
        }
        update(rule, &tensors, buffer)
    }
}

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
    /// The momentum buffers, created at the first step.
    state: FlatState,
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
        Ok(Sgd { params, state: FlatState::default(), config })
    }

    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    /// One update of every parameter that has a gradient; those without one are left alone,
    /// as in PyTorch.
    pub fn step(&mut self) -> Result<()> {
        let SgdConfig { lr, momentum, weight_decay } = self.config;
        let params: Vec<_> = self.params.iter().map(|p| (p, lr, weight_decay)).collect();
        self.state.update(Rule::Sgd { momentum }, &params)
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
    /// (average gradient, average squared gradient) of every parameter, created at the first step.
    state: FlatState,
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
        Ok(Adam { groups, momentum: 0.9, sqr_momentum: 0.99, eps: 1e-5, state: FlatState::default() })
    }

    /// One update of every parameter that has a gradient.
    pub fn step(&mut self) -> Result<()> {
        let params: Vec<_> = self.groups.iter().flat_map(|g| g.params.iter().map(|p| (p, g.lr, g.weight_decay))).collect();
        self.state.update(Rule::Adam { momentum: self.momentum, sqr_momentum: self.sqr_momentum, eps: self.eps }, &params)
    }

    pub fn zero_grad(&self) {
        self.groups.iter().flat_map(|g| &g.params).for_each(Tensor::zero_grad);
    }

    /// Forgets the averages (fastai clears optimizer state on freeze / unfreeze).
    pub fn clear_state(&mut self) {
        self.state = FlatState::default();
    }
}
