//! Wider vectors for the CPU loops that the compiler vectorises on its own. A native build
//! targets baseline x86-64, whose vectors are 128-bit SSE; most processors it runs on also have
//! 256-bit AVX2. `wide` runs a loop body compiled for AVX2 when the processor has it (checked at
//! run time, so the binary still runs everywhere), else the same body as built. In wasm it is a
//! plain call: SIMD128 is already the widest there.

/// Runs `body`, compiled for AVX2 where the processor supports it. The body must be inlined
/// into the AVX2 instance for its loops to use the wider registers, so callers mark their
/// closure `#[inline(always)]` (and the helpers it calls too, when they hold the hot loops).
/// The arithmetic is unchanged, only wider: no fused multiply-adds, so results stay bit for bit
/// the same on every target.
#[inline(always)]
pub fn wide<R>(body: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor supports AVX2, checked just above.
        return unsafe { with_avx2(body) };
    }
    body()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(body: impl FnOnce() -> R) -> R {
    body()
}
