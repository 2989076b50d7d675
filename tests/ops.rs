//! Every op, on the CPU backend and on wgpu, against values worked out by hand, plus the errors bad
//! input gets.

mod common;
use common::*;
use kiln::Tensor;

#[test]
fn creation() {
    for_each_device(|device| {
        let t = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], device);
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(values(&Tensor::zeros(&[2, 2], device).unwrap()), vec![0.0; 4]);
        assert_eq!(values(&Tensor::ones(&[3], device).unwrap()), vec![1.0; 3]);
        let a = values(&Tensor::randn(&[5], 9, device).unwrap());
        assert_eq!(a, values(&Tensor::randn(&[5], 9, device).unwrap()), "same seed, same numbers");
        assert!(values(&Tensor::rand(&[100], 1, device).unwrap()).iter().all(|v| (0.0..1.0).contains(v)));
        assert_eq!(values(&Tensor::full(&[], 2.5, device).unwrap()), vec![2.5]);
    });
}

/// Large elementwise ops and transposes with odd axes, against plain loops.
#[test]
fn large_elementwise_ops_and_transposes_stay_exact() {
    for_each_device(|device| {
        let (n, c, l) = (8, 37, 1031); // over 2^18 numbers: the transposes are shared among threads
        let x = Tensor::randn(&[n, c, l], 4, device).unwrap();
        let per_channel = Tensor::randn(&[c, 1], 5, device).unwrap();
        let (xs, ps) = (values(&x), values(&per_channel));
        let expected: Vec<f32> = (0..n * c * l).map(|i| xs[i] * ps[(i / l) % c]).collect();
        assert_eq!(values(&x.mul(&per_channel).unwrap()), expected, "broadcast product");
        let row = Tensor::randn(&[l], 6, device).unwrap();
        let rs = values(&row);
        let expected: Vec<f32> = (0..n * c * l).map(|i| rs[i % l] - xs[i]).collect();
        assert_eq!(values(&row.sub(&x).unwrap()), expected, "a row minus every row");
        assert_eq!(values(&x.affine(2.0, -1.0).unwrap()), xs.iter().map(|v| v * 2.0 - 1.0).collect::<Vec<_>>(), "unary");
        let t = values(&x.transpose().unwrap());
        let expected: Vec<f32> = (0..n * l * c).map(|i| xs[(i / (l * c)) * c * l + (i % c) * l + (i / c) % l]).collect();
        assert_eq!(t, expected, "batched transpose");
    });
}

#[test]
fn elementwise_and_broadcasting() {
    for_each_device(|device| {
        let a = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], device);
        let row = tensor(&[10.0, 20.0, 30.0], &[3], device);
        let col = tensor(&[2.0, 4.0], &[2, 1], device);
        assert_eq!(values(&a.add(&row).unwrap()), vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        assert_eq!(values(&a.sub(&col).unwrap()), vec![-1.0, 0.0, 1.0, 0.0, 1.0, 2.0]);
        assert_eq!(values(&a.mul(&col).unwrap()), vec![2.0, 4.0, 6.0, 16.0, 20.0, 24.0]);
        assert_eq!(values(&row.div(&col).unwrap()), vec![5.0, 10.0, 15.0, 2.5, 5.0, 7.5]);
        assert_eq!(row.div(&col).unwrap().shape(), &[2, 3]);
        let x = tensor(&[-2.0, 0.0, 3.0], &[3], device);
        assert_eq!(values(&x.neg().unwrap()), vec![2.0, -0.0, -3.0]);
        assert_eq!(values(&x.relu().unwrap()), vec![0.0, 0.0, 3.0]);
        assert_eq!(values(&x.pow(2.0).unwrap()), vec![4.0, 0.0, 9.0]);
        assert_eq!(values(&x.pow(3.0).unwrap()), vec![-8.0, 0.0, 27.0]);
        assert_eq!(values(&x.affine(2.0, 1.0).unwrap()), vec![-3.0, 1.0, 7.0]);
        assert_eq!(values(&tensor(&[-1.0, 3.0, 7.0], &[3], device).relu6().unwrap()), vec![0.0, 3.0, 6.0]);
        assert!(error_message(x.clamp(1.0, 0.0)).contains("clamp: min 1 must not exceed max 0"));
        assert_close(&values(&tensor(&[0.0, 1.0], &[2], device).exp().unwrap()), &[1.0, std::f32::consts::E], 1e-6, "exp");
        assert_close(&values(&tensor(&[1.0, std::f32::consts::E], &[2], device).log().unwrap()), &[0.0, 1.0], 1e-6, "log");
    });
}

