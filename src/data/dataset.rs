//! An image-classification dataset as fastai builds one for Lesson 2: labelled files (from
//! folders, from a list a web page collected, or with labels parsed from file names), a sorted
//! class vocabulary, a seeded random validation split that is the same on every platform, each
//! image decoded and resized once (data::loading), and shuffled mini-batches cropped from them.

use image::RgbImage;
use regex::Regex;

use super::augment::AugTransforms;
use super::image::{crop_normalized, crop_unit, resize_shorter_side, ImageNetNormalization};
use super::loading::{check_size, DatasetBuilder, Decoded};
use crate::backend::Device;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::image::AUGMENT_PARAMS;
use crate::rng::Pcg32;
use crate::tensor::Tensor;

/// One file as a page or a folder gives it: its name, its bytes and (if known) its label.
pub struct LabelledFile {
    pub name: String,
    pub bytes: Vec<u8>,
    pub label: String,
}

/// Which files validate: a random fraction (fastai's RandomSplitter) or given by the caller
/// (train/ and valid/ folders).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Split {
    Random {
        valid_pct: f64,
        seed: u64,
    },
    /// Files whose flag is true validate.
    Given,
}

impl Default for Split {
    fn default() -> Self {
        Split::Random { valid_pct: 0.2, seed: 42 }
    }
}

/// A decoded image, 8-bit RGB, resized so its shorter side is the dataset's size: all that is
/// kept of a photo (a 1024x768 JPEG becomes 65 KB at 128 px), so thousands fit in memory.
pub struct Item {
    pub name: String,
    pub label: usize,
    pub image: RgbImage,
}
/// The largest class this many times the smallest (or more) draws a warning about balance.
const UNBALANCED_RATIO: usize = 3;

pub struct ImageDataset {
    /// Class names, sorted; a label is an index into it.
    pub vocab: Vec<String>,
    pub items: Vec<Item>,
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
    /// Side of the square crops fed to the network.
    pub size: u32,
    /// Files that could not be used, with the reason: reported, not fatal.
    pub skipped: Vec<(String, String)>,
    /// Problems worth telling the user about (tiny classes, ...).
    pub warnings: Vec<String>,
    pub normalization: ImageNetNormalization,
    /// Draw training items with probability proportional to 1 / (their class's count), with
    /// replacement, so every class is seen about equally often (for unbalanced data).
    pub oversample: bool,
    /// fastai's aug_transforms for training batches (those cropped at a random position); Lesson 2
    /// uses the defaults. None switches augmentation off.
    pub augmentation: Option<AugTransforms>,
}

impl ImageDataset {
    /// Builds the dataset from labelled files, all at once (`DatasetBuilder` takes them a few at a
    /// time); each file's flag says whether it validates when the split is `Split::Given`.
    pub fn from_files(files: Vec<(LabelledFile, bool)>, size: u32, split: Split) -> Result<Self> {
        let mut builder = DatasetBuilder::new(size)?;
        builder.add(files);
        builder.finish(split)
    }

    /// The dataset from decoded photos sorted by (label, name): what `DatasetBuilder::finish` gives.
    pub(super) fn from_decoded(decoded: Vec<Decoded>, skipped: Vec<(String, String)>, size: u32, split: Split) -> Result<Self> {
        let mut vocab: Vec<String> = decoded.iter().map(|d| d.label.clone()).collect();
        vocab.dedup();
        let mut in_valid = Vec::with_capacity(decoded.len());
        let items: Vec<Item> = decoded
            .into_iter()
            .map(|d| {
                in_valid.push(d.valid);
                let label = vocab.binary_search(&d.label).expect("every label is in the vocabulary");
                Item { name: d.name, label, image: d.image }
            })
            .collect();
        if items.is_empty() {
            // Files that were given but could not be decoded are a decode failure; no files at all, bad input.
            let kind = if skipped.is_empty() { ErrorKind::BadInput } else { ErrorKind::Decode };
            return Err(Error::of(kind, "dataset", format!("no readable images ({} file(s) skipped)", skipped.len())));
        }
        if vocab.len() < 2 {
            return Err(Error::new("dataset", format!("a classifier needs at least two classes; found only '{}'", vocab[0])));
        }
        let (train, valid) = match split {
            Split::Given => (0..items.len()).partition(|&i| !in_valid[i]),
            Split::Random { valid_pct, seed } => random_split(items.len(), valid_pct, seed)?,
        };
        if train.is_empty() || valid.is_empty() {
            return Err(Error::new(
                "dataset",
                format!("{} training and {} validation images: both must be non-empty", train.len(), valid.len()),
            ));
        }
        let mut warnings = Vec::new();
        let counts: Vec<usize> = (0..vocab.len()).map(|c| items.iter().filter(|i| i.label == c).count()).collect();
        for (name, &count) in vocab.iter().zip(&counts) {
            if count < 2 {
                warnings.push(format!("class '{name}' has only {count} image: it cannot be learned reliably"));
            }
        }
        let (fewest, most) = (*counts.iter().min().expect("two classes"), *counts.iter().max().expect("two classes"));
        if most >= UNBALANCED_RATIO * fewest {
            warnings.push(format!(
                "the classes are unbalanced ({fewest} to {most} images): consider oversampling, so that small classes are seen as often"
            ));
        }
        Ok(ImageDataset {
            vocab,
            items,
            train,
            valid,
            size,
            skipped,
            warnings,
            normalization: ImageNetNormalization::default(),
            oversample: false,
            augmentation: Some(AugTransforms::default()),
        })
    }

