//! Batch normalisation (each mode one fused primitive) and dropout.
//! Kernels: shaders/norm.wgsl (training) and shaders/norm_eval.wgsl; the fast CPU path is in cpu.rs.

mod cpu;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod reference;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod tests;

use std::rc::Rc;

use crate::autograd::{record, wanted, Derivative};
use crate::backend::{linear_groups, Kernel, Shader, Storage};
use crate::error::{Error, Result};
use crate::ops::reduce::threads_per_output;
use crate::rng::Pcg32;
use crate::shape::show;
use crate::tensor::Tensor;

pub static SHADER: Shader =
    Shader { name: "norm", source: concat!(include_str!("../../../shaders/norm_params.wgsl"), include_str!("../../../shaders/norm.wgsl")) };
pub static EVAL_SHADER: Shader = Shader {
    name: "norm_eval",
    source: concat!(include_str!("../../../shaders/norm_params.wgsl"), include_str!("../../../shaders/norm_eval.wgsl")),
};
pub static FOLD_SHADER: Shader = Shader {
    name: "norm_fold",
    source: concat!(include_str!("../../../shaders/norm_params.wgsl"), include_str!("../../../shaders/norm_fold.wgsl")),
};

crate::params_struct! {
    /// x viewed as [batch, channels, len]; eps and momentum only forward; relu6 1 or 0; `group`
    /// threads share each channel (`threads_per_output`).
    Params { batch: u32, channels: u32, len: u32, eps: f32, momentum: f32, relu6: u32, group: u32 }
}

/// Training-mode batch normalisation of x viewed as [N, C, L] (L = H W, or 1 for BatchNorm1d),
/// over every axis but the channel axis: channel c's M = N L values; then ReLU6 when `relu6`
/// (MobileNetV2 applies it right after most of its batch norms: one dispatch instead of two, each
/// way).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NormKernel {
    /// Inputs [x, weight [C], bias [C]]; outputs [running mean [C], running var [C], y, saved [4, C]],
    /// the running statistics updated in place (PyTorch's formula, m = momentum):
    ///   mean = Σ x / M,  var = Σ (x - mean)² / M (biased),  inv_std = 1 / sqrt(var + eps),
    ///   scale = weight inv_std,  z = (x - mean) scale + bias,  y = z (relu6: min(max(z, 0), 6)),
    ///   saved[.., c] = (mean, inv_std, scale, bias): what backward needs;
    ///   running mean = (1 - m) running mean + m mean,
    ///   running var = (1 - m) running var + m Σ (x - mean)² / (M - 1) (the unbiased variance).
    Forward { batch: usize, channels: usize, len: usize, eps: f32, momentum: f32, relu6: bool },
    /// Inputs [x, g = d loss / d y, saved]; outputs [d weight [C], d bias [C]], then d x when
    /// `input_grad`. With x̂ = (x - mean) inv_std, so that y = x̂ weight + bias:
    ///   d bias = Σ g,  d weight = Σ g x̂,
    ///   d x = weight inv_std / M (M g - Σ g - x̂ Σ g x̂)
    ///       = scale g - k (x - mean) - scale Σ g / M,  with k = scale inv_std Σ g x̂ / M
    /// (each x also moves its channel's mean and variance: the two sums in d x). After relu6, g
    /// first becomes d loss / d z: g where 0 < z < 6 (z recomputed from x and saved), else 0.
    Backward { batch: usize, channels: usize, len: usize, input_grad: bool, relu6: bool },
    /// Evaluation mode, the running statistics folded into one scale and shift per channel:
    /// inputs [x, scale [C], shift [C]]; output y = x scale + shift (relu6: min(max(., 0), 6)).
    /// One pass over x where a multiply, an add and a clamp took three (and allocated three).
    Evaluate { batch: usize, channels: usize, len: usize, relu6: bool },
    /// Evaluation mode folded into the convolution before it (inference's conv + batch norm in
    /// one kernel), with scale = weight / sqrt(running_var + eps): inputs [conv weight [C, len],
    /// weight, bias, running_mean, running_var]; output [conv weight scale (per row c), then
    /// bias - running_mean scale].
    Fold { channels: usize, len: usize, eps: f32 },
}

