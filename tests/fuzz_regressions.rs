//! Inputs that `scripts/fuzz.sh` found crashing kiln, kept under tests/fixtures/fuzz/ in the
//! fuzz target's own format, each with the clear Error it must now give instead.

use kiln::data::dataset::{ImageDataset, Split};
use kiln::nn::Conv2d;
use kiln::options::{from_fields, Conv2dOptions, DatasetOptions};
use kiln::rng::Pcg32;
use kiln::{Device, ErrorKind};
use serde_json::{Map, Value};

/// An input of the `options` target: a byte choosing the options struct, then the JSON object.
fn options_input(name: &str) -> Map<String, Value> {
    let bytes = std::fs::read(format!("{}/tests/fixtures/fuzz/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    match serde_json::from_slice(&bytes[1..]).unwrap() {
        Value::Object(fields) => fields,
        other => panic!("{name} holds {other}, not an options object"),
    }
}

/// `new Conv2d(4, 4, 3, {groups: 0})` divided by zero in Conv2d::new (the JS facade checked it,
/// Rust callers did not).
#[test]
fn conv2d_with_zero_groups_is_a_bad_input() {
    let Conv2dOptions { stride, padding, groups, bias } = from_fields("Conv2d", options_input("options_conv2d_groups_zero")).unwrap();
    let error = Conv2d::new(4, 4, 3, stride, padding, groups, bias, &Device::Cpu, &mut Pcg32::new(0)).err().unwrap();
    assert_eq!(error.kind(), ErrorKind::BadInput);
    assert_eq!(error.message(), "Conv2d: stride and groups must be at least 1, got stride 2, groups 0");
    let error = Conv2d::new(4, 6, 3, 1, 0, 4, true, &Device::Cpu, &mut Pcg32::new(0)).err().unwrap();
    assert_eq!(error.message(), "Conv2d: groups = 4 must divide inChannels = 4 and outChannels = 6");
}

/// `ImageDataset.fromFiles(files, {size: 19706450})` resized photos to that size: a hang, then out
/// of memory. Sizes above MAX_IMAGE_SIDE are refused before any file is read.
#[test]
fn a_dataset_size_in_the_millions_is_a_bad_input() {
    let options: DatasetOptions = from_fields("ImageDataset.fromFiles", options_input("options_dataset_huge_size")).unwrap();
    let error = ImageDataset::from_files(Vec::new(), options.size, Split::default()).err().unwrap();
    assert_eq!(error.kind(), ErrorKind::BadInput);
    assert_eq!(error.message(), "dataset: the image size must be from 1 to 1024 pixels, got 19706450");
}
