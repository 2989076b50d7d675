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
