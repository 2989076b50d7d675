//! The network ops' gradients, as in tests/gradients.rs: convolution (plain, strided, padded,
//! grouped, depthwise, pointwise), pooling, and training-mode batch norm with its running
//! statistics, each against a naive float64 reference and its central differences, on the CPU
//! backend and on wgpu.

mod common;
use common::gradcheck::*;
use common::reference::{self as r, T64};
use common::*;
use kiln::ops::BatchNormConfig;
use kiln::Tensor;

/// (name, input shape, weight shape, stride, padding, groups).
type ConvCase = (&'static str, [usize; 4], [usize; 4], (usize, usize), (usize, usize), usize);

const CONVS: [ConvCase; 7] = [
    ("3x3", [2, 3, 5, 6], [4, 3, 3, 3], (1, 1), (0, 0), 1),
    ("3x2 kernel, stride 2, padding 1", [1, 2, 7, 5], [3, 2, 3, 2], (2, 2), (1, 1), 1),
    ("stride (1, 2), padding (1, 0), groups 2", [2, 4, 5, 5], [6, 2, 3, 3], (1, 2), (1, 0), 2),
    ("depthwise, stride 2, padding 1", [2, 3, 6, 6], [3, 1, 3, 3], (2, 2), (1, 1), 3),
    ("depthwise with multiplier 2", [1, 2, 4, 5], [4, 1, 3, 3], (1, 1), (1, 1), 2),
    ("pointwise 1x1 (the matmul path)", [2, 5, 3, 4], [2, 5, 1, 1], (1, 1), (0, 0), 1),
    ("1x1, stride 2", [1, 3, 5, 5], [2, 3, 1, 1], (2, 2), (0, 0), 1),
];

#[test]
fn conv2d() {
    for_each_device(|d| {
        for (i, &(name, x, w, stride, pad, groups)) in CONVS.iter().enumerate() {
            let seed = 200 + 2 * i as u64;
            let op = |t: &[Tensor]| t[0].conv2d(&t[1], stride, pad, groups);
            check(d, &format!("conv2d {name}"), &[var(&x, seed), var(&w, seed + 1)], op, |t| r::conv2d(&t[0], &t[1], stride, pad, groups));
        }
        // Frozen weight (only d input) and an input without gradient (only d weight).
        let reference = |t: &[T64]| r::conv2d(&t[0], &t[1], (1, 1), (1, 1), 1);
        let op = |t: &[Tensor]| t[0].conv2d(&t[1], (1, 1), (1, 1), 1);
        check(d, "conv2d, frozen weight", &[var(&[1, 2, 4, 4], 220), var(&[3, 2, 3, 3], 221).frozen()], op, reference);
        check(d, "conv2d, input without gradient", &[var(&[1, 2, 4, 4], 222).frozen(), var(&[3, 2, 3, 3], 223)], op, reference);
    });
}

/// avg_pool2d as PyTorch's count_include_pad=True: a depthwise convolution with weights 1 / k².
fn avg_pool_reference(x: &T64, k: usize, stride: usize, pad: usize) -> T64 {
    let channels = x.shape[1];
    let weight = T64::new(&[channels, 1, k, k], vec![(1.0 / (k * k) as f32) as f64; channels * k * k]);
    r::conv2d(x, &weight, (stride, stride), (pad, pad), channels)
}

#[test]
fn pooling() {
    for_each_device(|d| {
        check(d, "max_pool2d 2x2", &[distinct(&[2, 3, 6, 5], 230)], |t| t[0].max_pool2d(2, 2, 0), |x| r::max_pool2d(&x[0], 2, 2, 0));
        check(
            d,
            "max_pool2d 3x3 stride 2 padding 1 (overlapping)",
            &[distinct(&[1, 2, 7, 7], 231)],
            |t| t[0].max_pool2d(3, 2, 1),
            |x| r::max_pool2d(&x[0], 3, 2, 1),
        );
        check(
            d,
            "max_pool2d 3x3 stride 1",
            &[distinct(&[1, 2, 5, 4], 232)],
            |t| t[0].max_pool2d(3, 1, 0),
            |x| r::max_pool2d(&x[0], 3, 1, 0),
        );
        check(
            d,
            "avg_pool2d 3 stride 2 padding 1",
            &[var(&[2, 3, 5, 6], 233)],
            |t| t[0].avg_pool2d(3, 2, 1),
            |x| avg_pool_reference(&x[0], 3, 2, 1),
        );
        check(d, "avg_pool2d 2", &[var(&[1, 2, 4, 6], 234)], |t| t[0].avg_pool2d(2, 2, 0), |x| avg_pool_reference(&x[0], 2, 2, 0));
        let global = |x: &T64, f: fn(&[f64]) -> f64| {
            let s = &x.shape;
            r::reshape(&r::reduce(&r::reshape(x, &[s[0], s[1], s[2] * s[3]]), 2, true, f), &[s[0], s[1], 1, 1])
        };
        check(d, "global_avg_pool", &[var(&[2, 3, 4, 5], 235)], |t| t[0].global_avg_pool(), |x| global(&x[0], r::mean));
        check(d, "global_max_pool", &[distinct(&[2, 3, 4, 5], 236)], |t| t[0].global_max_pool(), |x| global(&x[0], r::max));
        check(
            d,
            "adaptive_concat_pool",
            &[distinct(&[2, 3, 4, 5], 237)],
            |t| t[0].adaptive_concat_pool(),
            |x| r::concat(&global(&x[0], r::max), &global(&x[0], r::mean), 1),
        );
    });
}

/// Running statistics as inputs without gradient: zeros and ones.
fn fresh_stats(channels: usize) -> [Input; 2] {
    [fixed(&[channels], &vec![0.0; channels]), fixed(&[channels], &vec![1.0; channels])]
}

fn batch_norm_train(t: &[Tensor]) -> kiln::Result<Tensor> {
    t[0].batch_norm(&t[1], &t[2], &t[3], &t[4], true, BatchNormConfig::default())
}

fn batch_norm_train_reference(x: &[T64]) -> T64 {
    r::batch_norm_train(&x[0], &x[1], &x[2], BatchNormConfig::default().eps as f64)
}

#[test]
fn batch_norm_train_mode() {
    for_each_device(|d| {
        for (i, shape) in [&[4, 3, 2, 3][..], &[5, 3], &[3, 5, 1, 7], &[2, 2, 3, 3]].into_iter().enumerate() {
            let c = shape[1];
            let seed = 240 + 3 * i as u64;
            let [mean, var_] = fresh_stats(c);
            let inputs = [var(shape, seed), var(&[c], seed + 1), var(&[c], seed + 2), mean, var_];
            check(d, &format!("batch_norm train {shape:?}"), &inputs, batch_norm_train, batch_norm_train_reference);
        }
        // Frozen weight and bias (d x alone), and an input that needs no gradient (then only the
        // parameter gradients are computed).
        let [mean, var_] = fresh_stats(5);
        let frozen = [var(&[3, 5, 1, 7], 260), var(&[5], 261).frozen(), var(&[5], 262).frozen(), mean.clone(), var_.clone()];
        check(d, "batch_norm train, frozen weight and bias", &frozen, batch_norm_train, batch_norm_train_reference);
        let no_input_grad = [var(&[3, 5, 1, 7], 263).frozen(), var(&[5], 264), var(&[5], 265), mean, var_];
        check(d, "batch_norm train, input without gradient", &no_input_grad, batch_norm_train, batch_norm_train_reference);
    });
}

#[test]
fn batch_norm_then_relu6_in_one_kernel() {
    // MobileNetV2's pair, fused: weight and bias put some of z = batch_norm(x) below 0 and some
    // above 6 (inputs chosen so that no z lies within the finite difference's step of a kink).
    let relu6 = BatchNormConfig { relu6: true, ..BatchNormConfig::default() };
    for_each_device(|d| {
        for (i, shape) in [&[4, 3, 2, 3][..], &[6, 2]].into_iter().enumerate() {
            let c = shape[1];
            let seed = 280 + 3 * i as u64;
            let [mean, var_] = fresh_stats(c);
            let inputs = [var(shape, seed), var(&[c], seed + 1).map(|w| 4.0 * w), var(&[c], seed + 2).map(|b| b + 3.0), mean, var_];
            check(
                d,
                &format!("batch_norm + relu6 train {shape:?}"),
                &inputs,
                |t| t[0].batch_norm(&t[1], &t[2], &t[3], &t[4], true, relu6),
                |x| r::map(&batch_norm_train_reference(x), |z| z.clamp(0.0, 6.0)),
            );
            // Evaluation mode: the running statistics (here the fresh ones: mean 0, var 1).
            let eps = relu6.eps as f64;
            check(
                d,
                &format!("batch_norm + relu6 eval {shape:?}"),
                &inputs,
                |t| t[0].batch_norm(&t[1], &t[2], &t[3], &t[4], false, relu6),
                |x| r::map(&r::normalize(&x[0], &x[3].data, &x[4].data, &x[1], &x[2], eps), |z| z.clamp(0.0, 6.0)),
            );
        }
    });
}

#[test]
fn batch_norm_running_statistics_follow_pytorch() {
    // running = (1 - momentum) running + momentum batch, the variance unbiased: M / (M - 1) var.
    for_each_device(|d| {
        let config = BatchNormConfig { momentum: 0.3, ..BatchNormConfig::default() };
        let x = var(&[4, 3, 2, 3], 270);
        let (start_mean, start_var) = (var(&[3], 271), positive(&[3], 272));
        let (running_mean, running_var) = (tensor(&start_mean.data, &[3], d), tensor(&start_var.data, &[3], d));
        let (weight, bias) = (Tensor::ones(&[3], d).unwrap(), Tensor::zeros(&[3], d).unwrap());
        tensor(&x.data, &x.shape, d).batch_norm(&weight, &bias, &running_mean, &running_var, true, config).unwrap();
        let m = config.momentum as f64;
        let stats = r::channel_stats(&x.t64());
        let mix = |old: &[f32], batch: &dyn Fn(usize) -> f64| -> Vec<f32> {
            (0..3).map(|c| ((1.0 - m) * old[c] as f64 + m * batch(c)) as f32).collect()
        };
        let want_mean = mix(&start_mean.data, &|c| stats[c].0);
        let want_var = mix(&start_var.data, &|c| stats[c].1 * stats[c].2 as f64 / (stats[c].2 - 1) as f64);
        assert_close(&values(&running_mean), &want_mean, 1e-5, "running mean");
        assert_close(&values(&running_var), &want_var, 1e-5, "running variance");
    });
}
