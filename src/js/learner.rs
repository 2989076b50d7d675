//! `kiln.Learner`: fastai's Learner from JavaScript, camelCase. Long operations return Promises
//! and report progress through `onProgress`; `stop()` ends training after the current batch.
//! One operation runs at a time: calling another while one runs rejects with an Error saying so.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::current;
use super::dataset::JsImageDataset;
use super::interop::{bad_input, js_error, js_object};
use super::learner_schedule::suggestions_object;
use super::model::fetch_bytes;
use super::options::{self, learning_rate, LrFindOptions, OneCycleOptions, TtaOptions, VisionOptions};
use crate::interpret::{confusion_matrix, most_confused, top_losses, ItemResult};
use crate::learner::{EpochResult, FitOutcome, Learner, Progress};

/// A pretrained MobileNetV2 with fastai's head and a dataset: fastai's `vision_learner`, with
/// lr_find, fit_one_cycle, fine_tune, fit, fit_sgdr, interpretation, TTA and export.
#[wasm_bindgen(js_name = Learner)]
pub struct JsLearner {
    inner: Rc<RefCell<Learner>>,
    /// The JS function `onProgress` was set to, called from inside the Rust training loop.
    progress: Rc<RefCell<Option<Function>>>,
    stop: Rc<std::cell::Cell<bool>>,
}

fn epoch_object(row: &EpochResult) -> JsValue {
    js_object(&[
        ("epoch", row.epoch.into()),
        ("trainLoss", row.train_loss.into()),
        ("validLoss", row.valid_loss.into()),
        ("errorRate", row.error_rate.into()),
        ("accuracy", row.accuracy.into()),
        ("seconds", row.seconds.into()),
    ])
}

fn progress_object(progress: &Progress) -> JsValue {
    match *progress {
        Progress::Batch { epoch, batch, batches, loss, smoothed, lr, momentum } => js_object(&[
            ("type", "batch".into()),
            ("epoch", epoch.into()),
            ("batch", batch.into()),
            ("batches", batches.into()),
            ("loss", loss.into()),
            ("smoothed", smoothed.into()),
            ("lr", lr.into()),
            ("momentum", momentum.into()),
        ]),
        Progress::LrFind { iteration, iterations, lr, smoothed } => js_object(&[
            ("type", "lrFind".into()),
            ("iteration", iteration.into()),
            ("iterations", iterations.into()),
            ("lr", lr.into()),
            ("smoothed", smoothed.into()),
        ]),
        Progress::Epoch(ref row) => {
            let object = epoch_object(row);
            let _ = Reflect::set(&object, &"type".into(), &"epoch".into());
            object
        }
    }
}

fn outcome_object(outcome: FitOutcome) -> JsValue {
    match outcome {
        FitOutcome::Finished => js_object(&[("outcome", "finished".into())]),
        FitOutcome::Stopped => js_object(&[("outcome", "stopped".into())]),
        FitOutcome::Diverged(why) => js_object(&[("outcome", "diverged".into()), ("message", why.into())]),
    }
}

fn item_object(learner: &Learner, r: &ItemResult) -> JsValue {
    let vocab = &learner.data.vocab;
    js_object(&[
        ("item", r.item.into()),
        ("name", learner.data.items[r.item].name.as_str().into()),
        ("actual", vocab[r.actual].as_str().into()),
        ("predicted", vocab[r.predicted].as_str().into()),
        ("loss", r.loss.into()),
        ("probability", r.probability.into()),
    ])
}

fn busy(op: &str) -> JsValue {
    bad_input(op, "the learner is busy with another operation (wait for it, or stop it)").into()
}

impl JsLearner {
    /// Runs `body` on the learner once it is free, as a Promise.
    fn run<F, Fut>(&self, op: &'static str, body: F) -> Promise
    where
        F: FnOnce(Rc<RefCell<Learner>>) -> Fut + 'static,
        Fut: std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        let inner = self.inner.clone();
        future_to_promise(async move {
            if inner.try_borrow_mut().is_err() {
                return Err(busy(op));
            }
            body(inner).await
        })
    }

    pub(super) fn with<T>(&self, op: &str, body: impl FnOnce(&mut Learner) -> crate::Result<T>) -> Result<T, JsError> {
        let mut learner = self.inner.try_borrow_mut().map_err(|_| bad_input(op, "the learner is busy"))?;
        body(&mut learner).map_err(js_error)
    }

