//! The options objects the JavaScript API takes (`new SGD(params, {lr: 0.1, momentum: 0.9})`), each
//! a Rust struct with its defaults, read with serde: serde-wasm-bindgen turns the JS object into
//! JSON-like values, and serde fills the struct from them, so a misspelt option or a value of the
//! wrong type is a bad-input Error naming the option. A missing options object, a missing key, and
//! a key set to `undefined` or `null` all mean the default. Also here: the learning-rate argument
//! of the Learner's fits, a number or a slice.

use js_sys::Array;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;

use super::interop::bad_input;
use crate::learner::settings;
use crate::schedule::LearningRate;

/// Where `Learner.vision` and `Model.mobilenetV2` fetch the ImageNet weights and class names from.
pub(super) const DEFAULT_WEIGHTS_URL: &str = "www/models/mobilenet_v2.safetensors";
const DEFAULT_CLASSES_URL: &str = "www/models/imagenet_classes.txt";

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
    let mut fields: Map<String, Value> =
        serde_wasm_bindgen::from_value(options.clone()).map_err(|e| bad_input(op, format!("the options could not be read ({e})")))?;
    fields.retain(|_, value| !value.is_null());
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let option = e.path().to_string();
        match option.as_str() {
            "." => bad_input(op, e.inner()),
            _ => bad_input(op, format!("option {option}: {}", e.inner())),
        }
    })
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

/// `size`, the image size, checked as a Learner checks it (`learner::settings`).
fn image_size<'de, D: Deserializer<'de>>(value: D) -> Result<u32, D::Error> {
    settings::image_size(u32::deserialize(value)?).map_err(D::Error::custom)
}

/// `batchSize`, checked as a Learner checks it (`learner::settings`).
fn batch_size<'de, D: Deserializer<'de>>(value: D) -> Result<usize, D::Error> {
    settings::batch_size(usize::deserialize(value)?).map_err(D::Error::custom)
}

/// An options struct: its fields (camelCase in JavaScript) with their defaults, read by `read`;
/// a field may carry serde attributes, such as a `deserialize_with` that checks its range.
macro_rules! options {
    ($(#[$doc:meta])* $name:ident { $($(#[$attr:meta])* $field:ident: $ty:ty = $default:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Deserialize)]
        #[serde(default, rename_all = "camelCase", deny_unknown_fields)]
        pub(super) struct $name {
            $($(#[$attr])* pub $field: $ty),*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $($field: $default),* }
            }
        }
    };
}

options! {
    /// `new SGD(params, {lr, momentum = 0, weightDecay = 0})`: lr is required.
    SgdOptions { lr: Option<f32> = None, momentum: f32 = 0.0, weight_decay: f32 = 0.0 }
}

options! {
    /// `ImageDataset.fromFiles(files, {size = 224, validPct = 0.2, seed = 42, augment = true,
    /// flipVert = false})`: the image size, the seeded random split (when the files carry no
    /// `valid` flags), and fastai's aug_transforms (with flip_vert) or none.
    DatasetOptions {
        #[serde(deserialize_with = "image_size")]
        size: u32 = 224,
        valid_pct: f64 = 0.2,
        seed: u64 = 42,
        augment: bool = true,
        flip_vert: bool = false,
    }
}

options! {
    /// `Learner.vision(dataset, {weightsUrl, batchSize = 16, precompute = false})`.
    VisionOptions {
        weights_url: String = DEFAULT_WEIGHTS_URL.into(),
        #[serde(deserialize_with = "batch_size")]
        batch_size: usize = 16,
        precompute: bool = false,
    }
}

options! {
    /// `learner.lrFind({start = 1e-7, end = 10, numIt = 100})`: fastai's lr_find defaults.
    LrFindOptions { start: f64 = 1e-7, end: f64 = 10.0, num_it: usize = 100 }
}

options! {
    /// `learner.fitOneCycle(epochs, lr, {pctStart = 0.25, div = 25})`: fastai's fit_one_cycle defaults.
    OneCycleOptions { pct_start: f64 = 0.25, div: f64 = 25.0 }
}

options! {
    /// `learner.tta({n = 4, beta = 0.25})`: fastai's tta defaults.
    TtaOptions { n: usize = 4, beta: f64 = 0.25 }
}

options! {
    /// `Model.mobilenetV2({pretrained = true, numClasses = 1000, weightsUrl, classesUrl})`.
    ModelOptions {
        pretrained: bool = true,
        num_classes: usize = 1000,
        weights_url: String = DEFAULT_WEIGHTS_URL.into(),
        classes_url: String = DEFAULT_CLASSES_URL.into(),
    }
}

options! {
    /// `new Conv2d(inChannels, outChannels, kernelSize, {stride = 1, padding = 0, groups = 1, bias = true})`.
    Conv2dOptions { stride: usize = 1, padding: usize = 0, groups: usize = 1, bias: bool = true }
}

options! {
    /// `new Linear(inFeatures, outFeatures, {bias = true})`.
    LinearOptions { bias: bool = true }
}
