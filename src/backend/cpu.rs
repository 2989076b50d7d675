//! The CPU backend: the plain-loop reference for every kernel, and the fast path on machines whose
//! only WebGPU adapter is a software one. Loops are written so the compiler vectorises them
//! (AVX2 natively when the processor has it, SIMD128 in wasm).

use super::cpu_conv;
use super::cpu_image;
use super::cpu_matmul::batched_matmul;
use super::cpu_norm;
use super::cpu_parallel as parallel;
use super::{BinaryOp, ConvGeometry, Kernel, ReduceOp, UnaryOp};

/// "CPU, 2 threads, AVX2 + FMA", "CPU, 8 threads, WebAssembly SIMD128 + FMA", "CPU, 1 thread,
/// WebAssembly SIMD128": the threads in use and the vector instructions the loops compile to.
pub fn describe() -> String {
    let threads = parallel::threads();
    let vectors = if cfg!(target_family = "wasm") {
        if cfg!(target_feature = "relaxed-simd") {
            "WebAssembly SIMD128 + FMA"
        } else {
            "WebAssembly SIMD128"
        }
    } else if has_avx2_fma() {
        "AVX2 + FMA"
    } else if cfg!(target_arch = "aarch64") {
        "NEON"
    } else {
        "SSE2"
    };
    format!("CPU, {threads} thread{}, {vectors}", if threads == 1 { "" } else { "s" })
}

/// Whether the processor has AVX2 and FMA (the native matmul picks its kernel by this too).
pub(super) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    #[allow(unreachable_code)]
    false
}