impl Kernel for NormKernel {
    fn name(&self) -> &'static str {
        match self {
            NormKernel::Forward { .. } => "batch_norm",
            NormKernel::Backward { input_grad: true, .. } => "batch_norm_backward",
            NormKernel::Backward { input_grad: false, .. } => "batch_norm_backward_params",
            NormKernel::Evaluate { .. } => "batch_norm_eval",
            NormKernel::Fold { .. } => "batch_norm_fold",
        }
    }

    fn shader(&self) -> &'static Shader {
        match self {
            NormKernel::Evaluate { .. } => &EVAL_SHADER,
            NormKernel::Fold { .. } => &FOLD_SHADER,
            _ => &SHADER,
        }
    }

    fn params(&self) -> Vec<u8> {
        let [batch, channels, len] = self.dims();
        let relu6 = match *self {
            NormKernel::Forward { relu6, .. } | NormKernel::Backward { relu6, .. } | NormKernel::Evaluate { relu6, .. } => relu6,
            NormKernel::Fold { .. } => false,
        };
        let (eps, momentum) = match *self {
            NormKernel::Forward { eps, momentum, .. } => (eps, momentum),
            NormKernel::Fold { eps, .. } => (eps, 0.0),
            _ => (0.0, 0.0),
        };
        let group = self.threads_per_channel() as u32;
        let (batch, channels, len, relu6) = (batch as u32, channels as u32, len as u32, relu6 as u32);
        super::bytes(Params { batch, channels, len, eps, momentum, relu6, group })
    }

    fn workgroups(&self) -> [u32; 3] {
        let [batch, channels, len] = self.dims();
        match self {
            NormKernel::Evaluate { .. } => linear_groups(batch * channels * len), // a thread per element
            NormKernel::Fold { .. } => linear_groups(channels * len + channels),  // a thread per number written
            _ => linear_groups(channels * self.threads_per_channel()),
        }
    }

    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        match *self {
            NormKernel::Forward { batch, channels, len, eps, momentum, relu6 } => {
                let [running_mean, running_var, y, saved] = outputs else {
                    unreachable!("batch_norm writes the running statistics, y and the saved statistics")
                };
                cpu::batch_norm(inputs, [eps, momentum], relu6, [running_mean, running_var, y, saved], [batch, channels, len])
            }
            NormKernel::Backward { batch, channels, len, relu6, .. } => {
                let (d_weight, d_bias, dx) = match outputs {
                    [d_weight, d_bias] => (d_weight, d_bias, None),
                    [d_weight, d_bias, dx] => (d_weight, d_bias, Some(&mut **dx)),
                    _ => unreachable!("batch_norm_backward writes d weight, d bias and maybe d x"),
                };
                cpu::batch_norm_backward(inputs, relu6, [d_weight, d_bias], dx, [batch, channels, len])
            }
            NormKernel::Evaluate { relu6, .. } => cpu::batch_norm_eval(inputs, relu6, outputs[0], self.dims()),
            NormKernel::Fold { channels, len, eps } => cpu::batch_norm_fold(inputs, eps, outputs[0], [1, channels, len]),
        }
    }
}

impl NormKernel {
    /// [N, C, L]: the view of x every variant works on (for `Fold`, of the convolution's weight).
    fn dims(&self) -> [usize; 3] {
        match *self {
            NormKernel::Forward { batch, channels, len, .. }
            | NormKernel::Backward { batch, channels, len, .. }
            | NormKernel::Evaluate { batch, channels, len, .. } => [batch, channels, len],
            // The convolution's weight [C, len], one row per channel.
            NormKernel::Fold { channels, len, .. } => [1, channels, len],
        }
    }

    /// Threads sharing one channel's M = N L values, as a reduction's threads share an output:
    /// one with a serial loop and no barrier when M is small or the channels alone fill the
    /// device, up to a workgroup combining partial sums in a barrier tree when M is large.
    fn threads_per_channel(&self) -> usize {
        let [batch, channels, len] = self.dims();
        threads_per_output(channels, batch * len)
    }
}

