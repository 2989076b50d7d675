//! The CPU backend's threads in the browser: `initThreads` starts rayon's pool on Web Workers in
//! the threaded build (`threads` feature), and `cpuInfo` says what the CPU backend has.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::interop::{bad_input, js_object};
use crate::backend::cpu_parallel::{browser, threads};

/// Which WebAssembly build this is: "threads-fma", "threads" or "simd" (one thread).
pub(crate) const BUILD: &str = if cfg!(feature = "threads") {
    if cfg!(target_feature = "relaxed-simd") {
        "threads-fma"
    } else {
        "threads"
    }
} else {
    "simd"
};

/// `{build, threads, poolSize, fma}`: the build, the threads the CPU backend uses now, the
/// workers started, and whether its matrix products use fused multiply-add (relaxed SIMD).
#[wasm_bindgen(js_name = cpuInfo, unchecked_return_type = "{build: string, threads: number, poolSize: number, fma: boolean}")]
pub fn cpu_info() -> JsValue {
    js_object(&[
        ("build", BUILD.into()),
        ("threads", (threads() as u32).into()),
        ("poolSize", (browser::pool_size() as u32).into()),
        ("fma", cfg!(target_feature = "relaxed-simd").into()),
    ])
}

/// `await initThreads(n)`: gives the CPU backend `n` threads and returns `cpuInfo()`.
/// The first call starts a pool of `n` Web Workers sharing kiln's memory; later calls use `n` of
/// them (at most the pool's size: a pool cannot grow, reload the page for a bigger one).
/// Call it from a Web Worker: a page's main thread would spin while the workers compute, since
/// browsers do not let it wait. Rejects in the single-threaded build, which has no threads to give.
#[wasm_bindgen(js_name = initThreads, unchecked_return_type = "Promise<{build: string, threads: number, poolSize: number, fma: boolean}>")]
pub fn init_threads(n: u32) -> Promise {
    future_to_promise(async move {
        if n == 0 {
            return Err(bad_input("initThreads", "the number of threads must be at least 1").into());
        }
        start_pool(n as usize).await?;
        browser::use_threads(n as usize);
        Ok(cpu_info())
    })
}

#[cfg(feature = "threads")]
async fn start_pool(n: usize) -> Result<(), JsValue> {
    if browser::pool_size() == 0 {
        wasm_bindgen_futures::JsFuture::from(wasm_bindgen_rayon::init_thread_pool(n)).await?;
        browser::started(n);
    } else if n > browser::pool_size() {
        let size = browser::pool_size();
        let detail = format!("the pool already has {size} threads and cannot grow to {n}; reload the page to start a bigger one");
        return Err(bad_input("initThreads", detail).into());
    }
    Ok(())
}

#[cfg(not(feature = "threads"))]
async fn start_pool(n: usize) -> Result<(), JsValue> {
    if n > 1 {
        let detail = "this is kiln's single-threaded build; load the threaded one (pkg/threads/) in a cross-origin isolated page";
        return Err(bad_input("initThreads", detail).into());
    }
    Ok(())
}
