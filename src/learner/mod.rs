//! The Learner: fastai's way of training an image classifier (Lesson 2) on a pretrained
//! MobileNetV2 body with fastai's head, three layer groups, freezing, one-cycle training with
//! Adam, fine_tune and lr_find. fastai 2's defaults, which the code below follows:
//! - the optimizer is fastai's Adam (`optim::Adam`): mom 0.9 (beta1, which the one-cycle schedule
//!   moves), sqr_mom 0.99, eps 1e-5, weight decay 0.01 decoupled (p <- p * (1 - lr * wd) before
//!   the Adam step) and not applied to batch-norm parameters or biases (`build_optimizer`);
//! - `fine_tune(epochs, base_lr = 2e-3)`: freeze, fit_one_cycle(1, slice(base_lr), pct_start
//!   0.99); then base_lr /= 2, unfreeze, fit_one_cycle(epochs, slice(base_lr / 100, base_lr),
//!   pct_start 0.3, div 5);
//! - `fit_one_cycle`: div 25, div_final 1e5, pct_start 0.25, momentum 0.95 -> 0.85 -> 0.95.

use std::cell::Cell;
use std::rc::Rc;

use crate::backend::Device;
use crate::data::dataset::ImageDataset;
use crate::error::{Error, ErrorKind, Result};
use crate::nn::{load_safetensors, mobilenet_v2, save_safetensors, Module, NamedTensor, Sequential};
use crate::optim::Adam;
use crate::rng::Pcg32;
use crate::schedule::LearningRate;
use crate::tensor::{no_grad, Tensor};

mod clock;
mod evaluate;
mod features;
mod groups;
mod head;
mod losses;
mod lr_finder;
mod onnx;
pub mod plan;
pub mod settings;
mod snapshot;
pub mod speed;

use clock::{now, yield_to_event_loop};
pub use evaluate::TtaResult;
use features::FeatureCache;
use head::create_head;
use losses::{LossBook, TrainedBatch};
use plan::Fit;
use snapshot::Snapshot;

/// MobileNetV2's last feature width, the input of the head.
const BODY_FEATURES: usize = 1280;
/// Training batches recorded before a smoothed loss 4x above the best counts as divergence.
const EXPLOSION_WARMUP_BATCHES: usize = 8;

/// One row of fastai's epoch table.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochResult {
    pub epoch: usize,
    pub train_loss: f64,
    pub valid_loss: f64,
    pub error_rate: f64,
    pub accuracy: f64,
    pub seconds: f64,
}

/// How a fit ended.
#[derive(Clone, Debug, PartialEq)]
pub enum FitOutcome {
    Finished,
    /// A stop was requested; training ended after the batch in progress, keeping its weights
    /// (every trained batch is recorded and reported first).
    Stopped,
    /// The loss became NaN or infinite or exploded; the weights are back to those of the end of
    /// the last validated epoch (or of the fit's start).
    Diverged(String),
}

/// What `on_progress` hears while training.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// A training batch finished: its loss and the smoothed loss so far. Losses are read back a
    /// block of batches at a time (`losses::LOSS_BLOCK`), so these come in bursts.
    Batch { epoch: usize, batch: usize, batches: usize, loss: f64, smoothed: f64, lr: f64, momentum: f64 },
    /// lr_find tried one more rate.
    LrFind { iteration: usize, iterations: usize, lr: f64, smoothed: f64 },
    /// An epoch finished and was validated: a new row of the epoch table.
    Epoch(EpochResult),
}

/// What `Learner::on_progress` holds: called with every progress event.
pub type ProgressCallback = Box<dyn FnMut(&Progress)>;

/// Per-batch history: smoothed training loss, learning rate (of the last group) and momentum.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    pub losses: Vec<f64>,
    pub lrs: Vec<f64>,
    pub moms: Vec<f64>,
}