    /// A change that cannot fail, made once the learner is free.
    pub(super) fn change(&self, op: &str, body: impl FnOnce(&mut Learner)) -> Result<(), JsError> {
        self.with(op, |l| {
            body(l);
            Ok(())
        })
    }
}

#[wasm_bindgen(js_class = Learner)]
impl JsLearner {
    /// `await Learner.vision(dataset, {weightsUrl, batchSize = 16, precompute = false})`: fastai's
    /// vision_learner with the pretrained MobileNetV2 from this site, fastai's head, frozen body,
    /// on the current backend. The learner takes the dataset over.
    #[wasm_bindgen(unchecked_return_type = "Promise<Learner>")]
    pub fn vision(
        dataset: &mut JsImageDataset,
        #[wasm_bindgen(unchecked_param_type = "{weightsUrl?: string, batchSize?: number, precompute?: boolean}")] options: JsValue,
    ) -> Result<Promise, JsError> {
        let op = "Learner.vision";
        let options: VisionOptions = options::read(op, &options)?;
        let data = dataset.inner.take().ok_or_else(|| bad_input(op, "this dataset already belongs to a Learner"))?;
        Ok(future_to_promise(async move {
            let weights = fetch_bytes(&options.weights_url).await?;
            let mut learner = Learner::vision(data, &weights, &options.weights_url, &current()).map_err(js_error)?;
            learner.batch_size = options.batch_size;
            learner.precompute = options.precompute;
            let progress: Rc<RefCell<Option<Function>>> = Rc::default();
            let listener = progress.clone();
            learner.on_progress = Some(Box::new(move |event| {
                if let Some(callback) = listener.borrow().as_ref() {
                    let _ = callback.call1(&JsValue::NULL, &progress_object(event));
                }
            }));
            let stop = learner.stop_requested.clone();
            Ok(JsLearner { inner: Rc::new(RefCell::new(learner)), progress, stop }.into())
        }))
    }

    /// Called with `{type: 'batch' | 'epoch' | 'lrFind', ...}` during training and lr_find.
    #[wasm_bindgen(setter, js_name = onProgress)]
    pub fn set_on_progress(&self, callback: Option<Function>) {
        *self.progress.borrow_mut() = callback;
    }

    /// Ends training (or lr_find) after the batch in progress; the weights stay.
    pub fn stop(&self) {
        self.stop.set(true);
    }

    /// Trains only the head (the last parameter group), as fastai's `freeze()`.
    pub fn freeze(&self) -> Result<(), JsError> {
        self.change("freeze", Learner::freeze)
    }

    /// Trains every layer, as fastai's `unfreeze()`.
    pub fn unfreeze(&self) -> Result<(), JsError> {
        self.change("unfreeze", Learner::unfreeze)
    }

    /// Freezes the first `n` parameter groups and trains the rest, as fastai's `freeze_to(n)`.
    #[wasm_bindgen(js_name = freezeTo)]
    pub fn freeze_to(&self, n: u32) -> Result<(), JsError> {
        self.change("freezeTo", |l| l.freeze_to(n as usize))
    }

    /// `await lrFind({start = 1e-7, end = 10, numIt = 100})` → `{lrs, losses, suggestions:
    /// {valley, steep, minimum, slide}}`; the weights are restored afterwards.
    #[wasm_bindgen(js_name = lrFind, unchecked_return_type = "Promise<{lrs: number[], losses: number[], suggestions: {valley: number, steep: number, minimum: number, slide: number}}>")]
    pub fn lr_find(
        &self,
        #[wasm_bindgen(unchecked_param_type = "{start?: number, end?: number, numIt?: number}")] options: JsValue,
    ) -> Promise {
        let options = options::read::<LrFindOptions>("lrFind", &options);
        self.stop.set(false);
        self.run("lrFind", move |inner| async move {
            let LrFindOptions { start, end, num_it } = options?;
            let (lrs, losses, s) = inner.borrow_mut().lr_find(start, end, num_it).await.map_err(js_error)?;
            let numbers = |v: &[f64]| v.iter().map(|&x| JsValue::from(x)).collect::<Array>();
            Ok(js_object(&[("lrs", numbers(&lrs).into()), ("losses", numbers(&losses).into()), ("suggestions", suggestions_object(&s))]))
        })
    }

