//! 2-D convolution (cross-correlation, as in PyTorch), grouped and depthwise included, and its two
//! gradients. Kernels: shaders/conv.wgsl after shaders/window_geometry.wgsl (the `Params` both
//! sliding-window families share); the fast CPU path (im2col + matmul) is in cpu.rs, its depthwise
//! convolutions in depthwise.rs.

pub(crate) mod cpu;
mod depthwise;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod reference;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod tests;

use crate::autograd::{record, wanted, Derivative};
use crate::backend::{linear_groups, Kernel, Shader};
use crate::error::{Error, Result};
use crate::ops::matmul::{Epilogue, MatMul};
use crate::ops::reduce::threads_per_output;
use crate::shape::show;
use crate::tensor::Tensor;

pub static SHADER: Shader = Shader {
    name: "conv",
    source: concat!(include_str!("../../../shaders/window_geometry.wgsl"), include_str!("../../../shaders/conv.wgsl")),
};

/// The shapes of a 2-D sliding window (convolution or pooling):
/// input [batch, in_channels, height, width], weight [out_channels, in_channels / groups, kernel_h,
/// kernel_w], output [batch, out_channels, out_h, out_w], out = (in + 2 pad - kernel) / stride + 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvGeometry {
    pub batch: usize,
    pub in_channels: usize,
    pub height: usize,
    pub width: usize,
    pub out_channels: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_h: usize,
    pub pad_w: usize,
    pub groups: usize,
    pub out_h: usize,
    pub out_w: usize,
}

crate::params_struct! {
    /// `ConvGeometry`, field for field.
    Params {
        batch: u32, in_channels: u32, height: u32, width: u32,
        out_channels: u32, kernel_h: u32, kernel_w: u32, stride_h: u32,
        stride_w: u32, pad_h: u32, pad_w: u32, groups: u32,
        out_h: u32, out_w: u32,
        epilogue: u32,
        lanes: u32,
    }
}

impl ConvGeometry {
    /// The geometry of input [n, c, h, w] and weight [o, c / groups, kh, kw] (the caller has
    /// checked that the kernel fits the padded input).
    pub fn new(x: [usize; 4], w: [usize; 4], stride: (usize, usize), pad: (usize, usize), groups: usize) -> ConvGeometry {
        ConvGeometry {
            batch: x[0],
            in_channels: x[1],
            height: x[2],
            width: x[3],
            out_channels: w[0],
            kernel_h: w[2],
            kernel_w: w[3],
            stride_h: stride.0,
            stride_w: stride.1,
            pad_h: pad.0,
            pad_w: pad.1,
            groups,
            out_h: (x[2] + 2 * pad.0 - w[2]) / stride.0 + 1,
            out_w: (x[3] + 2 * pad.1 - w[3]) / stride.1 + 1,
        }
    }

    /// The parameter block of the sliding-window kernels (conv and pool; only a convolution's
    /// forward kernel has an epilogue, only its weight gradient several lanes).
    pub(crate) fn params(&self, epilogue: Epilogue, lanes: usize) -> Vec<u8> {
        let g = self;
        let [batch, in_channels, height, width, out_channels, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, groups, out_h, out_w] =
            [
                g.batch,
                g.in_channels,
                g.height,
                g.width,
                g.out_channels,
                g.kernel_h,
                g.kernel_w,
                g.stride_h,
                g.stride_w,
                g.pad_h,
                g.pad_w,
                g.groups,
                g.out_h,
                g.out_w,
            ]
            .map(|v| v as u32);
        let params = Params {
            batch,
            in_channels,
            height,
            width,
            out_channels,
            kernel_h,
            kernel_w,
            stride_h,
            stride_w,
            pad_h,
            pad_w,
            groups,
            out_h,
            out_w,
            epilogue: epilogue.code(),
            lanes: lanes as u32,
        };
        super::bytes(params)
    }

    /// [batch, out_channels, out_h, out_w].
    fn output_shape(&self) -> Vec<usize> {
        vec![self.batch, self.out_channels, self.out_h, self.out_w]
    }