    /// Smaller crops from now on: every image resized down to `size` (the model's weights are
    /// untouched). Only the pixels at the current size are kept, so growing needs the files again:
    /// decode them at the larger size and hand them over with `take_images`.
    pub fn set_size(&mut self, size: u32) -> Result<()> {
        check_size(size)?;
        if size > self.size {
            return Err(Error::new(
                "dataset",
                format!("the photos are kept at {} px: to grow them to {size} px, decode the files again at that size", self.size),
            ));
        }
        self.items.iter_mut().for_each(|item| item.image = resize_shorter_side(&item.image, size));
        self.size = size;
        Ok(())
    }

    /// Progressive resizing to any size: the images of `other` (the same files decoded at its
    /// size) replace these, matched by name; labels, split and edits stay. Nothing changes unless
    /// every item has its image in `other`.
    pub fn take_images(&mut self, other: ImageDataset) -> Result<()> {
        let mut by_name: std::collections::HashMap<String, RgbImage> = other.items.into_iter().map(|i| (i.name, i.image)).collect();
        if let Some(missing) = self.items.iter().find(|i| !by_name.contains_key(&i.name)) {
            return Err(Error::new("dataset", format!("the new images lack '{}': they must come from the same files", missing.name)));
        }
        self.items.iter_mut().for_each(|item| item.image = by_name.remove(&item.name).expect("checked above"));
        self.size = other.size;
        Ok(())
    }

    /// Files labelled by the first capture group of `pattern` on their names (fastai's
    /// from_name_re), e.g. `^([a-z_]+)_\d+\.jpe?g$` for "great_pyrenees_12.jpg". Files whose names
    /// do not match are skipped and reported.
    pub fn from_name_regex(files: Vec<(String, Vec<u8>)>, pattern: &str, size: u32, split: Split) -> Result<Self> {
        let regex = Regex::new(pattern).map_err(|e| Error::new("dataset", format!("bad label pattern '{pattern}': {e}")))?;
        let mut labelled = Vec::new();
        let mut unmatched = Vec::new();
        for (name, bytes) in files {
            match regex.captures(&name).and_then(|c| c.get(1)).map(|m| m.as_str().to_string()) {
                Some(label) => labelled.push((LabelledFile { name, bytes, label }, false)),
                None => unmatched.push((name, format!("does not match the label pattern '{pattern}'"))),
            }
        }
        let mut dataset = ImageDataset::from_files(labelled, size, split)?;
        dataset.skipped.extend(unmatched);
        Ok(dataset)
    }

