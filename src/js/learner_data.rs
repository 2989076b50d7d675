//! `kiln.Learner`'s dataset from JavaScript: the cleaner's edits, progressive resizing,
//! oversampling and augmentation, and the dataset's summary. (The Learner itself: learner.rs.)

use wasm_bindgen::prelude::*;

use super::dataset::{summary_object, JsImageDataset};
use super::interop::bad_input;
use super::learner::JsLearner;
use crate::data::augment::AugTransforms;

#[wasm_bindgen(js_class = Learner)]
impl JsLearner {
    /// The cleaner: takes an item (by its index in `dataset.items`) out of the dataset.
    #[wasm_bindgen(js_name = deleteItem)]
    pub fn delete_item(&self, item: u32) -> Result<(), JsError> {
        self.with("deleteItem", |l| l.data.delete_item(item as usize))
    }

    /// The cleaner: gives an item another of the vocabulary's labels.
    #[wasm_bindgen(js_name = relabelItem)]
    pub fn relabel_item(&self, item: u32, label: String) -> Result<(), JsError> {
        self.with("relabelItem", |l| l.data.relabel_item(item as usize, &label))
    }

    /// Progressive resizing to a smaller size: `size` x `size` crops from now on, keeping the
    /// weights. Only the pixels at the current size are kept: to grow, use `setImages`.
    #[wasm_bindgen(js_name = setImageSize)]
    pub fn set_image_size(&self, size: u32) -> Result<(), JsError> {
        self.with("setImageSize", |l| l.data.set_size(size))
    }

    /// Progressive resizing to any size: the photos of `dataset` (the same files, built at the new
    /// size) replace the learner's, matched by name; labels, split, the cleaner's edits and the
    /// weights stay. `dataset` is spent.
    #[wasm_bindgen(js_name = setImages)]
    pub fn set_images(&self, dataset: &mut JsImageDataset) -> Result<(), JsError> {
        let op = "setImages";
        let images = dataset.inner.take().ok_or_else(|| bad_input(op, "this dataset already belongs to a Learner"))?;
        self.with(op, |l| l.data.take_images(images))
    }

    /// Oversampling for unbalanced classes (training items drawn with weights 1 / class count).
    #[wasm_bindgen(setter)]
    pub fn set_oversample(&self, on: bool) -> Result<(), JsError> {
        self.change("oversample", |l| l.data.oversample = on)
    }

    /// Training-time augmentation (fastai's aug_transforms) on or off.
    #[wasm_bindgen(setter)]
    pub fn set_augment(&self, on: bool) -> Result<(), JsError> {
        self.change("augment", |l| l.data.augmentation = on.then(AugTransforms::default))
    }

    /// The dataset as `ImageDataset.summary()` describes it.
    #[wasm_bindgen(getter)]
    pub fn dataset(&self) -> Result<JsValue, JsError> {
        self.with("dataset", |l| Ok(summary_object(&l.data)))
    }
}
