//! Where numbers live and kernels run. A `Device` is either the plain-Rust CPU backend or a wgpu
//! GPU (WebGPU in the browser; Vulkan, Metal or DX12 natively). Both honour one small contract:
//! upload, allocate, run a `Kernel`, and download asynchronously.
//!
//! `Kernel` is the one list of primitive computations. Every kernel has a CPU reference in `cpu.rs`
//! and a WGSL entry point of the same name in `shaders/`.

pub mod cpu;
mod cpu_buffer;
mod cpu_conv;
mod cpu_image;
mod cpu_matmul;
mod cpu_norm;
pub mod cpu_parallel;
pub mod gpu;
mod gpu_kernels;

use std::rc::Rc;

use cpu_buffer::CpuBuffer;

use crate::error::{Error, Result};
use crate::shape::BroadcastPlan;

/// Elementwise functions of one tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Exp,
    Log,
    Relu,
    /// x^p for a number p.
    Pow(f32),
    /// x * scale + shift: scalar arithmetic, means, and gradient scaling.
    Affine {
        scale: f32,
        shift: f32,
    },
    /// min(max(x, min), max); relu6 is Clamp { min: 0, max: 6 }. NaN stays NaN.
    Clamp {
        min: f32,
        max: f32,
    },
}

/// Elementwise functions of two tensors, with broadcasting.
/// Reductions along one axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReduceOp {
    Sum,
    /// The largest value (NaN if any is NaN).
    Max,
    /// The index of the largest value, as an f32 (the first one on ties; a NaN counts as largest).
    Argmax,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// The derivative of relu and clamp applied to a gradient: a = the op's input x, b = the
    /// incoming gradient g; g where min < x < max, else 0.
    ClampBackward {
        min: f32,
        max: f32,
    },
}

/// The shapes of a 2-D convolution (cross-correlation, as in PyTorch):
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

#[derive(Clone, Debug, PartialEq)]
pub enum Kernel {
    /// out[i] = op(x[i]) for n elements.
    Unary { op: UnaryOp, n: usize },
    /// out = op(a, b) over the plan's output shape, each operand read through its strides.
    Binary { op: BinaryOp, plan: BroadcastPlan },
    /// out = the input read through the plan's a-strides: broadcasting made explicit
    /// (torch's `expand`, and how a reduced gradient is spread back over its input).
    Expand { plan: BroadcastPlan },
    /// Input viewed as [outer, len, inner]; out[o, i] = op over l of x[o, l, i].
    Reduce { op: ReduceOp, outer: usize, len: usize, inner: usize },
    /// Inputs [x viewed as [outer, len, inner], indices [outer, inner]]:
    /// out[o, i] = x[o, indices[o, i], i] (0 for an index out of range).
    Gather { outer: usize, len: usize, inner: usize },
    /// Inputs [values [outer, inner], indices [outer, inner]]: out [outer, len, inner] is zero
    /// except out[o, indices[o, i], i] = values[o, i]. Gather's gradient, and one-hot encoding.
    Scatter { outer: usize, len: usize, inner: usize },
    /// out[b] = a[b] @ c[b] with a: [m, k], c: [k, n]; a batch stride of 0 reuses one matrix.
    MatMul { batch: usize, m: usize, k: usize, n: usize, a_batch_stride: usize, b_batch_stride: usize },
    /// Input [batch, rows, cols] -> out [batch, cols, rows].
    Transpose { batch: usize, rows: usize, cols: usize },
    /// out[n, o, y, x] = sum over the input channels of o's group and the kernel window of
    /// input[n, c, y*stride - pad + ky, x*stride - pad + kx] * weight[o, c mod group size, ky, kx].
    /// Inputs: [input, weight].
    Conv2d(ConvGeometry),
    /// d loss / d input of Conv2d. Inputs: [output gradient, weight].
    Conv2dBackwardInput(ConvGeometry),
    /// d loss / d weight of Conv2d. Inputs: [input, output gradient].
    Conv2dBackwardWeight(ConvGeometry),
    /// Max over each window (geometry as a depthwise convolution). Inputs: [input].
    MaxPool2d(ConvGeometry),
    /// d loss / d input of MaxPool2d: each window's gradient goes to its winner.
    /// Inputs: [input, output gradient].
    MaxPool2dBackward(ConvGeometry),
    /// Per-row cross-entropy of softmax(logits) against class indices, with label smoothing.
    /// Inputs: [logits [batch, classes], targets [batch]] -> out [batch].
    SoftmaxCrossEntropy { batch: usize, classes: usize, smoothing: f32 },
    /// d loss_row / d logits of SoftmaxCrossEntropy: softmax - smoothed one-hot.
    /// Inputs: [logits, targets] -> out [batch, classes].
    SoftmaxCrossEntropyBackward { batch: usize, classes: usize, smoothing: f32 },
    /// Training-mode batch normalisation of x viewed as [batch, channels, len], over every axis
    /// but the channel axis. Inputs: [x, weight [channels], bias [channels]]; outputs: [saved
    /// [3, channels] = per channel (mean, inv_std = 1 / sqrt(biased var + eps), scale = weight *
    /// inv_std), y = (x - mean) * scale + bias].
    BatchNorm { batch: usize, channels: usize, len: usize, eps: f32 },
    /// Gradients of BatchNorm given g = d loss / d y. Inputs: [x, g, saved]; outputs: [parameter
    /// gradients [2, channels] = (d weight, d bias)] followed, when `input_grad`, by d x.
    BatchNormBackward { batch: usize, channels: usize, len: usize, input_grad: bool },
    /// Inputs a [outer, a_width], b [outer, b_width] -> out [outer, a_width + b_width].
    ConcatPair { outer: usize, a_width: usize, b_width: usize },
    /// Input [outer, width] -> out [outer, len]: columns start .. start + len.
    SliceColumns { outer: usize, width: usize, start: usize, len: usize },
    /// PyTorch's SGD, in place. Inputs: [grad]; outputs: [param, momentum buffer].
    SgdStep { n: usize, lr: f32, momentum: f32, weight_decay: f32, first_step: bool },
    /// fastai's Adam, in place, step `step` (from 1). Inputs: [grad]; outputs: [param, average
    /// gradient, average squared gradient].
    AdamStep { n: usize, lr: f32, momentum: f32, sqr_momentum: f32, eps: f32, weight_decay: f32, step: u32 },
    /// Data augmentation as one resampling per image. Inputs: [images [n, 3, height, width] in
    /// [0, 1], parameters [n, AUGMENT_PARAMS]] -> out [n, 3, height, width], normalised. Output
    /// pixel (x, y) reads the source at the homography's (X / W, Y / W), reflected about the first
    /// and last pixel centres when outside, bilinearly; then lighting, then (v - mean) / std.
    Augment { images: usize, height: usize, width: usize, mean: [f32; 3], std: [f32; 3] },
}

