//! Pooling: max pooling (a primitive, with its gradient), average and global pooling (composed),
//! and fastai's concat pooling. Kernels: shaders/pool.wgsl after shaders/window_geometry.wgsl,
//! sharing the convolution family's `ConvGeometry` parameters.

mod cpu;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod reference;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod tests;

use super::conv::ConvGeometry;
use super::matmul::Epilogue;
use crate::autograd::{record, Derivative};
use crate::backend::{linear_groups, Kernel, Shader};
use crate::error::{Error, Result};
use crate::shape::show;
use crate::tensor::Tensor;

pub static SHADER: Shader = Shader {
    name: "pool",
    source: concat!(include_str!("../../../shaders/window_geometry.wgsl"), include_str!("../../../shaders/pool.wgsl")),
};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PoolKernel {
    /// Max over each window (geometry as a depthwise convolution). Inputs: [input].
    Max(ConvGeometry),
    /// d loss / d input of Max: each window's gradient goes to its winner. Inputs: [input, g].
    MaxBackward(ConvGeometry),
}

impl Kernel for PoolKernel {
    fn name(&self) -> &'static str {
        match self {
            PoolKernel::Max(_) => "max_pool2d",
            PoolKernel::MaxBackward(_) => "max_pool2d_backward",
        }
    }

    fn shader(&self) -> &'static Shader {
        &SHADER
    }

    fn params(&self) -> Vec<u8> {
        let (PoolKernel::Max(g) | PoolKernel::MaxBackward(g)) = self;
        g.params(Epilogue::None, 1)
    }

    fn workgroups(&self) -> [u32; 3] {
        // One thread per element written: the output, or the input gradient.
        linear_groups(match self {
            PoolKernel::Max(g) => g.output_len(),
            PoolKernel::MaxBackward(g) => g.input_len(),
        })
    }

    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        match self {
            PoolKernel::Max(g) => cpu::max_pool2d(g, inputs[0], outputs[0]),
            PoolKernel::MaxBackward(g) => cpu::max_pool2d_backward(g, inputs[0], inputs[1], outputs[0]),
        }
    }
}

/// y = max_pool2d(x), recorded.
struct MaxPool(Tensor, ConvGeometry);

impl Derivative for MaxPool {
    fn inputs(&self) -> Vec<&Tensor> {
        vec![&self.0]
    }

    // y = max over a window: d y / d x = 1 for the window's winner, 0 elsewhere; so each window's
    // g goes to its winner (summed where windows overlap).
    fn backward(&self, _y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let MaxPool(x, geometry) = self;
        Ok(vec![Some(x.run_kernel(&PoolKernel::MaxBackward(*geometry), &[x, g], x.shape().to_vec(), None)?)])
    }
}

impl Tensor {
    /// Average pooling over k x k windows, zero padding included in the average (PyTorch's
    /// count_include_pad=True): a depthwise convolution with weights 1 / k².
    pub fn avg_pool2d(&self, kernel: usize, stride: usize, padding: usize) -> Result<Tensor> {
        let channels = self.spatial_shape("avg_pool2d")?[1];
        let weight = Tensor::full(&[channels, 1, kernel, kernel], 1.0 / (kernel * kernel) as f32, self.device())?;
        self.conv2d(&weight, (stride, stride), (padding, padding), channels)
    }

    /// Max pooling over k x k windows (PyTorch's max_pool2d; padding never wins).
    pub fn max_pool2d(&self, kernel: usize, stride: usize, padding: usize) -> Result<Tensor> {
        let s = self.spatial_shape("max_pool2d")?;
        if kernel == 0 || stride == 0 || padding * 2 > kernel || s[2] + 2 * padding < kernel || s[3] + 2 * padding < kernel {
            return Err(Error::new(
                "max_pool2d",
                format!(
                    "kernel {kernel}, stride {stride}, padding {padding} do not fit input {} (padding at most half the kernel)",
                    show(s)
                ),
            ));
        }
        // A depthwise window: one channel in, the same channel out.
        let geometry = ConvGeometry::new([s[0], s[1], s[2], s[3]], [s[1], 1, kernel, kernel], (stride, stride), (padding, padding), s[1]);
        let out_shape = vec![s[0], s[1], geometry.out_h, geometry.out_w];
        self.run_kernel(&PoolKernel::Max(geometry), &[self], out_shape, record(MaxPool(self.clone(), geometry)))
    }

    /// Mean over each channel's whole image: [N, C, H, W] -> [N, C, 1, 1] (AdaptiveAvgPool2d(1)).
    pub fn global_avg_pool(&self) -> Result<Tensor> {
        let s = self.spatial_shape("global_avg_pool")?;
        self.reshape(&[s[0], s[1], s[2] * s[3]])?.mean_axis(2, true)?.reshape(&[s[0], s[1], 1, 1])
    }

    /// Max over each channel's whole image: [N, C, H, W] -> [N, C, 1, 1] (AdaptiveMaxPool2d(1)).
    pub fn global_max_pool(&self) -> Result<Tensor> {
        let s = self.spatial_shape("global_max_pool")?;
        self.reshape(&[s[0], s[1], s[2] * s[3]])?.max_axis(2, true)?.reshape(&[s[0], s[1], 1, 1])
    }

    /// fastai's AdaptiveConcatPool2d: [max, avg] joined on the channel axis -> [N, 2C, 1, 1].
    pub fn adaptive_concat_pool(&self) -> Result<Tensor> {
        self.global_max_pool()?.concat(&self.global_avg_pool()?, 1)
    }

    fn spatial_shape(&self, op: &str) -> Result<&[usize]> {
        match self.shape().len() {
            4 => Ok(self.shape()),
            _ => Err(Error::shape(op, format!("needs [N, C, H, W], got {}", show(self.shape())))),
        }
    }
}
