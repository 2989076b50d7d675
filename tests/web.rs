//! The crate compiled to wasm, run by wasm-bindgen-test in headless Chromium: WebGPU (SwiftShader)
//! against the CPU backend, and the JS-facing facade, inside a real browser.
#![cfg(target_family = "wasm")]

use kiln::js::{use_backend, JsTensor};
use kiln::{Device, Sgd, SgdConfig, Tensor};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn browser_gpu() -> Device {
    Device::gpu().await.expect("headless Chromium with --enable-unsafe-webgpu has a WebGPU adapter")
}

async fn values(t: &Tensor) -> Vec<f32> {
    t.to_vec().await.unwrap()
}

/// A small network step through every op, on one device: outputs, loss and gradients.
async fn forward_backward(device: &Device) -> Vec<f32> {
    let x = Tensor::randn(&[3, 5, 7], 1, device).unwrap().with_requires_grad(true);
    let w = Tensor::randn(&[7, 65], 2, device).unwrap().with_requires_grad(true);
    let bias = Tensor::rand(&[65], 3, device).unwrap().with_requires_grad(true);
    let h = x.matmul(&w).unwrap().add(&bias).unwrap().relu().unwrap().transpose().unwrap(); // [3, 65, 5]
    let smooth = h.exp().unwrap().add_scalar(1.0).unwrap().log().unwrap();
    let loss = smooth.sum_axis(1, false).unwrap().pow(2.0).unwrap().div(&bias.sum().unwrap()).unwrap().mean().unwrap();
    loss.backward().unwrap();
    let mut out = values(&h).await;
    out.extend(values(&loss).await);
    for leaf in [&x, &w, &bias] {
        out.extend(values(&leaf.grad().unwrap()).await);
    }
    out
}

#[wasm_bindgen_test]
async fn webgpu_is_a_fallback_adapter_here() {
    let info = browser_gpu().await.info();
    assert_eq!(info.backend, "webgpu");
    assert!(info.fallback, "SwiftShader reports isFallbackAdapter");
}

#[wasm_bindgen_test]
async fn webgpu_matches_cpu_forward_and_backward() {
    let gpu = forward_backward(&browser_gpu().await).await;
    let cpu = forward_backward(&Device::Cpu).await;
    assert_eq!(gpu.len(), cpu.len());
    for (i, (g, c)) in gpu.iter().zip(&cpu).enumerate() {
        assert!((g - c).abs() <= 1e-4 * (1.0 + c.abs()), "value {i}: webgpu {g}, cpu {c}");
    }
}

#[wasm_bindgen_test]
async fn sgd_with_momentum_on_both_backends() {
    for device in [Device::Cpu, browser_gpu().await] {
        let p = Tensor::from_slice(&[1.0], &[1], &device).unwrap().with_requires_grad(true);
        let c = Tensor::from_slice(&[2.0], &[1], &device).unwrap();
        let mut sgd = Sgd::new(vec![p.clone()], SgdConfig { lr: 0.1, momentum: 0.9, weight_decay: 0.01 }).unwrap();
        for _ in 0..2 {
            sgd.zero_grad();
            p.mul(&c).unwrap().sum().unwrap().backward().unwrap();
            sgd.step().unwrap();
        }
        let got = values(&p).await[0];
        assert!((got - 0.417301).abs() < 1e-6, "{:?}: {got}", device.info());
    }
}

#[wasm_bindgen_test]
async fn js_facade_on_both_backends() {
    for backend in ["webgpu", "cpu"] {
        let info = JsFuture::from(use_backend(backend.into(), JsValue::UNDEFINED)).await.unwrap();
        let name = js_sys::Reflect::get(&info, &"backend".into()).unwrap();
        assert_eq!(name.as_string().as_deref(), Some(backend));
        let data: JsValue = js_sys::Array::of3(&1.into(), &2.into(), &3.into()).into();
        let shape: JsValue = js_sys::Array::of1(&3.into()).into();
        let t = JsTensor::from_array(data, shape, Some(true)).unwrap();
        let loss = t.mul(JsValue::from(2.0)).unwrap().sum(None, None).unwrap();
        loss.backward().unwrap();
        let grad = JsFuture::from(t.grad().unwrap().to_array()).await.unwrap();
        assert_eq!(js_sys::Float32Array::from(grad).to_vec(), vec![2.0, 2.0, 2.0], "{backend}");
        let error = t.matmul(&t).err().map(JsValue::from).unwrap();
        let message = js_sys::Reflect::get(&error, &"message".into()).unwrap().as_string().unwrap();
        assert_eq!(message, "matmul: needs 2-D or 3-D operands, got shapes [3] and [3]");
    }
}

/// The seeded validation split is the same in wasm as natively (tests/dataset.rs checks the
/// same names on the same 20 files).
#[wasm_bindgen_test]
fn dataset_split_matches_native() {
    use kiln::data::dataset::{ImageDataset, LabelledFile, Split};
    let png = |colour: [u8; 3], w: u32| {
        let mut bytes = std::io::Cursor::new(Vec::new());
        let image = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, 30, image::Rgb(colour)));
        image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        bytes.into_inner()
    };
    let files = (0..20u32)
        .map(|i| {
            let (label, colour) = if i % 2 == 0 { ("dog", [0, 0, 255]) } else { ("cat", [255, 0, 0]) };
            (LabelledFile { name: format!("{label}_{i:02}.png"), bytes: png(colour, 40 + i), label: label.into() }, false)
        })
        .collect();
    let dataset = ImageDataset::from_files(files, 24, Split::default()).unwrap();
    let valid: Vec<&str> = dataset.valid.iter().map(|&i| dataset.items[i].name.as_str()).collect();
    assert_eq!(valid, ["cat_03.png", "dog_08.png", "dog_04.png", "dog_00.png"]);
}
