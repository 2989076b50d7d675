//! Timing each kernel on its own on the GPU (see backend/profile.rs): while profiling, every
//! dispatch is submitted alone and waited for. Native only: the browser cannot wait for the GPU.

use super::GpuContext;
use crate::backend::profile::{KernelProfile, KernelTime};

impl GpuContext {
    /// Starts (or stops) timing each kernel on its own.
    pub fn profile_kernels(&self, on: bool) {
        *self.profile.borrow_mut() = on.then(KernelProfile::default);
    }

    /// The kernels timed since profiling started, slowest first.
    pub fn kernel_profile(&self) -> Vec<(&'static str, KernelTime)> {
        self.profile.borrow().as_ref().map(KernelProfile::slowest_first).unwrap_or_default()
    }

    /// Runs the batch recorded so far (ending in `name`'s dispatch) alone and charges its time to
    /// `name`.
    pub(super) fn time_alone(&self, name: &'static str) {
        let started = std::time::Instant::now();
        self.submit(None);
        // A failed wait shows up as the device's failure at the next call.
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
        let seconds = started.elapsed().as_secs_f64();
        if let Some(profile) = self.profile.borrow_mut().as_mut() {
            profile.record(name, seconds);
        }
    }
}
