//! Test support for the op families: a kernel case (inputs, the reference's outputs), run on the
//! CPU backend and on a real wgpu adapter (lavapipe on machines without a GPU) with one helper.

use std::future::Future;

use crate::backend::{Device, Kernel, Storage};
use crate::rng::Pcg32;

/// One kernel run to check: its inputs, the initial contents of the outputs it updates in place
/// (optimizers; empty for the rest, whose outputs start as NaN so an unwritten element shows),
/// and the expected outputs from the family's f64 reference.
pub struct Case {
    pub kernel: Box<dyn Kernel>,
    pub inputs: Vec<Vec<f32>>,
    pub outputs_in: Vec<Vec<f32>>,
    pub expected: Vec<Vec<f32>>,
    /// |actual - expected| <= tol (1 + |expected|) elementwise.
    pub tol: f32,
}

impl Case {
    pub fn new(kernel: impl Kernel + 'static, inputs: Vec<Vec<f32>>, expected: Vec<Vec<f32>>, tol: f32) -> Case {
        Case { kernel: Box::new(kernel), inputs, outputs_in: Vec::new(), expected, tol }
    }

    /// For kernels that update their outputs in place.
    pub fn in_place(mut self, outputs_in: Vec<Vec<f32>>) -> Case {
        self.outputs_in = outputs_in;
        self
    }
}

pub fn block_on<F: Future>(future: F) -> F::Output {
    pollster::block_on(future)
}

thread_local! {
    // kiln's GPU context is single-threaded, like a browser tab: one per test thread. Leaked, so no
    // thread-local destructor tears the device down after wgpu's own thread-locals are gone.
    static GPU: &'static Device =
        Box::leak(Box::new(block_on(Device::gpu()).expect("kernel tests need a wgpu adapter; scripts/setup.sh installs lavapipe")));
}

/// The CPU backend and a real wgpu adapter: every kernel test runs on both.
pub fn devices() -> [Device; 2] {
    [Device::Cpu, GPU.with(|gpu| (*gpu).clone())]
}

/// Normal numbers from `seed`, nudged at least `margin` away from zero (kinks, poles, ties).
pub fn random(len: usize, seed: u64, margin: f32) -> Vec<f32> {
    let mut rng = Pcg32::new(seed);
    (0..len).map(|_| rng.normal()).map(|v| v + margin.copysign(v)).collect()
}

/// Runs `case` on `device` and returns its outputs.
pub fn run(case: &Case, device: &Device) -> Vec<Vec<f32>> {
    let upload = |data: &Vec<f32>| device.upload(data).expect("upload");
    let inputs: Vec<Storage> = case.inputs.iter().map(upload).collect();
    let outputs: Vec<Storage> = match case.outputs_in.is_empty() {
        true => case.expected.iter().map(|e| upload(&vec![f32::NAN; e.len()])).collect(),
        false => case.outputs_in.iter().map(upload).collect(),
    };
    device.run(case.kernel.as_ref(), &inputs.iter().collect::<Vec<_>>(), &outputs.iter().collect::<Vec<_>>()).expect("run");
    outputs.iter().map(|o| block_on(device.download(o)).expect("download")).collect()
}

/// Runs every case on every device and compares each output with the reference's.
pub fn check(cases: Vec<Case>) {
    for device in devices() {
        for case in &cases {
            let actual = run(case, &device);
            let context = format!("{} on {} ({:?})", case.kernel.name(), device.info().backend, case.kernel);
            for (k, (a, e)) in actual.iter().zip(&case.expected).enumerate() {
                assert_close(&a[..e.len()], e, case.tol, &format!("{context}, output {k}"));
            }
        }
    }
}

/// |actual - expected| <= tol (1 + |expected|) elementwise, NaN matching NaN.
pub fn assert_close(actual: &[f32], expected: &[f32], tol: f32, context: &str) {
    assert_eq!(actual.len(), expected.len(), "{context}: lengths differ");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let ok = (a.is_nan() && e.is_nan()) || a == e || (a - e).abs() <= tol * (1.0 + e.abs());
        assert!(ok, "{context}: element {i} is {a}, expected {e}");
    }
}
