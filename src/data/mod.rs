//! Data: decoding and preparing images (the same code natively and in wasm).

pub mod image;

pub use image::{decode_image, prepare_for_model, ImageNetNormalization, MAX_IMAGE_PIXELS};
