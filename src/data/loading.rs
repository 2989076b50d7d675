//! Building an image dataset a few files at a time, as they are read: each file is decoded,
//! resized and its bytes dropped before the next ones arrive, so memory holds only the compact
//! pixels (8-bit RGB with the shorter side at the dataset's size) and never every file at once.
//! A page reading thousands of photos from the disk feeds it in chunks and reports progress
//! between them; `ImageDataset::from_files` is the same builder fed everything at once.

use image::RgbImage;

use super::dataset::{ImageDataset, LabelledFile, Split};
use super::image::{decode_image, resize_shorter_side};
use crate::backend::cpu_parallel;
use crate::error::{Error, Result};

/// The largest crop side a dataset accepts: 4x the 224 px of ImageNet models, and what keeps a
/// single batch of 16 within memory (16 x 3 x 1024^2 f32 = 200 MB, more again in the network).
pub const MAX_IMAGE_SIDE: u32 = 1024;

/// One decoded photo before the dataset is put together.
pub(super) struct Decoded {
    pub name: String,
    pub label: String,
    /// Where the file goes when the split is `Split::Given`.
    pub valid: bool,
    pub image: RgbImage,
}

/// Files decoded as they arrive, then `finish`ed into an `ImageDataset`.
pub struct DatasetBuilder {
    size: u32,
    decoded: Vec<Decoded>,
    /// Files that could not be used, with the reason.
    skipped: Vec<(String, String)>,
    /// Bytes of the decoded pixels.
    bytes: usize,
}

impl DatasetBuilder {
    /// A builder for `size` x `size` crops (1 to MAX_IMAGE_SIDE).
    pub fn new(size: u32) -> Result<Self> {
        check_size(size)?;
        Ok(DatasetBuilder { size, decoded: Vec::new(), skipped: Vec::new(), bytes: 0 })
    }

    /// Decodes `files` (on all of the CPU backend's threads when there are several), keeping each
    /// photo resized so its shorter side is the dataset's size; unreadable files are noted as skipped.
    pub fn add(&mut self, files: Vec<(LabelledFile, bool)>) {
        let size = self.size;
        let results = cpu_parallel::map(files, |_, (file, valid)| {
            let image = decode_image(&file.bytes, &file.name).map(|image| resize_shorter_side(&image, size));
            (file.name, file.label, valid, image)
        });
        for (name, label, valid, image) in results {
            match image {
                Ok(image) => {
                    self.bytes += image.as_raw().len();
                    self.decoded.push(Decoded { name, label, valid, image });
                }
                Err(e) => self.skipped.push((name, e.message().to_string())),
            }
        }
    }

    /// Files decoded so far.
    pub fn decoded(&self) -> usize {
        self.decoded.len()
    }

    /// Files skipped so far.
    pub fn skipped(&self) -> usize {
        self.skipped.len()
    }

    /// Bytes of pixels held so far: what the dataset will occupy.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The dataset: files ordered by label and name (so neither the split nor the order depends on
    /// the order they arrived in), the vocabulary, the split and the warnings.
    pub fn finish(mut self, split: Split) -> Result<ImageDataset> {
        self.decoded.sort_by(|a, b| (&a.label, &a.name).cmp(&(&b.label, &b.name)));
        self.skipped.sort();
        ImageDataset::from_decoded(self.decoded, self.skipped, self.size, split)
    }
}

/// Image sizes kiln accepts, with the reason for any other.
pub fn check_size(size: u32) -> Result<()> {
    if !(1..=MAX_IMAGE_SIDE).contains(&size) {
        return Err(Error::new("dataset", format!("the image size must be from 1 to {MAX_IMAGE_SIDE} pixels, got {size}")));
    }
    Ok(())
}
