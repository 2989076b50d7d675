//! The JavaScript API (wasm-bindgen): a thin facade over the Rust crate with PyTorch-like,
//! camelCase names. Every failure becomes a JS `Error` whose message names the op and the shapes;
//! nothing here panics on user input. No logic lives here that Rust callers would also need.
//!
//! A long call (training, a speed test step) holds its object's RefCell borrow across its awaits on
//! purpose: that borrow is the busy lock. Every such call first tries the borrow and answers a
//! second caller with a "busy" error instead of a panic (`JsLearner::run`, `JsSpeedTest`).
#![allow(clippy::await_holding_refcell_ref)]

use std::cell::RefCell;

use js_sys::{Array, Float32Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::{no_grad, Sgd, SgdConfig, Tensor};
use interop::{bad_input, js_error};
use options::SgdOptions;

mod backend;
mod dataset;
mod interop;
mod learner;
mod learner_data;
mod learner_schedule;
mod model;
mod nn;
mod options;
mod speed;
mod threads;

use backend::current;
pub use backend::use_backend;

thread_local! {
    /// Hand-over slot for `operand`: see `__kilnShare`.
    static SHARED: RefCell<Option<Tensor>> = const { RefCell::new(None) };
}

/// An n-dimensional array of float32 on the current backend (CPU or WebGPU) that records the
/// operations made with it, so `backward()` can compute gradients.
#[wasm_bindgen(js_name = Tensor)]
pub struct JsTensor {
    pub(crate) inner: Tensor,
}

impl From<Tensor> for JsTensor {
    fn from(inner: Tensor) -> Self {
        JsTensor { inner }
    }
}

/// Numbers from a Float32Array or an array of numbers.
fn numbers(value: &JsValue, op: &str) -> Result<Vec<f32>, JsError> {
    if let Some(typed) = value.dyn_ref::<Float32Array>() {
        return Ok(typed.to_vec());
    }
    let array = value.dyn_ref::<Array>().ok_or_else(|| bad_input(op, "data must be a Float32Array or an array of numbers"))?;
    array
        .iter()
        .enumerate()
        .map(|(i, v)| v.as_f64().map(|x| x as f32).ok_or_else(|| bad_input(op, format!("data[{i}] is not a number"))))
        .collect()
}

/// A shape from an array of non-negative integers.
fn shape_of(value: &JsValue, op: &str) -> Result<Vec<usize>, JsError> {
    let bad = || bad_input(op, format!("shape must be an array of non-negative integers, got {value:?}"));
    let array = value.dyn_ref::<Array>().ok_or_else(bad)?;
    array
        .iter()
        .map(|v| match v.as_f64() {
            Some(x) if x >= 0.0 && x.fract() == 0.0 && x <= u32::MAX as f64 => Ok(x as usize),
            _ => Err(bad()),
        })
        .collect()
}

/// The other operand of add/sub/mul/div: a kiln Tensor, or a number (a scalar tensor).
fn operand(value: &JsValue, op: &str, like: &Tensor) -> Result<Tensor, JsError> {
    if let Some(x) = value.as_f64() {
        return Tensor::full(&[], x as f32, like.device()).map_err(js_error);
    }
    tensor_from_js(value).ok_or_else(|| bad_input(op, "the operand must be a kiln Tensor or a number"))
}

/// The Rust tensor behind a JS Tensor object, leaving the JS object usable. (wasm-bindgen's own
/// conversion from a JsValue takes ownership and invalidates the JS object, so instead the object
/// is asked to hand over a clone of its handle through `__kilnShare`.)
fn tensor_from_js(value: &JsValue) -> Option<Tensor> {
    let share = Reflect::get(value, &"__kilnShare".into()).ok()?.dyn_into::<Function>().ok()?;
    share.call0(value).ok()?;
    SHARED.with(|s| s.borrow_mut().take())
}

fn wrap(result: crate::Result<Tensor>) -> Result<JsTensor, JsError> {
    result.map(JsTensor::from).map_err(js_error)
}

#[wasm_bindgen(js_class = Tensor)]
impl JsTensor {
    /// `Tensor.fromArray(data, shape, requiresGrad = false)`, on the current backend.
    #[wasm_bindgen(js_name = fromArray)]
    pub fn from_array(
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[]")] data: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number[]")] shape: JsValue,
        #[wasm_bindgen(js_name = requiresGrad)] requires_grad: Option<bool>,
    ) -> Result<JsTensor, JsError> {
        let values = numbers(&data, "Tensor.fromArray")?;
        let shape = shape_of(&shape, "Tensor.fromArray")?;
        let tensor = Tensor::from_slice(&values, &shape, &current()).map_err(js_error)?;
        Ok(tensor.with_requires_grad(requires_grad.unwrap_or(false)).into())
    }

    /// `Tensor.zeros(shape)`: a tensor of zeros on the current backend.
    pub fn zeros(#[wasm_bindgen(unchecked_param_type = "number[]")] shape: JsValue) -> Result<JsTensor, JsError> {
        wrap(Tensor::zeros(&shape_of(&shape, "Tensor.zeros")?, &current()))
    }

    /// `Tensor.ones(shape)`: a tensor of ones on the current backend.
    pub fn ones(#[wasm_bindgen(unchecked_param_type = "number[]")] shape: JsValue) -> Result<JsTensor, JsError> {
        wrap(Tensor::ones(&shape_of(&shape, "Tensor.ones")?, &current()))
    }

    /// Standard normal numbers from a seed: the same on every platform and backend.
    pub fn randn(#[wasm_bindgen(unchecked_param_type = "number[]")] shape: JsValue, seed: u32) -> Result<JsTensor, JsError> {
        wrap(Tensor::randn(&shape_of(&shape, "Tensor.randn")?, seed as u64, &current()))
    }

    /// Uniform numbers in [0, 1) from a seed.
    pub fn rand(#[wasm_bindgen(unchecked_param_type = "number[]")] shape: JsValue, seed: u32) -> Result<JsTensor, JsError> {
        wrap(Tensor::rand(&shape_of(&shape, "Tensor.rand")?, seed as u64, &current()))
    }

    /// The size of each dimension, e.g. `[2, 3]`.
    #[wasm_bindgen(getter, unchecked_return_type = "number[]")]
    pub fn shape(&self) -> Array {
        self.inner.shape().iter().map(|&d| JsValue::from(d as u32)).collect()
    }

    /// The accumulated gradient, or undefined before backward / after zeroGrad.
    #[wasm_bindgen(getter)]
    pub fn grad(&self) -> Option<JsTensor> {
        self.inner.grad().map(JsTensor::from)
    }

    /// Whether `backward()` accumulates a gradient into this tensor.
    #[wasm_bindgen(getter, js_name = requiresGrad)]
    pub fn requires_grad(&self) -> bool {
        self.inner.requires_grad()
    }

    /// Which backend holds this tensor: 'webgpu' or 'cpu'.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.inner.device().info().backend.into()
    }

    /// The matrix product `self @ other` ([..., n, k] @ [..., k, m], batch dimensions broadcast).
    pub fn matmul(&self, other: &JsTensor) -> Result<JsTensor, JsError> {
        wrap(self.inner.matmul(&other.inner))
    }

    /// Elementwise `self + other` (a tensor broadcast NumPy-style, or a number).
    pub fn add(&self, #[wasm_bindgen(unchecked_param_type = "Tensor | number")] other: JsValue) -> Result<JsTensor, JsError> {
        wrap(self.inner.add(&operand(&other, "add", &self.inner)?))
    }

    /// Elementwise `self - other` (a tensor broadcast NumPy-style, or a number).
    pub fn sub(&self, #[wasm_bindgen(unchecked_param_type = "Tensor | number")] other: JsValue) -> Result<JsTensor, JsError> {
        wrap(self.inner.sub(&operand(&other, "sub", &self.inner)?))
    }

    /// Elementwise `self * other` (a tensor broadcast NumPy-style, or a number).
    pub fn mul(&self, #[wasm_bindgen(unchecked_param_type = "Tensor | number")] other: JsValue) -> Result<JsTensor, JsError> {
        wrap(self.inner.mul(&operand(&other, "mul", &self.inner)?))
    }

    /// Elementwise `self / other` (a tensor broadcast NumPy-style, or a number).
    pub fn div(&self, #[wasm_bindgen(unchecked_param_type = "Tensor | number")] other: JsValue) -> Result<JsTensor, JsError> {
        wrap(self.inner.div(&operand(&other, "div", &self.inner)?))
    }

    /// In place, outside the graph: the lesson's `a.sub_(lr * a.grad)`.
    pub fn sub_(&self, #[wasm_bindgen(unchecked_param_type = "Tensor | number")] other: JsValue) -> Result<(), JsError> {
        let other = operand(&other, "sub_", &self.inner)?;
        no_grad(|| self.inner.sub_(&other)).map_err(js_error)
    }

    /// Elementwise `-self`.
    pub fn neg(&self) -> Result<JsTensor, JsError> {
        wrap(self.inner.neg())
    }

    /// Elementwise `self ** p` for a number `p`.
    pub fn pow(&self, p: f64) -> Result<JsTensor, JsError> {
        wrap(self.inner.pow(p as f32))
    }

    /// Elementwise `e ** self`.
    pub fn exp(&self) -> Result<JsTensor, JsError> {
        wrap(self.inner.exp())
    }

    /// Elementwise natural logarithm.
    pub fn log(&self) -> Result<JsTensor, JsError> {
        wrap(self.inner.log())
    }

    /// Elementwise `max(self, 0)`.
    pub fn relu(&self) -> Result<JsTensor, JsError> {
        wrap(self.inner.relu())
    }

    /// `sum()` of all elements, or `sum(axis, keepdim = false)` along one axis.
    pub fn sum(&self, axis: Option<i32>, keepdim: Option<bool>) -> Result<JsTensor, JsError> {
        wrap(match axis {
            None => self.inner.sum(),
            Some(axis) => self.inner.sum_axis(axis as isize, keepdim.unwrap_or(false)),
        })
    }

    /// `mean()` of all elements, or `mean(axis, keepdim = false)` along one axis.
    pub fn mean(&self, axis: Option<i32>, keepdim: Option<bool>) -> Result<JsTensor, JsError> {
        wrap(match axis {
            None => self.inner.mean(),
            Some(axis) => self.inner.mean_axis(axis as isize, keepdim.unwrap_or(false)),
        })
    }

    /// The same numbers in a new shape with as many elements.
    pub fn reshape(&self, #[wasm_bindgen(unchecked_param_type = "number[]")] shape: JsValue) -> Result<JsTensor, JsError> {
        wrap(self.inner.reshape(&shape_of(&shape, "reshape")?))
    }

    /// Swaps the last two dimensions.
    pub fn transpose(&self) -> Result<JsTensor, JsError> {
        wrap(self.inner.transpose())
    }

    /// Reverse-mode autograd from this scalar: adds d self / d t to the `grad` of every tensor `t`
    /// it depends on that has `requiresGrad`.
    pub fn backward(&self) -> Result<(), JsError> {
        self.inner.backward().map_err(js_error)
    }

    /// Clears this tensor's gradient (before the next `backward()`).
    #[wasm_bindgen(js_name = zeroGrad)]
    pub fn zero_grad(&self) {
        self.inner.zero_grad()
    }

    /// The numbers, row-major; waits for the GPU without blocking the page.
    #[wasm_bindgen(js_name = toArray, unchecked_return_type = "Promise<Float32Array>")]
    pub fn to_array(&self) -> Promise {
        let tensor = self.inner.clone();
        future_to_promise(async move {
            let values = tensor.to_vec().await.map_err(js_error)?;
            Ok(Float32Array::from(values.as_slice()).into())
        })
    }

    /// The single number of a one-element tensor (a loss).
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn item(&self) -> Promise {
        let tensor = self.inner.clone();
        future_to_promise(async move { Ok(tensor.item().await.map_err(js_error)?.into()) })
    }

    /// Internal: puts a clone of this tensor's handle where `tensor_from_js` picks it up.
    #[wasm_bindgen(js_name = __kilnShare)]
    pub fn share(&self) {
        SHARED.with(|s| *s.borrow_mut() = Some(self.inner.clone()));
    }
}

