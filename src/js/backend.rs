//! Where new tensors live: `useBackend`, `backendInfo` and `compareBackends`. 'auto' takes
//! whichever backend trains the Learner's network faster here, timed, and says why.

use std::cell::RefCell;

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::interop::{bad_input, js_error, js_object};
use super::options::{self, BackendOptions};
use crate::error::ErrorKind;
use crate::learner::speed::SpeedTest;
use crate::{Device, Error};

thread_local! {
    /// The backend new tensors are created on; chosen with `useBackend`.
    static CURRENT: RefCell<Device> = const { RefCell::new(Device::Cpu) };
    /// The WebGPU device, opened once and reused when the user switches back to it.
    static GPU: RefCell<Option<Device>> = const { RefCell::new(None) };
    /// The browser's own words for its WebGPU adapter ("google swiftshader"), which wgpu leaves empty.
    static BROWSER_ADAPTER: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub(super) fn current() -> Device {
    CURRENT.with(|c| c.borrow().clone())
}

/// The backend's description as a plain JS object `{backend, adapter, fallback}`.
fn info_object(device: &Device) -> JsValue {
    let mut info = device.info();
    if info.backend == "webgpu" {
        if let Some(name) = BROWSER_ADAPTER.with(|a| a.borrow().clone()) {
            info.adapter = name;
        }
    }
    js_object(&[("backend", info.backend.into()), ("adapter", info.adapter.into()), ("fallback", info.fallback.into())])
}

/// The WebGPU device, opened on first use and kept.
async fn open_webgpu() -> crate::Result<Device> {
    if let Some(gpu) = GPU.with(|g| g.borrow().clone()) {
        return Ok(gpu);
    }
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).unwrap_or(JsValue::UNDEFINED);
    let has_webgpu = !navigator.is_undefined() && Reflect::get(&navigator, &"gpu".into()).map(|g| !g.is_undefined()).unwrap_or(false);
    if !has_webgpu {
        let detail = "WebGPU is not available in this browser (navigator.gpu is missing)";
        return Err(Error::of(ErrorKind::NoGpu, "useBackend", detail));
    }
    let gpu = Device::gpu().await?;
    let name = browser_adapter_name(&navigator).await;
    BROWSER_ADAPTER.with(|a| *a.borrow_mut() = name);
    GPU.with(|g| *g.borrow_mut() = Some(gpu.clone()));
    Ok(gpu)
}

/// `await useBackend('auto' | 'webgpu' | 'cpu', {size, batchSize})`: picks where new tensors live
/// and returns `{backend, adapter, fallback, reason?}`. 'webgpu' rejects with an Error when there
/// is no adapter. 'auto' takes the CPU backend when WebGPU is missing or its only adapter is a
/// software one (far slower than kiln's CPU code), and `reason` says why (for a missing WebGPU,
/// the error 'webgpu' would have given, "useBackend: WebGPU is not available ..."). With a real
/// GPU it times a few training steps of the Learner's network at `size` and `batchSize` on each
/// backend (`compareBackends`) and keeps the faster; `reason` gives both figures.
#[wasm_bindgen(
    js_name = useBackend,
    unchecked_return_type = "Promise<{backend: string, adapter: string, fallback: boolean, reason?: string}>"
)]
pub fn use_backend(
    #[wasm_bindgen(unchecked_param_type = "'auto' | 'webgpu' | 'cpu'")] name: String,
    #[wasm_bindgen(unchecked_param_type = "{size?: number, batchSize?: number, steps?: number}")] options: JsValue,
) -> Promise {
    let options = options::read::<BackendOptions>("useBackend", &options);
    future_to_promise(async move {
        let options = options?;
        let (device, reason) = match name.as_str() {
            "cpu" => (Device::Cpu, None),
            "webgpu" => (open_webgpu().await.map_err(js_error)?, None),
            "auto" => match open_webgpu().await {
                Ok(gpu) if !gpu.info().fallback => {
                    let rates = race(&gpu, &options).await.map_err(js_error)?;
                    (if rates.gpu > rates.cpu { gpu } else { Device::Cpu }, Some(rates.explain(&options)))
                }
                Ok(_) => {
                    let adapter = BROWSER_ADAPTER.with(|a| a.borrow().clone()).unwrap_or_default();
                    (
                        Device::Cpu,
                        Some(format!("the only WebGPU adapter here is a software one ({adapter}), slower than kiln's CPU backend")),
                    )
                }
                Err(error) => (Device::Cpu, Some(error.message().to_string())),
            },
            other => return Err(bad_input("useBackend", format!("unknown backend '{other}'; use 'auto', 'webgpu' or 'cpu'")).into()),
        };
        CURRENT.with(|c| *c.borrow_mut() = device.clone());
        let info = info_object(&device);
        if let Some(reason) = reason {
            Reflect::set(&info, &"reason".into(), &reason.into())?;
        }
        Ok(info)
    })
}

