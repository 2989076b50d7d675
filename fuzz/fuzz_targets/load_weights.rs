//! Weights files and exported models, as `Model.load` and `Learner.load` take them: the input is a
//! model description (model.json) and a safetensors file, separated by the first NUL byte (an input
//! without one is all weights). The weights are loaded into a small module, where every name and
//! shape can be matched, and both parts into a Learner with `load_exported`. Errors are expected; a
//! panic, an abort or running out of memory is a bug.
#![no_main]

use std::cell::RefCell;
use std::rc::Rc;

use kiln::data::dataset::{ImageDataset, LabelledFile, Split};
use kiln::learner::Learner;
use kiln::nn::{load_safetensors, mobilenet_v2, save_safetensors, BatchNorm, Conv2d, Linear, Sequential};
use kiln::rng::Pcg32;
use kiln::Device;
use libfuzzer_sys::fuzz_target;

/// A picture for the Learner's two-image dataset.
const PNG: &[u8] = include_bytes!("../seeds/decode_image/red.png");

thread_local! {
    /// Conv2d(3, 4, 3), BatchNorm(4), Linear(4, 2): parameters and buffers, "0.weight" .. "2.bias",
    /// as the seeds in seeds/load_weights hold them.
    static SMALL: Sequential = small_module().expect("the small module builds");
    /// Built once: the ImageNet MobileNetV2 weights it starts from are 14 MB.
    static LEARNER: RefCell<Learner> = RefCell::new(learner().expect("the learner builds"));
}

fuzz_target!(|data: &[u8]| {
    let (description, weights) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&[][..], data),
    };
    SMALL.with(|module| {
        let _ = load_safetensors(module, weights, "fuzz.safetensors");
    });
    LEARNER.with_borrow_mut(|learner| {
        let _ = learner.load_exported(weights, &String::from_utf8_lossy(description), "fuzz.safetensors");
    });
});

fn small_module() -> kiln::Result<Sequential> {
    let (device, mut rng) = (Device::Cpu, Pcg32::new(0));
    Ok(Sequential::new(vec![
        Rc::new(Conv2d::new(3, 4, 3, 1, 1, 1, true, &device, &mut rng)?),
        Rc::new(BatchNorm::new(4, &device)?),
        Rc::new(Linear::new(4, 2, true, &device, &mut rng)?),
    ]))
}

/// A Learner for the classes "cat" and "dog" (one image each) on a freshly initialised body.
fn learner() -> kiln::Result<Learner> {
    let file = |label: &str| LabelledFile { name: format!("{label}.png"), bytes: PNG.to_vec(), label: label.into() };
    let data = ImageDataset::from_files(vec![(file("cat"), false), (file("dog"), true)], 8, Split::Given)?;
    let weights = pollster::block_on(save_safetensors(&mobilenet_v2(1000, &Device::Cpu, 0)?))?;
    Learner::vision(data, &weights, "imagenet.safetensors", &Device::Cpu)
}
