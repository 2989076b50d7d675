//! `kiln.ImageDataset`: labelled image files from JavaScript (what a page gets from a dropped
//! folder or a file picker), decoded and split as `data::dataset` does.

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use super::interop::{bad_input, js_error, js_object};
use super::options::{self, DatasetOptions};
use crate::data::augment::AugTransforms;
use crate::data::dataset::{ImageDataset, LabelledFile, Split};

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
    /// flipVert})`: every
    /// file decoded and resized once. When any file has a `valid` flag, the flags are the split;
    /// otherwise a seeded random `validPct` validates. Unreadable files are skipped and listed in
    /// `summary().skipped`; no readable image, or a single class, is an Error.
    #[wasm_bindgen(js_name = fromFiles)]
    pub fn from_files(
        #[wasm_bindgen(unchecked_param_type = "{name: string, bytes: Uint8Array | ArrayBuffer, label: string, valid?: boolean}[]")]
        files: Array,
        #[wasm_bindgen(unchecked_param_type = "{size?: number, validPct?: number, seed?: number, augment?: boolean, flipVert?: boolean}")]
        options: JsValue,
    ) -> Result<JsImageDataset, JsError> {
        let op = "ImageDataset.fromFiles";
        let options: DatasetOptions = options::read(op, &options)?;
        let mut labelled = Vec::new();
        let mut given = false;
        for (i, file) in files.iter().enumerate() {
            let i = i as u32;
            let valid = Reflect::get(&file, &"valid".into()).ok().and_then(|v| v.as_bool());
            given |= valid.is_some();
            let entry =
                LabelledFile { name: text(&file, "name", op, i)?, bytes: bytes(&file, op, i)?, label: text(&file, "label", op, i)? };
            labelled.push((entry, valid.unwrap_or(false)));
        }
        let mut inner = ImageDataset::from_files(labelled, options.size, options.split(given)).map_err(js_error)?;
        inner.augmentation = options.augmentation();
        Ok(JsImageDataset { inner: Some(inner) })
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

/// `{vocab, size, items: [{name, label, split}], classCounts: [{class, train, valid}], skipped:
/// [{name, reason}], warnings}`: what a page shows about a dataset.
pub(super) fn summary_object(dataset: &ImageDataset) -> JsValue {
    let strings = |list: &[String]| list.iter().map(|s| JsValue::from(s.as_str())).collect::<Array>();
    let split_of = |i: usize| {
        if dataset.train.contains(&i) {
            "train"
        } else if dataset.valid.contains(&i) {
            "valid"
        } else {
            "deleted"
        }
    };
    let items: Array = dataset
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            js_object(&[
                ("name", item.name.as_str().into()),
                ("label", dataset.vocab[item.label].as_str().into()),
                ("split", split_of(i).into()),
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
