//! `kiln.Model`: a pretrained (or fresh) MobileNetV2 from JavaScript.

use std::rc::Rc;

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::interop::{bad_input, js_error};
use super::options::{self, ModelOptions};
use super::{current, JsTensor};
use crate::inference::ImageClassifier;
use crate::nn::{load_safetensors, save_safetensors, Module};

/// An image classifier for prediction: the pretrained MobileNetV2 (ImageNet classes) or a model
/// saved by a Learner (safetensors + model.json).
#[wasm_bindgen(js_name = Model)]
pub struct JsModel {
    inner: Rc<ImageClassifier>,
}

/// GETs `url` (relative to the page or worker) with the global `fetch`.
pub(super) async fn fetch_bytes(url: &str) -> Result<Vec<u8>, JsValue> {
    let fetch = Reflect::get(&js_sys::global(), &"fetch".into())?.dyn_into::<js_sys::Function>()?;
    let failed = |detail: String| JsValue::from(bad_input("Model", format!("could not fetch {url}: {detail}")));
    let response = wasm_bindgen_futures::JsFuture::from(fetch.call1(&JsValue::NULL, &url.into())?.dyn_into::<Promise>()?)
        .await
        .map_err(|e| failed(format!("{e:?}")))?;
    let ok = Reflect::get(&response, &"ok".into())?.as_bool().unwrap_or(false);
    if !ok {
        let status = Reflect::get(&response, &"status".into())?.as_f64().unwrap_or(0.0);
        return Err(failed(format!("HTTP status {status}")));
    }
    let read = Reflect::get(&response, &"arrayBuffer".into())?.dyn_into::<js_sys::Function>()?;
    let buffer = wasm_bindgen_futures::JsFuture::from(read.call0(&response)?.dyn_into::<Promise>()?).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

#[wasm_bindgen(js_class = Model)]
impl JsModel {
    /// `await Model.mobilenetV2({pretrained = true, numClasses = 1000, weightsUrl, classesUrl})`:
    /// torchvision's ImageNet MobileNetV2 on the current backend, weights fetched from this site
    /// (never from a hub), in evaluation mode; or a freshly initialised one with `pretrained: false`.
    #[wasm_bindgen(js_name = mobilenetV2, unchecked_return_type = "Promise<Model>")]
    pub fn mobilenet_v2(
        #[wasm_bindgen(unchecked_param_type = "{pretrained?: boolean, numClasses?: number, weightsUrl?: string, classesUrl?: string}")]
        options: JsValue,
    ) -> Promise {
        let options = options::read::<ModelOptions>("Model.mobilenetV2", &options);
        future_to_promise(async move {
            let options = options?;
            let device = current();
            let classifier = if options.pretrained {
                let weights = fetch_bytes(&options.weights_url).await?;
                let classes = String::from_utf8_lossy(&fetch_bytes(&options.classes_url).await?).into_owned();
                ImageClassifier::mobilenet_v2_imagenet(&weights, &options.weights_url, &classes, &device).map_err(js_error)?
            } else {
                let labels = (0..options.num_classes).map(|i| format!("class {i}")).collect();
                ImageClassifier::mobilenet_v2(labels, &device, 0).map_err(js_error)?
            };
            Ok(JsModel { inner: Rc::new(classifier) }.into())
        })
    }

    /// `await model.predict(imageBytes, k = 5)`: the k most probable classes of an image file's
    /// bytes (JPEG, PNG, WebP, GIF or BMP), as `[{index, label, probability}]`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{index: number, label: string, probability: number}[]>")]
    pub fn predict(&self, image: Uint8Array, k: Option<u32>, name: Option<String>) -> Promise {
        let classifier = self.inner.clone();
        let bytes = image.to_vec();
        future_to_promise(async move {
            let name = name.unwrap_or_else(|| "image".into());
            let top = classifier.predict(&bytes, &name, k.unwrap_or(5) as usize).await.map_err(js_error)?;
            let list = Array::new();
            for p in top {
                let entry = Object::new();
                Reflect::set(&entry, &"index".into(), &(p.index as u32).into())?;
                Reflect::set(&entry, &"label".into(), &p.label.into())?;
                Reflect::set(&entry, &"probability".into(), &p.probability.into())?;
                list.push(&entry);
            }
            Ok(list.into())
        })
    }

    /// Runs the network on a batch of normalised images [n, 3, h, w] and returns the logits.
    pub fn forward(&self, x: &JsTensor) -> Result<JsTensor, JsError> {
        self.inner.model.forward(&x.inner).map(JsTensor::from).map_err(js_error)
    }

    /// Training mode: batch statistics and dropout.
    pub fn train(&self) {
        self.inner.model.set_training(true);
    }

    /// Evaluation mode: running statistics, no dropout.
    pub fn eval(&self) {
        self.inner.model.set_training(false);
    }

    /// The trainable tensors, in PyTorch's order (usable with SGD).
    #[wasm_bindgen(unchecked_return_type = "Tensor[]")]
    pub fn parameters(&self) -> Array {
        self.inner.model.parameters().into_iter().map(|t| JsValue::from(JsTensor::from(t))).collect()
    }

    /// PyTorch's state_dict() keys: every parameter and buffer name, in order.
    #[wasm_bindgen(js_name = stateNames, unchecked_return_type = "string[]")]
    pub fn state_names(&self) -> Array {
        self.inner.model.state().into_iter().map(|t| JsValue::from(t.name)).collect()
    }

    /// The weights as a safetensors file (PyTorch names).
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array>")]
    pub fn save(&self) -> Promise {
        let classifier = self.inner.clone();
        future_to_promise(async move {
            let bytes = save_safetensors(&classifier.model).await.map_err(js_error)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// Loads weights from a safetensors file's bytes; on any error the model is unchanged.
    pub fn load(&self, bytes: Uint8Array, name: Option<String>) -> Result<(), JsError> {
        let name = name.unwrap_or_else(|| "model.safetensors".into());
        load_safetensors(&self.inner.model, &bytes.to_vec(), &name).map_err(js_error)
    }

    /// The class names, in output order.
    #[wasm_bindgen(getter, unchecked_return_type = "string[]")]
    pub fn labels(&self) -> Array {
        self.inner.labels.iter().map(|l| JsValue::from(l.as_str())).collect()
    }
}
