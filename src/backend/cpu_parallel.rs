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

#[cfg(not(target_family = "wasm"))]
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
    run_tasks(out.chunks_mut(chunk_len).collect(), f);
}

/// `tasks.map(f)` in order, on all threads when there are several.
pub fn map<T: Send, R: Send>(tasks: Vec<T>, f: impl Fn(usize, T) -> R + Sync + Send) -> Vec<R> {
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(tasks.len()).collect();
    let tasks_and_results: Vec<(T, &mut Option<R>)> = tasks.into_iter().zip(results.iter_mut()).collect();
    run_tasks(tasks_and_results, |i, (task, result)| *result = Some(f(i, task)));
    results.into_iter().map(|result| result.expect("every task ran")).collect()
}

/// Runs `f(i, task)` for every task, on all threads when there are several.
fn run_tasks<T: Send>(tasks: Vec<T>, f: impl Fn(usize, T) + Sync + Send) {
    // Natively the calling thread waits while rayon's pool (a thread per core) shares the tasks.
    #[cfg(not(target_family = "wasm"))]
    if threads() > 1 {
        return tasks.into_par_iter().enumerate().for_each(|(i, task)| f(i, task));
    }
    #[cfg(all(target_family = "wasm", feature = "threads"))]
    if threads() > 1 && tasks.len() > 1 {
        return browser::run_tasks_with_caller(tasks, &f);
    }
    run_group(tasks.into_iter().enumerate(), &f);
}

/// Runs `f(i, task)` for a group of tasks, in order. Never inlined: in the browser the calling
/// thread and the pool's workers must run the very same function (see `run_tasks_with_caller`).
#[inline(never)]
fn run_group<T>(group: impl IntoIterator<Item = (usize, T)>, f: &impl Fn(usize, T)) {
    group.into_iter().for_each(|(i, task)| f(i, task));
}

#[cfg(target_family = "wasm")]
pub mod browser {
    //! The browser's thread pool: started once, then used in full or in part.
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Threads the pool gives: its workers and the calling thread (0: not started, or the
    /// single-threaded build).
    static POOL_SIZE: AtomicUsize = AtomicUsize::new(0);
    /// How many of them kiln uses now (a benchmark compares 1 with all).
    static ACTIVE: AtomicUsize = AtomicUsize::new(1);

    pub fn active() -> usize {
        ACTIVE.load(Ordering::Relaxed).min(POOL_SIZE.load(Ordering::Relaxed)).max(1)
    }

    pub fn pool_size() -> usize {
        POOL_SIZE.load(Ordering::Relaxed)
    }

    /// Records that a pool of `size` threads is running (`size - 1` workers and the caller).
    pub fn started(size: usize) {
        POOL_SIZE.store(size, Ordering::Relaxed);
        ACTIVE.store(size, Ordering::Relaxed);
    }

    /// Uses `n` of the pool's threads (at least 1, at most all of them).
    pub fn use_threads(n: usize) {
        ACTIVE.store(n.clamp(1, pool_size().max(1)), Ordering::Relaxed);
    }

    /// Runs `f(i, task)` for every task, cut into one contiguous group per thread: the calling
    /// thread runs the first group itself while the pool's workers run the others, and it returns
    /// when all are done. The pool has one worker fewer than the threads it gives.
    ///
    /// Why the calling thread takes a share: V8 first compiles WebAssembly with a quick baseline
    /// compiler, and recompiles a function with its optimising compiler once it runs hot. A hot
    /// function that ran only on the pool's workers (Web Workers that never return to their
    /// event loop) stayed unoptimised: a matrix product on 2 threads ran at about half the speed
    /// of 1 thread in Chromium 156, and 1.8x its speed with `--js-flags=--no-wasm-dynamic-tiering`.
    /// When the calling thread runs the same `run_group` as the workers, the function is
    /// optimised, and the workers call the optimised code as well.
    #[cfg(feature = "threads")]
    pub(super) fn run_tasks_with_caller<T: Send>(tasks: Vec<T>, f: &(impl Fn(usize, T) + Sync)) {
        let per_group = tasks.len().div_ceil(active());
        let mut tasks = tasks.into_iter().enumerate().peekable();
        let mut groups = Vec::new();
        while tasks.peek().is_some() {
            groups.push(tasks.by_ref().take(per_group).collect::<Vec<_>>());
        }
        let mut groups = groups.into_iter();
        let callers_group = groups.next();
        rayon::in_place_scope(|scope| {
            for group in groups {
                scope.spawn(move |_| super::run_group(group, f));
            }
            if let Some(group) = callers_group {
                super::run_group(group, f);
            }
        });
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
        assert_eq!(map((0..5).collect(), |i, t: usize| i * 10 + t), [0, 11, 22, 33, 44]);
    }
}
