//! Pooling, flattening, joining and the linear layer, in terms of the primitives.

use super::Op;
use crate::backend::{ConvGeometry, Kernel};
use crate::error::{Error, Result};
use crate::shape::{self, show};
use crate::tensor::Tensor;

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
        let geometry = ConvGeometry {
            batch: s[0],
            in_channels: s[1],
            height: s[2],
            width: s[3],
            out_channels: s[1],
            kernel_h: kernel,
            kernel_w: kernel,
            stride_h: stride,
            stride_w: stride,
            pad_h: padding,
            pad_w: padding,
            groups: s[1],
            out_h: (s[2] + 2 * padding - kernel) / stride + 1,
            out_w: (s[3] + 2 * padding - kernel) / stride + 1,
        };
        let out_shape = vec![s[0], s[1], geometry.out_h, geometry.out_w];
        self.run_kernel(Kernel::MaxPool2d(geometry), &[self], out_shape, Some(Op::MaxPool2d(self.clone(), geometry)))
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

    /// Keeps the first axis and flattens the rest: [N, ...] -> [N, product of the rest].
    pub fn flatten(&self) -> Result<Tensor> {
        let s = self.shape();
        if s.is_empty() {
            return Err(Error::new("flatten", "needs at least one dimension, got a scalar"));
        }
        self.reshape(&[s[0], s[1..].iter().product()])
    }

    /// PyTorch's Linear: x @ weight^T + bias, weight [out, in], x [..., in].
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let y = self.matmul(&weight.transpose()?)?;
        match bias {
            Some(bias) => y.add(bias),
            None => Ok(y),
        }
    }

    /// Joins `other` after self along `axis`; the other axes must match.
    pub fn concat(&self, other: &Tensor, axis: usize) -> Result<Tensor> {
        self.check_same("concat", other)?;
        let (a, b) = (self.shape(), other.shape());
        let same_elsewhere = a.len() == b.len() && (0..a.len()).all(|i| i == axis || a[i] == b[i]);
        if axis >= a.len() || !same_elsewhere {
            return Err(Error::new("concat", format!("cannot join shapes {} and {} along axis {axis}", show(a), show(b))));
        }
        let outer: usize = a[..axis].iter().product();
        let inner: usize = a[axis + 1..].iter().product();
        let kernel = Kernel::ConcatPair { outer, a_width: a[axis] * inner, b_width: b[axis] * inner };
        let mut out_shape = a.to_vec();
        out_shape[axis] += b[axis];
        self.run_kernel(kernel, &[self, other], out_shape, Some(Op::Concat(self.clone(), other.clone(), axis)))
    }

    /// Entries start .. start + len along `axis` (a copy; used for concat's gradient).
    pub(crate) fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Tensor> {
        let (outer, size, inner) = shape::split_at_axis(self.shape(), axis);
        let kernel = Kernel::SliceColumns { outer, width: size * inner, start: start * inner, len: len * inner };
        let mut out_shape = self.shape().to_vec();
        out_shape[axis] = len;
        self.run_kernel(kernel, &[self], out_shape, None)
    }

    fn spatial_shape(&self, op: &str) -> Result<&[usize]> {
        match self.shape().len() {
            4 => Ok(self.shape()),
            _ => Err(Error::new(op, format!("needs [N, C, H, W], got {}", show(self.shape())))),
        }
    }
}
