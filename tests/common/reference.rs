//! Naive float64 forwards of kiln's differentiable ops: plain loops written to be obviously
//! right, not fast. The finite-difference gradient checks (`gradcheck.rs`) differentiate these,
//! so kiln's analytic gradients are compared with derivatives of an independent f64 model rather
//! than with kiln's own f32 kernels.

/// A float64 tensor: row-major data and its shape.
#[derive(Clone, Debug, PartialEq)]
pub struct T64 {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl T64 {
    pub fn new(shape: &[usize], data: Vec<f64>) -> T64 {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "shape {shape:?} does not hold {} values", data.len());
        T64 { shape: shape.to_vec(), data }
    }

    /// The value at a multi-index.
    pub fn at(&self, index: &[usize]) -> f64 {
        self.data[flat(&self.shape, index)]
    }
}

/// Row-major position of a multi-index.
pub fn flat(shape: &[usize], index: &[usize]) -> usize {
    index.iter().zip(shape).fold(0, |acc, (&i, &n)| acc * n + i)
}

/// The multi-index of a row-major position.
pub fn unflat(shape: &[usize], mut position: usize) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for axis in (0..shape.len()).rev() {
        index[axis] = position % shape[axis];
        position /= shape[axis];
    }
    index
}

pub fn map(x: &T64, f: impl Fn(f64) -> f64) -> T64 {
    T64::new(&x.shape, x.data.iter().map(|&v| f(v)).collect())
}

/// NumPy broadcasting: shapes aligned at the right, each axis equal or 1.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    let dim = |s: &[usize], axis: usize| if axis + s.len() >= n { s[axis + s.len() - n] } else { 1 };
    (0..n).map(|axis| dim(a, axis).max(dim(b, axis))).collect()
}

/// The element of `x` that position `index` of a broadcast result reads.
fn broadcast_read(x: &T64, index: &[usize]) -> f64 {
    let skip = index.len() - x.shape.len();
    let own: Vec<usize> = x.shape.iter().zip(&index[skip..]).map(|(&n, &i)| if n == 1 { 0 } else { i }).collect();
    x.at(&own)
}

/// f(a, b) elementwise with broadcasting.
pub fn zip(a: &T64, b: &T64, f: impl Fn(f64, f64) -> f64) -> T64 {
    let shape = broadcast_shape(&a.shape, &b.shape);
    let count = shape.iter().product();
    let data = (0..count).map(|p| unflat(&shape, p)).map(|i| f(broadcast_read(a, &i), broadcast_read(b, &i))).collect();
    T64::new(&shape, data)
}

pub fn expand(x: &T64, shape: &[usize]) -> T64 {
    T64::new(shape, (0..shape.iter().product()).map(|p| broadcast_read(x, &unflat(shape, p))).collect())
}

pub fn reshape(x: &T64, shape: &[usize]) -> T64 {
    T64::new(shape, x.data.clone())
}

/// Swaps the last two axes.
pub fn transpose(x: &T64) -> T64 {
    let mut shape = x.shape.clone();
    let r = shape.len();
    shape.swap(r - 2, r - 1);
    let data = (0..x.data.len())
        .map(|p| {
            let mut i = unflat(&shape, p);
            i.swap(r - 2, r - 1);
            x.at(&i)
        })
        .collect();
    T64::new(&shape, data)
}

/// [m,k]@[k,n], and batched: a 2-D operand is shared by every batch entry.
pub fn matmul(a: &T64, b: &T64) -> T64 {
    let batch = if a.shape.len() == 3 {
        a.shape[0]
    } else if b.shape.len() == 3 {
        b.shape[0]
    } else {
        1
    };
    let (m, k, n) = (a.shape[a.shape.len() - 2], a.shape[a.shape.len() - 1], b.shape[b.shape.len() - 1]);
    let read = |t: &T64, e: usize, r: usize, c: usize| if t.shape.len() == 3 { t.at(&[e, r, c]) } else { t.at(&[r, c]) };
    let mut data = vec![0.0; batch * m * n];
    for e in 0..batch {
        for i in 0..m {
            for j in 0..n {
                data[(e * m + i) * n + j] = (0..k).map(|l| read(a, e, i, l) * read(b, e, l, j)).sum();
            }
        }
    }
    let shape = if a.shape.len() == 3 || b.shape.len() == 3 { vec![batch, m, n] } else { vec![m, n] };
    T64::new(&shape, data)
}

/// f over the values along `axis` (negative counts from the end), the axis kept as 1 or dropped.
pub fn reduce(x: &T64, axis: isize, keepdim: bool, f: impl Fn(&[f64]) -> f64) -> T64 {
    let axis = if axis < 0 { (x.shape.len() as isize + axis) as usize } else { axis as usize };
    let mut kept = x.shape.clone();
    kept[axis] = 1;
    let data = (0..kept.iter().product())
        .map(|p| {
            let mut i = unflat(&kept, p);
            let along: Vec<f64> = (0..x.shape[axis])
                .map(|j| {
                    i[axis] = j;
                    x.at(&i)
                })
                .collect();
            f(&along)
        })
        .collect();
    if !keepdim {
        kept.remove(axis);
    }
    T64::new(&kept, data)
}

pub fn sum(values: &[f64]) -> f64 {
    values.iter().sum()
}

pub fn mean(values: &[f64]) -> f64 {
    sum(values) / values.len() as f64
}

pub fn max(values: &[f64]) -> f64 {
    values.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
}

/// exp(x_i) / Σ_j exp(x_j) along `axis`.
pub fn softmax(x: &T64, axis: isize) -> T64 {
    let total = reduce(x, axis, true, |v| v.iter().map(|e| e.exp()).sum());
    zip(x, &total, |v, s| v.exp() / s)
}

