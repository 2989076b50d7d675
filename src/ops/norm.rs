//! Batch normalisation and dropout, composed from primitives (their gradients come for free).

use crate::error::{Error, Result};
use crate::rng::Pcg32;
use crate::shape::show;
use crate::tensor::{no_grad, Tensor};

/// The settings PyTorch's BatchNorm uses by default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    /// Weight of the new batch statistics in the running averages.
    pub momentum: f32,
    pub eps: f32,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig { momentum: 0.1, eps: 1e-5 }
    }
}

impl Tensor {
    /// Batch normalisation of [N, C] or [N, C, H, W] over every axis but the channel axis:
    /// y = (x - mean) / sqrt(var + eps) * weight + bias.
    /// Training: batch mean and biased variance, and the running statistics move towards them
    /// (running = (1 - momentum) running + momentum batch, with the unbiased variance, as PyTorch).
    /// Evaluation: the running statistics.
    pub fn batch_norm(
        &self,
        weight: &Tensor,
        bias: &Tensor,
        running_mean: &Tensor,
        running_var: &Tensor,
        training: bool,
        config: BatchNormConfig,
    ) -> Result<Tensor> {
        let s = self.shape();
        if !(s.len() == 2 || s.len() == 4) {
            return Err(Error::new("batch_norm", format!("needs [N, C] or [N, C, H, W], got {}", show(s))));
        }
        let channels = s[1];
        for (name, t) in [("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)] {
            if t.shape() != [channels] {
                return Err(Error::new(
                    "batch_norm",
                    format!("{name} has shape {}, expected [{channels}] for input {}", show(t.shape()), show(s)),
                ));
            }
        }
        // View as [N, C, L] so one broadcast shape [1, C, 1] serves both layouts.
        let spatial = if s.len() == 4 { s[2] * s[3] } else { 1 };
        let x = self.reshape(&[s[0], channels, spatial])?;
        let per_channel = |t: &Tensor| t.reshape(&[1, channels, 1]);
        let y = if training {
            let count = s[0] * spatial;
            if count < 2 {
                return Err(Error::new("batch_norm", format!("training needs more than one value per channel, got input {}", show(s))));
            }
            let channel_mean = |t: &Tensor| t.sum_axis(0, true)?.sum_axis(2, true)?.mul_scalar(1.0 / count as f32);
            let mean = channel_mean(&x)?;
            let centered = x.sub(&mean)?;
            let var = channel_mean(&centered.pow(2.0)?)?;
            no_grad(|| -> Result<()> {
                let m = config.momentum;
                let unbiased = var.mul_scalar(count as f32 / (count - 1) as f32)?.reshape(&[channels])?;
                running_mean.assign(&running_mean.mul_scalar(1.0 - m)?.add(&mean.reshape(&[channels])?.mul_scalar(m)?)?)?;
                running_var.assign(&running_var.mul_scalar(1.0 - m)?.add(&unbiased.mul_scalar(m)?)?)
            })?;
            centered.mul(&var.add_scalar(config.eps)?.pow(-0.5)?)?.mul(&per_channel(weight)?)?.add(&per_channel(bias)?)?
        } else {
            // y = x * scale + shift with scale = weight / sqrt(running_var + eps) and
            // shift = bias - running_mean * scale: two passes over x instead of four.
            let scale = weight.mul(&running_var.add_scalar(config.eps)?.pow(-0.5)?)?;
            let shift = bias.sub(&running_mean.mul(&scale)?)?;
            x.mul(&per_channel(&scale)?)?.add(&per_channel(&shift)?)?
        };
        y.reshape(s)
    }

    /// Inverted dropout: in training each element is zeroed with probability p and the rest are
    /// scaled by 1 / (1 - p), from a seeded generator (the same mask on every backend); in
    /// evaluation the input passes unchanged.
    pub fn dropout(&self, p: f32, training: bool, seed: u64) -> Result<Tensor> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::new("dropout", format!("p must be in [0, 1), got {p}")));
        }
        if !training || p == 0.0 {
            return Ok(self.clone());
        }
        let mut rng = Pcg32::new(seed);
        let keep = 1.0 / (1.0 - p);
        let mask: Vec<f32> = (0..self.numel()).map(|_| if rng.uniform() < p { 0.0 } else { keep }).collect();
        self.mul(&Tensor::from_slice(&mask, self.shape(), self.device())?)
    }
}
