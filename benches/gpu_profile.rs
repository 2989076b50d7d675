//! Where a MobileNetV2 training step's time goes on the wgpu backend, kernel by kernel: each
//! dispatch is submitted alone and waited for (`Device::profile_kernels`), so the total is
//! larger than a real step's, but the shares say which kernels to make faster or fuse.
//!
//!     cargo bench --bench gpu_profile              # batch 4 at 32 px
//!     cargo bench --bench gpu_profile -- 8 64      # batch, size

use std::time::Instant;

use kiln::learner::speed::SpeedTest;
use kiln::Device;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (batch, size) = (*args.first().unwrap_or(&4), *args.get(1).unwrap_or(&32));
    let device = pollster::block_on(Device::gpu()).expect("a wgpu adapter (lavapipe: mesa-vulkan-drivers)");
    let mut test = SpeedTest::new(size, batch, &device).expect("the network");
    // The first step compiles the pipelines and fills the buffer pool: not profiled.
    pollster::block_on(test.train_step()).expect("a training step");
    device.profile_kernels(true);
    let started = Instant::now();
    pollster::block_on(test.train_step()).expect("a training step");
    let wall = started.elapsed().as_secs_f64();
    let profile = device.kernel_profile();
    device.profile_kernels(false);

    let total: f64 = profile.iter().map(|(_, t)| t.seconds).sum();
    let dispatches: u64 = profile.iter().map(|(_, t)| t.dispatches).sum();
    println!("wgpu backend: {}; MobileNetV2 + fastai head, unfrozen, Adam; batch {batch} at {size} px", device.info().adapter);
    println!("one step, each dispatch alone: {wall:.2} s wall, {total:.2} s in kernels, {dispatches} dispatches");
    println!("{:<32} {:>10} {:>10} {:>7} {:>12}", "kernel", "dispatches", "seconds", "share", "ms each");
    for (name, time) in &profile {
        println!(
            "{name:<32} {:>10} {:>10.3} {:>6.1}% {:>12.3}",
            time.dispatches,
            time.seconds,
            100.0 * time.seconds / total,
            1e3 * time.seconds / time.dispatches as f64
        );
    }
}
