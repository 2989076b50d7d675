//! Image augmentation as one op: a resampling through a homography per image, lighting and
//! normalisation (fastai's aug_transforms on a batch). The data layer draws the parameters;
//! images are data, so the op has no gradient. Kernel: shaders/image.wgsl.

pub(crate) mod cpu;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod reference;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod tests;

use crate::backend::{linear_groups, Kernel, Shader};
use crate::error::{Error, Result};
use crate::shape::show;
use crate::tensor::Tensor;

pub static SHADER: Shader = Shader { name: "image", source: include_str!("../../../shaders/image.wgsl") };

/// Numbers per image in the parameters of `Augment`:
/// - 0..9: a homography h, row-major, in pixel coordinates (x = column, y = row):
///   (X, Y, W) = h (x, y, 1), the output pixel (x, y) reads the source at (X / W, Y / W);
/// - 9: 1 to change the lighting, 0 to leave it;
/// - 10, 11: the lighting's shift s and scale c: v -> sigmoid(c (logit(v) + s)).
pub const AUGMENT_PARAMS: usize = 12;

crate::params_struct! {
    /// WGSL aligns each vec3 to 16 bytes: the padding words stand for that.
    Params { images: u32, height: u32, width: u32, _pad0: u32, mean: [f32; 3], _pad1: u32, std_dev: [f32; 3] }
}

/// Inputs: [images [n, 3, height, width] in [0, 1], parameters [n, AUGMENT_PARAMS]] -> out
/// [n, 3, height, width], normalised. Output pixel (x, y) reads the source at the homography's
/// (X / W, Y / W), reflected about the first and last pixel centres when outside, bilinearly; then
/// lighting, then (v - mean) / std.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augment {
    pub images: usize,
    pub height: usize,
    pub width: usize,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Kernel for Augment {
    fn name(&self) -> &'static str {
        "augment"
    }

    fn shader(&self) -> &'static Shader {
        &SHADER
    }

    fn params(&self) -> Vec<u8> {
        let (images, height, width) = (self.images as u32, self.height as u32, self.width as u32);
        super::bytes(Params { images, height, width, _pad0: 0, mean: self.mean, _pad1: 0, std_dev: self.std })
    }

    fn workgroups(&self) -> [u32; 3] {
        linear_groups(self.images * self.height * self.width) // one thread per output pixel
    }

    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        cpu::augment(inputs[0], inputs[1], outputs[0], self.height, self.width, self.mean, self.std)
    }
}

impl Tensor {
    /// Augments images [n, 3, h, w] with values in [0, 1] by their parameter rows
    /// [n, AUGMENT_PARAMS] (layout: `AUGMENT_PARAMS`), then normalises each channel:
    /// (v - mean) / std. The output has the input's shape and records no graph.
    pub fn augment(&self, params: &Tensor, mean: [f32; 3], std: [f32; 3]) -> Result<Tensor> {
        self.check_same("augment", params)?;
        let &[images, channels, height, width] = self.shape() else {
            return Err(Error::shape("augment", format!("needs images [N, 3, H, W], got {}", show(self.shape()))));
        };
        if channels != 3 {
            return Err(Error::shape("augment", format!("needs 3 colour channels, got images {}", show(self.shape()))));
        }
        if params.shape() != [images, AUGMENT_PARAMS] {
            return Err(Error::shape(
                "augment",
                format!(
                    "parameters of shape {} do not fit images {} (expected [{images}, {AUGMENT_PARAMS}])",
                    show(params.shape()),
                    show(self.shape())
                ),
            ));
        }
        self.run_kernel(&Augment { images, height, width, mean, std }, &[self, params], self.shape().to_vec(), None)
    }
}
