//! Convolution ops.

use super::Op;
use crate::backend::{ConvGeometry, Kernel};
use crate::error::{Error, Result};
use crate::shape::show;
use crate::tensor::Tensor;

impl Tensor {
    /// PyTorch's `F.conv2d(input, weight, stride, padding, groups)` without bias:
    /// input [n, c, h, w], weight [o, c / groups, kh, kw] -> [n, o, h', w'] with
    /// h' = (h + 2 pad_h - kh) / stride_h + 1 (and likewise w'). groups = c gives a depthwise
    /// convolution.
    pub fn conv2d(&self, weight: &Tensor, stride: (usize, usize), padding: (usize, usize), groups: usize) -> Result<Tensor> {
        self.check_same("conv2d", weight)?;
        let (x, w) = (self.shape(), weight.shape());
        let fail = |why: &str| Error::new("conv2d", format!("input {} and weight {}: {why}", show(x), show(w)));
        if x.len() != 4 || w.len() != 4 {
            return Err(fail("both must be 4-D ([n, c, h, w] and [o, c / groups, kh, kw])"));
        }
        if groups == 0 || x[1] % groups != 0 || w[0] % groups != 0 || w[1] * groups != x[1] {
            return Err(fail(&format!(
                "with groups = {groups}, weight dim 1 must be channels / groups and both channel counts divisible by groups"
            )));
        }
        if stride.0 == 0 || stride.1 == 0 {
            return Err(fail("stride must be at least 1"));
        }
        let (padded_h, padded_w) = (x[2] + 2 * padding.0, x[3] + 2 * padding.1);
        if padded_h < w[2] || padded_w < w[3] {
            return Err(fail("the kernel is larger than the padded input"));
        }
        let geometry = ConvGeometry {
            batch: x[0],
            in_channels: x[1],
            height: x[2],
            width: x[3],
            out_channels: w[0],
            kernel_h: w[2],
            kernel_w: w[3],
            stride_h: stride.0,
            stride_w: stride.1,
            pad_h: padding.0,
            pad_w: padding.1,
            groups,
            out_h: (padded_h - w[2]) / stride.0 + 1,
            out_w: (padded_w - w[3]) / stride.1 + 1,
        };
        let out_shape = vec![geometry.batch, geometry.out_channels, geometry.out_h, geometry.out_w];
        if w[2] == 1 && w[3] == 1 && stride == (1, 1) && padding == (0, 0) && groups == 1 {
            // A pointwise (1x1) convolution is a matrix product per image, [o, c] @ [c, h*w]: most of
            // MobileNetV2's arithmetic, and the matmul kernels are far faster than the general loops.
            let images = self.reshape(&[x[0], x[1], x[2] * x[3]])?;
            return weight.reshape(&[w[0], w[1]])?.matmul(&images)?.reshape(&out_shape);
        }
        let op = Op::Conv2d(self.clone(), weight.clone(), geometry);
        self.run_kernel(Kernel::Conv2d(geometry), &[self, weight], out_shape, Some(op))
    }
}
