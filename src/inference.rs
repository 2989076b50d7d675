//! Classifying photos with a pretrained network: decode, prepare as torchvision does, run the
//! network in evaluation mode, and report the most probable classes.

use crate::backend::Device;
use crate::data::{decode_image, prepare_for_model, ImageNetNormalization};
use crate::error::{Error, ErrorKind, Result};
use crate::nn::{load_safetensors, mobilenet_v2, MobileNetV2, Module};
use crate::tensor::{no_grad, Tensor};

/// One of the top-k answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub index: usize,
    pub label: String,
    pub probability: f32,
}

pub struct ImageClassifier {
    pub model: MobileNetV2,
    pub labels: Vec<String>,
    pub normalization: ImageNetNormalization,
    /// Shorter side after resizing, then the centre crop (torchvision's 256 / 224).
    pub resize_to: u32,
    pub crop: u32,
    pub device: Device,
}

impl ImageClassifier {
    /// torchvision's ImageNet MobileNetV2 from a safetensors file (`weights`, named `source` in
    /// errors) and the class names, one per line (only the part before the first comma is kept:
    /// "bald eagle, American eagle, ..." becomes "bald eagle").
    pub fn mobilenet_v2_imagenet(weights: &[u8], source: &str, class_names: &str, device: &Device) -> Result<Self> {
        let labels: Vec<String> =
            class_names.lines().filter(|l| !l.trim().is_empty()).map(|l| l.split(',').next().unwrap_or(l).trim().to_string()).collect();
        if labels.len() != 1000 {
            let detail = format!("expected 1000 ImageNet class names, got {}", labels.len());
            return Err(Error::of(ErrorKind::Decode, "mobilenet_v2", detail));
        }
        let classifier = ImageClassifier::mobilenet_v2(labels, device, 0)?;
        load_safetensors(&classifier.model, weights, source)?;
        Ok(classifier)
    }

    /// An untrained MobileNetV2 (torchvision's seeded initialisation) for these classes, in
    /// evaluation mode.
    pub fn mobilenet_v2(labels: Vec<String>, device: &Device, seed: u64) -> Result<Self> {
        if labels.is_empty() {
            return Err(Error::new("mobilenet_v2", "needs at least one class"));
        }
        let model = mobilenet_v2(labels.len(), device, seed)?;
        model.set_training(false);
        Ok(ImageClassifier {
            model,
            labels,
            normalization: ImageNetNormalization::default(),
            resize_to: 256,
            crop: 224,
            device: device.clone(),
        })
    }

    /// Class probabilities of one image file's bytes (`name` is used in error messages).
    pub async fn probabilities(&self, image_bytes: &[u8], name: &str) -> Result<Vec<f32>> {
        let image = decode_image(image_bytes, name)?;
        let pixels = prepare_for_model(&image, self.resize_to, self.crop, &self.normalization)?;
        let size = self.crop as usize;
        let input = Tensor::from_slice(&pixels, &[1, 3, size, size], &self.device)?;
        let probabilities = no_grad(|| self.model.forward(&input)?.softmax(1))?;
        probabilities.to_vec().await
    }

    /// The k most probable classes, most probable first.
    pub async fn predict(&self, image_bytes: &[u8], name: &str, k: usize) -> Result<Vec<Prediction>> {
        let probabilities = self.probabilities(image_bytes, name).await?;
        Ok(top_k(&probabilities, k)
            .into_iter()
            .map(|(index, probability)| Prediction { index, label: self.labels[index].clone(), probability })
            .collect())
    }
}

/// (index, value) of the k largest values, largest first (ties: lower index first).
pub fn top_k(values: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> = values.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(k);
    ranked
}
