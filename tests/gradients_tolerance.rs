//! The gradient checks' tolerance (tests/common/gradcheck.rs) is tight enough to catch a wrong
//! factor of 2 in any one term of a derivative. For a few ops, on the CPU backend and on wgpu:
//! the right gradient in closed form passes, kiln's `backward()` passes, and the same gradient
//! with one term doubled or halved is rejected by the very comparison the gradient tests use.
//! Run with `--nocapture` to see by how much each wrong gradient misses.

mod common;
use common::gradcheck::*;
use common::reference::{self as r, T64};
use common::*;
use kiln::ops::BatchNormConfig;
use kiln::Tensor;

fn weights64(shape: &[usize]) -> Vec<f64> {
    loss_weights(shape).iter().map(|&v| v as f64).collect()
}

/// The closed form and kiln's gradient pass; every wrong version is rejected.
fn assert_sharp(name: &str, numeric: &[f64], kiln: &[f64], right: &[f64], wrong: &[(&str, Vec<f64>)]) {
    assert_eq!(mismatch(right, numeric), None, "{name}: the closed form");
    assert_eq!(mismatch(kiln, numeric), None, "{name}: kiln's gradient");
    for (what, gradient) in wrong {
        let (ratio, _) = worst_ratio(gradient, numeric);
        eprintln!("{name}, {what}: off by {ratio:.0} x the tolerance");
        assert!(ratio > 1.0, "{name}, {what}: not rejected");
    }
}

/// Doubled and halved versions of a gradient with one term scaled by k: `with(k)`.
fn doubled_and_halved(term: &str, with: impl Fn(f64) -> Vec<f64>) -> Vec<(String, Vec<f64>)> {
    vec![(format!("{term} doubled"), with(2.0)), (format!("{term} halved"), with(0.5))]
}

fn assert_rejects(name: &str, numeric: &[f64], kiln: &[f64], term: &str, with: impl Fn(f64) -> Vec<f64>) {
    let wrong = doubled_and_halved(term, &with);
    let wrong: Vec<(&str, Vec<f64>)> = wrong.iter().map(|(n, g)| (n.as_str(), g.clone())).collect();
    assert_sharp(name, numeric, kiln, &with(1.0), &wrong);
}

#[test]
fn product_rule_terms() {
    for_each_device(|d| {
        // y = x * x: d/dx = w x (from the first operand) + w x (from the second).
        let x = var(&[3, 4], 300);
        let w = weights64(&[3, 4]);
        let numeric = numeric_gradient(&[x.t64()], 0, &w, &|t| r::map(&t[0], |v| v * v));
        let kiln = &analytic_gradients(d, std::slice::from_ref(&x), |t| t[0].mul(&t[0]))[0];
        let term: Vec<f64> = x.t64().data.iter().zip(&w).map(|(x, w)| x * w).collect();
        assert_rejects("x * x", &numeric, kiln, "one operand's term", |k| term.iter().map(|t| t + k * t).collect());

        // a [3, 4] * b [4]: d/db_j = Σ_i w_ij a_ij, one term per broadcast row.
        let (a, b) = (var(&[3, 4], 301), var(&[4], 302));
        let numeric = numeric_gradient(&[a.t64(), b.t64()], 1, &w, &|t| r::zip(&t[0], &t[1], |a, b| a * b));
        let kiln = &analytic_gradients(d, &[a.clone(), b], |t| t[0].mul(&t[1]))[1];
        let db = |k: f64| -> Vec<f64> {
            (0..4).map(|j| (0..3).map(|i| if i == 0 { k } else { 1.0 } * w[i * 4 + j] * a.data[i * 4 + j] as f64).sum()).collect()
        };
        assert_rejects("a [3, 4] * b [4], d b", &numeric, kiln, "row 0's term", db);
    });
}

/// Per channel of x [N, C, ...]: x̂ = (x - mean) inv_std, M values, g = dL/dy.
struct Channels {
    channel: Vec<usize>,
    x_hat: Vec<f64>,
    inv_std: Vec<f64>,
    count: Vec<f64>,
    sum_g: Vec<f64>,
    sum_g_x_hat: Vec<f64>,
}