/// Runs one kernel. `Device::run` has already checked that every buffer lives on the CPU;
/// the tensor layer sized them, so slices have exactly the lengths each kernel expects.
pub fn run(kernel: &Kernel, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
    match *kernel {
        Kernel::Unary { op, .. } => unary(op, inputs[0], outputs[0]),
        Kernel::Binary { op, ref plan } => match op {
            BinaryOp::Add => binary(plan, inputs, outputs[0], |a, b| a + b),
            BinaryOp::Sub => binary(plan, inputs, outputs[0], |a, b| a - b),
            BinaryOp::Mul => binary(plan, inputs, outputs[0], |a, b| a * b),
            BinaryOp::Div => binary(plan, inputs, outputs[0], |a, b| a / b),
            BinaryOp::ClampBackward { min, max } => binary(plan, inputs, outputs[0], |x, g| if x > min && x < max { g } else { 0.0 }),
        },
        // The plan's b-strides are all 0, so reading the input as `b` too stays in bounds.
        Kernel::Expand { ref plan } => binary(plan, &[inputs[0], inputs[0]], outputs[0], |x, _| x),
        Kernel::Reduce { op: ReduceOp::Sum, outer, len, inner } => sum_axis(inputs[0], outputs[0], outer, len, inner),
        Kernel::Reduce { op, outer, len, inner } => {
            let (x, out) = (inputs[0], &mut *outputs[0]);
            for o in 0..outer {
                for i in 0..inner {
                    let (best, at) = largest((0..len).map(|l| x[(o * len + l) * inner + i]));
                    out[o * inner + i] = if op == ReduceOp::Max { best } else { at as f32 };
                }
            }
        }
        Kernel::Gather { len, inner, .. } => {
            let (x, indices, out) = (inputs[0], inputs[1], &mut *outputs[0]);
            for (k, value) in out.iter_mut().enumerate() {
                let (o, i, l) = (k / inner, k % inner, indices[k]);
                *value = if l >= 0.0 && (l as usize) < len { x[(o * len + l as usize) * inner + i] } else { 0.0 };
            }
        }
        Kernel::Scatter { len, inner, .. } => {
            let (values, indices, out) = (inputs[0], inputs[1], &mut *outputs[0]);
            out.fill(0.0);
            for (k, &l) in indices.iter().enumerate() {
                if l >= 0.0 && (l as usize) < len {
                    out[((k / inner) * len + l as usize) * inner + k % inner] = values[k];
                }
            }
        }
        Kernel::MatMul { batch, m, k, n, a_batch_stride, b_batch_stride } => {
            batched_matmul(inputs[0], inputs[1], outputs[0], batch, m, k, n, a_batch_stride, b_batch_stride)
        }
        Kernel::Transpose { rows, cols, .. } => transpose(inputs[0], outputs[0], rows, cols),
        Kernel::Conv2d(ref g) => cpu_conv::conv2d(g, inputs[0], inputs[1], outputs[0]),
        Kernel::Conv2dBackwardInput(ref g) => cpu_conv::conv2d_backward_input(g, inputs[0], inputs[1], outputs[0]),
        Kernel::Conv2dBackwardWeight(ref g) => cpu_conv::conv2d_backward_weight(g, inputs[0], inputs[1], outputs[0]),
        Kernel::MaxPool2d(ref g) => {
            let (x, out) = (inputs[0], &mut *outputs[0]);
            for (k, o) in out.iter_mut().enumerate() {
                *o = x[pool_winner(g, x, k)];
            }
        }
        Kernel::MaxPool2dBackward(ref g) => {
            let (x, grad, dx) = (inputs[0], inputs[1], &mut *outputs[0]);
            dx.fill(0.0);
            for (k, &gv) in grad.iter().enumerate() {
                dx[pool_winner(g, x, k)] += gv;
            }
        }
        Kernel::SoftmaxCrossEntropy { classes, smoothing, .. } => {
            let (logits, targets, out) = (inputs[0], inputs[1], &mut *outputs[0]);
            for ((row, &target), loss) in logits.chunks(classes).zip(targets).zip(out.iter_mut()) {
                let lse = log_sum_exp(row);
                let picked = row.get(target as usize).copied().unwrap_or(0.0);
                *loss = lse - smoothing / classes as f32 * row.iter().sum::<f32>() - (1.0 - smoothing) * picked;
            }
        }
        Kernel::SoftmaxCrossEntropyBackward { classes, smoothing, .. } => {
            let (logits, targets, out) = (inputs[0], inputs[1], &mut *outputs[0]);
            for ((row, &target), grad) in logits.chunks(classes).zip(targets).zip(out.chunks_mut(classes)) {
                let lse = log_sum_exp(row);
                for (c, (g, &x)) in grad.iter_mut().zip(row).enumerate() {
                    let hit = if c == target as usize { 1.0 - smoothing } else { 0.0 };
                    *g = (x - lse).exp() - smoothing / classes as f32 - hit;
                }
            }
        }
        Kernel::BatchNorm { batch, channels, len, eps } => {
            let [saved, y] = outputs else { unreachable!("batch_norm writes saved statistics and y") };
            cpu_norm::batch_norm(inputs, eps, saved, y, [batch, channels, len])
        }
        Kernel::BatchNormBackward { batch, channels, len, .. } => {
            let (param_grads, dx) = match outputs {
                [param_grads] => (param_grads, None),
                [param_grads, dx] => (param_grads, Some(&mut **dx)),
                _ => unreachable!("batch_norm_backward writes parameter gradients and maybe d x"),
            };
            cpu_norm::batch_norm_backward(inputs, param_grads, dx, [batch, channels, len])
        }
        Kernel::ConcatPair { a_width, b_width, .. } => {
            let (a, b, out) = (inputs[0], inputs[1], &mut *outputs[0]);
            for (row, (ra, rb)) in out.chunks_mut(a_width + b_width).zip(a.chunks(a_width).zip(b.chunks(b_width))) {
                row[..a_width].copy_from_slice(ra);
                row[a_width..].copy_from_slice(rb);
            }
        }
        Kernel::SliceColumns { width, start, len, .. } => {
            for (row, source) in outputs[0].chunks_mut(len).zip(inputs[0].chunks(width)) {
                row.copy_from_slice(&source[start..start + len]);
            }
        }
        Kernel::AdamStep { lr, momentum, sqr_momentum, eps, weight_decay, step, .. } => {
            let [param, avg, sqr_avg] = outputs else { unreachable!("adam_step writes param and two averages") };
            let (debias1, debias2) = (1.0 - momentum.powi(step as i32), 1.0 - sqr_momentum.powi(step as i32));
            for (((p, m), v), &g) in param.iter_mut().zip(avg.iter_mut()).zip(sqr_avg.iter_mut()).zip(inputs[0]) {
                *p *= 1.0 - lr * weight_decay;
                *m = momentum * *m + (1.0 - momentum) * g;
                *v = sqr_momentum * *v + (1.0 - sqr_momentum) * g * g;
                *p -= lr / debias1 * *m / ((*v / debias2).sqrt() + eps);
            }
        }
        Kernel::Augment { height, width, mean, std, .. } => cpu_image::augment(inputs[0], inputs[1], outputs[0], height, width, mean, std),
        Kernel::SgdStep { lr, momentum, weight_decay, first_step, .. } => {
            let [param, buffer] = outputs else { unreachable!("sgd_step writes param and momentum buffer") };
            for ((p, m), &g) in param.iter_mut().zip(buffer.iter_mut()).zip(inputs[0]) {
                *p -= lr * sgd_direction(*p, g, m, momentum, weight_decay, first_step);
            }
        }
    }
}

