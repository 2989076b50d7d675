//! Reading the options objects the JavaScript API takes into the structs of `crate::options`:
//! serde-wasm-bindgen turns the JS object into JSON-like values, and `options::from_fields` fills
//! the struct from them. A missing options object, a missing key, and a key set to `undefined` or
//! `null` all mean the default. Also here: the learning-rate argument of the Learner's fits, a
//! number or a slice.

use js_sys::Array;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

use super::interop::{bad_input, js_error};
pub(super) use crate::options::{
    BackendOptions, Conv2dOptions, DatasetOptions, LinearOptions, LrFindOptions, ModelOptions, OneCycleOptions, ScheduleOptions,
    SgdOptions, TtaOptions, VisionOptions,
};
use crate::schedule::LearningRate;

/// Reads `options` (an object, or undefined) for `op`; errors name `op` and the option.
pub(super) fn read<T: DeserializeOwned + Default>(op: &str, options: &JsValue) -> Result<T, JsError> {
    if options.is_undefined() || options.is_null() {
        return Ok(T::default());
    }
    if !options.is_object() || Array::is_array(options) {
        let what =
            if options.is_object() { "an array".into() } else { format!("a {}", options.js_typeof().as_string().unwrap_or_default()) };
        return Err(bad_input(op, format!("the options must be an object like {{name: value}}, not {what}")));
    }
    let fields: Map<String, Value> =
        serde_wasm_bindgen::from_value(options.clone()).map_err(|e| bad_input(op, format!("the options could not be read ({e})")))?;
    crate::options::from_fields(op, fields).map_err(js_error)
}

/// A learning rate from JS: a number (every layer group), `[b]` (fastai's slice(b): b/10 for the
/// body, b for the head) or `[a, b]` (slice(a, b): spread evenly on a log scale).
pub(super) fn learning_rate(value: &JsValue, op: &str) -> Result<LearningRate, JsValue> {
    let bad = || JsValue::from(bad_input(op, "the learning rate must be a number, [max] or [min, max]"));
    if let Some(lr) = value.as_f64() {
        return Ok(LearningRate::Single(lr));
    }
    let array = value.dyn_ref::<Array>().ok_or_else(bad)?;
    let rates: Vec<f64> = array.iter().map(|v| v.as_f64().ok_or_else(bad)).collect::<Result<_, _>>()?;
    match rates[..] {
        [b] => Ok(LearningRate::UpTo(b)),
        [a, b] => Ok(LearningRate::Range(a, b)),
        _ => Err(bad()),
    }
}
