//! Decoding photos (JPEG, PNG, WebP, GIF, BMP via the `image` crate) and turning them into the
//! normalised tensors a network expects, as torchvision's Resize / CenterCrop / Normalize do.

use std::io::Cursor;

use image::{imageops::FilterType, DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use crate::error::{Error, ErrorKind, Result};

/// Images with more pixels than this are refused before any pixel buffer is allocated
/// (a 30000 x 30000 PNG would need 2.7 GB). 50 megapixels covers any camera photo.
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;

/// The per-channel mean and standard deviation of ImageNet, which pretrained models expect.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageNetNormalization {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl ImageNetNormalization {
    /// (v - mean) / std in place, for CHW numbers (3 planes of equal size).
    pub fn apply(&self, chw: &mut [f32]) {
        let plane = chw.len() / 3;
        for (c, channel) in chw.chunks_mut(plane).enumerate() {
            channel.iter_mut().for_each(|v| *v = (*v - self.mean[c]) / self.std[c]);
        }
    }
}

impl Default for ImageNetNormalization {
    fn default() -> Self {
        ImageNetNormalization { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }
    }
}

/// Decodes an image file's bytes into 8-bit RGB, upright (EXIF orientation applied); greyscale,
/// alpha (dropped), 16-bit and CMYK images are converted. `name` is used in error messages.
pub fn decode_image(bytes: &[u8], name: &str) -> Result<RgbImage> {
    let fail = |detail: String| Error::of(ErrorKind::Decode, "decode_image", format!("{name}: {detail}"));
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|e| fail(format!("could not be read ({e})")))?;
    let format = reader.format().ok_or_else(|| fail("is not an image kiln can read (JPEG, PNG, WebP, GIF or BMP)".into()))?;
    // The JPEG decoder fills a cut-off file with grey instead of failing. Entropy-coded data
    // never contains the bytes FF D9 (an FF there is always followed by 00 or a restart marker),
    // so a complete file has its end-of-image marker FF D9 near the end, and a cut one does not.
    if format == image::ImageFormat::Jpeg && !bytes[bytes.len().saturating_sub(1024)..].windows(2).any(|w| w == [0xFF, 0xD9]) {
        return Err(fail("is damaged or truncated (the JPEG data stops before its end marker)".into()));
    }
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_IMAGE_PIXELS * 8); // RGBA at 16 bits per channel
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| fail(format!("is not a valid image ({e})")))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(fail(format!("has no pixels ({width}x{height})")));
    }
    if width as u64 * height as u64 > MAX_IMAGE_PIXELS {
        return Err(fail(format!("is {width}x{height} pixels, more than the limit of {} megapixels", MAX_IMAGE_PIXELS / 1_000_000)));
    }
    let orientation = decoder.orientation().map_err(|e| fail(format!("has unreadable metadata ({e})")))?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| fail(format!("is damaged or truncated ({e})")))?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8()) // no copy when the decoder gave 8-bit RGB already, as JPEG does
}

/// torchvision's eval transform: resize so the shorter side is `resize_to`, crop the centre
/// `crop` x `crop` (offsets rounded half to even, as Python's round), scale to [0, 1] and
/// normalise. Returns CHW numbers, 3 x crop x crop.
pub fn prepare_for_model(image: &RgbImage, resize_to: u32, crop: u32, norm: &ImageNetNormalization) -> Result<Vec<f32>> {
    if crop > resize_to {
        return Err(Error::new("prepare_for_model", format!("crop {crop} is larger than the resized side {resize_to}")));
    }
    let resized = resize_shorter_side(image, resize_to);
    let (w, h) = resized.dimensions();
    let (left, top) = (round_half_even((w - crop) as f64 / 2.0), round_half_even((h - crop) as f64 / 2.0));
    Ok(crop_normalized(&resized, left, top, crop, norm))
}

/// Resizes so the shorter side is `size` (bilinear with antialiasing, as Pillow's BILINEAR),
/// the longer side truncated as torchvision does: int(size * long / short).
pub fn resize_shorter_side(image: &RgbImage, size: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let (new_w, new_h) =
        if w <= h { (size, (size as u64 * h as u64 / w as u64) as u32) } else { ((size as u64 * w as u64 / h as u64) as u32, size) };
    image::imageops::resize(image, new_w, new_h, FilterType::Triangle)
}

/// The `crop` x `crop` square at (left, top), scaled to [0, 1] and normalised, as CHW numbers.
pub fn crop_normalized(image: &RgbImage, left: u32, top: u32, crop: u32, norm: &ImageNetNormalization) -> Vec<f32> {
    let mut values = crop_unit(image, left, top, crop);
    norm.apply(&mut values);
    values
}

/// The `crop` x `crop` square at (left, top) scaled to [0, 1], as CHW numbers: what augmentation
/// resamples before normalising.
pub fn crop_unit(image: &RgbImage, left: u32, top: u32, crop: u32) -> Vec<f32> {
    let plane = (crop * crop) as usize;
    let mut out = vec![0.0; 3 * plane];
    for y in 0..crop {
        for x in 0..crop {
            let pixel = image.get_pixel(left + x, top + y);
            for c in 0..3 {
                out[c * plane + (y * crop + x) as usize] = pixel[c] as f32 / 255.0;
            }
        }
    }
    out
}

fn round_half_even(v: f64) -> u32 {
    let rounded = v.round();
    let result = if (v - v.trunc()).abs() == 0.5 && rounded % 2.0 != 0.0 { rounded - 1.0 } else { rounded };
    result as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rounding() {
        assert_eq!([58.5, 59.5, 16.0, 0.5, 1.5].map(round_half_even), [58, 60, 16, 0, 2]);
    }
}
