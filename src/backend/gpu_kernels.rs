//! What the wgpu backend runs for each `Kernel`: the WGSL file (shaders/), the parameter block
//! its `Params` struct reads, and how many workgroups to dispatch.

use super::{BinaryOp, Kernel, UnaryOp};

/// Threads per workgroup for one-thread-per-element kernels (must match the WGSL files).
const WORKGROUP_SIZE: usize = 256;
/// Output tile edge of the matmul kernel (shaders/matmul.wgsl).
const MATMUL_TILE: usize = 64;
/// The most workgroups WebGPU allows along one dispatch dimension.
const MAX_GROUPS_PER_DIM: usize = 65535;

/// The WGSL source of one shader file; the sliding-window files share a prelude.
pub(super) fn shader_source(file: &str) -> String {
    let body = match file {
        "elementwise" => include_str!("../../shaders/elementwise.wgsl"),
        "reduce" => include_str!("../../shaders/reduce.wgsl"),
        "matmul" => include_str!("../../shaders/matmul.wgsl"),
        "layout" => include_str!("../../shaders/layout.wgsl"),
        "optim" => include_str!("../../shaders/optim.wgsl"),
        "adam" => include_str!("../../shaders/adam.wgsl"),
        "conv" => include_str!("../../shaders/conv.wgsl"),
        "pool" => include_str!("../../shaders/pool.wgsl"),
        "gather" => include_str!("../../shaders/gather.wgsl"),
        "concat" => include_str!("../../shaders/concat.wgsl"),
        "softmax_xent" => include_str!("../../shaders/softmax_xent.wgsl"),
        "image" => include_str!("../../shaders/image.wgsl"),
        "norm" => include_str!("../../shaders/norm.wgsl"),
        _ => unreachable!("unknown shader file {file}"),
    };
    match file {
        "conv" | "pool" => [include_str!("../../shaders/window_geometry.wgsl"), body].concat(),
        _ => body.to_string(),
    }
}

