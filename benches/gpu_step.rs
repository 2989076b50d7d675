//! What one MobileNetV2 training step asks of the wgpu backend (issue 13): dispatches, compute
//! passes, submits, readbacks and bytes of buffers created per step, with the median time of a
//! step. The network is `SpeedTest`'s (fastai's head, unfrozen, Adam), small enough for a
//! software adapter (lavapipe, SwiftShader): tens of seconds a step on 2 cores.
//!
//!     cargo bench --bench gpu_step              # batch 4 at 32 px, 3 timed steps
//!     cargo bench --bench gpu_step -- 8 64 5    # batch, size, timed steps

use std::time::Instant;

use kiln::backend::GpuCounters;
use kiln::learner::speed::SpeedTest;
use kiln::Device;

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
}
