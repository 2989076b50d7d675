//! The pool's reuse and budget, and the counters, on a real wgpu adapter (lavapipe without a GPU).

use pollster::block_on;

use super::GpuContext;

fn context() -> GpuContext {
    block_on(GpuContext::new()).expect("these tests need a wgpu adapter; scripts/setup.sh installs lavapipe")
}

#[test]
fn pooled_bytes_stay_within_the_budget_or_the_most_ever_in_use() {
    let gpu = context();
    let budget = 4 << 20;
    gpu.set_pool_budget(budget);
    let round_sizes = |round: usize| (0..40).map(move |i| 1024usize << ((i * 7 + round) % 12));
    let mut most_in_use = 0;
    for round in 0..6 {
        // Sizes from 1 KiB to 2 MiB, each round another mix: far more than the budget in all.
        let buffers: Vec<_> = round_sizes(round).map(|bytes| gpu.alloc(bytes / 4).unwrap()).collect();
        most_in_use = most_in_use.max(round_sizes(round).sum::<usize>() as u64);
        drop(buffers);
        // A readback submits, and so frees what was retired.
        let probe = gpu.upload(&[round as f32]).unwrap();
        assert_eq!(block_on(gpu.download(&probe)).unwrap(), [round as f32]);
        let pooled = gpu.counters().bytes_pooled;
        assert!(pooled <= budget.max(most_in_use + 512), "round {round}: {pooled} bytes pooled, {most_in_use} most in use");
    }
    // The same working set again (a training step after a step) creates nothing new.
    let before = gpu.counters();
    drop(round_sizes(5).map(|bytes| gpu.alloc(bytes / 4).unwrap()).collect::<Vec<_>>());
    assert_eq!(gpu.counters().since(&before).bytes_created, 0);
}

#[test]
fn freed_buffers_and_staging_buffers_are_reused() {
    let gpu = context();
    let data: Vec<f32> = (0..1000).map(|i| i as f32).collect();
    let first = gpu.upload(&data).unwrap();
    assert_eq!(block_on(gpu.download(&first)).unwrap(), data);
    drop(first);
    let before = gpu.counters();
    // The tensor's buffer was retired, then freed by the next submit; the staging buffer at once.
    let probe = gpu.upload(&[1.0]).unwrap();
    block_on(gpu.download(&probe)).unwrap();
    let second = gpu.upload(&data).unwrap();
    assert_eq!(block_on(gpu.download(&second)).unwrap(), data);
    let work = gpu.counters().since(&before);
    assert_eq!((work.readbacks, work.submits, work.passes, work.dispatches), (2, 2, 0, 0));
    // Only the 1-number probe and its staging buffer are new (256 bytes each, the smallest class).
    assert_eq!(work.bytes_created, 512);
}
