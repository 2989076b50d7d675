//! Work shared among the CPU backend's threads: the one place that knows whether there are any.
//!
//! Natively rayon's global pool has a thread per core (`RAYON_NUM_THREADS` overrides it). In the
//! browser there are threads only in the threaded WebAssembly build (cargo feature `threads`, shared
//! memory + atomics), and only once `initThreads` (js/threads.rs) has started rayon's pool on Web Workers
//! (wasm-bindgen-rayon). Until then, and in the single-threaded build, every helper here runs its
//! tasks one after another on the calling thread, so callers never need a `cfg` of their own.
//!
//! Rayon's pool must not be touched before it is started in the browser: rayon would build a
//! one-thread pool of its own on first use, and the real one could then never be installed.

#[cfg(any(not(target_family = "wasm"), feature = "threads"))]
use rayon::prelude::*;

/// Threads the CPU backend may use now (1 = the calling thread alone).
pub fn threads() -> usize {
    #[cfg(not(target_family = "wasm"))]
    return rayon::current_num_threads();
    #[cfg(target_family = "wasm")]
    return browser::active();
}

/// Calls `f(chunk index, chunk)` for each `chunk_len`-sized chunk of `out` (the last may be
/// shorter), on all threads when there are several.
pub fn for_each_chunk(out: &mut [f32], chunk_len: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    for_each_chunk_with(out, chunk_len, || (), |_, i, chunk| f(i, chunk));
}

/// `for_each_chunk` with scratch space: `f(scratch, chunk index, chunk)`, where `scratch` comes
/// from `init` and is reused by the chunks one thread runs in a row (rayon's `for_each_init`), so
/// a kernel need not allocate and zero its buffers for every chunk.
pub fn for_each_chunk_with<S>(
    out: &mut [f32],
    chunk_len: usize,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, usize, &mut [f32]) + Sync + Send,
) {
    #[cfg(any(not(target_family = "wasm"), feature = "threads"))]
    if threads() > 1 {
        out.par_chunks_mut(chunk_len).enumerate().for_each_init(&init, |scratch, (i, chunk)| f(scratch, i, chunk));
        return;
    }
    let mut scratch = init();
    out.chunks_mut(chunk_len).enumerate().for_each(|(i, chunk)| f(&mut scratch, i, chunk));
}

/// `tasks.map(f)` in order, on all threads when there are several.
pub fn map<T: Send, R: Send>(tasks: Vec<T>, f: impl Fn(usize, T) -> R + Sync + Send) -> Vec<R> {
    #[cfg(any(not(target_family = "wasm"), feature = "threads"))]
    if threads() > 1 {
        return tasks.into_par_iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    tasks.into_iter().enumerate().map(|(i, t)| f(i, t)).collect()
}

#[cfg(target_family = "wasm")]
pub mod browser {
    //! The browser's thread pool: started once, then used in full or in part.
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Workers in rayon's pool (0: not started, or the single-threaded build).
    static POOL_SIZE: AtomicUsize = AtomicUsize::new(0);
    /// How many of them kiln uses now (a benchmark compares 1 with all).
    static ACTIVE: AtomicUsize = AtomicUsize::new(1);

    pub fn active() -> usize {
        ACTIVE.load(Ordering::Relaxed).min(POOL_SIZE.load(Ordering::Relaxed)).max(1)
    }

    pub fn pool_size() -> usize {
        POOL_SIZE.load(Ordering::Relaxed)
    }

    /// Records that a pool of `size` workers is running.
    pub fn started(size: usize) {
        POOL_SIZE.store(size, Ordering::Relaxed);
        ACTIVE.store(size, Ordering::Relaxed);
    }

    /// Uses `n` of the pool's workers (at least 1, at most all of them).
    pub fn use_threads(n: usize) {
        ACTIVE.store(n.clamp(1, pool_size().max(1)), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_and_tasks_keep_their_order() {
        let mut out = vec![0.0; 10];
        for_each_chunk(&mut out, 3, |i, chunk| chunk.iter_mut().for_each(|v| *v = i as f32));
        assert_eq!(out, [0., 0., 0., 1., 1., 1., 2., 2., 2., 3.]);
        let mut through_scratch = vec![0.0; 10];
        for_each_chunk_with(
            &mut through_scratch,
            3,
            || vec![0.0; 3],
            |scratch, i, chunk| {
                scratch.fill(i as f32);
                chunk.copy_from_slice(&scratch[..chunk.len()]);
            },
        );
        assert_eq!(through_scratch, out);
        assert_eq!(map((0..5).collect(), |i, t: usize| i * 10 + t), [0, 11, 22, 33, 44]);
    }
}
