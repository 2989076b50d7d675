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