/// PyTorch's SGD direction for one weight: d = g + wd*p; with momentum the buffer starts at the
/// first d (no dampening) and then m = momentum*m + d; the step is p -= lr * m (or lr * d).
pub fn sgd_direction(p: f32, g: f32, m: &mut f32, momentum: f32, weight_decay: f32, first_step: bool) -> f32 {
    let d = g + weight_decay * p;
    if momentum == 0.0 {
        return d;
    }
    *m = if first_step { d } else { momentum * *m + d };
    *m
}

fn unary(op: UnaryOp, x: &[f32], out: &mut [f32]) {
    // Generic over the function, so each op gets its own loop the compiler can vectorise.
    fn map(x: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
        out.iter_mut().zip(x).for_each(|(o, &v)| *o = f(v));
    }
    match op {
        UnaryOp::Neg => map(x, out, |v| -v),
        UnaryOp::Exp => map(x, out, f32::exp),
        UnaryOp::Log => map(x, out, f32::ln),
        UnaryOp::Relu => map(x, out, |v| if v < 0.0 { 0.0 } else { v }), // NaN stays NaN
        UnaryOp::Pow(p) if p == 2.0 => map(x, out, |v| v * v),
        UnaryOp::Pow(p) if p == 1.0 => map(x, out, |v| v),
        UnaryOp::Pow(p) if p == -0.5 => map(x, out, |v| 1.0 / v.sqrt()),
        UnaryOp::Pow(p) => map(x, out, |v| v.powf(p)),
        UnaryOp::Affine { scale, shift } => map(x, out, |v| v * scale + shift),
        UnaryOp::Clamp { min, max } => map(x, out, |v| {
            if v < min {
                min
            } else if v > max {
                max
            } else {
                v
            }
        }),
    }
}

/// out[b] = x[b]^T for each [rows, cols] matrix, in 8 x 8 blocks so that both the reads and the
/// strided writes stay within a few cache lines; large batches of matrices are shared among threads.
pub(super) fn transpose(x: &[f32], out: &mut [f32], rows: usize, cols: usize) {
    let size = rows * cols;
    if size == 0 {
        return;
    }
    let one = |b: usize, t: &mut [f32]| {
        let m = &x[b * size..][..size];
        for r0 in (0..rows).step_by(8) {
            for c0 in (0..cols).step_by(8) {
                for r in r0..(r0 + 8).min(rows) {
                    for c in c0..(c0 + 8).min(cols) {
                        t[c * rows + r] = m[r * cols + c];
                    }
                }
            }
        }
    };
    if out.len() >= TRANSPOSE_PARALLEL_MIN && out.len() > size {
        parallel::for_each_chunk(out, size, one);
    } else {
        out.chunks_mut(size).enumerate().for_each(|(b, t)| one(b, t));
    }
}

/// Numbers below which a batch of transposes stays on the calling thread.
const TRANSPOSE_PARALLEL_MIN: usize = 1 << 18;

