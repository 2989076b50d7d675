//! What the benchmarks time, natively (`cargo bench --bench speed`) and in the browser
//! (bench.html): one training step and one inference pass of the Learner's network, MobileNetV2's
//! body with fastai's head, unfrozen, on a batch of random images. Random weights: the arithmetic,
//! and so the time, is the same as with the pretrained ones.

use std::rc::Rc;

use super::clock::now;
use super::head::create_head;
use super::BODY_FEATURES;
use crate::backend::Device;
use crate::error::Result;
use crate::nn::{mobilenet_v2, Module, Sequential, TensorKind};
use crate::optim::{Adam, ParamGroup};
use crate::rng::Pcg32;
use crate::tensor::{no_grad, Tensor};

/// Classes of the head, as in the sample photos.
const CLASSES: usize = 5;

pub struct SpeedTest {
    model: Sequential,
    optimizer: Adam,
    images: Tensor,
    labels: Tensor,
}

impl SpeedTest {
    /// The network with every parameter trainable, Adam with fastai's defaults, and a batch of
    /// `batch` random `size` x `size` images with random labels.
    pub fn new(size: usize, batch: usize, device: &Device) -> Result<Self> {
        let body = mobilenet_v2(1000, device, 0)?.features;
        let head = create_head(BODY_FEATURES, CLASSES, device, &mut Pcg32::new(42))?;
        let model = Sequential::new(vec![Rc::new(body), Rc::new(head)]);
        let params = model.state().into_iter().filter(|t| t.kind == TensorKind::Parameter).map(|t| t.tensor).collect();
        let optimizer = Adam::new(vec![ParamGroup { params, lr: 1e-3, weight_decay: 0.01 }])?;
        let images = Tensor::randn(&[batch, 3, size, size], 1, device)?;
        let mut rng = Pcg32::new(2);
        let labels: Vec<u32> = (0..batch).map(|_| rng.next_u32() % CLASSES as u32).collect();
        let labels = Tensor::class_indices(&labels, CLASSES, device)?;
        Ok(SpeedTest { model, optimizer, images, labels })
    }

    /// Forward, cross-entropy, backward and an Adam step; returns the loss (reading it back is
    /// what makes the step finished on a GPU too).
    pub async fn train_step(&mut self) -> Result<f32> {
        self.model.set_training(true);
        self.optimizer.zero_grad();
        let loss = self.model.forward(&self.images)?.cross_entropy(&self.labels, 0.0)?;
        loss.backward()?;
        self.optimizer.step()?;
        loss.item().await
    }

    /// Training images/s: one warm-up step (it compiles a GPU's pipelines and fills its buffer
    /// pool), then the median of `steps` timed steps.
    pub async fn training_rate(&mut self, steps: usize) -> Result<f64> {
        self.train_step().await?;
        let mut seconds = Vec::with_capacity(steps);
        for _ in 0..steps.max(1) {
            let started = now();
            self.train_step().await?;
            seconds.push(now() - started);
        }
        seconds.sort_by(f64::total_cmp);
        Ok(self.images.shape()[0] as f64 / seconds[seconds.len() / 2].max(1e-6))
    }

    /// Evaluation-mode forward pass, logits read back.
    pub async fn infer(&self) -> Result<Vec<f32>> {
        self.model.set_training(false);
        no_grad(|| self.model.forward(&self.images))?.to_vec().await
    }
}