fn channels(x: &T64, g: &[f64], eps: f64) -> Channels {
    let stats = r::channel_stats(x);
    let channel: Vec<usize> = (0..x.data.len()).map(|p| r::unflat(&x.shape, p)[1]).collect();
    let inv_std: Vec<f64> = stats.iter().map(|s| 1.0 / (s.1 + eps).sqrt()).collect();
    let x_hat: Vec<f64> = (0..x.data.len()).map(|p| (x.data[p] - stats[channel[p]].0) * inv_std[channel[p]]).collect();
    let (mut sum_g, mut sum_g_x_hat) = (vec![0.0; stats.len()], vec![0.0; stats.len()]);
    for p in 0..x.data.len() {
        sum_g[channel[p]] += g[p];
        sum_g_x_hat[channel[p]] += g[p] * x_hat[p];
    }
    let count = stats.iter().map(|s| s.2 as f64).collect();
    Channels { channel, x_hat, inv_std, count, sum_g, sum_g_x_hat }
}

#[test]
fn batch_norm_terms() {
    let eps = BatchNormConfig::default().eps as f64;
    for_each_device(|d| {
        let shape = [4, 3, 2, 3];
        let stats = [fixed(&[3], &[0.0; 3]), fixed(&[3], &[1.0; 3])];
        let inputs = [var(&shape, 310), var(&[3], 311), var(&[3], 312), stats[0].clone(), stats[1].clone()];
        let x64: Vec<T64> = inputs.iter().map(Input::t64).collect();
        let g = weights64(&shape);
        let reference = |t: &[T64]| r::batch_norm_train(&t[0], &t[1], &t[2], eps);
        let numeric: Vec<Vec<f64>> = (0..3).map(|i| numeric_gradient(&x64, i, &g, &reference)).collect();
        let op = |t: &[Tensor]| t[0].batch_norm(&t[1], &t[2], &t[3], &t[4], true, BatchNormConfig::default());
        let kiln = analytic_gradients(d, &inputs, op);
        let ch = channels(&x64[0], &g, eps);
        let weight = &x64[1].data;

        // d x = weight inv_std / M (M g - Σ g - x̂ Σ g x̂), with one of its three terms times k.
        let dx = |k: [f64; 3]| -> Vec<f64> {
            let c = &ch.channel;
            (0..g.len())
                .map(|p| {
                    let terms = k[0] * ch.count[c[p]] * g[p] - k[1] * ch.sum_g[c[p]] - k[2] * ch.x_hat[p] * ch.sum_g_x_hat[c[p]];
                    weight[c[p]] * ch.inv_std[c[p]] / ch.count[c[p]] * terms
                })
                .collect()
        };
        assert_rejects("batch norm d x", &numeric[0], &kiln[0], "the M g term", |k| dx([k, 1.0, 1.0]));
        assert_rejects("batch norm d x", &numeric[0], &kiln[0], "the Σ g term", |k| dx([1.0, k, 1.0]));
        assert_rejects("batch norm d x", &numeric[0], &kiln[0], "the x̂ Σ g x̂ term", |k| dx([1.0, 1.0, k]));

        // d weight = Σ g x̂ and d bias = Σ g, with the first element's term times k.
        let per_channel = |k: f64, term: &dyn Fn(usize) -> f64| -> Vec<f64> {
            let mut sums = vec![0.0; 3];
            (0..g.len()).for_each(|p| sums[ch.channel[p]] += if p == 0 { k } else { 1.0 } * term(p));
            sums
        };
        assert_rejects("batch norm d weight", &numeric[1], &kiln[1], "element 0's term", |k| per_channel(k, &|p| g[p] * ch.x_hat[p]));
        assert_rejects("batch norm d bias", &numeric[2], &kiln[2], "element 0's term", |k| per_channel(k, &|p| g[p]));
    });
}

