//! Matmul throughput, side by side in one run: a plain i-k-j loop (the baseline), kiln's CPU
//! backend, and kiln's wgpu backend on whatever adapter this machine has (lavapipe without a GPU).
//! Prints GFLOP/s (2·n³ flops per product) as medians over repeated runs, and ratios to the baseline.
//!
//!     cargo bench --bench matmul            # sizes 64 … 1024
//!     cargo bench --bench matmul -- 256 512 # chosen sizes

use std::time::Duration;

#[path = "common/timing.rs"]
mod timing;
use timing::median_seconds;

use kiln::{Device, Tensor};

fn naive_ikj(a: &[f32], b: &[f32], c: &mut [f32], n: usize) {
    c.fill(0.0);
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            for j in 0..n {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![64, 128, 256, 512, 1024] } else { sizes };
    let gpu = pollster::block_on(Device::gpu()).ok();
    println!("CPU backend: {}", Device::Cpu.info().adapter);
    match &gpu {
        Some(gpu) => println!("wgpu backend: {} (software: {})", gpu.info().adapter, gpu.info().fallback),
        None => println!("wgpu backend: no adapter found"),
    }
    println!("{:>6} {:>14} {:>14} {:>14} {:>10} {:>10}", "n", "naive GFLOP/s", "cpu GFLOP/s", "wgpu GFLOP/s", "cpu/naive", "wgpu/cpu");
    for n in sizes {
        let flops = 2.0 * (n as f64).powi(3);
        let a = Tensor::randn(&[n, n], 1, &Device::Cpu).unwrap();
        let b = Tensor::randn(&[n, n], 2, &Device::Cpu).unwrap();
        let (a_host, b_host) = (pollster::block_on(a.to_vec()).unwrap(), pollster::block_on(b.to_vec()).unwrap());
        let mut c_host = vec![0.0; n * n];
        let budget = Duration::from_secs(2);
        let naive = flops / median_seconds(budget, 50, || naive_ikj(&a_host, &b_host, &mut c_host, n)) / 1e9;
        let cpu = flops / median_seconds(budget, 50, || drop(a.matmul(&b).unwrap())) / 1e9;
        let wgpu = gpu.as_ref().map(|gpu| {
            let (ga, gb) = (Tensor::from_slice(&a_host, &[n, n], gpu).unwrap(), Tensor::from_slice(&b_host, &[n, n], gpu).unwrap());
            // Several products per readback, as in training: the queue stays busy between them.
            let per_readback = 4;
            let seconds = median_seconds(budget, 50, || {
                let outs: Vec<Tensor> = (0..per_readback).map(|_| ga.matmul(&gb).unwrap()).collect();
                pollster::block_on(outs[per_readback - 1].to_vec()).unwrap();
            });
            flops * per_readback as f64 / seconds / 1e9
        });
        let (wgpu_text, ratio_text) = match wgpu {
            Some(g) => (format!("{g:.2}"), format!("{:.3}", g / cpu)),
            None => ("-".into(), "-".into()),
        };
        println!("{n:>6} {naive:>14.2} {cpu:>14.2} {wgpu_text:>14} {:>10.2} {ratio_text:>10}", cpu / naive);
    }
}