/// Numbers per image in the parameters of `Kernel::Augment`:
/// - 0..9: a homography h, row-major, in pixel coordinates (x = column, y = row):
///   (X, Y, W) = h (x, y, 1), the output pixel (x, y) reads the source at (X / W, Y / W);
/// - 9: 1 to change the lighting, 0 to leave it;
/// - 10, 11: the lighting's shift s and scale c: v -> sigmoid(c (logit(v) + s)).
pub const AUGMENT_PARAMS: usize = 12;

impl Kernel {
    /// The entry point's name, shared with the WGSL file so Rust and shaders read alike.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Unary { op, .. } => match op {
                UnaryOp::Neg => "unary_neg",
                UnaryOp::Exp => "unary_exp",
                UnaryOp::Log => "unary_log",
                UnaryOp::Relu => "unary_relu",
                UnaryOp::Pow(_) => "unary_pow",
                UnaryOp::Affine { .. } => "unary_affine",
                UnaryOp::Clamp { .. } => "unary_clamp",
            },
            Kernel::Binary { op, .. } => match op {
                BinaryOp::Add => "binary_add",
                BinaryOp::Sub => "binary_sub",
                BinaryOp::Mul => "binary_mul",
                BinaryOp::Div => "binary_div",
                BinaryOp::ClampBackward { .. } => "binary_clamp_backward",
            },
            Kernel::Expand { .. } => "expand",
            Kernel::Reduce { op: ReduceOp::Sum, .. } => "sum_axis",
            Kernel::Reduce { op: ReduceOp::Max, .. } => "max_axis",
            Kernel::Reduce { op: ReduceOp::Argmax, .. } => "argmax_axis",
            Kernel::Gather { .. } => "gather_axis",
            Kernel::Scatter { .. } => "scatter_axis",
            Kernel::MatMul { .. } => "matmul",
            Kernel::Transpose { .. } => "transpose",
            Kernel::Conv2d(_) => "conv2d",
            Kernel::Conv2dBackwardInput(_) => "conv2d_backward_input",
            Kernel::Conv2dBackwardWeight(_) => "conv2d_backward_weight",
            Kernel::MaxPool2d(_) => "max_pool2d",
            Kernel::MaxPool2dBackward(_) => "max_pool2d_backward",
            Kernel::SoftmaxCrossEntropy { .. } => "softmax_xent",
            Kernel::SoftmaxCrossEntropyBackward { .. } => "softmax_xent_backward",
            Kernel::BatchNorm { .. } => "batch_norm",
            Kernel::BatchNormBackward { input_grad: true, .. } => "batch_norm_backward",
            Kernel::BatchNormBackward { input_grad: false, .. } => "batch_norm_backward_params",
            Kernel::ConcatPair { .. } => "concat_pair",
            Kernel::SliceColumns { .. } => "slice_columns",
            Kernel::SgdStep { .. } => "sgd_step",
            Kernel::AdamStep { .. } => "adam_step",
            Kernel::Augment { .. } => "augment",
        }
    }
}

