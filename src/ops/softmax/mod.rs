//! Softmax (composed from primitives) and cross-entropy with label smoothing (one fused kernel each
//! way). Kernels: shaders/softmax_xent.wgsl.

mod cpu;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod reference;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod tests;

use crate::autograd::{record, Derivative};
use crate::backend::{Kernel, Shader};
use crate::error::{Error, Result};
use crate::shape::show;
use crate::tensor::{no_grad, Tensor};

pub static SHADER: Shader = Shader { name: "softmax_xent", source: include_str!("../../../shaders/softmax_xent.wgsl") };

crate::params_struct! {
    Params { batch: u32, classes: u32, smoothing: f32 }
}

/// Per-row cross-entropy of softmax(logits) against class indices, with label smoothing eps:
/// loss = log Σ exp(x) - eps / C Σ_c x_c - (1 - eps) x_target. Inputs [logits [batch, classes],
/// targets [batch]].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CrossEntropyKernel {
    /// -> out [batch].
    Forward { batch: usize, classes: usize, smoothing: f32 },
    /// d loss_row / d logits = softmax - eps / C - (1 - eps) one_hot(target) -> out [batch, classes].
    Backward { batch: usize, classes: usize, smoothing: f32 },
}

impl Kernel for CrossEntropyKernel {
    fn name(&self) -> &'static str {
        match self {
            CrossEntropyKernel::Forward { .. } => "softmax_xent",
            CrossEntropyKernel::Backward { .. } => "softmax_xent_backward",
        }
    }

    fn shader(&self) -> &'static Shader {
        &SHADER
    }

    fn params(&self) -> Vec<u8> {
        let (batch, classes, smoothing) = self.dims();
        super::bytes(Params { batch: batch as u32, classes: classes as u32, smoothing })
    }

    fn workgroups(&self) -> [u32; 3] {
        // One workgroup per row (cross_entropy keeps batches within the 65535 limit).
        [self.dims().0 as u32, 1, 1]
    }

    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let (_, classes, smoothing) = self.dims();
        match self {
            CrossEntropyKernel::Forward { .. } => cpu::cross_entropy(inputs[0], inputs[1], outputs[0], classes, smoothing),
            CrossEntropyKernel::Backward { .. } => cpu::cross_entropy_backward(inputs[0], inputs[1], outputs[0], classes, smoothing),
        }
    }
}

impl CrossEntropyKernel {
    fn dims(&self) -> (usize, usize, f32) {
        let (CrossEntropyKernel::Forward { batch, classes, smoothing } | CrossEntropyKernel::Backward { batch, classes, smoothing }) =
            *self;
        (batch, classes, smoothing)
    }
}

/// Per-row losses of logits against targets (which get no gradient), recorded.
struct CrossEntropy {
    logits: Tensor,
    targets: Tensor,
    smoothing: f32,
}

impl Derivative for CrossEntropy {
    fn inputs(&self) -> Vec<&Tensor> {
        vec![&self.logits]
    }

    // d loss_b / d logits_b = softmax - smoothed one-hot (`CrossEntropyKernel::Backward`), scaled
    // by each row's incoming g.
    fn backward(&self, _y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let CrossEntropy { logits, targets, smoothing } = self;
        let (batch, classes) = (logits.shape()[0], logits.shape()[1]);
        let kernel = CrossEntropyKernel::Backward { batch, classes, smoothing: *smoothing };
        let per_row = logits.run_kernel(&kernel, &[logits, targets], logits.shape().to_vec(), None)?;
        Ok(vec![Some(per_row.mul(&g.reshape(&[batch, 1])?)?)])
    }
}

impl Tensor {
    /// softmax(x) = exp(x - m) / sum exp(x - m) along `axis`, with m = max(x): a constant shift
    /// (the result does not depend on it) that keeps exp from overflowing, so taken outside the graph.
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
            return Err(Error::shape(
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
        let kernel = CrossEntropyKernel::Forward { batch: s[0], classes: s[1], smoothing: label_smoothing };
        let op = record(CrossEntropy { logits: self.clone(), targets: targets.clone(), smoothing: label_smoothing });
        self.run_kernel(&kernel, &[self, targets], vec![s[0]], op)
    }

    /// Mean cross-entropy over the batch (PyTorch's default reduction).
    pub fn cross_entropy(&self, targets: &Tensor, label_smoothing: f32) -> Result<Tensor> {
        self.cross_entropy_per_item(targets, label_smoothing)?.mean()
    }

    /// Class labels as the f32 index tensor cross-entropy reads, each checked against the number
    /// of classes.
    pub fn class_indices(labels: &[u32], classes: usize, device: &crate::Device) -> Result<Tensor> {
        if let Some(bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(Error::new("class_indices", format!("label {bad} is outside the {classes} classes")));
        }
        Tensor::from_slice(&labels.iter().map(|&l| l as f32).collect::<Vec<_>>(), &[labels.len()], device)
    }
}
