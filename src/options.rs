//! The options objects of the JavaScript API (`new SGD(params, {lr: 0.1, momentum: 0.9})`), each
//! a Rust struct with its defaults, filled by serde from JSON-like values, so a misspelt option or
//! a value of the wrong type is a bad-input Error naming the option. `js::options` turns the JS
//! object into those values; the rest lives here, outside the wasm-only facade, so that native
//! tests and the fuzzer (`fuzz/`) run the very code the browser runs.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::data::loading::MAX_IMAGE_SIDE;
use crate::error::{Error, Result};
use crate::learner::settings;

/// Where `Learner.vision` and `Model.mobilenetV2` fetch the ImageNet weights and class names from.
const DEFAULT_WEIGHTS_URL: &str = "www/models/mobilenet_v2.safetensors";
const DEFAULT_CLASSES_URL: &str = "www/models/imagenet_classes.txt";

/// Fills the options struct `T` for `op` from an options object's fields; a field set to `null`
/// means its default, as a missing one does. Errors name `op` and the option.
pub fn from_fields<T: DeserializeOwned>(op: &str, mut fields: Map<String, Value>) -> Result<T> {
    fields.retain(|_, value| !value.is_null());
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let option = e.path().to_string();
        match option.as_str() {
            "." => Error::new(op, e.inner()),
            _ => Error::new(op, format!("option {option}: {}", e.inner())),
        }
    })
}

/// `batchSize`, checked as a Learner checks it (`learner::settings`).
fn batch_size<'de, D: Deserializer<'de>>(value: D) -> std::result::Result<usize, D::Error> {
    settings::batch_size(usize::deserialize(value)?).map_err(D::Error::custom)
}

/// An image size, within the dataset's limits (`data::loading::MAX_IMAGE_SIDE`).
fn image_size<'de, D: Deserializer<'de>>(value: D) -> std::result::Result<usize, D::Error> {
    let size = usize::deserialize(value)?;
    if (1..=MAX_IMAGE_SIDE as usize).contains(&size) {
        Ok(size)
    } else {
        Err(D::Error::custom(format!("the image size must be from 1 to {MAX_IMAGE_SIDE} pixels, got {size}")))
    }
}

/// How many training steps `compareBackends` times on each backend: a few are enough, and each
/// takes a second or more on a CPU.
fn timed_steps<'de, D: Deserializer<'de>>(value: D) -> std::result::Result<usize, D::Error> {
    match usize::deserialize(value)? {
        steps @ 1..=20 => Ok(steps),
        steps => Err(D::Error::custom(format!("from 1 to 20 timed steps, got {steps}"))),
    }
}

/// An options struct: its fields (camelCase in JavaScript) with their defaults, read by
/// `from_fields`; a field may carry serde attributes, such as a `deserialize_with` that checks it.
macro_rules! options {
    ($(#[$doc:meta])* $name:ident { $($(#[$attr:meta])* $field:ident: $ty:ty = $default:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Deserialize)]
        #[serde(default, rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
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
    DatasetOptions { size: u32 = 224, valid_pct: f64 = 0.2, seed: u64 = 42, augment: bool = true, flip_vert: bool = false }
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
    /// `useBackend('auto', {size = 128, batchSize = 16})` and `compareBackends({size, batchSize,
    /// steps = 2})`: the training step to time on each backend (the Learner's network at this
    /// image size and batch) and how many timed steps after the warm-up.
    BackendOptions {
        #[serde(deserialize_with = "image_size")]
        size: usize = 128,
        #[serde(deserialize_with = "batch_size")]
        batch_size: usize = 16,
        #[serde(deserialize_with = "timed_steps")]
        steps: usize = 2,
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
    /// `learner.schedule(method, lr, {epochs = 1, cycles = 1, cycleLen = 1, cycleMult = 1,
    /// pctStart = 0.25, div = 25})`: the settings of the fit whose schedule to work out (SGDR's
    /// cycles for fit_sgdr, epochs for the others; pctStart and div for fit_one_cycle).
    ScheduleOptions {
        epochs: usize = 1,
        cycles: usize = 1,
        cycle_len: usize = 1,
        cycle_mult: usize = 1,
        pct_start: f64 = 0.25,
        div: f64 = 25.0,
    }
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