    /// `await fitOneCycle(epochs, lr, {pctStart = 0.25, div = 25})` → `{outcome, message?}` with
    /// outcome 'finished', 'stopped' or 'diverged'.
    #[wasm_bindgen(js_name = fitOneCycle, unchecked_return_type = "Promise<{outcome: string, message?: string}>")]
    pub fn fit_one_cycle(
        &self,
        epochs: u32,
        #[wasm_bindgen(unchecked_param_type = "number | number[]")] lr: JsValue,
        #[wasm_bindgen(unchecked_param_type = "{pctStart?: number, div?: number}")] options: JsValue,
    ) -> Promise {
        let options = options::read::<OneCycleOptions>("fitOneCycle", &options);
        self.stop.set(false);
        self.run("fitOneCycle", move |inner| async move {
            let OneCycleOptions { pct_start, div } = options?;
            let lr = learning_rate(&lr, "fitOneCycle")?;
            let outcome = inner.borrow_mut().fit_one_cycle(epochs as usize, lr, pct_start, div).await.map_err(js_error)?;
            Ok(outcome_object(outcome))
        })
    }

    /// `await fit(epochs, lr)`: constant rates.
    #[wasm_bindgen(unchecked_return_type = "Promise<{outcome: string, message?: string}>")]
    pub fn fit(&self, epochs: u32, #[wasm_bindgen(unchecked_param_type = "number | number[]")] lr: JsValue) -> Promise {
        self.stop.set(false);
        self.run("fit", move |inner| async move {
            let lr = learning_rate(&lr, "fit")?;
            Ok(outcome_object(inner.borrow_mut().fit(epochs as usize, lr).await.map_err(js_error)?))
        })
    }

    /// `await fitSgdr(cycles, cycleLen, lr, cycleMult = 1)`.
    #[wasm_bindgen(js_name = fitSgdr, unchecked_return_type = "Promise<{outcome: string, message?: string}>")]
    pub fn fit_sgdr(
        &self,
        cycles: u32,
        cycle_len: u32,
        #[wasm_bindgen(unchecked_param_type = "number | number[]")] lr: JsValue,
        cycle_mult: Option<u32>,
    ) -> Promise {
        self.stop.set(false);
        self.run("fitSgdr", move |inner| async move {
            let lr = learning_rate(&lr, "fitSgdr")?;
            let mult = cycle_mult.unwrap_or(1) as usize;
            Ok(outcome_object(inner.borrow_mut().fit_sgdr(cycles as usize, cycle_len as usize, lr, mult).await.map_err(js_error)?))
        })
    }

    /// `await fineTune(epochs, baseLr = 2e-3)`: one frozen epoch, then `epochs` unfrozen.
    #[wasm_bindgen(js_name = fineTune, unchecked_return_type = "Promise<{outcome: string, message?: string}>")]
    pub fn fine_tune(&self, epochs: u32, #[wasm_bindgen(js_name = baseLr)] base_lr: Option<f64>) -> Promise {
        self.stop.set(false);
        self.run("fineTune", move |inner| async move {
            let outcome = inner.borrow_mut().fine_tune(epochs as usize, base_lr.unwrap_or(2e-3)).await.map_err(js_error)?;
            Ok(outcome_object(outcome))
        })
    }

    /// `await validate()` → `{validLoss, errorRate, accuracy}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{validLoss: number, errorRate: number, accuracy: number}>")]
    pub fn validate(&self) -> Promise {
        self.run("validate", |inner| async move {
            let (loss, error_rate) = inner.borrow_mut().validate().await.map_err(js_error)?;
            Ok(js_object(&[("validLoss", loss.into()), ("errorRate", error_rate.into()), ("accuracy", (1.0 - error_rate).into())]))
        })
    }

