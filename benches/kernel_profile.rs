//! Where a MobileNetV2 training step's (or with `--infer`, an inference pass's) time goes, kernel
//! by kernel (`Device::profile_kernels`).
//! On the wgpu backend each dispatch is submitted alone and waited for, so the total is larger
//! than a real step's, but the shares say which kernels to make faster or fuse. On the CPU each
//! kernel is timed as it runs, and the step's time outside kernels (the graph, allocation) is
//! printed too: run it with RAYON_NUM_THREADS=1 and =2 to see which kernels gain from threads.
//!
//!     cargo bench --bench kernel_profile              # wgpu, batch 4 at 32 px
//!     cargo bench --bench kernel_profile -- 8 64      # batch, size
//!     cargo bench --bench kernel_profile -- --cpu 16 128
//!     cargo bench --bench kernel_profile -- --cpu --infer 16 128

use std::time::Instant;

use kiln::learner::speed::SpeedTest;
use kiln::Device;

fn main() {
    let cpu = std::env::args().any(|a| a == "--cpu");
    let infer = std::env::args().any(|a| a == "--infer");
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (batch, size) = (*args.first().unwrap_or(&4), *args.get(1).unwrap_or(&32));
    let device = match cpu {
        true => Device::Cpu,
        false => pollster::block_on(Device::gpu()).expect("a wgpu adapter (lavapipe: mesa-vulkan-drivers)"),
    };
    let mut test = SpeedTest::new(size, batch, &device).expect("the network");
    let mut step = || match infer {
        true => pollster::block_on(test.infer()).map(drop).expect("an inference pass"),
        false => pollster::block_on(test.train_step()).map(drop).expect("a training step"),
    };
    // The first step compiles the pipelines and fills the buffer pool: not profiled. On the CPU a
    // few more steps settle the allocator and caches, and the fastest profiled step is kept.
    let (warmups, profiled) = if cpu { (2, 5) } else { (1, 1) };
    for _ in 0..warmups {
        step();
    }
    let (wall, profile) = (0..profiled)
        .map(|_| {
            device.profile_kernels(true);
            let started = Instant::now();
            step();
            (started.elapsed().as_secs_f64(), device.kernel_profile())
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .expect("at least one profiled step");
    device.profile_kernels(false);

    let total: f64 = profile.iter().map(|(_, t)| t.seconds).sum();
    let dispatches: u64 = profile.iter().map(|(_, t)| t.dispatches).sum();
    let what = if infer { "inference" } else { "unfrozen, Adam" };
    println!("{}; MobileNetV2 + fastai head, {what}; batch {batch} at {size} px", device.info().adapter);
    let alone = if cpu { "" } else { ", each dispatch alone" };
    let one = if infer { "one pass" } else { "one step" };
    println!("{one}{alone}: {wall:.3} s wall, {total:.3} s in kernels ({:.3} s outside), {dispatches} kernel runs", wall - total);
    println!("{:<32} {:>10} {:>10} {:>7} {:>12}", "kernel", "runs", "seconds", "share", "ms each");
    for (name, time) in &profile {
        println!(
            "{name:<32} {:>10} {:>10.4} {:>6.1}% {:>12.3}",
            time.dispatches,
            time.seconds,
            100.0 * time.seconds / total,
            1e3 * time.seconds / time.dispatches as f64
        );
    }
}
