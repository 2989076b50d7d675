//! nn layers from JavaScript, named as in PyTorch: `new kiln.Conv2d(3, 16, 3, {stride: 2})`,
//! `new kiln.Sequential([...])`; each has forward, parameters, namedParameters, train and eval.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;

use super::interop::{bad_input, js_error};
use super::options::{self, Conv2dOptions, LinearOptions};
use super::{current, JsTensor};
use crate::nn::{BatchNorm, Conv2d, Dropout, Linear, Module, Sequential, Stateless};
use crate::rng::Pcg32;

thread_local! {
    /// Hand-over slot for `module_from_js`, like the tensors' `__kilnShare`.
    static SHARED_MODULE: RefCell<Option<Rc<dyn Module>>> = const { RefCell::new(None) };
    /// Seeds for new layers' initial weights: a fixed sequence, so pages repeat exactly.
    static NEXT_SEED: RefCell<u64> = const { RefCell::new(1) };
}

fn next_rng() -> Pcg32 {
    NEXT_SEED.with(|s| {
        let seed = *s.borrow();
        *s.borrow_mut() = seed + 1;
        Pcg32::new(seed)
    })
}

/// The Rust module behind a JS layer object, leaving the JS object usable.
fn module_from_js(value: &JsValue) -> Option<Rc<dyn Module>> {
    let share = Reflect::get(value, &"__kilnShareModule".into()).ok()?.dyn_into::<Function>().ok()?;
    share.call0(value).ok()?;
    SHARED_MODULE.with(|s| s.borrow_mut().take())
}

/// A positive whole number from JS, or an error naming the layer and argument.
fn count(layer: &str, name: &str, value: f64) -> Result<usize, JsError> {
    if value >= 1.0 && value.fract() == 0.0 && value <= u32::MAX as f64 {
        Ok(value as usize)
    } else {
        Err(bad_input(layer, format!("{name} must be a positive whole number, got {value}")))
    }
}

/// The methods every JS layer class shares, written once: each class only adds its constructor.
macro_rules! js_layer {
    ($rust:ident, $js:literal, $doc:literal) => {
        #[doc = $doc]
        #[wasm_bindgen(js_name = $js)]
        pub struct $rust {
            module: Rc<dyn Module>,
        }

        #[wasm_bindgen(js_class = $js)]
        impl $rust {
            /// Applies the layer to `x` (training or evaluation mode as set by `train()`/`eval()`).
            pub fn forward(&self, x: &JsTensor) -> Result<JsTensor, JsError> {
                self.module.forward(&x.inner).map(JsTensor::from).map_err(js_error)
            }

            /// The trainable tensors, in PyTorch's order.
            #[wasm_bindgen(unchecked_return_type = "Tensor[]")]
            pub fn parameters(&self) -> Array {
                self.module.parameters().into_iter().map(|t| JsValue::from(JsTensor::from(t))).collect()
            }

            /// Every parameter and buffer as `{name, tensor, trainable}`, with PyTorch's names.
            #[wasm_bindgen(js_name = namedTensors, unchecked_return_type = "{name: string, tensor: Tensor, trainable: boolean}[]")]
            pub fn named_tensors(&self) -> Array {
                self.module
                    .state()
                    .into_iter()
                    .map(|entry| {
                        let object = Object::new();
                        let trainable = entry.kind == crate::nn::TensorKind::Parameter;
                        let _ = Reflect::set(&object, &"name".into(), &entry.name.into());
                        let _ = Reflect::set(&object, &"tensor".into(), &JsTensor::from(entry.tensor).into());
                        let _ = Reflect::set(&object, &"trainable".into(), &trainable.into());
                        JsValue::from(object)
                    })
                    .collect()
            }

            /// Training mode: batch statistics, dropout on.
            pub fn train(&self) {
                self.module.set_training(true);
            }

            /// Evaluation mode: running statistics, dropout off.
            pub fn eval(&self) {
                self.module.set_training(false);
            }

            /// Internal: hands this layer to `new Sequential([...])` without consuming the JS object.
            #[wasm_bindgen(js_name = __kilnShareModule)]
            pub fn share_module(&self) {
                SHARED_MODULE.with(|s| *s.borrow_mut() = Some(self.module.clone()));
            }
        }
    };
}

js_layer!(JsSequential, "Sequential", "Layers applied one after another, as PyTorch's `nn.Sequential`.");
js_layer!(JsConv2d, "Conv2d", "A 2-D convolution over [N, C, H, W] images, as PyTorch's `nn.Conv2d`.");
js_layer!(JsBatchNorm1d, "BatchNorm1d", "Batch normalisation of [N, C] features, as PyTorch's `nn.BatchNorm1d`.");
js_layer!(JsBatchNorm2d, "BatchNorm2d", "Batch normalisation of [N, C, H, W] feature maps, as PyTorch's `nn.BatchNorm2d`.");
js_layer!(JsLinear, "Linear", "A fully connected layer `x @ weightᵀ + bias`, as PyTorch's `nn.Linear`.");
js_layer!(JsReLU, "ReLU", "`max(x, 0)` elementwise, as PyTorch's `nn.ReLU`.");
js_layer!(JsReLU6, "ReLU6", "`min(max(x, 0), 6)` elementwise, as PyTorch's `nn.ReLU6` (MobileNetV2's activation).");
js_layer!(
    JsDropout,
    "Dropout",
    "Zeroes each value with probability p in training (scaling the rest by 1/(1-p)), as
PyTorch's `nn.Dropout`."
);

