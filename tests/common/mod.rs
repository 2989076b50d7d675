//! Helpers shared by the native test files: devices, readback, seeded inputs, tolerances.
#![allow(dead_code)] // each test file uses its own subset

pub mod gradcheck;
pub mod reference;

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use kiln::{Device, Result, Tensor};

pub fn block_on<F: Future>(future: F) -> F::Output {
    pollster::block_on(future)
}

thread_local! {
    // wgpu devices are per test thread: kiln's GPU context is single-threaded, like a browser tab.
    // Leaked, so no thread-local destructor tears the device down while wgpu's own thread-locals
    // are already gone.
    static GPU: &'static Device = Box::leak(Box::new(
        block_on(Device::gpu()).expect("GPU tests need a wgpu adapter; scripts/setup.sh installs Mesa's lavapipe"),
    ));
}

/// A real wgpu adapter (lavapipe on machines without a GPU). Fails, never skips, without one.
pub fn gpu() -> Device {
    GPU.with(|gpu| (*gpu).clone())
}

pub fn both_devices() -> [Device; 2] {
    [Device::Cpu, gpu()]
}

/// Runs `body` once on each device: the CPU backend, then wgpu (lavapipe on machines without a
/// GPU). A failure says which device it came from. Every test written with it runs on both.
pub fn for_each_device(mut body: impl FnMut(&Device)) {
    for device in both_devices() {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| body(&device))) {
            eprintln!("the failure above happened on the {} backend ({})", device.info().backend, device.info().adapter);
            resume_unwind(panic);
        }
    }
}

pub fn values(t: &Tensor) -> Vec<f32> {
    block_on(t.to_vec()).expect("readback")
}

pub fn tensor(data: &[f32], shape: &[usize], device: &Device) -> Tensor {
    Tensor::from_slice(data, shape, device).unwrap()
}

/// Normal numbers from `seed`, nudged at least `margin` away from zero (for kinks and poles).
pub fn randn_away_from_zero(shape: &[usize], seed: u64, margin: f32) -> Vec<f32> {
    let t = Tensor::randn(shape, seed, &Device::Cpu).unwrap();
    values(&t).into_iter().map(|v| v + margin.copysign(v)).collect()
}

/// |actual - expected| <= tol * (1 + |expected|) elementwise, NaNs matching NaNs.
pub fn assert_close(actual: &[f32], expected: &[f32], tol: f32, context: &str) {
    assert_eq!(actual.len(), expected.len(), "{context}: lengths differ");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let ok = (a.is_nan() && e.is_nan()) || a == e || (a - e).abs() <= tol * (1.0 + e.abs());
        assert!(ok, "{context}: element {i} is {a}, expected {e}");
    }
}

/// Unwraps the error of a fallible op and returns its message.
pub fn error_message<T>(result: Result<T>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.message().to_string(),
    }
}

/// `count` images in two classes that differ in colour ("red", "blue"), with a little per-image
/// noise, as 40x40 PNG files, made into a dataset at `size` px with the default split.
pub fn two_colour_dataset(count: usize, size: u32) -> kiln::data::dataset::ImageDataset {
    use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
    use kiln::data::dataset::{ImageDataset, LabelledFile, Split};
    let mut rng = kiln::rng::Pcg32::new(9);
    let files = (0..count)
        .map(|i| {
            let (label, base) = if i % 2 == 0 { ("red", [200.0, 40.0, 40.0]) } else { ("blue", [40.0, 40.0, 200.0]) };
            let image = RgbImage::from_fn(40, 40, |_, _| Rgb(base.map(|b: f32| (b + rng.uniform() * 50.0) as u8)));
            let mut bytes = std::io::Cursor::new(Vec::new());
            DynamicImage::ImageRgb8(image).write_to(&mut bytes, ImageFormat::Png).unwrap();
            (LabelledFile { name: format!("{label}_{i}.png"), bytes: bytes.into_inner(), label: label.into() }, false)
        })
        .collect();
    ImageDataset::from_files(files, size, Split::default()).unwrap()
}