#[test]
fn nan_propagates_like_ieee() {
    for_each_device(|device| {
        let x = tensor(&[f32::NAN, -1.0, 0.0], &[3], device);
        let relu = values(&x.relu().unwrap());
        assert!(relu[0].is_nan());
        let log = values(&x.log().unwrap());
        assert!(log[0].is_nan() && log[1].is_nan() && log[2] == f32::NEG_INFINITY);
        assert!(values(&x.pow(0.5).unwrap())[1].is_nan(), "negative base, fractional power");
        assert!(values(&x.sum().unwrap())[0].is_nan());
    });
}

#[test]
fn matmul_transpose_reshape() {
    for_each_device(|device| {
        let a = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], device);
        let b = tensor(&[7.0, 8.0, 9.0, 10.0, 11.0, 12.0], &[3, 2], device);
        assert_eq!(values(&a.matmul(&b).unwrap()), vec![58.0, 64.0, 139.0, 154.0]);
        assert_eq!(values(&a.transpose().unwrap()), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(a.transpose().unwrap().shape(), &[3, 2]);
        let r = a.reshape(&[3, 2]).unwrap();
        assert_eq!((r.shape(), values(&r)), (&[3usize, 2][..], values(&a)));
        // Batched: two copies of a against one b, and against a batch of b.
        let batch = tensor(&[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; 2].concat(), &[2, 2, 3], device);
        assert_eq!(values(&batch.matmul(&b).unwrap()), [58.0, 64.0, 139.0, 154.0].repeat(2));
        let b_batch = tensor(&[[7.0, 8.0, 9.0, 10.0, 11.0, 12.0], [1.0; 6]].concat(), &[2, 3, 2], device);
        assert_eq!(values(&a.matmul(&b_batch).unwrap()), vec![58.0, 64.0, 139.0, 154.0, 6.0, 6.0, 15.0, 15.0]);
        assert_eq!(values(&batch.transpose().unwrap())[6..], [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    });
}

#[test]
fn reductions() {
    for_each_device(|device| {
        let a = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3], device);
        let total = a.sum().unwrap();
        assert_eq!((total.shape(), values(&total)), (&[][..], vec![21.0]));
        assert_eq!(values(&a.mean().unwrap()), vec![3.5]);
        assert_eq!(values(&a.sum_axis(0, false).unwrap()), vec![5.0, 7.0, 9.0]);
        assert_eq!(values(&a.sum_axis(-1, false).unwrap()), vec![6.0, 15.0]);
        assert_eq!(a.sum_axis(1, true).unwrap().shape(), &[2, 1]);
        assert_eq!(values(&a.mean_axis(1, false).unwrap()), vec![2.0, 5.0]);
        let x = tensor(&[1.0, 2.0], &[2, 1], device);
        assert_eq!(values(&x.expand(&[2, 3]).unwrap()), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    });
}

#[test]
fn bad_input_gets_clear_errors() {
    for_each_device(|device| {
        let a = tensor(&[1.0; 6], &[2, 3], device);
        let b = tensor(&[1.0; 6], &[3, 2], device);
        assert_eq!(error_message(a.add(&b)), "add: shapes [2, 3] and [3, 2] cannot be broadcast together");
        use kiln::ErrorKind::{BadInput, Shape};
        let kind = |result: kiln::Result<Tensor>| result.err().map(|e| e.kind());
        assert_eq!((kind(a.add(&b)), kind(a.matmul(&a)), kind(a.reshape(&[4]))), (Some(Shape), Some(Shape), Some(Shape)));
        assert_eq!(kind(a.clamp(1.0, 0.0)), Some(BadInput));
        assert_eq!(error_message(a.matmul(&a)), "matmul: cannot multiply shapes [2, 3] and [2, 3]");
        assert!(error_message(tensor(&[1.0; 3], &[3], device).matmul(&a)).contains("2-D or 3-D"));
        assert_eq!(error_message(a.reshape(&[4])), "reshape: cannot reshape [2, 3] into [4]");
        assert!(error_message(Tensor::from_slice(&[], &[0, 3], device)).contains("empty tensors are not supported"));
        assert_eq!(
            error_message(Tensor::from_slice(&[1.0; 5], &[2, 3], device)),
            "from_array: 5 numbers cannot fill shape [2, 3] (6 elements)"
        );
        assert!(error_message(a.sum_axis(2, false)).contains("axis 2 is out of range for shape [2, 3]"));
        assert!(error_message(tensor(&[1.0], &[1], device).transpose()).contains("at least 2 dimensions"));
        let leaf = a.with_requires_grad(true);
        assert!(error_message(leaf.mul(&leaf).unwrap().backward()).contains("needs a single number (a scalar loss), got shape [2, 3]"));
        assert!(error_message(a.sum().unwrap().backward()).contains("does not depend on anything that requires grad"));
        let other_backend = if device.info().backend == "cpu" { gpu() } else { kiln::Device::Cpu };
        let elsewhere = tensor(&[1.0; 6], &[2, 3], &other_backend);
        assert!(error_message(a.add(&elsewhere)).starts_with("add: tensors are on different backends ("));
    });
}