    /// A 1x1 convolution with stride 1, no padding and one group: a matrix product per image.
    fn is_pointwise(&self) -> bool {
        (self.kernel_h, self.kernel_w, self.stride_h, self.stride_w, self.pad_h, self.pad_w, self.groups) == (1, 1, 1, 1, 0, 0, 1)
    }

    /// [out_channels, in_channels / groups, kernel_h, kernel_w]'s count.
    pub(crate) fn weight_len(&self) -> usize {
        self.out_channels * (self.in_channels / self.groups) * self.kernel_h * self.kernel_w
    }

    pub(crate) fn input_len(&self) -> usize {
        self.batch * self.in_channels * self.height * self.width
    }

    pub(crate) fn output_len(&self) -> usize {
        self.batch * self.out_channels * self.out_h * self.out_w
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConvKernel {
    /// out[n, o, y, x] = sum over the input channels c of o's group and the window of
    /// input[n, c, y*stride - pad + ky, x*stride - pad + kx] * weight[o, c mod group size, ky, kx].
    /// Inputs: [input, weight], the weight followed by out_channels biases unless the epilogue
    /// is `None`.
    Forward(ConvGeometry, Epilogue),
    /// d loss / d input. Inputs: [output gradient, weight].
    BackwardInput(ConvGeometry),
    /// d loss / d weight. Inputs: [input, output gradient].
    BackwardWeight(ConvGeometry),
}

impl Kernel for ConvKernel {
    fn name(&self) -> &'static str {
        match self {
            ConvKernel::Forward(..) => "conv2d",
            ConvKernel::BackwardInput(_) => "conv2d_backward_input",
            ConvKernel::BackwardWeight(_) => "conv2d_backward_weight",
        }
    }

    fn shader(&self) -> &'static Shader {
        &SHADER
    }

    fn params(&self) -> Vec<u8> {
        let epilogue = if let ConvKernel::Forward(_, epilogue) = self { *epilogue } else { Epilogue::None };
        self.geometry().params(epilogue, self.lanes())
    }

    fn workgroups(&self) -> [u32; 3] {
        // One thread per element written: the output, the input gradient or the weight gradient.
        linear_groups(match self {
            ConvKernel::Forward(g, _) => g.output_len(),
            ConvKernel::BackwardInput(g) => g.input_len(),
            ConvKernel::BackwardWeight(g) => g.weight_len() * self.lanes(),
        })
    }

    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        match self {
            ConvKernel::Forward(g, epilogue) => cpu::conv2d(g, *epilogue, inputs[0], inputs[1], outputs[0]),
            ConvKernel::BackwardInput(g) => cpu::conv2d_backward_input(g, inputs[0], inputs[1], outputs[0]),
            ConvKernel::BackwardWeight(g) => cpu::conv2d_backward_weight(g, inputs[0], inputs[1], outputs[0]),
        }
    }
}

impl ConvKernel {
    /// Threads sharing each weight's sum in the weight gradient, by the number of weights and the
    /// rows (n, y) each sums over, as a reduction picks its threads per output; 1 elsewhere.
    fn lanes(&self) -> usize {
        match self {
            ConvKernel::BackwardWeight(g) => {
                let rows = g.batch * g.out_h;
                threads_per_output(g.weight_len(), rows * g.out_w).min(rows.next_power_of_two())
            }
            _ => 1,
        }
    }

    fn geometry(&self) -> &ConvGeometry {
        let (ConvKernel::Forward(g, _) | ConvKernel::BackwardInput(g) | ConvKernel::BackwardWeight(g)) = self;
        g
    }
}

/// y = conv2d(x, w), recorded.
struct Convolution(Tensor, Tensor, ConvGeometry);

impl Derivative for Convolution {
    fn inputs(&self) -> Vec<&Tensor> {
        vec![&self.0, &self.1]
    }

    // y is linear in each argument: y[n,o,p] = Σ_{c,k} x[n,c,p·s+k-pad] w[o,c,k], so
    // dL/dx[n,c,i] = Σ_{o,k: i = p·s+k-pad} g[n,o,p] w[o,c,k]   (the "transposed" convolution)
    // dL/dw[o,c,k] = Σ_{n,p} g[n,o,p] x[n,c,p·s+k-pad].
    fn backward(&self, _y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let Convolution(x, w, geometry) = self;
        Ok(vec![
            wanted(x, || g.run_kernel(&ConvKernel::BackwardInput(*geometry), &[g, w], x.shape().to_vec(), None))?,
            wanted(w, || x.run_kernel(&ConvKernel::BackwardWeight(*geometry), &[x, g], w.shape().to_vec(), None))?,
        ])
    }
}