/// Stochastic gradient descent over a list of tensors, as PyTorch's `torch.optim.SGD`.
#[wasm_bindgen(js_name = SGD)]
pub struct JsSgd {
    inner: Sgd,
}

#[wasm_bindgen(js_class = SGD)]
impl JsSgd {
    /// `new SGD(params, {lr, momentum = 0, weightDecay = 0})`; the tensors stay usable from JS.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Tensor[]")] params: JsValue,
        #[wasm_bindgen(unchecked_param_type = "{lr: number, momentum?: number, weightDecay?: number}")] options: JsValue,
    ) -> Result<JsSgd, JsError> {
        let list = params.dyn_ref::<Array>().ok_or_else(|| bad_input("SGD", "params must be an array of Tensors"))?;
        let params = list
            .iter()
            .enumerate()
            .map(|(i, p)| tensor_from_js(&p).ok_or_else(|| bad_input("SGD", format!("params[{i}] is not a kiln Tensor"))))
            .collect::<Result<Vec<_>, _>>()?;
        let options: SgdOptions = options::read("SGD", &options)?;
        let lr = options.lr.ok_or_else(|| bad_input("SGD", "option lr is required, as in {lr: 0.1}"))?;
        let config = SgdConfig { lr, momentum: options.momentum, weight_decay: options.weight_decay };
        Ok(JsSgd { inner: Sgd::new(params, config).map_err(js_error)? })
    }

    /// One SGD update of every parameter from its gradient: `p -= lr * grad` (with momentum and
    /// weight decay when set).
    pub fn step(&mut self) -> Result<(), JsError> {
        self.inner.step().map_err(js_error)
    }

    /// Clears the gradients of every parameter.
    #[wasm_bindgen(js_name = zeroGrad)]
    pub fn zero_grad(&self) {
        self.inner.zero_grad()
    }

    /// The learning rate, adjustable between steps.
    #[wasm_bindgen(getter)]
    pub fn lr(&self) -> f32 {
        self.inner.config.lr
    }

    #[wasm_bindgen(setter)]
    pub fn set_lr(&mut self, lr: f32) {
        self.inner.config.lr = lr;
    }
}
