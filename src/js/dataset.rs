//! `kiln.ImageDataset`: labelled image files from JavaScript (what a page gets from a dropped
//! folder or a file picker), decoded and split as `data::dataset` does; and
//! `kiln.ImageDatasetBuilder`, which takes them a few at a time so that a page reading thousands
//! of files never holds all their bytes at once.

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use super::interop::{bad_input, js_error, js_object};
use super::options::{self, DatasetOptions};
use crate::data::augment::AugTransforms;
use crate::data::dataset::{ImageDataset, LabelledFile, Split};
use crate::data::loading::DatasetBuilder;

/// Labelled photos decoded and resized for training, split into training and validation sets:
/// fastai's `ImageDataLoaders`. Made by `ImageDataset.fromFiles` or `ImageDatasetBuilder`.
#[wasm_bindgen(js_name = ImageDataset)]
pub struct JsImageDataset {
    /// Taken by `Learner.vision`, which owns the dataset from then on.
    pub(super) inner: Option<ImageDataset>,
}

/// A required string field of a JS object.
fn text(object: &JsValue, key: &str, op: &str, index: u32) -> Result<String, JsError> {
    Reflect::get(object, &key.into())
        .ok()
        .and_then(|v| v.as_string())
        .ok_or_else(|| bad_input(op, format!("files[{index}].{key} must be a string")))
}

/// A file's bytes, from a Uint8Array or an ArrayBuffer.
fn bytes(object: &JsValue, op: &str, index: u32) -> Result<Vec<u8>, JsError> {
    let value = Reflect::get(object, &"bytes".into()).unwrap_or(JsValue::UNDEFINED);
    if value.is_instance_of::<Uint8Array>() || value.is_instance_of::<js_sys::ArrayBuffer>() {
        Ok(Uint8Array::new(&value).to_vec())
    } else {
        Err(bad_input(op, format!("files[{index}].bytes must be a Uint8Array or an ArrayBuffer")))
    }
}

impl DatasetOptions {
    /// The seeded random split, or `Split::Given` when the files carry their own `valid` flags.
    fn split(&self, given: bool) -> Split {
        if given {
            Split::Given
        } else {
            Split::Random { valid_pct: self.valid_pct, seed: self.seed }
        }
    }

    /// fastai's aug_transforms (with flip_vert), or none.
    fn augmentation(&self) -> Option<AugTransforms> {
        self.augment.then(|| AugTransforms { flip_vert: self.flip_vert, ..AugTransforms::default() })
    }
}

#[wasm_bindgen(js_class = ImageDataset)]
impl JsImageDataset {
    /// `ImageDataset.fromFiles([{name, bytes, label, valid?}], {size, validPct, seed, augment,
    /// flipVert})`: every file decoded and resized once, as `ImageDatasetBuilder` does when given
    /// them all at once. When any file has a `valid` flag, the flags are the split; otherwise a
    /// seeded random `validPct` validates. Unreadable files are skipped and listed in
    /// `summary().skipped`; no readable image, or a single class, is an Error.
    #[wasm_bindgen(js_name = fromFiles)]
    pub fn from_files(
        #[wasm_bindgen(unchecked_param_type = "{name: string, bytes: Uint8Array | ArrayBuffer, label: string, valid?: boolean}[]")]
        files: Array,
        #[wasm_bindgen(unchecked_param_type = "{size?: number, validPct?: number, seed?: number, augment?: boolean, flipVert?: boolean}")]
        options: JsValue,
    ) -> Result<JsImageDataset, JsError> {
        let op = "ImageDataset.fromFiles";
        let mut builder = JsImageDatasetBuilder::start(op, options)?;
        builder.add_files(op, files)?;
        builder.finish()
    }

    /// `ImageDataset.fromNameRegex([{name, bytes}], pattern, options)`: labels from the first
    /// capture group of `pattern` on each file name (fastai's from_name_re).
    #[wasm_bindgen(js_name = fromNameRegex)]
    pub fn from_name_regex(
        #[wasm_bindgen(unchecked_param_type = "{name: string, bytes: Uint8Array | ArrayBuffer}[]")] files: Array,
        pattern: String,
        #[wasm_bindgen(unchecked_param_type = "{size?: number, validPct?: number, seed?: number, augment?: boolean, flipVert?: boolean}")]
        options: JsValue,
    ) -> Result<JsImageDataset, JsError> {
        let op = "ImageDataset.fromNameRegex";
        let options: DatasetOptions = options::read(op, &options)?;
        let mut named = Vec::new();
        for (i, file) in files.iter().enumerate() {
            named.push((text(&file, "name", op, i as u32)?, bytes(&file, op, i as u32)?));
        }
        let mut inner = ImageDataset::from_name_regex(named, &pattern, options.size, options.split(false)).map_err(js_error)?;
        inner.augmentation = options.augmentation();
        Ok(JsImageDataset { inner: Some(inner) })
    }

    /// What the dataset holds: see `summary_object`.
    pub fn summary(&self) -> Result<JsValue, JsError> {
        let dataset = self.inner.as_ref().ok_or_else(|| bad_input("ImageDataset", "this dataset now belongs to a Learner"))?;
        Ok(summary_object(dataset))
    }
}

