//! Time and turn-taking that differ between native code and the browser.

/// Seconds since some fixed point: a monotonic clock natively, the wall clock in the browser.
pub(super) fn now() -> f64 {
    #[cfg(not(target_family = "wasm"))]
    {
        use std::sync::OnceLock;
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
    }
    #[cfg(target_family = "wasm")]
    {
        js_sys::Date::now() / 1000.0
    }
}

/// Lets the browser's event loop run once (a `setTimeout(0)` turn). On the CPU backend a training
/// loop never waits on anything, so without this a Web Worker running it would never see the
/// page's "Stop" message, and a page running it would freeze. Natively it does nothing.
pub(super) async fn yield_to_event_loop() {
    #[cfg(target_family = "wasm")]
    {
        use wasm_bindgen::JsCast;
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let set_timeout =
                js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok());
            match set_timeout {
                Some(set_timeout) => {
                    let _ = set_timeout.call2(&wasm_bindgen::JsValue::NULL, &resolve, &0.into());
                }
                None => {
                    let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
                }
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}
