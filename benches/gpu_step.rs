//! What one MobileNetV2 training step asks of the wgpu backend (issue 13): dispatches, compute
//! passes, submits, readbacks and bytes of buffers created per step, with the median time of a
//! step; then the same for inference on the batch. The network is `SpeedTest`'s (fastai's head, unfrozen, Adam), small enough for a
//! software adapter (lavapipe, SwiftShader): tens of seconds a step on 2 cores.
//! Then the readbacks of a `Learner`'s training loop: one epoch of `fit` on synthetic images
//! (LEARNER_BATCHES training batches and a fifth as many validation images), the head training on
//! precomputed body features, counted apart for training batches and for validation.
//!
//!     cargo bench --bench gpu_step              # batch 4 at 32 px, 3 timed steps
//!     cargo bench --bench gpu_step -- 8 64 5    # batch, size, timed steps

use std::time::Instant;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use kiln::backend::GpuCounters;
use kiln::data::dataset::{ImageDataset, LabelledFile, Split};
use kiln::learner::speed::SpeedTest;
use kiln::learner::Learner;
use kiln::schedule::LearningRate;
use kiln::Device;

/// Training batches in the learner's epoch: one block of losses (`LOSS_BLOCK` in
/// src/learner/losses.rs), so a loop that reads once per block reads once an epoch.
const LEARNER_BATCHES: usize = 16;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (batch, size, steps) = (*args.first().unwrap_or(&4), *args.get(1).unwrap_or(&32), *args.get(2).unwrap_or(&3));
    let device = pollster::block_on(Device::gpu()).expect("a wgpu adapter (lavapipe: mesa-vulkan-drivers)");
    let counters = || device.gpu_counters().expect("a GPU device has counters");
    let mut test = SpeedTest::new(size, batch, &device).expect("the network");
    let mut step = || {
        let before = counters();
        let started = Instant::now();
        pollster::block_on(test.train_step()).expect("a training step");
        (started.elapsed().as_secs_f64(), counters().since(&before))
    };
    // The first step also compiles pipelines and fills the buffer pool.
    let (warm_up, first) = step();
    let mut timed: Vec<(f64, GpuCounters)> = (0..steps).map(|_| step()).collect();
    println!("wgpu backend: {}; MobileNetV2 + fastai head, unfrozen, Adam; batch {batch} at {size} px", device.info().adapter);
    println!(
        "{:<12} {:>8} {:>11} {:>7} {:>8} {:>10} {:>11} {:>11}",
        "step", "seconds", "dispatches", "passes", "submits", "readbacks", "MB created", "MB pooled"
    );
    let row = |name: &str, seconds: f64, c: &GpuCounters| {
        let mb = |bytes: u64| bytes as f64 / 1e6;
        println!(
            "{name:<12} {seconds:>8.2} {:>11} {:>7} {:>8} {:>10} {:>11.1} {:>11.1}",
            c.dispatches,
            c.passes,
            c.submits,
            c.readbacks,
            mb(c.bytes_created),
            mb(c.bytes_pooled)
        );
    };
    row("warm-up", warm_up, &first);
    for (i, (seconds, c)) in timed.iter().enumerate() {
        row(&format!("step {}", i + 1), *seconds, c);
    }
    timed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (median, c) = &timed[timed.len() / 2];
    row("median", *median, c);
    // Inference on the same batch (evaluation mode, no graph: each convolution + batch norm one
    // kernel), read back; the second call is counted.
    let infer = || {
        let before = counters();
        let started = Instant::now();
        pollster::block_on(test.infer()).expect("inference");
        (started.elapsed().as_secs_f64(), counters().since(&before))
    };
    infer();
    let (seconds, c) = infer();
    row("inference", seconds, &c);

    learner_epoch(&device, batch, size);
}

/// Two classes of plain colour with per-pixel noise: `LEARNER_BATCHES` batches of `batch` to
/// train on, and every fifth image validating.
fn synthetic_dataset(batch: usize, size: usize) -> ImageDataset {
    let mut rng = kiln::rng::Pcg32::new(9);
    let count = LEARNER_BATCHES * batch * 5 / 4;
    let files = (0..count)
        .map(|i| {
            let (label, base) = if i % 2 == 0 { ("red", [200.0, 40.0, 40.0]) } else { ("blue", [40.0, 40.0, 200.0]) };
            let side = size as u32 + 8;
            let image = RgbImage::from_fn(side, side, |_, _| Rgb(base.map(|b: f32| (b + rng.uniform() * 50.0) as u8)));
            let mut bytes = std::io::Cursor::new(Vec::new());
            DynamicImage::ImageRgb8(image).write_to(&mut bytes, ImageFormat::Png).expect("a PNG");
            (LabelledFile { name: format!("{label}_{i}.png"), bytes: bytes.into_inner(), label: label.into() }, i % 5 == 4)
        })
        .collect();
    ImageDataset::from_files(files, size as u32, Split::Given).expect("the synthetic images")
}

/// One epoch of a Learner's fit, counted: its training batches' readbacks apart from validation's.
fn learner_epoch(device: &Device, batch: usize, size: usize) {
    let weights = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/www/models/mobilenet_v2.safetensors")).expect("the weights");
    let mut learner = Learner::vision(synthetic_dataset(batch, size), &weights, "mobilenet_v2.safetensors", device).expect("the learner");
    learner.batch_size = batch;
    learner.precompute = true;
    let counters = || device.gpu_counters().expect("a GPU device has counters");
    // The first epoch also computes the stored body features (a readback per chunk of images).
    pollster::block_on(learner.fit(1, LearningRate::Single(1e-3))).expect("the first epoch");
    let before = counters();
    let started = Instant::now();
    pollster::block_on(learner.fit(1, LearningRate::Single(1e-3))).expect("the counted epoch");
    let (seconds, fit) = (started.elapsed().as_secs_f64(), counters().since(&before));
    let before = counters();
    pollster::block_on(learner.validate()).expect("validation");
    let validation = counters().since(&before).readbacks;
    let batches = learner.data.train.len() / batch;
    let training = fit.readbacks - validation;
    println!();
    println!(
        "Learner fit, one epoch ({batches} training batches of {batch} at {size} px, {} validation images; head on stored features): {seconds:.2} s",
        learner.data.valid.len()
    );
    println!(
        "readbacks: {} in all; training batches {training} ({:.3} per batch); validation {validation}; {} submits, {} dispatches",
        fit.readbacks,
        training as f64 / batches as f64,
        fit.submits,
        fit.dispatches
    );
}
