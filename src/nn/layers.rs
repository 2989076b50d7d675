//! The layers MobileNetV2 and fastai's head are built from.

use std::cell::Cell;
use std::rc::Rc;

use super::onnx::{Graph, Value};
use super::{child_name, Module, NamedTensor, TensorKind};
use crate::backend::Device;
use crate::error::{Error, Result};
use crate::ops::matmul::Epilogue;
use crate::ops::BatchNormConfig;
use crate::rng::Pcg32;
use crate::tensor::{grad_enabled, Tensor};

fn parameter(prefix: &str, name: &str, tensor: &Tensor) -> NamedTensor {
    NamedTensor { name: child_name(prefix, name), tensor: tensor.clone(), kind: TensorKind::Parameter }
}

/// Numbers for initial weights: uniform in [-bound, bound] or normal with standard deviation std.
fn init_tensor(shape: &[usize], device: &Device, rng: &mut Pcg32, sample: impl Fn(&mut Pcg32) -> f32) -> Result<Tensor> {
    let data: Vec<f32> = (0..shape.iter().product::<usize>()).map(|_| sample(rng)).collect();
    Ok(Tensor::from_slice(&data, shape, device)?.with_requires_grad(true))
}

/// Kaiming-normal initialisation for ReLU networks: N(0, 2 / fan), fan = fan_in or fan_out.
pub(crate) fn kaiming_normal(shape: &[usize], fan: usize, device: &Device, rng: &mut Pcg32) -> Result<Tensor> {
    let std = (2.0 / fan as f32).sqrt();
    init_tensor(shape, device, rng, |r| r.normal() * std)
}

/// PyTorch's default for Conv2d and Linear weights: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
fn default_uniform(shape: &[usize], fan_in: usize, device: &Device, rng: &mut Pcg32) -> Result<Tensor> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    init_tensor(shape, device, rng, |r| (r.uniform() * 2.0 - 1.0) * bound)
}

pub struct Conv2d {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub stride: usize,
    pub padding: usize,
    pub groups: usize,
}

impl Conv2d {
    /// A k x k convolution, PyTorch's default initialisation. Stride and groups must be at least 1,
    /// and groups must divide both channel counts.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        groups: usize,
        bias: bool,
        device: &Device,
        rng: &mut Pcg32,
    ) -> Result<Self> {
        if stride == 0 || groups == 0 {
            return Err(Error::new("Conv2d", format!("stride and groups must be at least 1, got stride {stride}, groups {groups}")));
        }
        if !in_channels.is_multiple_of(groups) || !out_channels.is_multiple_of(groups) {
            let detail = format!("groups = {groups} must divide inChannels = {in_channels} and outChannels = {out_channels}");
            return Err(Error::new("Conv2d", detail));
        }
        let fan_in = in_channels / groups * kernel * kernel;
        let weight = default_uniform(&[out_channels, in_channels / groups, kernel, kernel], fan_in, device, rng)?;
        let bias = if bias { Some(default_uniform(&[out_channels], fan_in, device, rng)?) } else { None };
        Ok(Conv2d { weight, bias, stride, padding, groups })
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.conv2d(&self.weight, (self.stride, self.stride), (self.padding, self.padding), self.groups)?;
        match &self.bias {
            Some(bias) => y.add(&bias.reshape(&[bias.numel(), 1, 1])?),
            None => Ok(y),
        }
    }

    fn collect_tensors(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        out.push(parameter(prefix, "weight", &self.weight));
        if let Some(bias) = &self.bias {
            out.push(parameter(prefix, "bias", bias));
        }
    }

    fn set_training(&self, _training: bool) {}

    fn onnx(&self, prefix: &str, graph: &mut Graph, x: Value) -> Result<Value> {
        graph.conv(prefix, x, self)
    }

    fn as_conv2d(&self) -> Option<&Conv2d> {
        Some(self)
    }
}

/// Inference's convolution + batch norm (+ ReLU6) as two small dispatches where it took seven: the
/// norm folded into the convolution's weights and a bias (`Tensor::fold_batch_norm`, C numbers
/// per dispatch), then one convolution kernel that adds the bias and clamps as it writes. None
/// when the pair must run as it is: a convolution with a bias of its own, a norm in training
/// mode, or a result that needs its graph (gradients of an evaluation-mode network).
fn conv_then_norm(conv: &Conv2d, norm: &BatchNorm, x: &Tensor) -> Option<Result<Tensor>> {
    let graph = grad_enabled() && [x, &conv.weight, &norm.weight, &norm.bias].iter().any(|t| t.requires_grad());
    if conv.bias.is_some() || norm.training.get() || graph {
        return None;
    }
    let epilogue = if norm.config.relu6 { Epilogue::BiasRelu6 } else { Epilogue::Bias };
    let folded = match conv.weight.fold_batch_norm([&norm.weight, &norm.bias, &norm.running_mean, &norm.running_var], norm.config.eps) {
        Ok(folded) => folded,
        Err(e) => return Some(Err(e)),
    };
    let geometry = ((conv.stride, conv.stride), (conv.padding, conv.padding), conv.groups);
    Some(x.conv2d_folded(&folded, conv.weight.shape(), geometry, epilogue))
}

/// BatchNorm1d and BatchNorm2d (the input's rank decides): weight 1, bias 0, running mean 0 and
/// running variance 1 to start, as PyTorch; `config.relu6` fuses a following ReLU6.
pub struct BatchNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub running_mean: Tensor,
    pub running_var: Tensor,
    pub config: BatchNormConfig,
    training: Cell<bool>,
}

