//! Data: decoding and preparing images, and image datasets (the same code natively and in wasm).

pub mod cleaning;
pub mod dataset;
pub mod image;

pub use image::{crop_normalized, decode_image, prepare_for_model, resize_shorter_side, ImageNetNormalization, MAX_IMAGE_PIXELS};
