//! Evaluating a Learner: validation loss and metrics, per-item results for interpretation, and
//! test-time augmentation, predicting one image.

use super::losses::read_joined;
use super::Learner;
use crate::data::{decode_image, prepare_for_model};
use crate::error::{Error, Result};
use crate::inference::top_k;
use crate::interpret::ItemResult;
use crate::nn::Module;
use crate::rng::Pcg32;
use crate::tensor::{no_grad, Tensor};

/// What `tta` found: each validation item's blended class probabilities, and the error rate of
/// those and of the plain pass alone.
#[derive(Clone, Debug)]
pub struct TtaResult {
    pub probabilities: Vec<Vec<f32>>,
    pub error_rate: f64,
    pub plain_error_rate: f64,
}

impl Learner {
    /// The logits and labels of validation items: centre crops (through the stored features when
    /// precomputing), or with `augment`, training-time random crops and augmentation (for TTA).
    fn valid_logits(&self, indices: &[usize], augment: Option<&mut Pcg32>) -> Result<(Tensor, Tensor)> {
        match (self.features.as_ref(), augment) {
            (Some(cache), None) => {
                let (x, y) = cache.batch(&self.data, indices, &self.device)?;
                Ok((no_grad(|| self.head.forward(&x))?, y))
            }
            (_, augment) => {
                let (x, y) = self.data.batch(indices, augment, &self.device)?;
                Ok((no_grad(|| self.forward(&x))?, y))
            }
        }
    }

    /// Class probabilities of every validation item, in order, one pass (read back at once).
    async fn valid_probabilities(&self, mut augment: Option<&mut Pcg32>) -> Result<Vec<Vec<f32>>> {
        let mut parts = Vec::new();
        for indices in self.data.valid_batches(self.batch_size) {
            let (logits, _) = self.valid_logits(&indices, augment.as_deref_mut())?;
            parts.push(no_grad(|| logits.softmax(1))?);
        }
        let probabilities = read_joined(parts).await?;
        Ok(probabilities.chunks(self.data.vocab.len()).map(<[f32]>::to_vec).collect())
    }

    /// fastai's tta(n = 4, beta = 0.25): the validation set seen `n` times with training-time
    /// augmentation, the probabilities averaged (A), then blended with one plain pass (P):
    /// (1 - beta) A + beta P. Often a little more accurate than the plain pass.
    pub async fn tta(&mut self, n: usize, beta: f64) -> Result<TtaResult> {
        if n == 0 || !(0.0..=1.0).contains(&beta) {
            return Err(Error::new("tta", format!("needs n >= 1 and beta in [0, 1], got n = {n}, beta = {beta}")));
        }
        self.set_training(false);
        let plain = self.valid_probabilities(None).await?;
        let mut rng = Pcg32::new(self.next_seed());
        let mut augmented = vec![vec![0.0f32; self.data.vocab.len()]; plain.len()];
        for _ in 0..n {
            for (sum, pass) in augmented.iter_mut().zip(self.valid_probabilities(Some(&mut rng)).await?) {
                sum.iter_mut().zip(pass).for_each(|(s, p)| *s += p / n as f32);
            }
        }
        let blended: Vec<Vec<f32>> = augmented
            .iter()
            .zip(&plain)
            .map(|(a, p)| a.iter().zip(p).map(|(&a, &p)| ((1.0 - beta) * a as f64 + beta * p as f64) as f32).collect())
            .collect();
        let error_rate = |probabilities: &[Vec<f32>]| {
            let wrong = probabilities.iter().zip(&self.data.valid).filter(|(p, &item)| top_k(p, 1)[0].0 != self.data.items[item].label);
            wrong.count() as f64 / probabilities.len() as f64
        };
        Ok(TtaResult { error_rate: error_rate(&blended), plain_error_rate: error_rate(&plain), probabilities: blended })
    }
    /// Validation loss and error rate, averaged over the validation images.
    pub async fn validate(&mut self) -> Result<(f64, f64)> {
        let results = self.validation_results().await?;
        let loss = results.iter().map(|r| r.loss).sum::<f64>() / results.len() as f64;
        let errors = results.iter().filter(|r| r.actual != r.predicted).count();
        Ok((loss, errors as f64 / results.len() as f64))
    }

    /// Every validation item's loss, prediction and the probability of that prediction (for
    /// top losses, the confusion matrix and the cleaner).
    pub async fn validation_results(&mut self) -> Result<Vec<ItemResult>> {
        self.set_training(false);
        // Each batch's rows are [class probabilities..., loss], kept on the device and read back
        // together once: a readback per batch would wait for the GPU to drain every time.
        let mut parts = Vec::new();
        for indices in self.data.valid_batches(self.batch_size) {
            let (logits, y) = self.valid_logits(&indices, None)?;
            let row = no_grad(|| {
                let losses = logits.cross_entropy_per_item(&y, self.label_smoothing)?;
                logits.softmax(1)?.concat(&losses.reshape(&[indices.len(), 1])?, 1)
            })?;
            parts.push(row);
        }
        let rows = read_joined(parts).await?;
        let classes = self.data.vocab.len();
        let results = self.data.valid.iter().zip(rows.chunks(classes + 1)).map(|(&item, row)| {
            let (predicted, probability) = top_k(&row[..classes], 1)[0];
            let actual = self.data.items[item].label;
            ItemResult { item, actual, predicted, loss: row[classes] as f64, probability: probability as f64 }
        });
        Ok(results.collect())
    }

    /// The class of one image file's bytes: (label, index, probabilities), the image prepared as
    /// the validation set is (shorter side resized to the dataset's size, centre crop).
    pub async fn predict(&mut self, image_bytes: &[u8], name: &str) -> Result<(String, usize, Vec<f32>)> {
        let image = decode_image(image_bytes, name)?;
        let size = self.data.size;
        let pixels = prepare_for_model(&image, size, size, &self.data.normalization)?;
        self.set_training(false);
        let x = Tensor::from_slice(&pixels, &[1, 3, size as usize, size as usize], &self.device)?;
        let probabilities = no_grad(|| self.forward(&x)?.softmax(1))?.to_vec().await?;
        let index = top_k(&probabilities, 1)[0].0;
        Ok((self.data.vocab[index].clone(), index, probabilities))
    }
}
