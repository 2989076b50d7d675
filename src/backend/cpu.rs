//! The CPU backend, as the page describes it. Its kernels are the fast CPU paths of the op
//! families (src/ops/<family>/cpu.rs), written so the compiler vectorises them (AVX2 natively
//! when the processor has it, SIMD128 in wasm) and sharing work among threads (cpu_parallel.rs).

use super::cpu_parallel as parallel;

/// "CPU, 2 threads, AVX2 + FMA", "CPU, 8 threads, WebAssembly SIMD128 + FMA", "CPU, 1 thread,
/// WebAssembly SIMD128": the threads in use and the vector instructions the loops compile to.
pub fn describe() -> String {
    let threads = parallel::threads();
    let vectors = if cfg!(target_family = "wasm") {
        if cfg!(target_feature = "relaxed-simd") {
            "WebAssembly SIMD128 + FMA"
        } else {
            "WebAssembly SIMD128"
        }
    } else if has_avx2_fma() {
        "AVX2 + FMA"
    } else if cfg!(target_arch = "aarch64") {
        "NEON"
    } else {
        "SSE2"
    };
    format!("CPU, {threads} thread{}, {vectors}", if threads == 1 { "" } else { "s" })
}

/// Whether the processor has AVX2 and FMA (the native matmul picks its kernel by this too).
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    #[allow(unreachable_code)]
    false
}

#[cfg(not(target_family = "wasm"))]
pub use profiling::{kernel_profile, profile_kernels, run_timed};

/// Runs the kernel. In the browser there is no kernel profile (no clock the profile could use).
#[cfg(target_family = "wasm")]
pub fn run_timed(_kernel: &dyn super::Kernel, run: impl FnOnce()) {
    run()
}

/// The CPU backend's kernel profile (see backend/profile.rs). `Device::Cpu` holds no state, so the
/// profile is the calling thread's: the thread that builds the graph runs every kernel.
#[cfg(not(target_family = "wasm"))]
mod profiling {
    use std::cell::RefCell;

    use crate::backend::profile::{KernelProfile, KernelTime};
    use crate::backend::Kernel;

    thread_local! {
        static PROFILE: RefCell<Option<KernelProfile>> = const { RefCell::new(None) };
    }

    pub fn profile_kernels(on: bool) {
        PROFILE.with(|p| *p.borrow_mut() = on.then(KernelProfile::default));
    }

    pub fn kernel_profile() -> Vec<(&'static str, KernelTime)> {
        PROFILE.with(|p| p.borrow().as_ref().map(KernelProfile::slowest_first).unwrap_or_default())
    }

    /// Runs the kernel, charging its time to its name while profiling.
    pub fn run_timed(kernel: &dyn Kernel, run: impl FnOnce()) {
        if PROFILE.with(|p| p.borrow().is_none()) {
            return run();
        }
        let started = std::time::Instant::now();
        run();
        let seconds = started.elapsed().as_secs_f64();
        PROFILE.with(|p| p.borrow_mut().as_mut().map(|profile| profile.record(kernel.name(), seconds)));
    }
}