pub struct Learner {
    pub data: ImageDataset,
    /// MobileNetV2's features.
    pub body: Sequential,
    /// fastai's head: concat pool, flatten, BN, dropout 0.25, linear 512, ReLU, BN, dropout 0.5, linear.
    pub head: Sequential,
    pub device: Device,
    pub batch_size: usize,
    pub weight_decay: f32,
    pub label_smoothing: f32,
    pub recorder: Recorder,
    pub results: Vec<EpochResult>,
    /// Layer groups before this index are frozen (but their batch-norm parameters train).
    /// fastai's "precompute": while the body is frozen, run it once over every image (centre
    /// crops, evaluation mode) and train only the head on the stored features. Far faster; the
    /// body's batch-norm layers then stay as they are, and training sees no augmentation (as with
    /// fastai 0.7's precompute=True).
    pub precompute: bool,
    features: Option<FeatureCache>,
    /// Called after every training batch and every epoch.
    pub on_progress: Option<ProgressCallback>,
    /// Set to true (from a callback or another part of the program) to stop training after the
    /// current batch.
    pub stop_requested: Rc<Cell<bool>>,
    frozen_groups: usize,
    optimizer: Option<Adam>,
    seed: u64,
}

impl Learner {
    /// fastai's vision_learner(dls, mobilenet_v2 pretrained, metrics=[error_rate, accuracy]):
    /// the ImageNet body from `weights` (safetensors, named `source` in errors), a new head for
    /// the dataset's classes, frozen body.
    pub fn vision(data: ImageDataset, weights: &[u8], source: &str, device: &Device) -> Result<Self> {
        let imagenet = mobilenet_v2(1000, device, 0)?;
        load_safetensors(&imagenet, weights, source)?;
        let head = create_head(BODY_FEATURES, data.vocab.len(), device, &mut Pcg32::new(42))?;
        let mut learner = Learner {
            data,
            body: imagenet.features,
            head,
            device: device.clone(),
            batch_size: 16,
            weight_decay: 0.01,
            label_smoothing: 0.0,
            recorder: Recorder::default(),
            results: Vec::new(),
            precompute: false,
            features: None,
            on_progress: None,
            stop_requested: Rc::new(Cell::new(false)),
            frozen_groups: 0,
            optimizer: None,
            seed: 0,
        };
        learner.freeze();
        Ok(learner)
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.model().forward(x)
    }

    fn set_training(&self, training: bool) {
        self.model().set_training(training);
    }

    /// Body and head as one module, named as fastai's Sequential(body, head): "0.*" and "1.*".
    pub fn model(&self) -> Sequential {
        Sequential::new(vec![Rc::new(self.body.clone()), Rc::new(self.head.clone())])
    }

    /// The trained model as a safetensors file (PyTorch names) and a small JSON description
    /// (vocabulary, architecture, image size, normalisation), fastai's export.
    pub async fn export(&self) -> Result<(Vec<u8>, String)> {
        let weights = save_safetensors(&self.model()).await?;
        let norm = &self.data.normalization;
        let description = serde_json::json!({
            "architecture": "mobilenet_v2 + fastai head",
            "vocab": self.data.vocab,
            "image_size": self.data.size,
            "normalization": { "mean": norm.mean, "std": norm.std },
        });
        Ok((weights, description.to_string()))
    }

    /// Loads weights exported by `export`; the description's vocabulary must match this
    /// learner's classes. On any error nothing changes.
    pub fn load_exported(&mut self, weights: &[u8], description: &str, source: &str) -> Result<()> {
        let fail = |why: String| Error::of(ErrorKind::Decode, "load", format!("{source}: {why}"));
        let json: serde_json::Value =
            serde_json::from_str(description).map_err(|e| fail(format!("the model description is not valid JSON ({e})")))?;
        let vocab: Vec<String> =
            serde_json::from_value(json["vocab"].clone()).map_err(|_| fail("the model description has no vocabulary".into()))?;
        if vocab != self.data.vocab {
            let detail = format!("{source}: the model knows the classes {vocab:?}, this dataset has {:?}", self.data.vocab);
            return Err(Error::new("load", detail));
        }
        load_safetensors(&self.model(), weights, source)
    }

    fn next_seed(&mut self) -> u64 {
        self.seed += 1;
        self.seed
    }

