//! Every differentiable op of the public Tensor API, on the CPU backend and on wgpu: its forward
//! against a naive float64 reference (tests/common/reference.rs) and the gradient `backward()`
//! gives against central differences of that reference in float64 (tests/common/gradcheck.rs
//! states the tolerance; tests/gradients_tolerance.rs shows it rejects one term doubled or
//! halved). Inputs keep away from kinks: relu's and clamp's bounds, and ties of max.

mod common;
use common::gradcheck::*;
use common::reference::{self as r, T64};
use common::*;
use kiln::ops::BatchNormConfig;
use kiln::Tensor;

/// Moves values within 0.1 of any of `points` 0.2 further away, so that ±ε never crosses a kink.
fn avoiding(input: Input, points: &'static [f32]) -> Input {
    input.map(move |v| points.iter().fold(v, |v, &p| if (v - p).abs() < 0.1 { v + 0.2f32.copysign(v - p) } else { v }))
}

#[test]
fn unary_ops() {
    for_each_device(|d| {
        check(d, "neg", &[var(&[3, 4], 1)], |t| t[0].neg(), |x| r::map(&x[0], |v| -v));
        check(d, "exp", &[var(&[3, 4], 2)], |t| t[0].exp(), |x| r::map(&x[0], f64::exp));
        check(d, "log", &[positive(&[3, 4], 3)], |t| t[0].log(), |x| r::map(&x[0], f64::ln));
        check(d, "relu", &[var(&[3, 4], 4)], |t| t[0].relu(), |x| r::map(&x[0], |v| v.max(0.0)));
        check(d, "pow 2", &[var(&[3, 4], 5)], |t| t[0].pow(2.0), |x| r::map(&x[0], |v| v * v));
        check(d, "pow 3", &[var(&[3, 4], 6)], |t| t[0].pow(3.0), |x| r::map(&x[0], |v| v.powi(3)));
        check(d, "pow -0.5", &[positive(&[3, 4], 7)], |t| t[0].pow(-0.5), |x| r::map(&x[0], |v| v.powf(-0.5)));
        check(d, "pow 1.5", &[positive(&[3, 4], 8)], |t| t[0].pow(1.5), |x| r::map(&x[0], |v| v.powf(1.5)));
        check(d, "affine", &[var(&[3, 4], 9)], |t| t[0].affine(-2.5, 1.0), |x| r::map(&x[0], |v| -2.5 * v + 1.0));
        check(d, "mul_scalar", &[var(&[5], 10)], |t| t[0].mul_scalar(0.3), |x| r::map(&x[0], |v| v * 0.3f32 as f64));
        check(d, "add_scalar", &[var(&[5], 11)], |t| t[0].add_scalar(2.0), |x| r::map(&x[0], |v| v + 2.0));
        let clamp_input = avoiding(var(&[4, 5], 12), &[-0.5, 0.7]);
        let (lo, hi) = (-0.5f32 as f64, 0.7f32 as f64);
        check(d, "clamp", &[clamp_input], |t| t[0].clamp(-0.5, 0.7), |x| r::map(&x[0], |v| v.clamp(lo, hi)));
        let relu6_input = avoiding(var(&[4, 5], 13).map(|v| v * 4.0 + 3.0), &[0.0, 6.0]);
        check(d, "relu6", &[relu6_input], |t| t[0].relu6(), |x| r::map(&x[0], |v| v.clamp(0.0, 6.0)));
    });
}

/// Same shapes, a lower-rank operand on either side, both operands broadcast, and scalars.
const BROADCASTS: [(&[usize], &[usize]); 7] = [
    (&[2, 3, 4], &[2, 3, 4]),
    (&[2, 3, 4], &[4]),
    (&[3, 1], &[2, 3, 4]),
    (&[2, 1, 4], &[3, 1]),
    (&[], &[2, 3]),
    (&[2, 3], &[]),
    (&[2, 3], &[1]),
];