/// Training-mode y = batch_norm(x, weight, bias) (then relu6), recorded with the statistics its
/// forward kernel saved (which get no gradient).
struct BatchNorm {
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    saved: Tensor,
    relu6: bool,
}

impl Derivative for BatchNorm {
    fn inputs(&self) -> Vec<&Tensor> {
        vec![&self.x, &self.weight, &self.bias]
    }

    // One fused kernel computes all three (the formulas: `NormKernel::Backward`); d x only when x
    // needs it.
    fn backward(&self, _y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let BatchNorm { x, weight, bias, saved, relu6 } = self;
        let (d_weight, d_bias, dx) = x.batch_norm_backward(g, saved, x.requires_grad(), *relu6)?;
        Ok(vec![dx, weight.requires_grad().then_some(d_weight), bias.requires_grad().then_some(d_bias)])
    }
}

/// Evaluation-mode y = x scale + shift per channel (then relu6), x viewed as [N, C, L].
struct BatchNormEval {
    x: Tensor,
    scale: Tensor,
    shift: Tensor,
    relu6: bool,
}

impl Derivative for BatchNormEval {
    fn inputs(&self) -> Vec<&Tensor> {
        vec![&self.x, &self.scale, &self.shift]
    }

    fn backward(&self, y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let BatchNormEval { x, scale, shift, relu6 } = self;
        let channels = scale.numel();
        // Through relu6 first: y = clamp(z, 0, 6) lies strictly inside (0, 6) exactly where z
        // does, so y marks where d y / d z = 1.
        let g = if *relu6 { y.clamp_backward(0.0, 6.0, g)? } else { g.clone() };
        let per_channel_sum = |t: Tensor| t.sum_to_shape(&[1, channels, 1])?.reshape(&[channels]);
        Ok(vec![
            wanted(x, || g.mul(&scale.reshape(&[1, channels, 1])?))?, // d y / d x = scale[c]
            wanted(scale, || per_channel_sum(g.mul(x)?))?,            // d y / d scale[c] = x
            wanted(shift, || per_channel_sum(g.clone()))?,            // d y / d shift[c] = 1
        ])
    }
}

/// The settings PyTorch's BatchNorm uses by default, and whether ReLU6 follows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    /// Weight of the new batch statistics in the running averages.
    pub momentum: f32,
    pub eps: f32,
    /// Apply ReLU6 to the output (fused into the training kernels); false by default.
    pub relu6: bool,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig { momentum: 0.1, eps: 1e-5, relu6: false }
    }
}

