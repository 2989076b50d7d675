//! The limits on a Learner's settings, checked in one place for Rust and for the JavaScript
//! options (`src/js/options.rs`): each check gives the setting back, or says why it cannot be.

use super::Learner;
use crate::error::{Error, Result};

/// The largest image side a Learner takes. Every photo is kept resized to the image size, so the
/// size bounds memory: at 100,000 px one photo needed tens of gigabytes and WebAssembly's
/// allocation trapped ("unreachable"). fastai's usual sizes are 128 to 512.
pub const MAX_IMAGE_SIZE: u32 = 1024;

/// `size` when it is an image size a Learner can use, or why not.
pub fn image_size(size: u32) -> std::result::Result<u32, String> {
    if (1..=MAX_IMAGE_SIZE).contains(&size) {
        Ok(size)
    } else {
        Err(format!("the image size must be from 1 to {MAX_IMAGE_SIZE} pixels, got {size}"))
    }
}

/// `batch_size` when a Learner can train with it, or why not: batch norm in training mode
/// normalises each channel over the batch, which needs at least two images.
pub fn batch_size(batch_size: usize) -> std::result::Result<usize, String> {
    if batch_size >= 2 {
        Ok(batch_size)
    } else {
        Err(format!("the batch size must be at least 2 to train (batch norm compares the images of a batch), got {batch_size}"))
    }
}

impl Learner {
    /// Progressive resizing: training and validation use `size` x `size` crops from now on,
    /// the weights kept. A size over `MAX_IMAGE_SIZE` is refused and changes nothing.
    pub fn set_image_size(&mut self, size: u32) -> Result<()> {
        let size = image_size(size).map_err(|why| Error::new("set_image_size", why))?;
        self.data.set_size(size)
    }
}
