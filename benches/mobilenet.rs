//! MobileNetV2 forward throughput (images/s, evaluation mode, batch 16) at 224 and 128 px, on the
//! CPU backend and the wgpu backend side by side in one run, medians over repeated batches.
//!
//!     cargo bench --bench mobilenet            # both sizes
//!     cargo bench --bench mobilenet -- 128     # chosen sizes

use std::time::Duration;

#[path = "common/timing.rs"]
mod timing;
use timing::median_seconds;

use kiln::nn::{mobilenet_v2, Module};
use kiln::{no_grad, Device, Tensor};

const BATCH: usize = 16;

/// Median seconds per batch: forward pass plus reading the logits back (so GPU work is finished).
fn seconds_per_batch(device: &Device, size: usize, budget: Duration) -> f64 {
    let model = mobilenet_v2(1000, device, 0).unwrap();
    model.set_training(false);
    let input = Tensor::randn(&[BATCH, 3, size, size], 1, device).unwrap();
    median_seconds(budget, 20, || {
        let logits = no_grad(|| model.forward(&input)).unwrap();
        pollster::block_on(logits.to_vec()).unwrap();
    })
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![224, 128] } else { sizes };
    let gpu = pollster::block_on(Device::gpu()).ok();
    let mut devices = vec![Device::Cpu];
    devices.extend(gpu);
    println!("MobileNetV2 forward, batch {BATCH}, evaluation mode");
    println!("{:>6} {:>40} {:>12} {:>12}", "size", "backend", "images/s", "vs cpu");
    for size in sizes {
        let mut cpu_rate = None;
        for device in &devices {
            let rate = BATCH as f64 / seconds_per_batch(device, size, Duration::from_secs(10));
            let base = *cpu_rate.get_or_insert(rate);
            let info = device.info();
            println!("{size:>6} {:>40} {rate:>12.2} {:>12.3}", format!("{} {}", info.backend, info.adapter), rate / base);
        }
    }
}