impl BatchNorm {
    pub fn new(channels: usize, device: &Device) -> Result<Self> {
        Ok(BatchNorm {
            weight: Tensor::ones(&[channels], device)?.with_requires_grad(true),
            bias: Tensor::zeros(&[channels], device)?.with_requires_grad(true),
            running_mean: Tensor::zeros(&[channels], device)?,
            running_var: Tensor::ones(&[channels], device)?,
            config: BatchNormConfig::default(),
            training: Cell::new(true),
        })
    }
}

impl Module for BatchNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.batch_norm(&self.weight, &self.bias, &self.running_mean, &self.running_var, self.training.get(), self.config)
    }

    fn collect_tensors(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        out.push(parameter(prefix, "weight", &self.weight));
        out.push(parameter(prefix, "bias", &self.bias));
        for (name, tensor) in [("running_mean", &self.running_mean), ("running_var", &self.running_var)] {
            out.push(NamedTensor { name: child_name(prefix, name), tensor: tensor.clone(), kind: TensorKind::Buffer });
        }
    }

    fn set_training(&self, training: bool) {
        self.training.set(training);
    }

    fn onnx(&self, prefix: &str, graph: &mut Graph, x: Value) -> Result<Value> {
        graph.batch_norm(prefix, x, self)
    }

    fn as_batch_norm(&self) -> Option<&BatchNorm> {
        Some(self)
    }
}

pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    /// PyTorch's default initialisation.
    pub fn new(in_features: usize, out_features: usize, bias: bool, device: &Device, rng: &mut Pcg32) -> Result<Self> {
        let weight = default_uniform(&[out_features, in_features], in_features, device, rng)?;
        let bias = if bias { Some(default_uniform(&[out_features], in_features, device, rng)?) } else { None };
        Ok(Linear { weight, bias })
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.linear(&self.weight, self.bias.as_ref())
    }

    fn collect_tensors(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        out.push(parameter(prefix, "weight", &self.weight));
        if let Some(bias) = &self.bias {
            out.push(parameter(prefix, "bias", bias));
        }
    }

    fn set_training(&self, _training: bool) {}

    fn onnx(&self, prefix: &str, graph: &mut Graph, x: Value) -> Result<Value> {
        graph.linear(prefix, x, self)
    }
}

/// Parameter-free layers.
pub enum Stateless {
    Relu,
    Relu6,
    /// fastai's AdaptiveConcatPool2d: [max, avg] over each channel's image -> [N, 2C, 1, 1].
    AdaptiveConcatPool,
    /// [N, ...] -> [N, product of the rest].
    Flatten,
}

impl Module for Stateless {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Stateless::Relu => x.relu(),
            Stateless::Relu6 => x.relu6(),
            Stateless::AdaptiveConcatPool => x.adaptive_concat_pool(),
            Stateless::Flatten => x.flatten(),
        }
    }

    fn collect_tensors(&self, _prefix: &str, _out: &mut Vec<NamedTensor>) {}

    fn set_training(&self, _training: bool) {}

    fn onnx(&self, prefix: &str, graph: &mut Graph, x: Value) -> Result<Value> {
        Ok(match self {
            Stateless::Relu => graph.relu(prefix, x),
            Stateless::Relu6 => graph.relu6(prefix, x),
            Stateless::AdaptiveConcatPool => graph.concat_pool(prefix, x)?,
            Stateless::Flatten => graph.flatten(prefix, x),
        })
    }
}

/// Zeroes activations with probability p while training; each forward pass draws a new mask from
/// a seeded sequence, so runs repeat exactly.
pub struct Dropout {
    pub p: f32,
    training: Cell<bool>,
    next_seed: Cell<u64>,
}

impl Dropout {
    pub fn new(p: f32, seed: u64) -> Self {
        Dropout { p, training: Cell::new(true), next_seed: Cell::new(seed) }
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let seed = self.next_seed.get();
        self.next_seed.set(seed.wrapping_add(1));
        x.dropout(self.p, self.training.get(), seed)
    }

    fn collect_tensors(&self, _prefix: &str, _out: &mut Vec<NamedTensor>) {}

    fn set_training(&self, training: bool) {
        self.training.set(training);
    }

    /// Evaluation mode passes everything through: no node.
    fn onnx(&self, _prefix: &str, _graph: &mut Graph, x: Value) -> Result<Value> {
        Ok(x)
    }
}

/// Children run in order, named "0", "1", ... as in PyTorch's nn.Sequential. Cloning shares
/// the children (a new view of the same layers).
#[derive(Clone, Default)]
pub struct Sequential {
    pub layers: Vec<Rc<dyn Module>>,
}

impl Sequential {
    pub fn new(layers: Vec<Rc<dyn Module>>) -> Self {
        Sequential { layers }
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        let mut layers = self.layers.iter().peekable();
        while let Some(layer) = layers.next() {
            let pair = layer.as_conv2d().zip(layers.peek().and_then(|next| next.as_batch_norm()));
            if let Some(y) = pair.and_then(|(conv, norm)| conv_then_norm(conv, norm, &h)) {
                h = y?;
                layers.next(); // the norm, folded into the convolution
                continue;
            }
            h = layer.forward(&h)?;
        }
        Ok(h)
    }

    fn collect_tensors(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        for (i, layer) in self.layers.iter().enumerate() {
            layer.collect_tensors(&child_name(prefix, &i.to_string()), out);
        }
    }

    fn set_training(&self, training: bool) {
        self.layers.iter().for_each(|layer| layer.set_training(training));
    }

    fn onnx(&self, prefix: &str, graph: &mut Graph, x: Value) -> Result<Value> {
        self.layers.iter().enumerate().try_fold(x, |h, (i, layer)| layer.onnx(&child_name(prefix, &i.to_string()), graph, h))
    }
}