#[test]
fn conv2d_by_hand() {
    for_each_device(|device| {
        // 1 image, 1 channel, 3x3 input 1..9; 2x2 kernel of ones: each output sums a 2x2 window.
        let x = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], &[1, 1, 3, 3], device);
        let w = tensor(&[1.0; 4], &[1, 1, 2, 2], device);
        assert_eq!(values(&x.conv2d(&w, (1, 1), (0, 0), 1).unwrap()), vec![12.0, 16.0, 24.0, 28.0]);
        // Padding 1, stride 2: windows at the corners see one, two or four pixels.
        let y = x.conv2d(&w, (2, 2), (1, 1), 1).unwrap();
        assert_eq!((y.shape(), values(&y)), (&[1usize, 1, 2, 2][..], vec![1.0, 5.0, 11.0, 28.0]));
        assert!(error_message(x.conv2d(&tensor(&[1.0; 8], &[1, 2, 2, 2], device), (1, 1), (0, 0), 1))
            .contains("conv2d: input [1, 1, 3, 3] and weight [1, 2, 2, 2]"));
        assert!(
            error_message(x.conv2d(&tensor(&[1.0; 16], &[1, 1, 4, 4], device), (1, 1), (0, 0), 1)).contains("larger than the padded input")
        );
    });
}

#[test]
fn max_argmax_gather_softmax_cross_entropy() {
    for_each_device(|device| {
        let x = tensor(&[1.0, 5.0, 5.0, -1.0, 0.0, 2.0], &[2, 3], device);
        assert_eq!(values(&x.max_axis(1, false).unwrap()), vec![5.0, 2.0]);
        assert_eq!(values(&x.argmax_axis(1, false).unwrap()), vec![1.0, 2.0], "first index on ties");
        assert_eq!(values(&x.argmax_axis(0, true).unwrap()), vec![0.0, 0.0, 0.0]);
        let nan = tensor(&[1.0, f32::NAN, 3.0], &[3], device);
        assert!(values(&nan.max_axis(0, false).unwrap())[0].is_nan());
        assert_eq!(values(&nan.argmax_axis(0, false).unwrap()), vec![1.0]);
        // softmax of (0, ln 2, ln 5) = (1, 2, 5) / 8
        let logits = tensor(&[0.0, 2f32.ln(), 5f32.ln()], &[1, 3], device);
        assert_close(&values(&logits.softmax(1).unwrap()), &[0.125, 0.25, 0.625], 1e-6, "softmax");
        let target = Tensor::class_indices(&[2], 3, device).unwrap();
        assert_close(&values(&logits.cross_entropy(&target, 0.0).unwrap()), &[1.6f32.ln()], 1e-6, "cross-entropy");
        // eps 0.1: (0.1/3) * (ln 8 + ln 4 + ln 1.6) + 0.9 * ln 1.6
        let smoothed = 0.1 / 3.0 * (8f32.ln() + 4f32.ln() + 1.6f32.ln()) + 0.9 * 1.6f32.ln();
        assert_close(&values(&logits.cross_entropy(&target, 0.1).unwrap()), &[smoothed], 1e-6, "label smoothing");
        // Large logits stay finite thanks to the max shift.
        let big = tensor(&[1000.0, 0.0], &[1, 2], device);
        assert_close(&values(&big.softmax(1).unwrap()), &[1.0, 0.0], 1e-6, "no overflow");
        assert!(error_message(Tensor::class_indices(&[3], 3, device)).contains("label 3 is outside the 3 classes"));
        assert!(error_message(logits.cross_entropy(&tensor(&[0.0, 1.0], &[2], device), 0.0)).contains("targets [batch]"));
    });
}

