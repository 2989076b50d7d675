//! Data: decoding and preparing images, augmenting them, and image datasets (the same code
//! natively and in wasm).

pub mod augment;
pub mod cleaning;
pub mod dataset;
pub mod image;
pub mod loading;

pub use image::{
    crop_normalized, crop_unit, decode_image, prepare_for_model, resize_shorter_side, ImageNetNormalization, MAX_IMAGE_PIXELS,
};