#[test]
fn binary_ops_with_broadcasting_both_ways() {
    for_each_device(|d| {
        for (i, &(a, b)) in BROADCASTS.iter().enumerate() {
            let seed = 20 + 4 * i as u64;
            let name = |op: &str| format!("{op} {a:?} {b:?}");
            check(d, &name("add"), &[var(a, seed), var(b, seed + 1)], |t| t[0].add(&t[1]), |x| r::zip(&x[0], &x[1], |a, b| a + b));
            check(d, &name("sub"), &[var(a, seed + 1), var(b, seed)], |t| t[0].sub(&t[1]), |x| r::zip(&x[0], &x[1], |a, b| a - b));
            check(d, &name("mul"), &[var(a, seed + 2), var(b, seed)], |t| t[0].mul(&t[1]), |x| r::zip(&x[0], &x[1], |a, b| a * b));
            check(d, &name("div"), &[var(a, seed + 3), positive(b, seed)], |t| t[0].div(&t[1]), |x| r::zip(&x[0], &x[1], |a, b| a / b));
            check(d, &name("div by"), &[positive(a, seed), var(b, seed + 2)], |t| t[1].div(&t[0]), |x| r::zip(&x[1], &x[0], |a, b| a / b));
        }
        // One tensor as both operands: both terms of the product rule reach it.
        check(d, "x * x", &[var(&[3, 4], 50)], |t| t[0].mul(&t[0]), |x| r::map(&x[0], |v| v * v));
        check(d, "x / x^2", &[positive(&[5], 51)], |t| t[0].div(&t[0].mul(&t[0])?), |x| r::map(&x[0], |v| 1.0 / v));
    });
}

#[test]
fn matmul_2d_batched_and_broadcast() {
    for_each_device(|d| {
        for (a, b) in
            [(&[3, 5][..], &[5, 2][..]), (&[2, 3, 5], &[2, 5, 4]), (&[2, 3, 5], &[5, 4]), (&[3, 5], &[2, 5, 4]), (&[1, 7], &[7, 1])]
        {
            check(d, &format!("matmul {a:?} @ {b:?}"), &[var(a, 60), var(b, 61)], |t| t[0].matmul(&t[1]), |x| r::matmul(&x[0], &x[1]));
        }
        check(d, "x @ x", &[var(&[4, 4], 62)], |t| t[0].matmul(&t[0]), |x| r::matmul(&x[0], &x[0]));
        let linear = |x: &[T64]| r::zip(&r::matmul(&x[0], &r::transpose(&x[1])), &x[2], |y, b| y + b);
        check(d, "linear", &[var(&[4, 6], 63), var(&[3, 6], 64), var(&[3], 65)], |t| t[0].linear(&t[1], Some(&t[2])), linear);
        check(
            d,
            "linear 3-D, no bias",
            &[var(&[2, 4, 6], 66), var(&[3, 6], 67)],
            |t| t[0].linear(&t[1], None),
            |x| r::matmul(&x[0], &r::transpose(&x[1])),
        );
    });
}

#[test]
fn layout_ops() {
    for_each_device(|d| {
        check(d, "transpose 2-D", &[var(&[3, 5], 70)], |t| t[0].transpose(), |x| r::transpose(&x[0]));
        check(d, "transpose 3-D", &[var(&[2, 3, 4], 71)], |t| t[0].transpose(), |x| r::transpose(&x[0]));
        check(d, "reshape", &[var(&[2, 3, 4], 72)], |t| t[0].reshape(&[4, 6]), |x| r::reshape(&x[0], &[4, 6]));
        check(d, "flatten", &[var(&[2, 3, 2, 2], 73)], |t| t[0].flatten(), |x| r::reshape(&x[0], &[2, 12]));
        check(d, "expand [3, 1]", &[var(&[3, 1], 74)], |t| t[0].expand(&[2, 3, 4]), |x| r::expand(&x[0], &[2, 3, 4]));
        check(d, "expand [4]", &[var(&[4], 75)], |t| t[0].expand(&[3, 4]), |x| r::expand(&x[0], &[3, 4]));
        check(d, "expand []", &[var(&[], 76)], |t| t[0].expand(&[2, 3]), |x| r::expand(&x[0], &[2, 3]));
        for (axis, b) in [(0, &[1, 3, 4][..]), (1, &[2, 2, 4]), (2, &[2, 3, 5])] {
            check(
                d,
                &format!("concat axis {axis}"),
                &[var(&[2, 3, 4], 77), var(b, 78)],
                |t| t[0].concat(&t[1], axis),
                |x| r::concat(&x[0], &x[1], axis),
            );
        }
        check(
            d,
            "concat, second frozen",
            &[var(&[2, 3], 79), var(&[2, 2], 80).frozen()],
            |t| t[0].concat(&t[1], 1),
            |x| r::concat(&x[0], &x[1], 1),
        );
    });
}

