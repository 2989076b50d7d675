//! Stored body features for fastai's "precompute".

use crate::backend::Device;
use crate::data::dataset::ImageDataset;
use crate::error::Result;
use crate::tensor::Tensor;

/// The body's output for every dataset item, for training the head alone.
pub(super) struct FeatureCache {
    /// The image size the features were computed at.
    pub(super) size: u32,
    /// One item's feature shape, [channels, h, w].
    pub(super) shape: Vec<usize>,
    pub(super) per_item: Vec<Vec<f32>>,
}

impl FeatureCache {
    /// The stored features and the labels of `indices`, as tensors.
    pub(super) fn batch(&self, data: &ImageDataset, indices: &[usize], device: &Device) -> Result<(Tensor, Tensor)> {
        let values: Vec<f32> = indices.iter().flat_map(|&i| self.per_item[i].iter().copied()).collect();
        let labels: Vec<f32> = indices.iter().map(|&i| data.items[i].label as f32).collect();
        let shape: Vec<usize> = std::iter::once(indices.len()).chain(self.shape.iter().copied()).collect();
        Ok((Tensor::from_slice(&values, &shape, device)?, Tensor::from_slice(&labels, &[indices.len()], device)?))
    }
}