impl Tensor {
    /// PyTorch's `F.conv2d(input, weight, stride, padding, groups)` without bias:
    /// input [n, c, h, w], weight [o, c / groups, kh, kw] -> [n, o, h', w'] with
    /// h' = (h + 2 pad_h - kh) / stride_h + 1 (and likewise w'). groups = c gives a depthwise
    /// convolution.
    pub fn conv2d(&self, weight: &Tensor, stride: (usize, usize), padding: (usize, usize), groups: usize) -> Result<Tensor> {
        self.check_same("conv2d", weight)?;
        let geometry = self.conv_geometry(weight.shape(), stride, padding, groups)?;
        let out_shape = geometry.output_shape();
        if geometry.is_pointwise() {
            // A pointwise (1x1) convolution is a matrix product per image, [o, c] @ [c, h*w]: most of
            // MobileNetV2's arithmetic, and the matmul kernels are far faster than the general loops.
            let images = self.reshape(&[geometry.batch, geometry.in_channels, geometry.height * geometry.width])?;
            return weight.reshape(&[geometry.out_channels, geometry.in_channels])?.matmul(&images)?.reshape(&out_shape);
        }
        let op = record(Convolution(self.clone(), weight.clone(), geometry));
        self.run_kernel(&ConvKernel::Forward(geometry, Epilogue::None), &[self, weight], out_shape, op)
    }

    /// `conv2d` with a bias per output channel and the epilogue applied in the same kernel:
    /// `folded` holds the weight's numbers (shape `weight_shape`) followed by out_channels biases,
    /// as `fold_batch_norm` makes them (inference's conv + batch norm + ReLU6 as one kernel).
    /// Inference only: it records nothing.
    pub(crate) fn conv2d_folded(
        &self,
        folded: &Tensor,
        weight_shape: &[usize],
        (stride, padding, groups): ((usize, usize), (usize, usize), usize),
        epilogue: Epilogue,
    ) -> Result<Tensor> {
        self.check_same("conv2d", folded)?;
        let geometry = self.conv_geometry(weight_shape, stride, padding, groups)?;
        if folded.numel() != crate::shape::numel(weight_shape) + geometry.out_channels {
            let detail = format!("{} numbers for weight {} and its biases", folded.numel(), show(weight_shape));
            return Err(Error::shape("conv2d", detail));
        }
        let out_shape = geometry.output_shape();
        if geometry.is_pointwise() {
            let (o, c, pixels) = (geometry.out_channels, geometry.in_channels, geometry.height * geometry.width);
            let kernel = MatMul { batch: geometry.batch, b_batch_stride: c * pixels, epilogue, ..MatMul::plain(o, c, pixels) };
            return self.run_kernel(&kernel, &[folded, self], out_shape, None);
        }
        self.run_kernel(&ConvKernel::Forward(geometry, epilogue), &[self, folded], out_shape, None)
    }

    /// The geometry of convolving self with a weight of `w`'s shape, or why it cannot be done.
    fn conv_geometry(&self, w: &[usize], stride: (usize, usize), padding: (usize, usize), groups: usize) -> Result<ConvGeometry> {
        let x = self.shape();
        let fail = |why: &str| Error::shape("conv2d", format!("input {} and weight {}: {why}", show(x), show(w)));
        if x.len() != 4 || w.len() != 4 {
            return Err(fail("both must be 4-D ([n, c, h, w] and [o, c / groups, kh, kw])"));
        }
        if groups == 0 || !x[1].is_multiple_of(groups) || !w[0].is_multiple_of(groups) || w[1] * groups != x[1] {
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
        Ok(ConvGeometry::new([x[0], x[1], x[2], x[3]], [w[0], w[1], w[2], w[3]], stride, padding, groups))
    }
}