/// `new ImageDatasetBuilder({size, validPct, seed, augment, flipVert})`, then `add(files)` as
/// many times as needed, then `finish()`: the dataset `ImageDataset.fromFiles` would give for all
/// the files, while only the decoded pixels of those added so far are held.
#[wasm_bindgen(js_name = ImageDatasetBuilder)]
pub struct JsImageDatasetBuilder {
    /// None once finished.
    inner: Option<DatasetBuilder>,
    options: DatasetOptions,
    /// Whether any file came with its own `valid` flag (then the flags are the split).
    given_split: bool,
}

#[wasm_bindgen(js_class = ImageDatasetBuilder)]
impl JsImageDatasetBuilder {
    /// `new ImageDatasetBuilder({size = 224, validPct = 0.2, seed = 42, augment = true, flipVert = false})`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "{size?: number, validPct?: number, seed?: number, augment?: boolean, flipVert?: boolean}")]
        options: JsValue,
    ) -> Result<JsImageDatasetBuilder, JsError> {
        Self::start("ImageDatasetBuilder", options)
    }

    /// Decodes `[{name, bytes, label, valid?}]` now (on every thread of the threaded build) and
    /// keeps only their pixels at the dataset's size. A malformed entry is an Error and adds none
    /// of them; an unreadable image is skipped and reported by `finish`.
    pub fn add(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "{name: string, bytes: Uint8Array | ArrayBuffer, label: string, valid?: boolean}[]")]
        files: Array,
    ) -> Result<(), JsError> {
        self.add_files("ImageDatasetBuilder.add", files)
    }

    /// Files decoded so far.
    #[wasm_bindgen(getter)]
    pub fn decoded(&self) -> usize {
        self.inner.as_ref().map_or(0, DatasetBuilder::decoded)
    }

    /// Files skipped so far (not images, damaged, too large).
    #[wasm_bindgen(getter)]
    pub fn skipped(&self) -> usize {
        self.inner.as_ref().map_or(0, DatasetBuilder::skipped)
    }

    /// Bytes of pixels held so far.
    #[wasm_bindgen(getter)]
    pub fn bytes(&self) -> usize {
        self.inner.as_ref().map_or(0, DatasetBuilder::bytes)
    }

    /// The dataset (see `ImageDataset.fromFiles`); the builder is spent.
    pub fn finish(&mut self) -> Result<JsImageDataset, JsError> {
        let builder = self.inner.take().ok_or_else(|| bad_input("ImageDatasetBuilder.finish", "this builder has finished"))?;
        let mut inner = builder.finish(self.options.split(self.given_split)).map_err(js_error)?;
        inner.augmentation = self.options.augmentation();
        Ok(JsImageDataset { inner: Some(inner) })
    }
}

impl JsImageDatasetBuilder {
    /// The builder, with `op` naming the call in errors.
    fn start(op: &str, options: JsValue) -> Result<JsImageDatasetBuilder, JsError> {
        let options: DatasetOptions = options::read(op, &options)?;
        let inner = DatasetBuilder::new(options.size).map_err(js_error)?;
        Ok(JsImageDatasetBuilder { inner: Some(inner), options, given_split: false })
    }

    /// `add`, with `op` naming the call in errors.
    fn add_files(&mut self, op: &str, files: Array) -> Result<(), JsError> {
        let mut labelled = Vec::new();
        for (i, file) in files.iter().enumerate() {
            let i = i as u32;
            let valid = Reflect::get(&file, &"valid".into()).ok().and_then(|v| v.as_bool());
            let entry =
                LabelledFile { name: text(&file, "name", op, i)?, bytes: bytes(&file, op, i)?, label: text(&file, "label", op, i)? };
            labelled.push((entry, valid));
        }
        let builder = self.inner.as_mut().ok_or_else(|| bad_input(op, "this builder has finished"))?;
        self.given_split |= labelled.iter().any(|(_, valid)| valid.is_some());
        builder.add(labelled.into_iter().map(|(file, valid)| (file, valid.unwrap_or(false))).collect());
        Ok(())
    }
}

/// `{vocab, size, items: [{name, label, split}], classCounts: [{class, train, valid}], skipped:
/// [{name, reason}], warnings}`: what a page shows about a dataset.
pub(super) fn summary_object(dataset: &ImageDataset) -> JsValue {
    let strings = |list: &[String]| list.iter().map(|s| JsValue::from(s.as_str())).collect::<Array>();
    // Every item is "deleted" unless the training or validation list holds it.
    let mut split_of = vec!["deleted"; dataset.items.len()];
    dataset.train.iter().for_each(|&i| split_of[i] = "train");
    dataset.valid.iter().for_each(|&i| split_of[i] = "valid");
    let items: Array = dataset
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            js_object(&[
                ("name", item.name.as_str().into()),
                ("label", dataset.vocab[item.label].as_str().into()),
                ("split", split_of[i].into()),
            ])
        })
        .collect();
    let counts: Array = dataset
        .class_counts()
        .into_iter()
        .map(|c| js_object(&[("class", c.class.into()), ("train", c.train.into()), ("valid", c.valid.into())]))
        .collect();
    let skipped: Array = dataset
        .skipped
        .iter()
        .map(|(name, reason)| js_object(&[("name", name.as_str().into()), ("reason", reason.as_str().into())]))
        .collect();
    js_object(&[
        ("vocab", strings(&dataset.vocab).into()),
        ("size", dataset.size.into()),
        ("items", items.into()),
        ("classCounts", counts.into()),
        ("skipped", skipped.into()),
        ("warnings", strings(&dataset.warnings).into()),
        ("oversample", dataset.oversample.into()),
        ("augment", dataset.augmentation.is_some().into()),
    ])
}