    /// Refuses to train (`op`: fit, lr_find) with a batch size batch norm cannot train with
    /// (`settings::batch_size`), or when an epoch would have no batch: the last incomplete batch
    /// is dropped (fastai's drop_last), so with fewer training images than one batch there is
    /// nothing to train on (and lr_find would wait forever for a batch).
    fn check_batches(&self, op: &str) -> Result<()> {
        settings::batch_size(self.batch_size).map_err(|why| Error::new(op, why))?;
        if self.data.train.len() < self.batch_size {
            let detail = format!("{} training images are fewer than one batch of {}", self.data.train.len(), self.batch_size);
            return Err(Error::new(op, detail));
        }
        Ok(())
    }

    /// Forward pass and loss of one training batch: a scalar on the device, not read back (the
    /// training loop reads its losses a block at a time: `losses`).
    fn batch_loss(&mut self, indices: &[usize], rng: &mut Pcg32) -> Result<Tensor> {
        match self.features.as_ref() {
            Some(cache) => {
                let (x, y) = cache.batch(&self.data, indices, &self.device)?;
                self.head.forward(&x)?.cross_entropy(&y, self.label_smoothing)
            }
            None => {
                let (x, y) = self.data.batch(indices, Some(rng), &self.device)?;
                self.forward(&x)?.cross_entropy(&y, self.label_smoothing)
            }
        }
    }

    /// Backward pass and optimizer step on a batch's loss.
    fn step(&mut self, loss: &Tensor) -> Result<()> {
        let optimizer = self.optimizer.as_mut().expect("fit creates the optimizer first");
        optimizer.zero_grad();
        loss.backward()?;
        optimizer.step()
    }

    /// Every parameter and buffer, body then head.
    fn state(&self) -> Vec<NamedTensor> {
        self.body.state().into_iter().chain(self.head.state()).collect()
    }

    /// fastai's fit_one_cycle(epochs, lr_max) with its defaults (div 25, div_final 1e5,
    /// pct_start 0.25, momentum 0.95-0.85-0.95), one rate per layer group from `lr`.
    pub async fn fit_one_cycle(&mut self, epochs: usize, lr: LearningRate, pct_start: f64, div: f64) -> Result<FitOutcome> {
        self.fit_by(Fit::OneCycle { epochs, pct_start, div }, lr).await
    }

    /// fastai's fit(epochs, lr): constant rates, Adam's default momentum 0.9.
    pub async fn fit(&mut self, epochs: usize, lr: LearningRate) -> Result<FitOutcome> {
        self.fit_by(Fit::Constant { epochs }, lr).await
    }

    /// fastai's fit_sgdr(n_cycles, cycle_len, lr_max, cycle_mult): cosine cycles from lr_max to 0,
    /// each cycle_mult times longer than the one before.
    pub async fn fit_sgdr(&mut self, cycles: usize, cycle_len: usize, lr: LearningRate, cycle_mult: usize) -> Result<FitOutcome> {
        self.fit_by(Fit::Sgdr { cycles, cycle_len, cycle_mult }, lr).await
    }

    /// Trains by `fit`'s schedule with the rate `lr`.
    async fn fit_by(&mut self, fit: Fit, lr: LearningRate) -> Result<FitOutcome> {
        let rates = fit.rates(lr)?;
        self.fit_scheduled(fit.name(), fit.epochs(), rates).await
    }

