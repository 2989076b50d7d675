//! The Learner: fastai's way of training an image classifier (Lesson 2) on a pretrained
//! MobileNetV2 body with fastai's head, three layer groups, freezing, one-cycle training with
//! Adam, fine_tune and lr_find. Formulas and defaults: ../shared/spec/fastai-lesson2.md.

use std::rc::Rc;

use crate::backend::Device;
use crate::data::dataset::ImageDataset;
use crate::error::{Error, Result};
use crate::lr_find::{suggest, Suggestions};
use crate::nn::layers::kaiming_normal;
use crate::nn::{load_safetensors, mobilenet_v2, BatchNorm, Dropout, Linear, Module, NamedTensor, Sequential, Stateless, TensorKind};
use crate::optim::{Adam, ParamGroup};
use crate::rng::Pcg32;
use crate::schedule::{lr_find_rate, LearningRate, OneCycle, SmoothedLoss};
use crate::tensor::{no_grad, Tensor};

/// MobileNetV2's last feature width, the input of the head.
const BODY_FEATURES: usize = 1280;
/// The body is split into early and late layer groups before features.7.
const LATE_BODY_START: usize = 7;

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
    /// The loss became NaN or infinite or exploded; the weights are those after the last good batch.
    Diverged(String),
}

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
    frozen_groups: usize,
    optimizer: Option<Adam>,
    seed: u64,
}

