//! The JavaScript API's options objects: the first byte picks the options struct, the rest is a
//! JSON object standing in for the JS one (serde-wasm-bindgen hands `crate::options::from_fields`
//! the same JSON-like values). Each struct read is then given to the native checks and constructors
//! the facade gives it to. Errors are expected; a panic, an abort or running out of memory is a bug.
#![no_main]

use kiln::data::dataset::{ImageDataset, LabelledFile, Split};
use kiln::nn::{Conv2d, Linear};
use kiln::options::*;
use kiln::rng::Pcg32;
use kiln::{Device, Sgd, SgdConfig};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const PNG: &[u8] = include_bytes!("../seeds/decode_image/red.png");

fuzz_target!(|data: &[u8]| {
    let Some((&which, json)) = data.split_first() else { return };
    // The facade turns anything but an object away before serde sees it.
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(json) else { return };
    let _ = match which % 10 {
        0 => sgd(fields),
        1 => dataset(fields),
        2 => from_fields::<VisionOptions>("Learner.vision", fields).map(drop),
        3 => from_fields::<LrFindOptions>("lrFind", fields).map(drop),
        4 => from_fields::<OneCycleOptions>("fitOneCycle", fields).map(drop),
        5 => from_fields::<TtaOptions>("tta", fields).map(drop),
        6 => from_fields::<ModelOptions>("Model.mobilenetV2", fields).map(drop),
        7 => conv2d(fields),
        8 => from_fields::<BackendOptions>("useBackend", fields).map(drop),
        _ => linear(fields),
    };
});

/// `new SGD([], options)`.
fn sgd(fields: Map<String, Value>) -> kiln::Result<()> {
    let options: SgdOptions = from_fields("SGD", fields)?;
    let Some(lr) = options.lr else { return Ok(()) };
    Sgd::new(Vec::new(), SgdConfig { lr, momentum: options.momentum, weight_decay: options.weight_decay }).map(drop)
}

/// `ImageDataset.fromFiles` with two small pictures, split at random by the options.
fn dataset(fields: Map<String, Value>) -> kiln::Result<()> {
    let options: DatasetOptions = from_fields("ImageDataset.fromFiles", fields)?;
    let file = |label: &str| (LabelledFile { name: format!("{label}.png"), bytes: PNG.to_vec(), label: label.into() }, false);
    let split = Split::Random { valid_pct: options.valid_pct, seed: options.seed };
    ImageDataset::from_files(vec![file("cat"), file("dog")], options.size, split).map(drop)
}

/// `new Conv2d(4, 4, 3, options)`.
fn conv2d(fields: Map<String, Value>) -> kiln::Result<()> {
    let Conv2dOptions { stride, padding, groups, bias } = from_fields("Conv2d", fields)?;
    Conv2d::new(4, 4, 3, stride, padding, groups, bias, &Device::Cpu, &mut Pcg32::new(0)).map(drop)
}

/// `new Linear(4, 2, options)`.
fn linear(fields: Map<String, Value>) -> kiln::Result<()> {
    let LinearOptions { bias } = from_fields("Linear", fields)?;
    Linear::new(4, 2, bias, &Device::Cpu, &mut Pcg32::new(0)).map(drop)
}