/// The numbers of one tensor. Shared (`Rc`) between a tensor and its reshaped views.
pub enum Storage {
    Cpu(CpuBuffer),
    Gpu(gpu::GpuBuffer),
}

impl Storage {
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(data) => data.borrow().len(),
            Storage::Gpu(buffer) => buffer.len(),
        }
    }
}

#[derive(Clone)]
pub enum Device {
    Cpu,
    Gpu(Rc<gpu::GpuContext>),
}

/// What a backend reports about itself: shown on the page and returned by `useBackend`.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendInfo {
    pub backend: &'static str,
    pub adapter: String,
    /// True for a software adapter (SwiftShader, lavapipe): correct but slow.
    pub fallback: bool,
}

impl Device {
    /// The first GPU adapter wgpu finds; an error when there is none.
    pub async fn gpu() -> Result<Device> {
        Ok(Device::Gpu(Rc::new(gpu::GpuContext::new().await?)))
    }

    pub fn info(&self) -> BackendInfo {
        match self {
            Device::Cpu => BackendInfo { backend: "cpu", adapter: cpu::describe(), fallback: false },
            Device::Gpu(ctx) => ctx.info(),
        }
    }

    pub fn same_as(&self, other: &Device) -> bool {
        match (self, other) {
            (Device::Cpu, Device::Cpu) => true,
            (Device::Gpu(a), Device::Gpu(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }

    pub fn upload(&self, data: &[f32]) -> Result<Storage> {
        match self {
            Device::Cpu => Ok(Storage::Cpu(CpuBuffer::from_slice(data)?)),
            Device::Gpu(ctx) => Ok(Storage::Gpu(ctx.upload(data)?)),
        }
    }

    /// Storage for `n` numbers whose contents a kernel will overwrite.
    pub fn alloc(&self, n: usize) -> Result<Storage> {
        match self {
            Device::Cpu => Ok(Storage::Cpu(CpuBuffer::for_output(n)?)),
            Device::Gpu(ctx) => Ok(Storage::Gpu(ctx.alloc(n)?)),
        }
    }

    /// Runs (on the GPU: enqueues) one kernel. Inputs are read; outputs are written in place.
    pub fn run(&self, kernel: &Kernel, inputs: &[&Storage], outputs: &[&Storage]) -> Result<()> {
        match self {
            Device::Cpu => {
                let inputs: Vec<_> = inputs.iter().map(|s| cpu_data(s)).collect::<Result<_>>()?;
                let input_refs: Vec<std::cell::Ref<Vec<f32>>> = inputs.iter().map(|c| c.borrow()).collect();
                let input_slices: Vec<&[f32]> = input_refs.iter().map(|r| r.as_slice()).collect();
                let outputs: Vec<_> = outputs.iter().map(|s| cpu_data(s)).collect::<Result<_>>()?;
                let mut output_refs: Vec<std::cell::RefMut<Vec<f32>>> = outputs.iter().map(|c| c.borrow_mut()).collect();
                let mut output_slices: Vec<&mut [f32]> = output_refs.iter_mut().map(|r| r.as_mut_slice()).collect();
                cpu::run(kernel, &input_slices, &mut output_slices);
                Ok(())
            }
            Device::Gpu(ctx) => {
                let inputs: Vec<_> = inputs.iter().map(|s| gpu_buffer(s)).collect::<Result<_>>()?;
                let outputs: Vec<_> = outputs.iter().map(|s| gpu_buffer(s)).collect::<Result<_>>()?;
                ctx.run(kernel, &inputs, &outputs)
            }
        }
    }

    /// Copies the numbers back to the host. On the GPU this submits pending work and waits for it
    /// without blocking the browser's event loop.
    pub async fn download(&self, storage: &Storage) -> Result<Vec<f32>> {
        match (self, storage) {
            (Device::Cpu, Storage::Cpu(data)) => Ok(data.borrow().clone()),
            (Device::Gpu(ctx), Storage::Gpu(buffer)) => ctx.download(buffer).await,
            _ => Err(Error::new("download", "storage belongs to another backend")),
        }
    }
}

fn cpu_data(storage: &Storage) -> Result<&CpuBuffer> {
    match storage {
        Storage::Cpu(data) => Ok(data),
        Storage::Gpu(_) => Err(Error::new("cpu backend", "got a tensor stored on the GPU")),
    }
}

fn gpu_buffer(storage: &Storage) -> Result<&gpu::GpuBuffer> {
    match storage {
        Storage::Gpu(buffer) => Ok(buffer),
        Storage::Cpu(_) => Err(Error::new("webgpu backend", "got a tensor stored on the CPU")),
    }
}