/// fastai's create_head for `features` input channels and `classes` outputs.
fn create_head(features: usize, classes: usize, device: &Device, rng: &mut Pcg32) -> Result<Sequential> {
    let batch_norm = |channels: usize| -> Result<Rc<dyn Module>> {
        let norm = BatchNorm::new(channels, device)?;
        norm.bias.assign(&Tensor::full(&[channels], 1e-3, device)?)?; // fastai: weight 1, bias 1e-3
        Ok(Rc::new(norm))
    };
    let mut linear = |inputs: usize, outputs: usize| -> Result<Rc<dyn Module>> {
        Ok(Rc::new(Linear { weight: kaiming_normal(&[outputs, inputs], inputs, device, rng)?, bias: None }))
    };
    let hidden = 512;
    Ok(Sequential::new(vec![
        Rc::new(Stateless::AdaptiveConcatPool),
        Rc::new(Stateless::Flatten),
        batch_norm(2 * features)?,
        Rc::new(Dropout::new(0.25, 1)),
        linear(2 * features, hidden)?,
        Rc::new(Stateless::Relu),
        batch_norm(hidden)?,
        Rc::new(Dropout::new(0.5, 2)),
        linear(hidden, classes)?,
    ]))
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
            frozen_groups: 0,
            optimizer: None,
            seed: 0,
        };
        learner.freeze();
        Ok(learner)
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.head.forward(&self.body.forward(x)?)
    }

    fn set_training(&self, training: bool) {
        self.body.set_training(training);
        self.head.set_training(training);
    }

    /// The three layer groups' parameters and buffers: early body, late body, head.
    pub fn layer_groups(&self) -> [Vec<NamedTensor>; 3] {
        let collect = |layers: &[Rc<dyn Module>], offset: usize, prefix: &str| {
            let mut out = Vec::new();
            for (i, layer) in layers.iter().enumerate() {
                layer.collect_tensors(&format!("{prefix}.{}", i + offset), &mut out);
            }
            out
        };
        let body = &self.body.layers;
        [collect(&body[..LATE_BODY_START], 0, "0"), collect(&body[LATE_BODY_START..], LATE_BODY_START, "0"), collect(&self.head.layers, 0, "1")]
    }

    /// Trains only the last `3 - n` layer groups (fastai's freeze_to(n)), plus every batch-norm
    /// parameter (train_bn). Clears the optimizer's state.
    pub fn freeze_to(&mut self, n: usize) {
        self.frozen_groups = n.min(2);
        self.optimizer = None;
    }

    /// Only the head trains (and batch norm everywhere).
    pub fn freeze(&mut self) {
        self.freeze_to(2);
    }

    pub fn unfreeze(&mut self) {
        self.freeze_to(0);
    }

    /// Adam over the trainable parameters: for each layer group, rank-1 parameters (batch norm,
    /// biases) without weight decay, the others with it; frozen groups contribute only their
    /// batch-norm parameters.
    fn build_optimizer(&self) -> Result<Adam> {
        let mut groups = Vec::new();
        for (i, group) in self.layer_groups().into_iter().enumerate() {
            let params: Vec<Tensor> = group.into_iter().filter(|t| t.kind == TensorKind::Parameter).map(|t| t.tensor).collect();
            let (norms, weights): (Vec<Tensor>, Vec<Tensor>) = params.into_iter().partition(|p| p.shape().len() == 1);
            groups.push(ParamGroup { params: norms, lr: 1e-3, weight_decay: 0.0 });
            let weights = if i < self.frozen_groups { vec![] } else { weights };
            groups.push(ParamGroup { params: weights, lr: 1e-3, weight_decay: self.weight_decay });
        }
        Adam::new(groups)
    }

    /// Sets each layer group's learning rate (optimizer groups come in pairs per layer group).
    fn set_rates(optimizer: &mut Adam, rates: &[f64], momentum: f64) {
        for (i, group) in optimizer.groups.iter_mut().enumerate() {
            group.lr = rates[i / 2] as f32;
        }
        optimizer.momentum = momentum as f32;
    }

    fn next_seed(&mut self) -> u64 {
        self.seed += 1;
        self.seed
    }

    /// One training batch: forward, loss, backward, optimizer step. Returns the loss.
    async fn train_batch(&mut self, indices: &[usize], rng: &mut Pcg32) -> Result<f64> {
        let (x, y) = self.data.batch(indices, Some(rng), &self.device)?;
        let loss = self.forward(&x)?.cross_entropy(&y, self.label_smoothing)?;
        let value = loss.item().await? as f64;
        if !value.is_finite() {
            return Ok(value); // do not step on a NaN: the weights stay the last good ones
        }
        let optimizer = self.optimizer.as_mut().expect("fit creates the optimizer first");
        optimizer.zero_grad();
        loss.backward()?;
        optimizer.step()?;
        Ok(value)
    }

    /// fastai's fit_one_cycle(epochs, lr_max) with its defaults (div 25, div_final 1e5,
    /// pct_start 0.25, momentum 0.95-0.85-0.95), one rate per layer group from `lr`.
    pub async fn fit_one_cycle(&mut self, epochs: usize, lr: LearningRate, pct_start: f64, div: f64) -> Result<FitOutcome> {
        if epochs == 0 {
            return Err(Error::new("fit_one_cycle", "needs at least one epoch"));
        }
        let rates = lr.per_group(3)?;
        if self.data.train.len() < self.batch_size {
            return Err(Error::new(
                "fit_one_cycle",
                format!("{} training images are fewer than one batch of {}", self.data.train.len(), self.batch_size),
            ));
        }
        if self.optimizer.is_none() {
            self.optimizer = Some(self.build_optimizer()?);
        }
        let cycles: Vec<OneCycle> = rates.iter().map(|&r| OneCycle { pct_start, div, ..OneCycle::new(r) }).collect();
        let per_epoch = self.data.train.len() / self.batch_size;
        let total = (epochs * per_epoch) as f64;
        let mut smooth = SmoothedLoss::default();
        let mut best = f64::INFINITY;
        for epoch in 0..epochs {
            let started = now();
            self.set_training(true);
            let seed = self.next_seed();
            let mut rng = Pcg32::new(seed ^ 0xa5a5);
            let batches = self.data.train_batches(self.batch_size, seed);
            for (b, indices) in batches.iter().enumerate() {
                let pos = (epoch * per_epoch + b) as f64 / total;
                let group_rates: Vec<f64> = cycles.iter().map(|c| c.lr().at(pos)).collect();
                let momentum = cycles[0].momentum().at(pos);
                Self::set_rates(self.optimizer.as_mut().expect("created above"), &group_rates, momentum);
                let loss = self.train_batch(indices, &mut rng).await?;
                let smoothed = smooth.push(loss);
                if !loss.is_finite() || smoothed > 4.0 * best {
                    return Ok(FitOutcome::Diverged(format!("the loss became {loss:.3e} at epoch {epoch}, batch {b}: the learning rate is too high")));
                }
                best = best.min(smoothed);
                self.recorder.losses.push(smoothed);
                self.recorder.lrs.push(*group_rates.last().expect("three groups"));
                self.recorder.moms.push(momentum);
            }
            let (valid_loss, error_rate) = self.validate().await?;
            self.results.push(EpochResult {
                epoch,
                train_loss: smooth.value(),
                valid_loss,
                error_rate,
                accuracy: 1.0 - error_rate,
                seconds: now() - started,
            });
        }
        Ok(FitOutcome::Finished)
    }

    /// fastai's fine_tune(epochs, base_lr): one frozen epoch at base_lr (pct_start 0.99), then
    /// unfreeze and train `epochs` at slice(base_lr / 2 / 100, base_lr / 2) (pct_start 0.3, div 5).
    pub async fn fine_tune(&mut self, epochs: usize, base_lr: f64) -> Result<FitOutcome> {
        self.freeze();
        if let FitOutcome::Diverged(why) = self.fit_one_cycle(1, LearningRate::UpTo(base_lr), 0.99, 25.0).await? {
            return Ok(FitOutcome::Diverged(why));
        }
        let base_lr = base_lr / 2.0;
        self.unfreeze();
        self.fit_one_cycle(epochs, LearningRate::Range(base_lr / 100.0, base_lr), 0.3, 5.0).await
    }

    /// Validation loss and error rate, averaged over the validation images.
    pub async fn validate(&mut self) -> Result<(f64, f64)> {
        self.set_training(false);
        let (mut loss_sum, mut errors, mut count) = (0.0, 0usize, 0usize);
        for indices in self.data.valid_batches(self.batch_size) {
            let (x, y) = self.data.batch(&indices, None, &self.device)?;
            let logits = no_grad(|| self.forward(&x))?;
            let losses = no_grad(|| logits.cross_entropy_per_item(&y, self.label_smoothing))?.to_vec().await?;
            let predicted = logits.argmax_axis(1, false)?.to_vec().await?;
            let actual = y.to_vec().await?;
            loss_sum += losses.iter().map(|&l| l as f64).sum::<f64>();
            errors += predicted.iter().zip(&actual).filter(|(p, a)| p != a).count();
            count += indices.len();
        }
        Ok((loss_sum / count as f64, errors as f64 / count as f64))
    }

    /// fastai's lr_find: up to `num_it` batches with the rate growing from start to end
    /// exponentially, stopping when the smoothed loss exceeds 4x its best; then every weight and
    /// the optimizer state are restored. Returns (rates, smoothed losses, suggestions).
    pub async fn lr_find(&mut self, start: f64, end: f64, num_it: usize) -> Result<(Vec<f64>, Vec<f64>, Suggestions)> {
        let state: Vec<NamedTensor> = self.body.state().into_iter().chain(self.head.state()).collect();
        let mut saved = Vec::with_capacity(state.len());
        for t in &state {
            saved.push(Tensor::from_slice(&t.tensor.to_vec().await?, t.tensor.shape(), &self.device)?);
        }
        let saved_optimizer = self.optimizer.take();
        self.optimizer = Some(self.build_optimizer()?);
        self.set_training(true);
        let (mut lrs, mut losses) = (Vec::new(), Vec::new());
        let mut smooth = SmoothedLoss::default();
        let mut best = f64::INFINITY;
        let mut rng = Pcg32::new(self.next_seed());
        'sweep: loop {
            let seed = self.next_seed();
            for indices in self.data.train_batches(self.batch_size, seed) {
                let lr = lr_find_rate(start, end, lrs.len(), num_it);
                Self::set_rates(self.optimizer.as_mut().expect("created above"), &[lr; 3], 0.9);
                let loss = self.train_batch(&indices, &mut rng).await?;
                let smoothed = smooth.push(loss);
                lrs.push(lr);
                losses.push(smoothed);
                best = best.min(smoothed);
                if lrs.len() >= num_it || !smoothed.is_finite() || smoothed > 4.0 * best {
                    break 'sweep;
                }
            }
        }
        for (t, value) in state.iter().zip(&saved) {
            t.tensor.assign(value)?;
        }
        self.optimizer = saved_optimizer;
        let suggestions = suggest(&lrs, &losses, num_it)?;
        Ok((lrs, losses, suggestions))
    }
}

/// Seconds since some fixed point: a monotonic clock natively, performance.now() in the browser.
fn now() -> f64 {
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
