//! torchvision's MobileNetV2 (width 1.0), with exactly torchvision's module structure and
//! parameter names, so its ImageNet state dict loads by name.

use std::rc::Rc;

use super::layers::{kaiming_normal, BatchNorm, Conv2d, Dropout, Linear, Sequential};
use super::onnx::{Graph, Value};
use super::{child_name, Module, NamedTensor};
use crate::backend::Device;
use crate::error::Result;
use crate::rng::Pcg32;
use crate::tensor::Tensor;

/// (expansion t, output channels c, repeats n, first stride s) of the inverted residual stages.
const STAGES: [(usize, usize, usize, usize); 7] =
    [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];
const STEM_CHANNELS: usize = 32;
const LAST_CHANNELS: usize = 1280;

/// torchvision's ConvBNActivation: Sequential(conv "0", batch norm "1", ReLU6 "2"), the ReLU6
/// fused into the batch norm (one kernel each way when training; "2" has no tensors, so the
/// names stay torchvision's). Convolutions get torchvision's initialisation, kaiming-normal over
/// fan-out.
fn conv_bn_relu6(
    inp: usize,
    out: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
    device: &Device,
    rng: &mut Pcg32,
) -> Result<Sequential> {
    let mut norm = BatchNorm::new(out, device)?;
    norm.config.relu6 = true;
    Ok(Sequential::new(vec![Rc::new(conv(inp, out, kernel, stride, groups, device, rng)?), Rc::new(norm)]))
}

fn conv(inp: usize, out: usize, kernel: usize, stride: usize, groups: usize, device: &Device, rng: &mut Pcg32) -> Result<Conv2d> {
    let weight = kaiming_normal(&[out, inp / groups, kernel, kernel], out * kernel * kernel, device, rng)?;
    Ok(Conv2d { weight, bias: None, stride, padding: (kernel - 1) / 2, groups })
}

/// Expand (1x1, unless t = 1), filter (3x3 depthwise), project (1x1, no activation); the input is
/// added back when the shape is unchanged. Children live under "conv", as in torchvision.
pub struct InvertedResidual {
    conv: Sequential,
    residual: bool,
}

impl InvertedResidual {
    fn new(inp: usize, out: usize, stride: usize, expansion: usize, device: &Device, rng: &mut Pcg32) -> Result<Self> {
        let hidden = inp * expansion;
        let mut layers: Vec<Rc<dyn Module>> = Vec::new();
        if expansion != 1 {
            layers.push(Rc::new(conv_bn_relu6(inp, hidden, 1, 1, 1, device, rng)?));
        }
        layers.push(Rc::new(conv_bn_relu6(hidden, hidden, 3, stride, hidden, device, rng)?));
        layers.push(Rc::new(conv(hidden, out, 1, 1, 1, device, rng)?));
        layers.push(Rc::new(BatchNorm::new(out, device)?));
        Ok(InvertedResidual { conv: Sequential::new(layers), residual: stride == 1 && inp == out })
    }
}

impl Module for InvertedResidual {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.conv.forward(x)?;
        if self.residual {
            x.add(&y)
        } else {
            Ok(y)
        }
    }

    fn collect_tensors(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        self.conv.collect_tensors(&child_name(prefix, "conv"), out);
    }

    fn set_training(&self, training: bool) {
        self.conv.set_training(training);
    }

    fn onnx(&self, prefix: &str, graph: &mut Graph, x: Value) -> Result<Value> {
        let y = self.conv.onnx(&child_name(prefix, "conv"), graph, x.clone())?;
        if self.residual {
            graph.add(prefix, x, y)
        } else {
            Ok(y)
        }
    }
}

pub struct MobileNetV2 {
    /// features.0 (stem) .. features.18 (1x1 to 1280 channels).
    pub features: Sequential,
    /// classifier.0 Dropout(0.2), classifier.1 Linear(1280, classes).
    pub classifier: Sequential,
}

/// torchvision's `mobilenet_v2(num_classes=...)` with its random initialisation (seeded).
pub fn mobilenet_v2(num_classes: usize, device: &Device, seed: u64) -> Result<MobileNetV2> {
    let mut rng = Pcg32::new(seed);
    let mut features: Vec<Rc<dyn Module>> = vec![Rc::new(conv_bn_relu6(3, STEM_CHANNELS, 3, 2, 1, device, &mut rng)?)];
    let mut channels = STEM_CHANNELS;
    for (expansion, out, repeats, first_stride) in STAGES {
        for i in 0..repeats {
            let stride = if i == 0 { first_stride } else { 1 };
            features.push(Rc::new(InvertedResidual::new(channels, out, stride, expansion, device, &mut rng)?));
            channels = out;
        }
    }
    features.push(Rc::new(conv_bn_relu6(channels, LAST_CHANNELS, 1, 1, 1, device, &mut rng)?));
    // torchvision: Linear weights N(0, 0.01), bias 0.
    let mut head = Linear::new(LAST_CHANNELS, num_classes, true, device, &mut rng)?;
    let std = 0.01;
    let weights: Vec<f32> = (0..num_classes * LAST_CHANNELS).map(|_| rng.normal() * std).collect();
    head.weight = Tensor::from_slice(&weights, &[num_classes, LAST_CHANNELS], device)?.with_requires_grad(true);
    head.bias = Some(Tensor::zeros(&[num_classes], device)?.with_requires_grad(true));
    Ok(MobileNetV2 {
        features: Sequential::new(features),
        classifier: Sequential::new(vec![Rc::new(Dropout::new(0.2, seed ^ 0x5eed)), Rc::new(head)]),
    })
}

/// The body is split before features.7 (the start of the 64-channel stage, about halfway down).
const LATE_BODY_START: usize = 7;

impl MobileNetV2 {
    /// Parameters in three groups for discriminative learning rates, fastai style: early body
    /// (features.0-6), late body (features.7-18) and head (classifier).
    pub fn layer_groups(&self) -> [Vec<Tensor>; 3] {
        let group = |layers: &[Rc<dyn Module>]| layers.iter().flat_map(|l| l.parameters()).collect::<Vec<_>>();
        let body = &self.features.layers;
        [group(&body[..LATE_BODY_START]), group(&body[LATE_BODY_START..]), self.classifier.parameters()]
    }
}

impl Module for MobileNetV2 {
    /// [N, 3, H, W] normalised images -> [N, classes] logits.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let features = self.features.forward(x)?;
        self.classifier.forward(&features.global_avg_pool()?.flatten()?)
    }

    fn collect_tensors(&self, prefix: &str, out: &mut Vec<NamedTensor>) {
        self.features.collect_tensors(&child_name(prefix, "features"), out);
        self.classifier.collect_tensors(&child_name(prefix, "classifier"), out);
    }

    fn set_training(&self, training: bool) {
        self.features.set_training(training);
        self.classifier.set_training(training);
    }
}