/// Per row of logits [B, C]: (eps / C) Σ_c -log p_c + (1 - eps) (-log p_target).
pub fn cross_entropy(logits: &T64, targets: &T64, eps: f64) -> T64 {
    let (rows, classes) = (logits.shape[0], logits.shape[1]);
    let p = softmax(logits, 1);
    let loss = (0..rows)
        .map(|r| {
            let nll = |c: usize| -p.at(&[r, c]).ln();
            eps / classes as f64 * (0..classes).map(nll).sum::<f64>() + (1.0 - eps) * nll(targets.data[r] as usize)
        })
        .collect();
    T64::new(&[rows], loss)
}

/// `b` joined after `a` along `axis`.
pub fn concat(a: &T64, b: &T64, axis: usize) -> T64 {
    let mut shape = a.shape.clone();
    shape[axis] += b.shape[axis];
    let data = (0..shape.iter().product())
        .map(|p| {
            let mut i = unflat(&shape, p);
            if i[axis] < a.shape[axis] {
                a.at(&i)
            } else {
                i[axis] -= a.shape[axis];
                b.at(&i)
            }
        })
        .collect();
    T64::new(&shape, data)
}

/// PyTorch's conv2d without bias: x [n, c, h, w], weight [o, c / groups, kh, kw], zero padding.
pub fn conv2d(x: &T64, w: &T64, stride: (usize, usize), pad: (usize, usize), groups: usize) -> T64 {
    let (&[n, c, h, wd], &[o, cg, kh, kw]) = (&x.shape[..], &w.shape[..]) else { panic!("4-D operands") };
    assert_eq!(c, cg * groups, "weight dim 1 is channels / groups");
    let (oh, ow) = ((h + 2 * pad.0 - kh) / stride.0 + 1, (wd + 2 * pad.1 - kw) / stride.1 + 1);
    let read = |b: usize, ch: usize, r: isize, col: isize| {
        let inside = r >= 0 && col >= 0 && (r as usize) < h && (col as usize) < wd;
        if inside {
            x.at(&[b, ch, r as usize, col as usize])
        } else {
            0.0
        }
    };
    let out_per_group = o / groups;
    let mut data = Vec::with_capacity(n * o * oh * ow);
    for (b, f, y, z) in iproduct4(n, o, oh, ow) {
        let mut acc = 0.0;
        for (ci, i, j) in iproduct3(cg, kh, kw) {
            let ch = f / out_per_group * cg + ci;
            let (r, col) = ((y * stride.0 + i) as isize - pad.0 as isize, (z * stride.1 + j) as isize - pad.1 as isize);
            acc += w.at(&[f, ci, i, j]) * read(b, ch, r, col);
        }
        data.push(acc);
    }
    T64::new(&[n, o, oh, ow], data)
}

/// PyTorch's max_pool2d: the largest value in each k x k window, padding never chosen.
pub fn max_pool2d(x: &T64, k: usize, stride: usize, pad: usize) -> T64 {
    let &[n, c, h, w] = &x.shape[..] else { panic!("4-D input") };
    let (oh, ow) = ((h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1);
    let mut data = Vec::new();
    for (b, ch, y, z) in iproduct4(n, c, oh, ow) {
        let mut best = f64::NEG_INFINITY;
        for (_, i, j) in iproduct3(1, k, k) {
            let (r, col) = ((y * stride + i) as isize - pad as isize, (z * stride + j) as isize - pad as isize);
            if r >= 0 && col >= 0 && (r as usize) < h && (col as usize) < w {
                best = best.max(x.at(&[b, ch, r as usize, col as usize]));
            }
        }
        data.push(best);
    }
    T64::new(&[n, c, oh, ow], data)
}

/// Per channel (axis 1) of [N, C] or [N, C, H, W]: (mean, biased variance, count).
pub fn channel_stats(x: &T64) -> Vec<(f64, f64, usize)> {
    (0..x.shape[1])
        .map(|ch| {
            let values: Vec<f64> = (0..x.data.len()).filter(|&p| unflat(&x.shape, p)[1] == ch).map(|p| x.data[p]).collect();
            let m = mean(&values);
            (m, values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len() as f64, values.len())
        })
        .collect()
}

/// (x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c, with the given per-channel statistics.
pub fn normalize(x: &T64, mean: &[f64], var: &[f64], weight: &T64, bias: &T64, eps: f64) -> T64 {
    let data = (0..x.data.len())
        .map(|p| {
            let ch = unflat(&x.shape, p)[1];
            (x.data[p] - mean[ch]) / (var[ch] + eps).sqrt() * weight.data[ch] + bias.data[ch]
        })
        .collect();
    T64::new(&x.shape, data)
}

/// Training-mode batch norm: the batch's own mean and biased variance.
pub fn batch_norm_train(x: &T64, weight: &T64, bias: &T64, eps: f64) -> T64 {
    let stats = channel_stats(x);
    let (mean, var): (Vec<f64>, Vec<f64>) = stats.iter().map(|&(m, v, _)| (m, v)).unzip();
    normalize(x, &mean, &var, weight, bias, eps)
}

/// (a, b, c, d) over 0..n0 x 0..n1 x 0..n2 x 0..n3, the last varying fastest.
pub fn iproduct4(n0: usize, n1: usize, n2: usize, n3: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    (0..n0 * n1 * n2 * n3).map(move |p| (p / (n1 * n2 * n3), p / (n2 * n3) % n1, p / n3 % n2, p % n3))
}

pub fn iproduct3(n0: usize, n1: usize, n2: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    iproduct4(1, n0, n1, n2).map(|(_, a, b, c)| (a, b, c))
}