    /// A folder with one subfolder per class, or with `train/` and `valid/` folders that each
    /// hold one subfolder per class (then the split is theirs).
    #[cfg(not(target_family = "wasm"))]
    pub fn from_folder(root: &std::path::Path, size: u32, split: Split) -> Result<Self> {
        let read_classes = |dir: &std::path::Path, valid: bool, out: &mut Vec<(LabelledFile, bool)>| -> Result<()> {
            let fail = |e: std::io::Error| Error::new("dataset", format!("{}: {e}", dir.display()));
            for class in std::fs::read_dir(dir).map_err(fail)? {
                let class = class.map_err(fail)?.path();
                if !class.is_dir() {
                    continue;
                }
                let label = class.file_name().unwrap_or_default().to_string_lossy().into_owned();
                for file in std::fs::read_dir(&class).map_err(fail)? {
                    let path = file.map_err(fail)?.path();
                    if path.is_file() && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                        let bytes = std::fs::read(&path).map_err(fail)?;
                        let name = format!("{label}/{}", path.file_name().unwrap_or_default().to_string_lossy());
                        out.push((LabelledFile { name, bytes, label: label.clone() }, valid));
                    }
                }
            }
            Ok(())
        };
        let mut files = Vec::new();
        let (train_dir, valid_dir) = (root.join("train"), root.join("valid"));
        let split = if train_dir.is_dir() && valid_dir.is_dir() {
            read_classes(&train_dir, false, &mut files)?;
            read_classes(&valid_dir, true, &mut files)?;
            Split::Given
        } else {
            read_classes(root, false, &mut files)?;
            split
        };
        ImageDataset::from_files(files, size, split)
    }

    /// Training batches for one epoch: the training items shuffled with `seed`, cut into batches
    /// of `batch_size`, the last incomplete one dropped (fastai's drop_last for training).
    pub fn train_batches(&self, batch_size: usize, seed: u64) -> Vec<Vec<usize>> {
        let mut rng = Pcg32::new(seed);
        let mut order = if self.oversample { self.weighted_sample(&mut rng) } else { self.train.clone() };
        shuffle(&mut order, &mut rng);
        order.chunks_exact(batch_size.max(1)).map(<[usize]>::to_vec).collect()
    }

    /// As many training items as there are, drawn with replacement with weights 1 / class count.
    fn weighted_sample(&self, rng: &mut Pcg32) -> Vec<usize> {
        let mut counts = vec![0usize; self.vocab.len()];
        self.train.iter().for_each(|&i| counts[self.items[i].label] += 1);
        let cumulative: Vec<f64> = self
            .train
            .iter()
            .scan(0.0, |total, &i| {
                *total += 1.0 / counts[self.items[i].label] as f64;
                Some(*total)
            })
            .collect();
        let total = *cumulative.last().expect("the training set is never empty");
        (0..self.train.len())
            .map(|_| {
                let target = rng.uniform() as f64 * total;
                self.train[cumulative.partition_point(|&c| c <= target).min(self.train.len() - 1)]
            })
            .collect()
    }

    /// Validation batches, in order, the last one possibly smaller.
    pub fn valid_batches(&self, batch_size: usize) -> Vec<Vec<usize>> {
        self.valid.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
    }

    /// The images and labels of `indices` as tensors [n, 3, size, size] and [n] (labels as f32
    /// indices). Training crops each image at a random position (from `rng`) and, with
    /// `augmentation`, augments it with parameters drawn from the same `rng`; validation crops at
    /// the centre (fastai's Resize, crop method) and never augments.
    pub fn batch(&self, indices: &[usize], random_crop: Option<&mut Pcg32>, device: &Device) -> Result<(Tensor, Tensor)> {
        let size = self.size;
        let (n, s) = (indices.len(), size as usize);
        let mut pixels = Vec::with_capacity(n * 3 * s * s);
        let mut labels = Vec::with_capacity(n);
        let mut rng = random_crop;
        let augmentation = if rng.is_some() { self.augmentation } else { None };
        let mut params = Vec::new();
        for &i in indices {
            let item = &self.items[i];
            let (w, h) = item.image.dimensions();
            let (left, top) = match rng.as_deref_mut() {
                Some(rng) => ((rng.uniform() * (w - size + 1) as f32) as u32, (rng.uniform() * (h - size + 1) as f32) as u32),
                None => ((w - size) / 2, (h - size) / 2),
            };
            let (left, top) = (left.min(w - size), top.min(h - size));
            match (&augmentation, rng.as_deref_mut()) {
                // Kept in [0, 1]: the augmentation kernel resamples first and normalises last.
                (Some(augmentation), Some(rng)) => {
                    pixels.extend(crop_unit(&item.image, left, top, size));
                    params.extend(augmentation.draw(rng)?.params(s, s));
                }
                _ => pixels.extend(crop_normalized(&item.image, left, top, size, &self.normalization)),
            }
            labels.push(item.label as f32);
        }
        let mut images = Tensor::from_slice(&pixels, &[n, 3, s, s], device)?;
        if augmentation.is_some() {
            let params = Tensor::from_slice(&params, &[n, AUGMENT_PARAMS], device)?;
            images = images.augment(&params, self.normalization.mean, self.normalization.std)?;
        }
        Ok((images, Tensor::from_slice(&labels, &[n], device)?))
    }
}

/// fastai's RandomSplitter: shuffle the indices with the seed; the first int(valid_pct * n)
/// validate. (The shuffle is kiln's PCG, so the split is identical natively and in wasm.)
fn random_split(n: usize, valid_pct: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(valid_pct > 0.0 && valid_pct < 1.0) {
        return Err(Error::new("dataset", format!("valid_pct must be between 0 and 1, got {valid_pct}")));
    }
    let mut order: Vec<usize> = (0..n).collect();
    shuffle(&mut order, &mut Pcg32::new(seed));
    let cut = (valid_pct * n as f64) as usize;
    let (valid, train) = order.split_at(cut);
    Ok((train.to_vec(), valid.to_vec()))
}

/// Fisher-Yates.
fn shuffle(items: &mut [usize], rng: &mut Pcg32) {
    for i in (1..items.len()).rev() {
        let j = ((rng.next_u32() as u64 * (i as u64 + 1)) >> 32) as usize;
        items.swap(i, j);
    }
}