impl Tensor {
    /// Batch normalisation of [N, C] or [N, C, H, W] over every axis but the channel axis:
    /// y = (x - mean) / sqrt(var + eps) * weight + bias.
    /// Training: batch mean and biased variance, and the running statistics move towards them
    /// (running = (1 - momentum) running + momentum batch, with the unbiased variance, as PyTorch).
    /// Evaluation: the running statistics. Then ReLU6 when `config.relu6`.
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
            return Err(Error::shape("batch_norm", format!("needs [N, C] or [N, C, H, W], got {}", show(s))));
        }
        let channels = s[1];
        for (name, t) in [("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)] {
            self.check_same("batch_norm", t)?;
            if t.shape() != [channels] {
                return Err(Error::shape(
                    "batch_norm",
                    format!("{name} has shape {}, expected [{channels}] for input {}", show(t.shape()), show(s)),
                ));
            }
        }
        let spatial = if s.len() == 4 { s[2] * s[3] } else { 1 };
        let count = s[0] * spatial;
        if !training {
            // y = x scale + shift with scale = weight / sqrt(running_var + eps) and
            // shift = bias - running_mean scale (C numbers each), then one pass over x, viewed
            // as [N, C, L] so that one kernel serves both layouts.
            let scale = weight.mul(&running_var.add_scalar(config.eps)?.pow(-0.5)?)?;
            let shift = bias.sub(&running_mean.mul(&scale)?)?;
            let x = self.reshape(&[s[0], channels, spatial])?;
            let kernel = NormKernel::Evaluate { batch: s[0], channels, len: spatial, relu6: config.relu6 };
            let op = record(BatchNormEval { x: x.clone(), scale: scale.clone(), shift: shift.clone(), relu6: config.relu6 });
            return x.run_kernel(&kernel, &[&x, &scale, &shift], x.shape().to_vec(), op)?.reshape(s);
        }
        if count < 2 {
            return Err(Error::new("batch_norm", format!("training needs more than one value per channel, got input {}", show(s))));
        }
        // The kernel updates the running statistics in place: they must not share numbers with
        // each other or with an input.
        let [mean_storage, var_storage] = [running_mean.storage(), running_var.storage()];
        let shares = |t: &&Tensor| [&mean_storage, &var_storage].into_iter().any(|s| Rc::ptr_eq(s, &t.storage()));
        if Rc::ptr_eq(&mean_storage, &var_storage) || [self, weight, bias].iter().any(shares) {
            return Err(Error::new("batch_norm", "the running statistics must be tensors of their own (they are updated in place)"));
        }
        // One fused kernel: statistics, y and the running statistics in one dispatch.
        let BatchNormConfig { momentum, eps, relu6 } = config;
        let kernel = NormKernel::Forward { batch: s[0], channels, len: spatial, eps, momentum, relu6 };
        let device = self.device();
        let (y, saved) = (device.alloc(self.numel())?, device.alloc(4 * channels)?);
        let inputs = [self.storage(), weight.storage(), bias.storage()];
        device.run(&kernel, &inputs.iter().map(|s| s.as_ref()).collect::<Vec<_>>(), &[&mean_storage, &var_storage, &y, &saved])?;
        let saved = Tensor::from_op(vec![4, channels], device, saved, None);
        let op = record(BatchNorm { x: self.clone(), weight: weight.clone(), bias: bias.clone(), saved, relu6 });
        Ok(Tensor::from_op(s.to_vec(), device, y, op))
    }

    /// Evaluation-mode batch norm folded into the convolution weight self [C, ...] that feeds it:
    /// [self's numbers, channel c's scaled by weight[c] / sqrt(running_var[c] + eps), then the C
    /// shifts bias - running_mean scale] (`NormKernel::Fold`), for `conv2d_folded`. Inference
    /// only: it records nothing.
    pub(crate) fn fold_batch_norm(&self, norm: [&Tensor; 4], eps: f32) -> Result<Tensor> {
        let channels = self.shape().first().copied().unwrap_or(0);
        for t in norm {
            self.check_same("batch_norm", t)?;
            if t.shape() != [channels] {
                return Err(Error::shape(
                    "batch_norm",
                    format!(
                        "expected [{channels}] per-channel numbers for the convolution weight {}, got {}",
                        show(self.shape()),
                        show(t.shape())
                    ),
                ));
            }
        }
        let kernel = NormKernel::Fold { channels, len: self.numel() / channels.max(1), eps };
        let [weight, bias, running_mean, running_var] = norm;
        self.run_kernel(&kernel, &[self, weight, bias, running_mean, running_var], vec![self.numel() + channels], None)
    }

    /// The gradients of training-mode batch norm given g = d loss / d y and the statistics its
    /// forward kernel saved (`relu6`: g is d loss / d relu6(z)): (d weight, d bias, d x when
    /// `input_grad`).
    pub(crate) fn batch_norm_backward(
        &self,
        g: &Tensor,
        saved: &Tensor,
        input_grad: bool,
        relu6: bool,
    ) -> Result<(Tensor, Tensor, Option<Tensor>)> {
        let s = self.shape();
        let (channels, spatial) = (s[1], s[2..].iter().product());
        let kernel = NormKernel::Backward { batch: s[0], channels, len: spatial, input_grad, relu6 };
        let lens: &[usize] = if input_grad { &[channels, channels, self.numel()] } else { &[channels, channels] };
        let mut outs = self.launch(&kernel, &[self, g, saved], lens)?.into_iter();
        let tensor = |storage: Storage, shape: &[usize]| Tensor::from_op(shape.to_vec(), self.device(), storage, None);
        let d_weight = tensor(outs.next().expect("d weight"), &[channels]);
        let d_bias = tensor(outs.next().expect("d bias"), &[channels]);
        Ok((d_weight, d_bias, outs.next().map(|dx| tensor(dx, s))))
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
