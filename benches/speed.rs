//! Native kiln's speed on the figures the other benchmarks compare against: MobileNetV2 with
//! fastai's head, unfrozen, a training step (forward, backward, Adam) and inference, images/s;
//! matmul GFLOP/s (n×n @ n×n). Medians of repeated runs. The browser bench (bench.html,
//! scripts/bench-browser.mjs) puts the CPU figures beside the browser's; scripts/gpu-bench.sh
//! puts the wgpu figures beside PyTorch's on the same GPU.
//!
//!     cargo bench --bench speed                     # CPU: batch 16 at 128 and 224 px, matmul 256-1024
//!     cargo bench --bench speed -- --json           # one JSON object (what the scripts read)
//!     cargo bench --bench speed -- 128              # chosen image sizes only, no matmul
//!     cargo bench --bench speed -- --gpu --batch 32 --matmul 1024,2048,4096
//!                                                   # the wgpu backend (a GPU, or lavapipe)

use std::time::Duration;

#[path = "common/timing.rs"]
mod timing;
use timing::median_seconds;

use kiln::learner::speed::SpeedTest;
use kiln::{Device, Tensor};

struct Options {
    json: bool,
    gpu: bool,
    batch: usize,
    sizes: Vec<usize>,
    matmul: Vec<usize>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value_of = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let numbers = |list: String| list.split(',').map(|n| n.parse().expect("a list of numbers, e.g. 1024,2048")).collect::<Vec<usize>>();
    // Bare numbers are image sizes; the values of flags are not.
    let flag_values: Vec<usize> = ["--batch", "--matmul"].iter().filter_map(|f| args.iter().position(|a| a == f)).map(|i| i + 1).collect();
    let sizes: Vec<usize> = args.iter().enumerate().filter(|(i, _)| !flag_values.contains(i)).filter_map(|(_, a)| a.parse().ok()).collect();
    let matmul = match value_of("--matmul") {
        Some(list) => numbers(list),
        None if sizes.is_empty() => vec![256, 512, 1024],
        None => vec![],
    };
    Options {
        json: args.iter().any(|a| a == "--json"),
        gpu: args.iter().any(|a| a == "--gpu"),
        batch: value_of("--batch").map_or(16, |b| b.parse().expect("--batch takes a number")),
        sizes: if sizes.is_empty() { vec![128, 224] } else { sizes },
        matmul,
    }
}

/// Median seconds of one n×n @ n×n product. Several products are recorded and one number of the
/// last is read back, so a GPU is timed on its arithmetic, not on reading n² results.
fn matmul_seconds(n: usize, device: &Device) -> f64 {
    let a = Tensor::randn(&[n, n], 1, device).unwrap();
    let b = Tensor::randn(&[n, n], 2, device).unwrap();
    let repeats = (2048.0 / n as f64).powi(3).clamp(1.0, 16.0) as usize;
    let seconds = median_seconds(Duration::from_secs(3), 50, || {
        let mut c = a.matmul(&b).unwrap();
        for _ in 1..repeats {
            c = a.matmul(&b).unwrap();
        }
        pollster::block_on(c.sum().unwrap().item()).unwrap();
    });
    seconds / repeats as f64
}

fn main() {
    let options = options();
    let device = if options.gpu { pollster::block_on(Device::gpu()).expect("a wgpu adapter") } else { Device::Cpu };
    let batch = options.batch;
    let mut rows = Vec::new();
    for &size in &options.sizes {
        let mut test = SpeedTest::new(size, batch, &device).expect("the network");
        let train = median_seconds(Duration::from_secs(15), 10, || {
            pollster::block_on(test.train_step()).expect("a training step");
        });
        let infer = median_seconds(Duration::from_secs(10), 20, || {
            pollster::block_on(test.infer()).expect("inference");
        });
        rows.push((format!("train{size}"), batch as f64 / train));
        rows.push((format!("infer{size}"), batch as f64 / infer));
    }
    for &n in &options.matmul {
        rows.push((format!("matmul{n}"), 2.0 * (n as f64).powi(3) / matmul_seconds(n, &device) / 1e9));
    }
    let backend = device.info().adapter;
    if options.json {
        let fields: Vec<String> = rows.iter().map(|(name, value)| format!("\"{name}\": {value:.3}")).collect();
        println!("{{\"backend\": \"{backend}\", \"batch\": {batch}, {}}}", fields.join(", "));
    } else {
        println!("native kiln, {backend}; batch {batch}, MobileNetV2 + fastai head, unfrozen");
        for (name, value) in rows {
            let unit = if name.starts_with("matmul") { "GFLOP/s" } else { "images/s" };
            println!("{name:>12} {value:>10.2} {unit}");
        }
    }
}
