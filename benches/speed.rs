//! The native side of the browser bench (bench.html, scripts/bench-browser.mjs): the same
//! figures for native kiln's CPU backend, so the browser can be put beside it. MobileNetV2 with
//! fastai's head, unfrozen, batch 16: a training step (forward, backward, Adam) and inference,
//! images/s, at 128 and 224 px; matmul GFLOP/s at 256-1024. Medians of repeated runs.
//!
//!     cargo bench --bench speed            # a table
//!     cargo bench --bench speed -- --json  # one JSON object (what bench-browser.mjs reads)
//!     cargo bench --bench speed -- 128     # chosen image sizes only, no matmul

use std::time::Duration;

#[path = "common/timing.rs"]
mod timing;
use timing::median_seconds;

use kiln::learner::speed::SpeedTest;
use kiln::{Device, Tensor};

const BATCH: usize = 16;

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let chosen: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let device = Device::Cpu;
    let mut rows = Vec::new();
    for &size in if chosen.is_empty() { &[128, 224][..] } else { &chosen } {
        let mut test = SpeedTest::new(size, BATCH, &device).expect("the network");
        let train = median_seconds(Duration::from_secs(15), 10, || {
            pollster::block_on(test.train_step()).expect("a training step");
        });
        let infer = median_seconds(Duration::from_secs(10), 20, || {
            pollster::block_on(test.infer()).expect("inference");
        });
        rows.push((format!("train{size}"), BATCH as f64 / train));
        rows.push((format!("infer{size}"), BATCH as f64 / infer));
    }
    for &n in if chosen.is_empty() { &[256, 512, 1024][..] } else { &[] } {
        let a = Tensor::randn(&[n, n], 1, &device).unwrap();
        let b = Tensor::randn(&[n, n], 2, &device).unwrap();
        let seconds = median_seconds(Duration::from_secs(3), 50, || {
            pollster::block_on(a.matmul(&b).unwrap().to_vec()).unwrap();
        });
        rows.push((format!("matmul{n}"), 2.0 * (n as f64).powi(3) / seconds / 1e9));
    }
    let backend = device.info().adapter;
    if json {
        let fields: Vec<String> = rows.iter().map(|(name, value)| format!("\"{name}\": {value:.3}")).collect();
        println!("{{\"backend\": \"{backend}\", {}}}", fields.join(", "));
    } else {
        println!("native kiln, {backend}; batch {BATCH}, MobileNetV2 + fastai head, unfrozen");
        for (name, value) in rows {
            let unit = if name.starts_with("matmul") { "GFLOP/s" } else { "images/s" };
            println!("{name:>12} {value:>10.2} {unit}");
        }
    }
}