#[wasm_bindgen(js_class = "Sequential")]
impl JsSequential {
    /// `new Sequential([layer, ...])`: children named "0", "1", ... The layers stay usable.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Array<Sequential | Conv2d | BatchNorm1d | BatchNorm2d | Linear | ReLU | ReLU6 | Dropout>")]
        layers: JsValue,
    ) -> Result<JsSequential, JsError> {
        let list = layers.dyn_ref::<Array>().ok_or_else(|| bad_input("Sequential", "expects an array of layers"))?;
        let children = list
            .iter()
            .enumerate()
            .map(|(i, layer)| module_from_js(&layer).ok_or_else(|| bad_input("Sequential", format!("item {i} is not a kiln layer"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(JsSequential { module: Rc::new(Sequential::new(children)) })
    }
}

#[wasm_bindgen(js_class = "Conv2d")]
impl JsConv2d {
    /// `new Conv2d(inChannels, outChannels, kernelSize, {stride = 1, padding = 0, groups = 1, bias = true})`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        in_channels: f64,
        out_channels: f64,
        kernel_size: f64,
        #[wasm_bindgen(unchecked_param_type = "{stride?: number, padding?: number, groups?: number, bias?: boolean}")] options: JsValue,
    ) -> Result<JsConv2d, JsError> {
        let (inp, out, k) = (
            count("Conv2d", "inChannels", in_channels)?,
            count("Conv2d", "outChannels", out_channels)?,
            count("Conv2d", "kernelSize", kernel_size)?,
        );
        let Conv2dOptions { stride, padding, groups, bias } = options::read("Conv2d", &options)?;
        let conv = Conv2d::new(inp, out, k, stride, padding, groups, bias, &current(), &mut next_rng()).map_err(js_error)?;
        Ok(JsConv2d { module: Rc::new(conv) })
    }
}

/// Batch norm over `channels` (momentum 0.1, eps 1e-5); the same module serves [N, C] inputs
/// (BatchNorm1d) and [N, C, H, W] ones (BatchNorm2d).
fn batch_norm(layer: &str, channels: f64) -> Result<Rc<dyn Module>, JsError> {
    Ok(Rc::new(BatchNorm::new(count(layer, "channels", channels)?, &current()).map_err(js_error)?))
}

#[wasm_bindgen(js_class = "BatchNorm1d")]
impl JsBatchNorm1d {
    /// `new BatchNorm1d(channels)`, for [N, C] inputs.
    #[wasm_bindgen(constructor)]
    pub fn new(channels: f64) -> Result<JsBatchNorm1d, JsError> {
        Ok(JsBatchNorm1d { module: batch_norm("BatchNorm1d", channels)? })
    }
}

#[wasm_bindgen(js_class = "BatchNorm2d")]
impl JsBatchNorm2d {
    /// `new BatchNorm2d(channels)`, for [N, C, H, W] inputs.
    #[wasm_bindgen(constructor)]
    pub fn new(channels: f64) -> Result<JsBatchNorm2d, JsError> {
        Ok(JsBatchNorm2d { module: batch_norm("BatchNorm2d", channels)? })
    }
}

#[wasm_bindgen(js_class = "Linear")]
impl JsLinear {
    /// `new Linear(inFeatures, outFeatures, {bias = true})`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        in_features: f64,
        out_features: f64,
        #[wasm_bindgen(unchecked_param_type = "{bias?: boolean}")] options: JsValue,
    ) -> Result<JsLinear, JsError> {
        let (inp, out) = (count("Linear", "inFeatures", in_features)?, count("Linear", "outFeatures", out_features)?);
        let LinearOptions { bias } = options::read("Linear", &options)?;
        let linear = Linear::new(inp, out, bias, &current(), &mut next_rng()).map_err(js_error)?;
        Ok(JsLinear { module: Rc::new(linear) })
    }
}

#[wasm_bindgen(js_class = "ReLU")]
impl JsReLU {
    /// `new ReLU()`.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsReLU {
        JsReLU { module: Rc::new(Stateless::Relu) }
    }
}

#[wasm_bindgen(js_class = "ReLU6")]
impl JsReLU6 {
    /// `new ReLU6()`.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsReLU6 {
        JsReLU6 { module: Rc::new(Stateless::Relu6) }
    }
}

#[wasm_bindgen(js_class = "Dropout")]
impl JsDropout {
    /// `new Dropout(p = 0.5)`.
    #[wasm_bindgen(constructor)]
    pub fn new(p: Option<f64>) -> Result<JsDropout, JsError> {
        let p = p.unwrap_or(0.5);
        if !(0.0..1.0).contains(&p) {
            return Err(bad_input("Dropout", format!("p must be in [0, 1), got {p}")));
        }
        Ok(JsDropout { module: Rc::new(Dropout::new(p as f32, next_rng().next_u32() as u64)) })
    }
}