    /// `await interpret()` → `{items, topLosses, confusion, mostConfused}`: every validation item
    /// `{item, name, actual, predicted, loss, probability}`, the same sorted by loss (largest
    /// first), the confusion matrix `confusion[actual][predicted]` in vocabulary order, and the
    /// off-diagonal pairs `{actual, predicted, count}`, most first.
    #[wasm_bindgen(
        unchecked_return_type = "Promise<{items: object[], topLosses: object[], confusion: number[][], mostConfused: object[]}>"
    )]
    pub fn interpret(&self) -> Promise {
        self.run("interpret", |inner| async move {
            let mut learner = inner.borrow_mut();
            let results = learner.validation_results().await.map_err(js_error)?;
            let vocab = learner.data.vocab.clone();
            let matrix = confusion_matrix(&results, vocab.len());
            let items: Array = results.iter().map(|r| item_object(&learner, r)).collect();
            let top: Array = top_losses(&results, results.len()).iter().map(|r| item_object(&learner, r)).collect();
            let confusion: Array = matrix.iter().map(|row| row.iter().map(|&n| JsValue::from(n)).collect::<Array>()).collect();
            let pairs: Array = most_confused(&matrix, 1)
                .into_iter()
                .map(|(a, p, n)| {
                    js_object(&[("actual", vocab[a].as_str().into()), ("predicted", vocab[p].as_str().into()), ("count", n.into())])
                })
                .collect();
            Ok(js_object(&[
                ("items", items.into()),
                ("topLosses", top.into()),
                ("confusion", confusion.into()),
                ("mostConfused", pairs.into()),
            ]))
        })
    }

    /// `await tta({n = 4, beta = 0.25})` → `{errorRate, plainErrorRate, probabilities}`: fastai's
    /// test-time augmentation on the validation set.
    #[wasm_bindgen(unchecked_return_type = "Promise<{errorRate: number, plainErrorRate: number, probabilities: number[][]}>")]
    pub fn tta(&self, #[wasm_bindgen(unchecked_param_type = "{n?: number, beta?: number}")] options: JsValue) -> Promise {
        let options = options::read::<TtaOptions>("tta", &options);
        self.run("tta", move |inner| async move {
            let TtaOptions { n, beta } = options?;
            let result = inner.borrow_mut().tta(n, beta).await.map_err(js_error)?;
            let rows: Array = result.probabilities.iter().map(|row| row.iter().map(|&p| JsValue::from(p)).collect::<Array>()).collect();
            Ok(js_object(&[
                ("errorRate", result.error_rate.into()),
                ("plainErrorRate", result.plain_error_rate.into()),
                ("probabilities", rows.into()),
            ]))
        })
    }

    /// `await predict(bytes, name)` → `{label, index, probabilities}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{label: string, index: number, probabilities: number[]}>")]
    pub fn predict(&self, image: Uint8Array, name: Option<String>) -> Promise {
        let bytes = image.to_vec();
        self.run("predict", move |inner| async move {
            let name = name.unwrap_or_else(|| "image".into());
            let (label, index, probabilities) = inner.borrow_mut().predict(&bytes, &name).await.map_err(js_error)?;
            let probabilities: Array = probabilities.iter().map(|&p| JsValue::from(p)).collect();
            Ok(js_object(&[("label", label.into()), ("index", index.into()), ("probabilities", probabilities.into())]))
        })
    }

    /// `await export()` → `{weights: Uint8Array (safetensors, PyTorch names), description: string (JSON)}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<{weights: Uint8Array, description: string}>")]
    pub fn export(&self) -> Promise {
        self.run("export", |inner| async move {
            let (weights, description) = inner.borrow().export().await.map_err(js_error)?;
            Ok(js_object(&[("weights", Uint8Array::from(weights.as_slice()).into()), ("description", description.into())]))
        })
    }

    /// `await exportOnnx()` → `Uint8Array`: the whole network as an ONNX model (input "image",
    /// outputs "logits" and "probabilities"), with the classes and preprocessing in its metadata.
    #[wasm_bindgen(js_name = exportOnnx, unchecked_return_type = "Promise<Uint8Array>")]
    pub fn export_onnx(&self) -> Promise {
        self.run("exportOnnx", |inner| async move {
            let model = inner.borrow().export_onnx().await.map_err(js_error)?;
            Ok(Uint8Array::from(model.as_slice()).into())
        })
    }

    /// Loads what `export` gave (the classes must match); on any error nothing changes.
    #[wasm_bindgen(js_name = loadExported)]
    pub fn load_exported(&self, weights: Uint8Array, description: String, name: Option<String>) -> Result<(), JsError> {
        let name = name.unwrap_or_else(|| "model.safetensors".into());
        self.with("loadExported", |l| l.load_exported(&weights.to_vec(), &description, &name))
    }

    /// The epoch table so far: `[{epoch, trainLoss, validLoss, errorRate, accuracy, seconds}]`.
    #[wasm_bindgen(getter)]
    pub fn results(&self) -> Result<Array, JsError> {
        self.with("results", |l| Ok(l.results.iter().map(epoch_object).collect()))
    }

    /// Per training batch: `{losses (smoothed), lrs, moms}`.
    #[wasm_bindgen(getter)]
    pub fn recorder(&self) -> Result<JsValue, JsError> {
        self.with("recorder", |l| {
            let numbers = |v: &[f64]| v.iter().map(|&x| JsValue::from(x)).collect::<Array>();
            let r = &l.recorder;
            Ok(js_object(&[("losses", numbers(&r.losses).into()), ("lrs", numbers(&r.lrs).into()), ("moms", numbers(&r.moms).into())]))
        })
    }
}