#[test]
fn reductions() {
    for_each_device(|d| {
        check(d, "sum", &[var(&[3, 4], 90)], |t| t[0].sum(), |x| r::reduce(&r::reshape(&x[0], &[12]), 0, false, r::sum));
        check(d, "mean", &[var(&[3, 4], 91)], |t| t[0].mean(), |x| r::reduce(&r::reshape(&x[0], &[12]), 0, false, r::mean));
        for axis in [0, 1, 2, -1] {
            for keep in [false, true] {
                let name = |op: &str| format!("{op} axis {axis} keepdim {keep}");
                let sum = |t: &[Tensor]| t[0].sum_axis(axis, keep);
                check(d, &name("sum_axis"), &[var(&[2, 3, 4], 92)], sum, |x| r::reduce(&x[0], axis, keep, r::sum));
                let mean = |t: &[Tensor]| t[0].mean_axis(axis, keep);
                check(d, &name("mean_axis"), &[var(&[2, 3, 4], 93)], mean, |x| r::reduce(&x[0], axis, keep, r::mean));
                let max = |t: &[Tensor]| t[0].max_axis(axis, keep);
                check(d, &name("max_axis"), &[distinct(&[2, 3, 4], 94)], max, |x| r::reduce(&x[0], axis, keep, r::max));
            }
        }
    });
}

#[test]
fn softmax_and_cross_entropy() {
    for_each_device(|d| {
        check(d, "softmax axis 1", &[var(&[3, 5], 100)], |t| t[0].softmax(1), |x| r::softmax(&x[0], 1));
        check(d, "softmax axis 0", &[var(&[3, 5], 101)], |t| t[0].softmax(0), |x| r::softmax(&x[0], 0));
        let targets = || fixed(&[4], &[4.0, 0.0, 2.0, 4.0]);
        for eps in [0.0, 0.1, 0.3] {
            let e = eps as f64;
            let inputs = [var(&[4, 5], 102), targets()];
            let per_item = move |t: &[Tensor]| t[0].cross_entropy_per_item(&t[1], eps);
            check(d, &format!("cross_entropy_per_item eps {eps}"), &inputs, per_item, |x| r::cross_entropy(&x[0], &x[1], e));
            let mean = |x: &[T64]| r::reduce(&r::cross_entropy(&x[0], &x[1], e), 0, false, r::mean);
            check(d, &format!("cross_entropy eps {eps}"), &inputs, |t| t[0].cross_entropy(&t[1], eps), mean);
        }
    });
}

#[test]
fn gradients_accumulate_until_zeroed() {
    for_each_device(|d| {
        let x = tensor(&[1.0, 2.0], &[2], d).with_requires_grad(true);
        for _ in 0..2 {
            x.mul(&x).unwrap().sum().unwrap().backward().unwrap(); // d(x^2) = 2x
        }
        assert_eq!(values(&x.grad().unwrap()), vec![4.0, 8.0]);
        x.zero_grad();
        assert!(x.grad().is_none());
        // A tensor used twice in one graph gets both contributions.
        let y = x.mul(&x).unwrap().add(&x).unwrap().sum().unwrap(); // d = 2x + 1
        y.backward().unwrap();
        assert_eq!(values(&x.grad().unwrap()), vec![3.0, 5.0]);
    });
}

#[test]
fn dropout_scales_what_it_keeps() {
    for_each_device(|d| {
        // The mask comes from a seeded generator on the host, the same on every device; it is read
        // back from the op itself (dropout of ones), so this checks the gradient against y = x * mask.
        let mask = kiln::no_grad(|| values(&Tensor::ones(&[4, 5], d).unwrap().dropout(0.3, true, 7).unwrap()));
        assert!(mask.iter().all(|&m| m == 0.0 || (m - 1.0 / 0.7).abs() < 1e-6) && mask.contains(&0.0));
        let mask = T64::new(&[4, 5], mask.iter().map(|&m| m as f64).collect());
        check(d, "dropout", &[var(&[4, 5], 110)], |t| t[0].dropout(0.3, true, 7), |x| r::zip(&x[0], &mask, |a, m| a * m));
        check(d, "dropout eval", &[var(&[4, 5], 111)], |t| t[0].dropout(0.3, false, 7), |x| x[0].clone());
    });
}

#[test]
fn batch_norm_eval_mode() {
    let eps = BatchNormConfig::default().eps as f64;
    for_each_device(|d| {
        let inputs =
            [var(&[2, 3, 2, 2], 120), var(&[3], 121), var(&[3], 122), fixed(&[3], &[0.5, -1.0, 2.0]), fixed(&[3], &[0.25, 4.0, 1.5])];
        let op = |t: &[Tensor]| t[0].batch_norm(&t[1], &t[2], &t[3], &t[4], false, BatchNormConfig::default());
        check(d, "batch_norm eval", &inputs, op, |x| r::normalize(&x[0], &x[3].data, &x[4].data, &x[1], &x[2], eps));
    });
}
