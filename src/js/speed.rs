//! `SpeedTest` for the bench page: one training step or one inference pass of the Learner's
//! network on random images, to be timed from JavaScript (see `learner::speed`).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::current;
use super::interop::{bad_input, js_error};
use crate::learner::speed::SpeedTest;

/// Times training steps, inference and matrix products on the current backend (the bench page's
/// measurements): images/s and GFLOP/s.
#[wasm_bindgen(js_name = SpeedTest)]
pub struct JsSpeedTest {
    inner: Rc<RefCell<SpeedTest>>,
}

#[wasm_bindgen(js_class = SpeedTest)]
impl JsSpeedTest {
    /// MobileNetV2 + fastai's head, unfrozen, on the current backend, with a batch of `batch`
    /// random `size` x `size` images.
    #[wasm_bindgen(constructor)]
    pub fn new(size: u32, batch: u32) -> Result<JsSpeedTest, JsError> {
        let test = SpeedTest::new(size as usize, batch as usize, &current()).map_err(js_error)?;
        Ok(JsSpeedTest { inner: Rc::new(RefCell::new(test)) })
    }

    /// One training step (forward, backward, Adam); resolves with the loss.
    #[wasm_bindgen(js_name = trainStep, unchecked_return_type = "Promise<number>")]
    pub fn train_step(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut test = inner.try_borrow_mut().map_err(|_| bad_input("SpeedTest", "busy with another step"))?;
            Ok(test.train_step().await.map_err(js_error)?.into())
        })
    }

    /// One inference pass; resolves when its logits are read back.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn infer(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let test = inner.try_borrow().map_err(|_| bad_input("SpeedTest", "busy with another step"))?;
            test.infer().await.map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }
}