/// Training images/s of the Learner's network on each backend.
struct Rates {
    cpu: f64,
    gpu: f64,
}

impl Rates {
    fn explain(&self, options: &BackendOptions) -> String {
        let (faster, slower) = if self.gpu > self.cpu { ("WebGPU", "the CPU backend") } else { ("the CPU backend", "WebGPU") };
        format!(
            "{faster} trains faster here: {:.1} images/s on WebGPU, {:.1} on the CPU backend ({} px, batch {}), so {slower} is not used",
            self.gpu, self.cpu, options.size, options.batch_size
        )
    }
}

/// Times `options.steps` training steps (after a warm-up) on the CPU backend and on `gpu`.
async fn race(gpu: &Device, options: &BackendOptions) -> crate::Result<Rates> {
    let rate =
        |device: Device| async move { SpeedTest::new(options.size, options.batch_size, &device)?.training_rate(options.steps).await };
    Ok(Rates { cpu: rate(Device::Cpu).await?, gpu: rate(gpu.clone()).await? })
}

/// `await compareBackends({size = 128, batchSize = 16, steps = 2})` → `{cpu, webgpu}`: training
/// images/s of the Learner's network (MobileNetV2 + fastai's head, unfrozen, Adam) on each
/// backend, on any WebGPU adapter (a software one too); the backend in use does not change.
/// Rejects when there is no WebGPU.
#[wasm_bindgen(js_name = compareBackends, unchecked_return_type = "Promise<{cpu: number, webgpu: number}>")]
pub fn compare_backends(
    #[wasm_bindgen(unchecked_param_type = "{size?: number, batchSize?: number, steps?: number}")] options: JsValue,
) -> Promise {
    let options = options::read::<BackendOptions>("compareBackends", &options);
    future_to_promise(async move {
        let options = options?;
        let gpu = open_webgpu().await.map_err(js_error)?;
        let rates = race(&gpu, &options).await.map_err(js_error)?;
        Ok(js_object(&[("cpu", rates.cpu.into()), ("webgpu", rates.gpu.into())]))
    })
}

/// "vendor architecture" (or the description) from `navigator.gpu.requestAdapter()`'s `info`.
async fn browser_adapter_name(navigator: &JsValue) -> Option<String> {
    let gpu = Reflect::get(navigator, &"gpu".into()).ok()?;
    let request = Reflect::get(&gpu, &"requestAdapter".into()).ok()?.dyn_into::<Function>().ok()?;
    let promise = request.call0(&gpu).ok()?.dyn_into::<Promise>().ok()?;
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let info = Reflect::get(&adapter, &"info".into()).ok()?;
    let field = |key: &str| Reflect::get(&info, &key.into()).ok().and_then(|v| v.as_string()).unwrap_or_default();
    let words: Vec<String> = [field("vendor"), field("architecture"), field("description")].into_iter().filter(|w| !w.is_empty()).collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// `{backend, adapter, fallback}` of the backend in use now.
#[wasm_bindgen(js_name = backendInfo, unchecked_return_type = "{backend: string, adapter: string, fallback: boolean}")]
pub fn backend_info() -> JsValue {
    info_object(&current())
}