/// For each kernel: its shader file, its parameter block (u32 words, f32 stored as bits, in the
/// order of the WGSL `Params` struct) and its workgroup counts.
pub(super) fn dispatch_plan(kernel: &Kernel) -> (&'static str, Vec<u32>, [u32; 3]) {
    let f = f32::to_bits;
    match *kernel {
        Kernel::Unary { op, n } => {
            let (s0, s1) = match op {
                UnaryOp::Pow(p) => (p, 0.0),
                UnaryOp::Affine { scale, shift } => (scale, shift),
                UnaryOp::Clamp { min, max } => (min, max),
                _ => (0.0, 0.0),
            };
            ("elementwise", vec![n as u32, 1, f(s0), f(s1)], linear_groups(n))
        }
        Kernel::Binary { ref plan, .. } | Kernel::Expand { ref plan } => {
            let n: usize = plan.out_shape.iter().product();
            let (s0, s1) = match *kernel {
                Kernel::Binary { op: BinaryOp::ClampBackward { min, max }, .. } => (min, max),
                _ => (0.0, 0.0),
            };
            let mut params = vec![n as u32, plan.out_shape.len() as u32, f(s0), f(s1)];
            for dims in [&plan.out_shape, &plan.a_strides, &plan.b_strides] {
                let mut padded = [0u32; crate::shape::MAX_RANK];
                dims.iter().enumerate().for_each(|(i, &d)| padded[i] = d as u32);
                params.extend(padded);
            }
            ("elementwise", params, linear_groups(n))
        }
        Kernel::Reduce { outer, len, inner, .. } => {
            let groups = linear_groups(outer * inner * WORKGROUP_SIZE); // one workgroup per output
            ("reduce", vec![outer as u32, len as u32, inner as u32, 0], groups)
        }
        Kernel::Gather { outer, len, inner } => ("gather", vec![outer as u32, len as u32, inner as u32, 0], linear_groups(outer * inner)),
        Kernel::Scatter { outer, len, inner } => {
            ("gather", vec![outer as u32, len as u32, inner as u32, 0], linear_groups(outer * len * inner))
        }
        Kernel::MatMul { batch, m, k, n, a_batch_stride, b_batch_stride } => {
            let params = [m, k, n, a_batch_stride, b_batch_stride].map(|v| v as u32).to_vec();
            ("matmul", params, [n.div_ceil(MATMUL_TILE) as u32, m.div_ceil(MATMUL_TILE) as u32, batch as u32])
        }
        Kernel::Transpose { batch, rows, cols } => {
            ("layout", vec![batch as u32, rows as u32, cols as u32, 0], linear_groups(batch * rows * cols))
        }
        Kernel::Conv2d(ref g)
        | Kernel::Conv2dBackwardInput(ref g)
        | Kernel::Conv2dBackwardWeight(ref g)
        | Kernel::MaxPool2d(ref g)
        | Kernel::MaxPool2dBackward(ref g) => {
            let params = [
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
            ];
            // One thread per element written: the output, the input gradient or the weight gradient.
            let (file, written) = match kernel {
                Kernel::Conv2d(_) => ("conv", g.batch * g.out_channels * g.out_h * g.out_w),
                Kernel::Conv2dBackwardInput(_) => ("conv", g.batch * g.in_channels * g.height * g.width),
                Kernel::Conv2dBackwardWeight(_) => ("conv", g.out_channels * (g.in_channels / g.groups) * g.kernel_h * g.kernel_w),
                Kernel::MaxPool2d(_) => ("pool", g.batch * g.out_channels * g.out_h * g.out_w),
                _ => ("pool", g.batch * g.in_channels * g.height * g.width),
            };
            (file, params.map(|v| v as u32).to_vec(), linear_groups(written))
        }
        Kernel::SoftmaxCrossEntropy { batch, classes, smoothing } | Kernel::SoftmaxCrossEntropyBackward { batch, classes, smoothing } => {
            // One workgroup per row; rows stay below the 65535 workgroup limit (batches are small).
            ("softmax_xent", vec![batch as u32, classes as u32, f(smoothing)], [batch as u32, 1, 1])
        }
        // One workgroup per channel (the tensor layer keeps channels within the 65535 limit).
        Kernel::BatchNorm { batch, channels, len, eps } => {
            ("norm", vec![batch as u32, channels as u32, len as u32, f(eps)], [channels as u32, 1, 1])
        }
        Kernel::BatchNormBackward { batch, channels, len, .. } => {
            ("norm", vec![batch as u32, channels as u32, len as u32, 0], [channels as u32, 1, 1])
        }
        Kernel::ConcatPair { outer, a_width, b_width } => {
            ("concat", [outer, a_width, b_width, 0].map(|v| v as u32).to_vec(), linear_groups(outer * (a_width + b_width)))
        }
        Kernel::SliceColumns { outer, width, start, len } => {
            ("concat", [outer, width, len, start].map(|v| v as u32).to_vec(), linear_groups(outer * len))
        }
        Kernel::AdamStep { n, lr, momentum, sqr_momentum, eps, weight_decay, step } => {
            ("adam", vec![n as u32, f(lr), f(momentum), f(sqr_momentum), f(eps), f(weight_decay), step], linear_groups(n))
        }
        Kernel::SgdStep { n, lr, momentum, weight_decay, first_step } => {
            ("optim", vec![n as u32, f(lr), f(momentum), f(weight_decay), first_step as u32], linear_groups(n))
        }
        Kernel::Augment { images, height, width, mean, std } => {
            // The word after width pads the vec3 mean to its 16-byte alignment; std follows it.
            let [m0, m1, m2] = mean.map(f);
            let [s0, s1, s2] = std.map(f);
            let params = vec![images as u32, height as u32, width as u32, 0, m0, m1, m2, 0, s0, s1, s2];
            ("image", params, linear_groups(images * height * width)) // one thread per output pixel
        }
    }
}

/// Enough 256-thread workgroups for `threads`, folded into two dimensions past the 65535 limit.
fn linear_groups(threads: usize) -> [u32; 3] {
    let groups = threads.div_ceil(WORKGROUP_SIZE).max(1);
    let x = groups.min(MAX_GROUPS_PER_DIM);
    [x as u32, groups.div_ceil(x) as u32, 1]
}
