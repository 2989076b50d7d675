//! Image augmentation as one op: a resampling through a homography per image, lighting and
//! normalisation (fastai's aug_transforms on a batch). The data layer draws the parameters;
//! images are data, so the op has no gradient.

use crate::backend::{Kernel, AUGMENT_PARAMS};
use crate::error::{Error, Result};
use crate::shape::show;
use crate::tensor::Tensor;

impl Tensor {
    /// Augments images [n, 3, h, w] with values in [0, 1] by their parameter rows
    /// [n, AUGMENT_PARAMS] (layout: `backend::AUGMENT_PARAMS`), then normalises each channel:
    /// (v - mean) / std. The output has the input's shape and records no graph.
    pub fn augment(&self, params: &Tensor, mean: [f32; 3], std: [f32; 3]) -> Result<Tensor> {
        self.check_same("augment", params)?;
        let &[images, channels, height, width] = self.shape() else {
            return Err(Error::new("augment", format!("needs images [N, 3, H, W], got {}", show(self.shape()))));
        };
        if channels != 3 {
            return Err(Error::new("augment", format!("needs 3 colour channels, got images {}", show(self.shape()))));
        }
        if params.shape() != [images, AUGMENT_PARAMS] {
            return Err(Error::new(
                "augment",
                format!(
                    "parameters of shape {} do not fit images {} (expected [{images}, {AUGMENT_PARAMS}])",
                    show(params.shape()),
                    show(self.shape())
                ),
            ));
        }
        let kernel = Kernel::Augment { images, height, width, mean, std };
        self.run_kernel(kernel, &[self, params], self.shape().to_vec(), None)
    }
}
