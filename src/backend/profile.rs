//! Timing each kernel on its own (`Device::profile_kernels`, `cargo bench --bench kernel_profile`):
//! where a step's time goes, kernel by kernel, on either backend. On the GPU every dispatch is then
//! submitted alone and waited for, which is slow and defeats batching, but says where a step's
//! time goes on a given adapter; on the CPU each kernel's `run_cpu` is timed as it runs.

use std::collections::HashMap;

/// How often one kernel ran while profiling, and the seconds it took in all.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KernelTime {
    pub dispatches: u64,
    pub seconds: f64,
}

/// The kernels timed so far, by entry point.
#[derive(Debug, Default)]
pub struct KernelProfile(HashMap<&'static str, KernelTime>);

impl KernelProfile {
    pub fn record(&mut self, name: &'static str, seconds: f64) {
        let time = self.0.entry(name).or_default();
        time.dispatches += 1;
        time.seconds += seconds;
    }

    /// Slowest first.
    pub fn slowest_first(&self) -> Vec<(&'static str, KernelTime)> {
        let mut times: Vec<_> = self.0.iter().map(|(&name, &time)| (name, time)).collect();
        times.sort_by(|a, b| b.1.seconds.total_cmp(&a.1.seconds));
        times
    }
}
