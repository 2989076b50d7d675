//! The ONNX nodes for kiln's layers in evaluation mode, each checking the shape it is given the
//! way the layer's forward pass would, so a model the export cannot describe is refused with the
//! layer's name rather than written as a file a runtime rejects.

use super::proto::{AttributeProto, ATTRIBUTE_FLOAT, ATTRIBUTE_INT, ATTRIBUTE_INTS};
use super::{unsupported, Graph, Value};
use crate::error::Result;
use crate::nn::{BatchNorm, Conv2d, Linear};
use crate::shape::show;

pub(super) fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: name.into(), i: Some(value), r#type: ATTRIBUTE_INT, ..Default::default() }
}

fn ints(name: &str, values: &[usize]) -> AttributeProto {
    AttributeProto { name: name.into(), ints: values.iter().map(|&v| v as i64).collect(), r#type: ATTRIBUTE_INTS, ..Default::default() }
}

fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto { name: name.into(), f: Some(value), r#type: ATTRIBUTE_FLOAT, ..Default::default() }
}

/// One image's [channels, height, width], or why `layer` cannot take `x`.
fn image_shape(x: &Value, prefix: &str, layer: &str) -> Result<[usize; 3]> {
    match x.shape[..] {
        [c, h, w] => Ok([c, h, w]),
        _ => Err(unsupported(prefix, layer, format!("it needs [channels, height, width] per image, gets {}", show(&x.shape)))),
    }
}

/// A layer's weight of a shape its forward pass would refuse too (the fields are public).
fn weight_error(prefix: &str, layer: &str, shape: &[usize], expected: &str) -> crate::error::Error {
    unsupported(prefix, layer, format!("its weight is {}, not {expected}", show(shape)))
}

impl Graph {
    /// PyTorch's Conv2d: square kernel, the same stride and padding on both axes, groups.
    pub(crate) fn conv(&mut self, prefix: &str, x: Value, conv: &Conv2d) -> Result<Value> {
        let [c, h, w] = image_shape(&x, prefix, "Conv2d")?;
        let (out, per_group, k) = match *conv.weight.shape() {
            [out, per_group, k, k2] if k == k2 => (out, per_group, k),
            _ => return Err(weight_error(prefix, "Conv2d", conv.weight.shape(), "[out, in / groups, k, k]")),
        };
        let (stride, padding, groups) = (conv.stride, conv.padding, conv.groups);
        if c != per_group * groups {
            return Err(unsupported(prefix, "Conv2d", format!("it takes {} channels, gets {c}", per_group * groups)));
        }
        let size = |n: usize| (n + 2 * padding).checked_sub(k).map(|d| d / stride + 1);
        let (Some(oh), Some(ow)) = (size(h), size(w)) else {
            return Err(unsupported(prefix, "Conv2d", format!("its {k}x{k} kernel does not fit a {h}x{w} input: the image is too small")));
        };
        let mut inputs = vec![x.name, self.weight(prefix, "weight", &conv.weight)];
        inputs.extend(conv.bias.as_ref().map(|b| self.weight(prefix, "bias", b)));
        let attributes = vec![
            ints("kernel_shape", &[k, k]),
            ints("strides", &[stride, stride]),
            ints("pads", &[padding; 4]),
            int("group", groups as i64),
        ];
        Ok(self.node(prefix, "Conv", inputs, attributes, vec![out, oh, ow]))
    }

    /// BatchNorm1d ([C] per item) or BatchNorm2d ([C, H, W]) with the running statistics, and
    /// ReLU6 after it where the layer fuses one.
    pub(crate) fn batch_norm(&mut self, prefix: &str, x: Value, norm: &BatchNorm) -> Result<Value> {
        let channels = norm.weight.numel();
        if !matches!(x.shape.len(), 1 | 3) || x.shape[0] != channels {
            let why = format!("it normalises {channels} channels of [C] or [C, H, W] per item, gets {}", show(&x.shape));
            return Err(unsupported(prefix, "BatchNorm", why));
        }
        let shape = x.shape.clone();
        let tensors =
            [("weight", &norm.weight), ("bias", &norm.bias), ("running_mean", &norm.running_mean), ("running_var", &norm.running_var)];
        let inputs = std::iter::once(x.name).chain(tensors.map(|(n, t)| self.weight(prefix, n, t))).collect();
        let y = self.node(prefix, "BatchNormalization", inputs, vec![float("epsilon", norm.config.eps)], shape);
        Ok(if norm.config.relu6 { self.relu6(prefix, y) } else { y })
    }

    /// PyTorch's Linear on one vector per item: Gemm with the [out, in] weight transposed in place.
    pub(crate) fn linear(&mut self, prefix: &str, x: Value, linear: &Linear) -> Result<Value> {
        let &[out, features] = linear.weight.shape() else {
            return Err(weight_error(prefix, "Linear", linear.weight.shape(), "[out, in]"));
        };
        if x.shape != [features] {
            return Err(unsupported(prefix, "Linear", format!("it takes {features} features per item, gets {}", show(&x.shape))));
        }
        let mut inputs = vec![x.name, self.weight(prefix, "weight", &linear.weight)];
        inputs.extend(linear.bias.as_ref().map(|b| self.weight(prefix, "bias", b)));
        Ok(self.node(prefix, "Gemm", inputs, vec![int("transB", 1)], vec![out]))
    }

    pub(crate) fn relu(&mut self, prefix: &str, x: Value) -> Value {
        self.node(prefix, "Relu", vec![x.name], vec![], x.shape)
    }

    /// min(max(x, 0), 6): Clip, its bounds as inputs (opset 11 on).
    pub(crate) fn relu6(&mut self, prefix: &str, x: Value) -> Value {
        let inputs = vec![x.name, self.scalar("relu6_min", 0.0), self.scalar("relu6_max", 6.0)];
        self.node(prefix, "Clip", inputs, vec![], x.shape)
    }

    /// fastai's AdaptiveConcatPool2d: [max, avg] over each channel's image, joined on the channels.
    pub(crate) fn concat_pool(&mut self, prefix: &str, x: Value) -> Result<Value> {
        let [c, _, _] = image_shape(&x, prefix, "AdaptiveConcatPool")?;
        let max = self.node(prefix, "GlobalMaxPool", vec![x.name.clone()], vec![], vec![c, 1, 1]);
        let avg = self.node(prefix, "GlobalAveragePool", vec![x.name], vec![], vec![c, 1, 1]);
        Ok(self.node(prefix, "Concat", vec![max.name, avg.name], vec![int("axis", 1)], vec![2 * c, 1, 1]))
    }

    /// [batch, ...] -> [batch, product of the rest].
    pub(crate) fn flatten(&mut self, prefix: &str, x: Value) -> Value {
        let size = x.shape.iter().product();
        self.node(prefix, "Flatten", vec![x.name], vec![int("axis", 1)], vec![size])
    }

    /// A residual connection: x + y, of the same shape.
    pub(crate) fn add(&mut self, prefix: &str, x: Value, y: Value) -> Result<Value> {
        if x.shape != y.shape {
            return Err(unsupported(prefix, "a residual add", format!("{} + {}", show(&x.shape), show(&y.shape))));
        }
        Ok(self.node(prefix, "Add", vec![x.name, y.name], vec![], x.shape))
    }
}