#[test]
fn batch_norm_dropout_pooling_by_hand() {
    for_each_device(|device| {
        use kiln::ops::BatchNormConfig;
        // One channel, values 1..4: mean 2.5, biased var 1.25, unbiased 5/3.
        let x = tensor(&[1.0, 2.0, 3.0, 4.0], &[4, 1], device);
        let (w, b) = (tensor(&[2.0], &[1], device), tensor(&[0.5], &[1], device));
        let (mean, var) = (Tensor::zeros(&[1], device).unwrap(), Tensor::ones(&[1], device).unwrap());
        let y = x.batch_norm(&w, &b, &mean, &var, true, BatchNormConfig::default()).unwrap();
        let inv = 1.0 / (1.25f32 + 1e-5).sqrt();
        assert_close(&values(&y), &[-1.5, -0.5, 0.5, 1.5].map(|c| 2.0 * c * inv + 0.5), 1e-6, "normalised");
        assert_close(&values(&mean), &[0.25], 1e-6, "running mean 0.9*0 + 0.1*2.5");
        assert_close(&values(&var), &[0.9 + 0.1 * 5.0 / 3.0], 1e-6, "running var uses the unbiased variance");
        let eval = x.batch_norm(&w, &b, &mean, &var, false, BatchNormConfig::default()).unwrap();
        let expected: Vec<f32> = [1.0f32, 2.0, 3.0, 4.0].iter().map(|v| (v - 0.25) / (var_value(&var) + 1e-5).sqrt() * 2.0 + 0.5).collect();
        assert_close(&values(&eval), &expected, 1e-6, "eval uses running statistics");
        assert!(error_message(tensor(&[1.0], &[1, 1], device).batch_norm(&w, &b, &mean, &var, true, BatchNormConfig::default()))
            .contains("more than one value per channel"));

        let ones = Tensor::ones(&[1000], device).unwrap();
        let dropped = values(&ones.dropout(0.25, true, 3).unwrap());
        let zeros = dropped.iter().filter(|&&v| v == 0.0).count();
        assert!((200..300).contains(&zeros), "about a quarter dropped, got {zeros}");
        assert!(dropped.iter().all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6), "survivors scaled by 1/(1-p)");
        assert_eq!(values(&ones.dropout(0.25, false, 3).unwrap()), vec![1.0; 1000], "identity in eval");

        let img = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], &[1, 1, 3, 3], device);
        assert_eq!(values(&img.avg_pool2d(2, 1, 0).unwrap()), vec![3.0, 4.0, 6.0, 7.0]);
        assert_eq!(values(&img.adaptive_concat_pool().unwrap()), vec![9.0, 5.0]);
        let joined = tensor(&[1.0, 2.0], &[1, 2], device).concat(&tensor(&[3.0], &[1, 1], device), 1).unwrap();
        assert_eq!((joined.shape(), values(&joined)), (&[1usize, 3][..], vec![1.0, 2.0, 3.0]));
    });
}

fn var_value(t: &Tensor) -> f32 {
    values(t)[0]
}

#[test]
fn max_pool2d_by_hand() {
    for_each_device(|device| {
        let x = tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0], &[1, 1, 4, 4], device);
        assert_eq!(values(&x.max_pool2d(2, 2, 0).unwrap()), vec![6.0, 8.0, 14.0, 16.0]);
        assert_eq!(values(&x.max_pool2d(3, 2, 1).unwrap()), vec![6.0, 8.0, 14.0, 16.0]);
        let nan = tensor(&[1.0, f32::NAN, 3.0, 4.0], &[1, 1, 2, 2], device);
        assert!(values(&nan.max_pool2d(2, 2, 0).unwrap())[0].is_nan(), "NaN propagates");
        assert!(error_message(x.max_pool2d(2, 2, 2)).contains("padding at most half the kernel"));
    });
}
