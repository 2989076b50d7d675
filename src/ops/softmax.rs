//! Softmax, log-softmax and cross-entropy, composed from primitives.

use super::Op;
use crate::backend::Kernel;
use crate::error::{Error, Result};
use crate::shape::show;
use crate::tensor::{no_grad, Tensor};

impl Tensor {
    /// log softmax(x) = x - m - log(sum exp(x - m)) along `axis`, with m = max(x) for stability.
    /// m is a constant shift (the result does not depend on it), so it is taken outside the graph.
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor> {
        let shift = no_grad(|| self.max_axis(axis, true))?;
        let shifted = self.sub(&shift)?;
        shifted.sub(&shifted.exp()?.sum_axis(axis, true)?.log()?)
    }

    /// softmax(x) = exp(x - m) / sum exp(x - m) along `axis`.
    pub fn softmax(&self, axis: isize) -> Result<Tensor> {
        let shift = no_grad(|| self.max_axis(axis, true))?;
        let e = self.sub(&shift)?.exp()?;
        e.div(&e.sum_axis(axis, true)?)
    }

    /// Per-item cross-entropy of logits [batch, classes] against integer targets [batch] (class
    /// indices stored as f32): -log softmax(x)[target], optionally with label smoothing eps
    /// (fastai's LabelSmoothingCrossEntropy: (eps / C) * sum_c(-log p_c) + (1 - eps) * NLL).
    pub fn cross_entropy_per_item(&self, targets: &Tensor, label_smoothing: f32) -> Result<Tensor> {
        let s = self.shape();
        if s.len() != 2 || targets.shape() != [s[0]] {
            return Err(Error::new(
                "cross_entropy",
                format!("needs logits [batch, classes] and targets [batch], got {} and {}", show(s), show(targets.shape())),
            ));
        }
        if !(0.0..1.0).contains(&label_smoothing) {
            return Err(Error::new("cross_entropy", format!("label smoothing must be in [0, 1), got {label_smoothing}")));
        }
        self.check_same("cross_entropy", targets)?;
        if s[0] > 65535 {
            return Err(Error::new("cross_entropy", format!("batches of more than 65535 rows are not supported, got {}", s[0])));
        }
        // One fused kernel each way (shaders/softmax_xent.wgsl) instead of a dozen passes.
        let kernel = Kernel::SoftmaxCrossEntropy { batch: s[0], classes: s[1], smoothing: label_smoothing };
        let op = Op::SoftmaxCrossEntropy(self.clone(), targets.clone(), label_smoothing);
        self.run_kernel(kernel, &[self, targets], vec![s[0]], Some(op))
    }

    /// Mean cross-entropy over the batch (PyTorch's default reduction).
    pub fn cross_entropy(&self, targets: &Tensor, label_smoothing: f32) -> Result<Tensor> {
        self.cross_entropy_per_item(targets, label_smoothing)?.mean()
    }
}

impl Tensor {
    /// Class labels as the f32 index tensor that gather and cross-entropy read, each checked
    /// against the number of classes.
    pub fn class_indices(labels: &[u32], classes: usize, device: &crate::Device) -> Result<Tensor> {
        if let Some(bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(Error::new("class_indices", format!("label {bad} is outside the {classes} classes")));
        }
        Tensor::from_slice(&labels.iter().map(|&l| l as f32).collect::<Vec<_>>(), &[labels.len()], device)
    }
}