/// Walks the output in row-major order with an odometer over all axes but the last; the last
/// axis is a plain strided loop, which is where the time goes.
fn binary(plan: &crate::shape::BroadcastPlan, inputs: &[&[f32]], out: &mut [f32], f: impl Fn(f32, f32) -> f32) {
    let (a, b) = (inputs[0], inputs[1]);
    let shape = &plan.out_shape;
    let last = shape.len() - 1;
    let (sa, sb) = (plan.a_strides[last], plan.b_strides[last]);
    let mut index = vec![0usize; shape.len()];
    let (mut base_a, mut base_b) = (0usize, 0usize);
    for row in out.chunks_mut(shape[last]) {
        if sa == 1 && sb == 1 {
            let (ra, rb) = (&a[base_a..base_a + row.len()], &b[base_b..base_b + row.len()]);
            row.iter_mut().zip(ra.iter().zip(rb)).for_each(|(o, (&x, &y))| *o = f(x, y));
        } else if sa == 1 && sb == 0 {
            // A row against one number (a per-channel scale or shift): the common broadcast.
            let (ra, y) = (&a[base_a..base_a + row.len()], b[base_b]);
            row.iter_mut().zip(ra).for_each(|(o, &x)| *o = f(x, y));
        } else if sa == 0 && sb == 1 {
            let (x, rb) = (a[base_a], &b[base_b..base_b + row.len()]);
            row.iter_mut().zip(rb).for_each(|(o, &y)| *o = f(x, y));
        } else {
            row.iter_mut().enumerate().for_each(|(j, o)| *o = f(a[base_a + j * sa], b[base_b + j * sb]));
        }
        for axis in (0..last).rev() {
            index[axis] += 1;
            base_a += plan.a_strides[axis];
            base_b += plan.b_strides[axis];
            if index[axis] < shape[axis] {
                break;
            }
            base_a -= plan.a_strides[axis] * shape[axis];
            base_b -= plan.b_strides[axis] * shape[axis];
            index[axis] = 0;
        }
    }
}

fn sum_axis(x: &[f32], out: &mut [f32], outer: usize, len: usize, inner: usize) {
    if inner == 1 {
        // Each output sums a contiguous run: per-channel statistics, means over an image.
        out.iter_mut().zip(x.chunks(len)).for_each(|(o, run)| *o = sum_lanes(run));
        return;
    }
    out.fill(0.0);
    for o in 0..outer {
        let acc = &mut out[o * inner..(o + 1) * inner];
        for l in 0..len {
            let row = &x[(o * len + l) * inner..][..inner];
            acc.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
        }
    }
}

/// The sum of a run with eight partial sums, which the compiler can keep in one vector register
/// (a single running f32 sum cannot be vectorised without reordering the additions).
pub(super) fn sum_lanes(values: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        lanes.iter_mut().zip(chunk).for_each(|(l, &v)| *l += v);
    }
    lanes.iter().sum::<f32>() + tail
}

/// The flat input index of the winner (largest value, see `largest`) of the pooling window of
/// output element k; padding never wins.
fn pool_winner(g: &ConvGeometry, x: &[f32], k: usize) -> usize {
    let (ox, oy, plane) = (k % g.out_w, (k / g.out_w) % g.out_h, k / (g.out_w * g.out_h));
    let rows = (0..g.kernel_h).map(|ky| (oy * g.stride_h + ky) as isize - g.pad_h as isize).filter(|&iy| iy >= 0 && iy < g.height as isize);
    let window: Vec<usize> = rows
        .flat_map(|iy| {
            (0..g.kernel_w)
                .map(move |kx| (ox * g.stride_w + kx) as isize - g.pad_w as isize)
                .filter(|&ix| ix >= 0 && ix < g.width as isize)
                .map(move |ix| (plane * g.height + iy as usize) * g.width + ix as usize)
        })
        .collect();
    window[largest(window.iter().map(|&i| x[i])).1]
}

/// log sum exp(row), with the row's maximum taken out first so nothing overflows.
fn log_sum_exp(row: &[f32]) -> f32 {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    m + row.iter().map(|&x| (x - m).exp()).sum::<f32>().ln()
}

/// The largest value and its index: the first one on ties, a NaN counting as largest (torch.max).
fn largest(values: impl Iterator<Item = f32>) -> (f32, usize) {
    let mut best = (f32::NEG_INFINITY, 0);
    for (l, v) in values.enumerate() {
        if best.0.is_nan() {
            break;
        }
        if v > best.0 || v.is_nan() || l == 0 {
            best = (v, l);
        }
    }
    best
}
