//! Timing each kernel on its own (`cargo bench --bench gpu_profile`): while profiling, every
//! dispatch is submitted alone and waited for, which is slow and defeats batching, but says where
//! a step's time goes on a given adapter.

#[cfg(not(target_family = "wasm"))]
use std::collections::HashMap;

use super::GpuContext;

/// How often one kernel ran while profiling, and the seconds it took in all.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KernelTime {
    pub dispatches: u64,
    pub seconds: f64,
}

impl GpuContext {
    /// Starts (or stops) timing each kernel on its own: every dispatch is then submitted alone and
    /// waited for, which is slow and defeats batching, but says where a step's time goes on a
    /// given adapter. Native only: the browser cannot wait for the GPU.
    #[cfg(not(target_family = "wasm"))]
    pub fn profile_kernels(&self, on: bool) {
        *self.profile.borrow_mut() = on.then(HashMap::new);
    }

    /// The kernels timed since profiling started, slowest first.
    pub fn kernel_profile(&self) -> Vec<(&'static str, KernelTime)> {
        let mut times: Vec<_> = self.profile.borrow().iter().flatten().map(|(&name, &time)| (name, time)).collect();
        times.sort_by(|a, b| b.1.seconds.total_cmp(&a.1.seconds));
        times
    }

    /// Runs the batch recorded so far (ending in `name`'s dispatch) alone and charges its time to
    /// `name`.
    #[cfg(not(target_family = "wasm"))]
    pub(super) fn time_alone(&self, name: &'static str) {
        let started = std::time::Instant::now();
        self.submit(None);
        // A failed wait shows up as the device's failure at the next call.
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
        let seconds = started.elapsed().as_secs_f64();
        if let Some(times) = self.profile.borrow_mut().as_mut() {
            let time = times.entry(name).or_default();
            time.dispatches += 1;
            time.seconds += seconds;
        }
    }
}