#[test]
fn cross_entropy_terms() {
    for_each_device(|d| {
        // Per item: d loss_r / d x_rc = w_r (p_rc - (1 - eps) [c = t_r] - eps / C).
        let (eps, classes) = (0.1f32, 5);
        let e = eps as f64;
        let inputs = [var(&[4, classes], 320), fixed(&[4], &[4.0, 0.0, 2.0, 4.0])];
        let x64: Vec<T64> = inputs.iter().map(Input::t64).collect();
        let w = weights64(&[4]);
        let numeric = numeric_gradient(&x64, 0, &w, &|t| r::cross_entropy(&t[0], &t[1], e));
        let kiln = &analytic_gradients(d, &inputs, |t| t[0].cross_entropy_per_item(&t[1], eps))[0];
        let p = r::softmax(&x64[0], 1);
        let dx = |k: [f64; 3]| -> Vec<f64> {
            (0..4 * classes)
                .map(|q| {
                    let (row, c) = (q / classes, q % classes);
                    let target = if x64[1].data[row] as usize == c { 1.0 - e } else { 0.0 };
                    w[row] * (k[0] * p.data[q] - k[1] * target - k[2] * e / classes as f64)
                })
                .collect()
        };
        assert_rejects("cross-entropy d x", &numeric, kiln, "the softmax term", |k| dx([k, 1.0, 1.0]));
        assert_rejects("cross-entropy d x", &numeric, kiln, "the (1 - eps) one-hot term", |k| dx([1.0, k, 1.0]));
        assert_rejects("cross-entropy d x", &numeric, kiln, "the smoothing term eps / C", |k| dx([1.0, 1.0, k]));
    });
}

/// For a sum over outputs (the chain rule's), the term of the outputs that `keep` selects: the
/// numerical gradient of input `which` with the loss weights of the other outputs set to 0.
fn term_of_outputs(inputs: &[T64], which: usize, reference: &dyn Fn(&[T64]) -> T64, keep: impl Fn(usize) -> bool) -> Vec<f64> {
    let out = reference(inputs);
    let w: Vec<f64> = weights64(&out.shape).iter().enumerate().map(|(k, &w)| if keep(k) { w } else { 0.0 }).collect();
    numeric_gradient(inputs, which, &w, reference)
}

#[test]
fn conv2d_and_batched_matmul_sums() {
    for_each_device(|d| {
        // conv2d's d weight sums over the batch: image 0's term doubled or halved. Its d input sums
        // over the output positions that read each pixel: output row 0's term.
        let inputs = [var(&[2, 3, 5, 6], 330), var(&[4, 3, 3, 3], 331)];
        let x64: Vec<T64> = inputs.iter().map(Input::t64).collect();
        let reference = |t: &[T64]| r::conv2d(&t[0], &t[1], (2, 1), (1, 1), 1);
        let out_shape = reference(&x64).shape;
        let kiln = analytic_gradients(d, &inputs, |t| t[0].conv2d(&t[1], (2, 1), (1, 1), 1));
        let image_size: usize = out_shape[1..].iter().product();
        for (which, name, term, keep) in [
            (1, "conv2d d weight", "image 0's term", Box::new(|k| k < image_size) as Box<dyn Fn(usize) -> bool>),
            (0, "conv2d d input", "output row 0's term", Box::new(|k| r::unflat(&out_shape, k)[2] == 0)),
        ] {
            let numeric = numeric_gradient(&x64, which, &weights64(&out_shape), &reference);
            let part = term_of_outputs(&x64, which, &reference, keep);
            assert_rejects(name, &numeric, &kiln[which], term, |k| numeric.iter().zip(&part).map(|(n, t)| n + (k - 1.0) * t).collect());
        }
        // [2, 3, 5] @ [5, 4]: the shared operand's gradient sums over the batch.
        let inputs = [var(&[2, 3, 5], 332), var(&[5, 4], 333)];
        let x64: Vec<T64> = inputs.iter().map(Input::t64).collect();
        let reference = |t: &[T64]| r::matmul(&t[0], &t[1]);
        let numeric = numeric_gradient(&x64, 1, &weights64(&[2, 3, 4]), &reference);
        let part = term_of_outputs(&x64, 1, &reference, |k| k < 12);
        let kiln = &analytic_gradients(d, &inputs, |t| t[0].matmul(&t[1]))[1];
        assert_rejects("batched matmul, shared operand", &numeric, kiln, "batch entry 0's term", |k| {
            numeric.iter().zip(&part).map(|(n, t)| n + (k - 1.0) * t).collect()
        });
    });
}
