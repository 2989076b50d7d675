//! fastai's three layer groups (early body, late body, head): freezing them, and Adam over them
//! with one learning rate per group (discriminative rates).

use std::rc::Rc;

use super::Learner;
use crate::error::Result;
use crate::nn::{Module, NamedTensor, TensorKind};
use crate::optim::{Adam, ParamGroup};
use crate::tensor::Tensor;

/// The body is split into early and late layer groups before features.7.
const LATE_BODY_START: usize = 7;

impl Learner {
    /// The three layer groups' parameters and buffers: early body, late body, head.
    pub fn layer_groups(&self) -> [Vec<NamedTensor>; 3] {
        let collect = |layers: &[Rc<dyn Module>], offset: usize, prefix: &str| {
            let mut out = Vec::new();
            for (i, layer) in layers.iter().enumerate() {
                layer.collect_tensors(&format!("{prefix}.{}", i + offset), &mut out);
            }
            out
        };
        let body = &self.body.layers;
        [
            collect(&body[..LATE_BODY_START], 0, "0"),
            collect(&body[LATE_BODY_START..], LATE_BODY_START, "0"),
            collect(&self.head.layers, 0, "1"),
        ]
    }

    /// Trains only the last `3 - n` layer groups (fastai's freeze_to(n)), plus every batch-norm
    /// parameter (train_bn). Clears the optimizer's state.
    pub fn freeze_to(&mut self, n: usize) {
        self.frozen_groups = n.min(2);
        self.optimizer = None;
        for (i, group) in self.layer_groups().into_iter().enumerate() {
            for t in group.into_iter().filter(|t| t.kind == TensorKind::Parameter) {
                let trainable = i >= self.frozen_groups || t.tensor.shape().len() == 1;
                t.tensor.set_requires_grad(trainable).expect("parameters are leaves");
            }
        }
    }

    /// Only the head trains (and batch norm everywhere).
    pub fn freeze(&mut self) {
        self.freeze_to(2);
    }

    pub fn unfreeze(&mut self) {
        self.freeze_to(0);
    }

    /// Adam over the trainable parameters (those `freeze_to` left requiring grad): for each layer
    /// group, rank-1 parameters (batch norm, biases) without weight decay, the others with it.
    pub(super) fn build_optimizer(&self) -> Result<Adam> {
        let mut groups = Vec::new();
        for group in self.layer_groups() {
            let trainable = group.into_iter().filter(|t| t.kind == TensorKind::Parameter && t.tensor.requires_grad());
            let (norms, weights): (Vec<Tensor>, Vec<Tensor>) = trainable.map(|t| t.tensor).partition(|p| p.shape().len() == 1);
            groups.push(ParamGroup { params: norms, lr: 1e-3, weight_decay: 0.0 });
            groups.push(ParamGroup { params: weights, lr: 1e-3, weight_decay: self.weight_decay });
        }
        Adam::new(groups)
    }

    /// Sets each layer group's learning rate (optimizer groups come in pairs per layer group).
    pub(super) fn set_rates(optimizer: &mut Adam, rates: &[f64], momentum: f64) {
        for (i, group) in optimizer.groups.iter_mut().enumerate() {
            group.lr = rates[i / 2] as f32;
        }
        optimizer.momentum = momentum as f32;
    }
}
