//! Seconds per epoch on the sample photos (www/sample) at 128 px, batch 16, side by side in one
//! run: frozen training with and without precomputed body features, and unfrozen training; then
//! Lesson 2's whole lr_find and fine_tune(2). For comparison, on a 2-core x86_64 machine with
//! these photos and weights, real fastai 2.8.12 on PyTorch's CPU backend (2 threads) fine-tunes
//! MobileNetV2 at 128 px, batch 16, at 54-70 images/s per training step.
//!
//!     cargo bench --bench training            # the CPU backend
//!     cargo bench --bench training -- webgpu  # the wgpu backend (slow on a software adapter)

use kiln::data::dataset::{ImageDataset, Split};
use kiln::learner::Learner;
use kiln::schedule::LearningRate;
use kiln::Device;

fn main() {
    let device = match std::env::args().nth(1).as_deref() {
        Some("webgpu") => pollster::block_on(Device::gpu()).expect("a wgpu adapter"),
        _ => Device::Cpu,
    };
    let root = env!("CARGO_MANIFEST_DIR");
    let weights = std::fs::read(format!("{root}/www/models/mobilenet_v2.safetensors")).expect("weights");
    let learner = || {
        let data =
            ImageDataset::from_folder(std::path::Path::new(&format!("{root}/www/sample")), 128, Split::default()).expect("sample photos");
        Learner::vision(data, &weights, "mobilenet_v2.safetensors", &device).expect("learner")
    };
    let epoch_seconds = |learner: &mut Learner| {
        pollster::block_on(learner.fit_one_cycle(2, LearningRate::Single(1e-3), 0.25, 25.0)).expect("training");
        // The second epoch: the first also pays for warm-up (and for computing stored features).
        learner.results[1].seconds
    };
    let frozen = epoch_seconds(&mut learner());
    let mut precomputed = learner();
    precomputed.precompute = true;
    let precompute = epoch_seconds(&mut precomputed);
    let mut unfrozen = learner();
    unfrozen.unfreeze();
    let all = epoch_seconds(&mut unfrozen);
    let timed = |f: &mut dyn FnMut()| {
        let started = std::time::Instant::now();
        f();
        started.elapsed().as_secs_f64()
    };
    let mut finder = learner();
    let lr_find = timed(&mut || {
        pollster::block_on(finder.lr_find(1e-7, 10.0, 100)).expect("lr_find");
    });
    let mut tuner = learner();
    let fine_tune = timed(&mut || {
        pollster::block_on(tuner.fine_tune(2, 2e-3)).expect("fine_tune");
    });
    println!("{} backend: {}", device.info().backend, device.info().adapter);
    println!("{:<32} {:>10} {:>10}", "training (128 px, batch 16)", "s/epoch", "vs frozen");
    for (name, seconds) in [("frozen body", frozen), ("frozen body, precomputed", precompute), ("unfrozen", all)] {
        println!("{name:<32} {seconds:>10.2} {:>10.2}", seconds / frozen);
    }
    println!(
        "lr_find (100 batches at most): {lr_find:.1} s; fine_tune(2): {fine_tune:.1} s (error_rate {:.3})",
        tuner.results[2].error_rate
    );
}