    /// The training loop every fit shares: `schedule(pos)` gives each layer group's (rate,
    /// momentum) at training position pos in [0, 1), set before each batch.
    async fn fit_scheduled(&mut self, name: &str, epochs: usize, schedule: impl Fn(f64) -> Vec<(f64, f64)>) -> Result<FitOutcome> {
        self.check_batches(name)?;
        if self.optimizer.is_none() {
            self.optimizer = Some(self.build_optimizer()?);
        }
        self.prepare_features().await?;
        let per_epoch = self.batches_per_epoch();
        let total = (epochs * per_epoch) as f64;
        let mut book = LossBook::new(self.data.vocab.len());
        let fit_start = Snapshot::take(self.state())?;
        let last_good = Snapshot::take(self.state())?;
        for epoch in 0..epochs {
            let started = now();
            self.set_training(true);
            let seed = self.next_seed();
            let mut rng = Pcg32::new(seed ^ 0xa5a5);
            let batches = self.data.train_batches(self.batch_size, seed);
            for (b, indices) in batches.iter().enumerate() {
                let settings = schedule((epoch * per_epoch + b) as f64 / total);
                let rates: Vec<f64> = settings.iter().map(|&(lr, _)| lr).collect();
                let momentum = settings[0].1;
                Self::set_rates(self.optimizer.as_mut().expect("created above"), &rates, momentum);
                // Recorded, not waited on: the loss is read back with its block (`losses`).
                let loss = self.batch_loss(indices, &mut rng)?;
                self.step(&loss)?;
                let lr = *rates.last().expect("three groups");
                let block_full = book.push(TrainedBatch { epoch, batch: b, batches: batches.len(), lr, momentum }, &loss)?;
                yield_to_event_loop().await;
                // A stop (asked while the page had the event loop) is honoured after this batch,
                // once the pending losses are recorded. The epoch's last batch always reads them,
                // so an epoch is never validated (nor its weights kept as good) before its every
                // loss has been checked.
                let stop = self.stop_requested.replace(false);
                if block_full || stop || b + 1 == batches.len() {
                    if let Some(diverged) = self.settle_losses(&mut book, &fit_start, &last_good).await? {
                        return Ok(diverged);
                    }
                }
                // A progress callback may also have asked, while hearing this block.
                if stop || self.stop_requested.replace(false) {
                    return Ok(FitOutcome::Stopped);
                }
            }
            let (valid_loss, error_rate) = self.validate().await?;
            if valid_loss.is_finite() {
                last_good.refresh()?;
            }
            let row = EpochResult {
                epoch,
                train_loss: book.smoothed(),
                valid_loss,
                error_rate,
                accuracy: 1.0 - error_rate,
                seconds: now() - started,
            };
            self.results.push(row.clone());
            self.report(Progress::Epoch(row));
        }
        Ok(FitOutcome::Finished)
    }

    /// Computes (or drops) the stored body features as `precompute` and the freezing require.
    async fn prepare_features(&mut self) -> Result<()> {
        let wanted = self.precompute && self.frozen_groups == 2;
        let current = self.features.as_ref().is_some_and(|f| f.size == self.data.size);
        if !wanted {
            self.features = None;
        } else if !current {
            self.body.set_training(false);
            let mut per_item = Vec::with_capacity(self.data.items.len());
            let mut shape = Vec::new();
            let all: Vec<usize> = (0..self.data.items.len()).collect();
            for chunk in all.chunks(self.batch_size.max(1)) {
                let (x, _) = self.data.batch(chunk, None, &self.device)?;
                let features = no_grad(|| self.body.forward(&x))?;
                shape = features.shape()[1..].to_vec();
                let values = features.to_vec().await?;
                per_item.extend(values.chunks(values.len() / chunk.len()).map(<[f32]>::to_vec));
            }
            self.features = Some(FeatureCache { size: self.data.size, shape, per_item });
        }
        Ok(())
    }

    fn report(&mut self, progress: Progress) {
        if let Some(callback) = self.on_progress.as_mut() {
            callback(&progress);
        }
    }

    /// fastai's fine_tune(epochs, base_lr): one frozen epoch at base_lr (pct_start 0.99), then
    /// unfreeze and train `epochs` at slice(base_lr / 2 / 100, base_lr / 2) (pct_start 0.3, div 5).
    pub async fn fine_tune(&mut self, epochs: usize, base_lr: f64) -> Result<FitOutcome> {
        let [(frozen_fit, frozen_lr), (unfrozen_fit, unfrozen_lr)] = plan::fine_tune(epochs, base_lr);
        self.freeze();
        let frozen = self.fit_by(frozen_fit, frozen_lr).await?;
        if frozen != FitOutcome::Finished {
            return Ok(frozen);
        }
        self.unfreeze();
        self.fit_by(unfrozen_fit, unfrozen_lr).await
    }
}
