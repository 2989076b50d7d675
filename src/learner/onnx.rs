//! The trained model as ONNX, for where people deploy: the whole network, with what a runtime
//! needs to feed it (the classes and the preprocessing) in the file's metadata.

use super::Learner;
use crate::error::Result;
use crate::nn::onnx::{export, ModelInfo};

impl Learner {
    /// The model in evaluation mode as an ONNX file (opset 13): input "image" [batch, 3, size,
    /// size], preprocessed as the metadata's "preprocessing" says; outputs "logits" and
    /// "probabilities" [batch, classes], in the order of the metadata's "vocab" (a JSON list).
    pub async fn export_onnx(&self) -> Result<Vec<u8>> {
        let (size, norm) = (self.data.size, &self.data.normalization);
        let preprocessing = format!(
            "Decode the photo as 8-bit RGB; resize it so its shorter side is {size} px (bilinear, antialiased); \
             crop the centre {size}x{size}; divide by 255; subtract mean and divide by std per channel (R, G, B); \
             lay out as float32 [batch, 3, {size}, {size}] (NCHW)."
        );
        let metadata = [
            ("architecture", "mobilenet_v2 features + fastai head".to_string()),
            ("vocab", serde_json::to_string(&self.data.vocab).expect("strings serialise")),
            ("image_size", size.to_string()),
            ("normalization", serde_json::json!({ "mean": norm.mean, "std": norm.std }).to_string()),
            ("preprocessing", preprocessing.clone()),
        ];
        let info = ModelInfo {
            doc: format!("An image classifier trained with kiln (fast.ai Lesson 2). {preprocessing}"),
            metadata: metadata.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        };
        let size = size as usize;
        export(&self.model(), &[3, size, size], info).await
    }
}
