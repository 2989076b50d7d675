//! Finite-difference checks: for every op, the gradient backward computes equals
//! (L(x + h) - L(x - h)) / 2h for a loss L = sum(op(inputs) * w) with fixed random weights w.

mod common;
use common::*;
use kiln::{no_grad, Device, Result, Tensor};

const CPU: Device = Device::Cpu;
const H: f32 = 1e-2;

fn check(name: &str, inputs: &[(&[usize], Vec<f32>)], f: impl Fn(&[Tensor]) -> Result<Tensor>) {
    let leaves: Vec<Tensor> = inputs.iter().map(|(s, d)| tensor(d, s, &CPU).with_requires_grad(true)).collect();
    let out = f(&leaves).unwrap();
    let weights = Tensor::randn(out.shape(), 5, &CPU).unwrap();
    let loss_of = |ts: &[Tensor]| -> f32 { values(&f(ts).unwrap().mul(&weights).unwrap().sum().unwrap())[0] };
    out.mul(&weights).unwrap().sum().unwrap().backward().unwrap();

    for (which, (shape, data)) in inputs.iter().enumerate() {
        let analytic = values(&leaves[which].grad().unwrap_or_else(|| panic!("{name}: input {which} got no gradient")));
        // Check up to 40 elements spread over the input.
        let stride = (data.len() / 40).max(1);
        for i in (0..data.len()).step_by(stride) {
            let numeric = no_grad(|| {
                let with = |delta: f32| -> f32 {
                    let mut moved = data.clone();
                    moved[i] += delta;
                    let mut ts: Vec<Tensor> = inputs.iter().map(|(s, d)| tensor(d, s, &CPU)).collect();
                    ts[which] = tensor(&moved, shape, &CPU);
                    loss_of(&ts)
                };
                (with(H) - with(-H)) / (2.0 * H)
            });
            let a = analytic[i];
            assert!(
                (a - numeric).abs() <= 2e-2 * (1.0 + numeric.abs()),
                "{name}: d/d input{which}[{i}] is {a} by backward, {numeric} by finite differences"
            );
        }
    }
}

fn input(shape: &[usize], seed: u64) -> (&[usize], Vec<f32>) {
    (shape, randn_away_from_zero(shape, seed, 0.2))
}

fn positive(shape: &[usize], seed: u64) -> (&[usize], Vec<f32>) {
    (shape, randn_away_from_zero(shape, seed, 0.5).into_iter().map(f32::abs).collect())
}

#[test]
fn unary_ops() {
    check("neg", &[input(&[3, 4], 1)], |t| t[0].neg());
    check("exp", &[input(&[3, 4], 2)], |t| t[0].exp());
    check("log", &[positive(&[3, 4], 3)], |t| t[0].log());
    check("relu", &[input(&[3, 4], 4)], |t| t[0].relu());
    check("pow 3", &[input(&[3, 4], 5)], |t| t[0].pow(3.0));
    check("pow -0.5", &[positive(&[3, 4], 6)], |t| t[0].pow(-0.5));
    check("affine", &[input(&[3, 4], 7)], |t| t[0].affine(-2.5, 1.0));
}

#[test]
fn binary_ops_with_broadcasting() {
    for (a, b) in [(&[2, 3, 4][..], &[2, 3, 4][..]), (&[2, 3, 4], &[4]), (&[2, 1, 4], &[3, 1]), (&[], &[2, 3])] {
        check("add", &[input(a, 10), input(b, 11)], |t| t[0].add(&t[1]));
        check("sub", &[input(a, 12), input(b, 13)], |t| t[0].sub(&t[1]));
        check("mul", &[input(a, 14), input(b, 15)], |t| t[0].mul(&t[1]));
        check("div", &[input(a, 16), positive(b, 17)], |t| t[0].div(&t[1]));
    }
}

#[test]
fn matmul_and_layout_ops() {
    check("matmul", &[input(&[3, 5], 20), input(&[5, 2], 21)], |t| t[0].matmul(&t[1]));
    check("batched matmul", &[input(&[2, 3, 5], 22), input(&[2, 5, 4], 23)], |t| t[0].matmul(&t[1]));
    check("matmul 3-D @ 2-D", &[input(&[2, 3, 5], 24), input(&[5, 4], 25)], |t| t[0].matmul(&t[1]));
    check("matmul 2-D @ 3-D", &[input(&[3, 5], 26), input(&[2, 5, 4], 27)], |t| t[0].matmul(&t[1]));
    check("transpose", &[input(&[2, 3, 4], 28)], |t| t[0].transpose());
    check("reshape", &[input(&[2, 3, 4], 29)], |t| t[0].reshape(&[4, 6]));
    check("expand", &[input(&[3, 1], 30)], |t| t[0].expand(&[2, 3, 4]));
}

#[test]
fn reductions() {
    check("sum", &[input(&[3, 4], 40)], |t| t[0].sum());
    check("mean", &[input(&[3, 4], 41)], |t| t[0].mean());
    for axis in [0, 1, -1] {
        check("sum_axis", &[input(&[2, 3, 4], 42)], |t| t[0].sum_axis(axis, false));
        check("sum_axis keepdim", &[input(&[2, 3, 4], 43)], |t| t[0].sum_axis(axis, true));
        check("mean_axis", &[input(&[2, 3, 4], 44)], |t| t[0].mean_axis(axis, false));
    }
}

#[test]
fn gradients_accumulate_until_zeroed() {
    let x = tensor(&[1.0, 2.0], &[2], &CPU).with_requires_grad(true);
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
}

#[test]
fn conv2d() {
    // Plain, strided + padded, grouped, and depthwise (groups = channels, as in MobileNetV2).
    check("conv2d 3x3", &[input(&[2, 3, 5, 6], 50), input(&[4, 3, 3, 3], 51)], |t| t[0].conv2d(&t[1], (1, 1), (0, 0), 1));
    check("conv2d stride 2 pad 1", &[input(&[1, 2, 7, 5], 52), input(&[3, 2, 3, 2], 53)], |t| t[0].conv2d(&t[1], (2, 2), (1, 1), 1));
    check("conv2d groups 2", &[input(&[2, 4, 5, 5], 54), input(&[6, 2, 3, 3], 55)], |t| t[0].conv2d(&t[1], (1, 2), (1, 0), 2));
    check("depthwise", &[input(&[2, 3, 6, 6], 56), input(&[3, 1, 3, 3], 57)], |t| t[0].conv2d(&t[1], (2, 2), (1, 1), 3));
    check("pointwise 1x1", &[input(&[2, 5, 3, 4], 58), input(&[2, 5, 1, 1], 59)], |t| t[0].conv2d(&t[1], (1, 1), (0, 0), 1));
}

#[test]
fn clamp_and_relu6() {
    check("relu6", &[(&[4, 5], randn_away_from_zero(&[4, 5], 60, 0.2).iter().map(|v| v * 4.0 + 3.0).collect())], |t| t[0].relu6());
    check("clamp", &[input(&[3, 4], 61)], |t| t[0].clamp(-0.5, 0.7));
}

#[test]
fn max_gather_softmax_cross_entropy() {
    check("max_axis", &[input(&[3, 4, 5], 70)], |t| t[0].max_axis(1, false));
    check("max_axis keepdim", &[input(&[3, 4, 5], 71)], |t| t[0].max_axis(-1, true));
    check("softmax", &[input(&[3, 5], 73)], |t| t[0].softmax(1));
    let targets = Tensor::class_indices(&[4, 0, 2], 5, &CPU).unwrap();
    check("cross_entropy", &[input(&[3, 5], 75)], |t| t[0].cross_entropy(&targets, 0.0));
    check("cross_entropy smoothed", &[input(&[3, 5], 76)], |t| t[0].cross_entropy_per_item(&targets, 0.1));
}

#[test]
fn normalisation_pooling_and_layers() {
    use kiln::ops::BatchNormConfig;
    let stats = || (Tensor::zeros(&[3], &CPU).unwrap(), Tensor::ones(&[3], &CPU).unwrap());
    check("batch_norm 2d train", &[input(&[4, 3, 2, 3], 80), input(&[3], 81), input(&[3], 82)], |t| {
        let (mean, var) = stats();
        t[0].batch_norm(&t[1], &t[2], &mean, &var, true, BatchNormConfig::default())
    });
    check("batch_norm 1d train", &[input(&[5, 3], 83), input(&[3], 84), input(&[3], 85)], |t| {
        let (mean, var) = stats();
        t[0].batch_norm(&t[1], &t[2], &mean, &var, true, BatchNormConfig::default())
    });
    // [N, C, L] = [3, 5, 7], with gradients for only some inputs: frozen weight and bias, or an
    // input that needs none (then only the parameter gradients are computed).
    let stats5 = || (Tensor::zeros(&[5], &CPU).unwrap(), Tensor::ones(&[5], &CPU).unwrap());
    let bn = |x: &Tensor, w: &Tensor, b: &Tensor| {
        let (mean, var) = stats5();
        x.batch_norm(w, b, &mean, &var, true, BatchNormConfig::default())
    };
    let fixed = |shape: &[usize], seed| tensor(&randn_away_from_zero(shape, seed, 0.2), shape, &CPU);
    check("batch_norm [3, 5, 1, 7] train", &[input(&[3, 5, 1, 7], 110), input(&[5], 111), input(&[5], 112)], |t| bn(&t[0], &t[1], &t[2]));
    check("batch_norm train, frozen weight and bias", &[input(&[3, 5, 1, 7], 113)], |t| bn(&t[0], &fixed(&[5], 114), &fixed(&[5], 115)));
    check("batch_norm train, input without gradient", &[input(&[5], 116), input(&[5], 117)], |t| {
        bn(&fixed(&[3, 5, 1, 7], 118), &t[0], &t[1])
    });
    check("batch_norm eval", &[input(&[2, 3, 2, 2], 86), input(&[3], 87), input(&[3], 88)], |t| {
        let mean = tensor(&[0.5, -1.0, 2.0], &[3], &CPU);
        let var = tensor(&[0.25, 4.0, 1.5], &[3], &CPU);
        t[0].batch_norm(&t[1], &t[2], &mean, &var, false, BatchNormConfig::default())
    });
    check("dropout", &[input(&[4, 5], 89)], |t| t[0].dropout(0.3, true, 7));
    check("avg_pool2d", &[input(&[2, 3, 5, 6], 90)], |t| t[0].avg_pool2d(3, 2, 1));
    check("global_avg_pool", &[input(&[2, 3, 4, 5], 91)], |t| t[0].global_avg_pool());
    check("adaptive_concat_pool", &[input(&[2, 3, 4, 5], 92)], |t| t[0].adaptive_concat_pool());
    check("linear", &[input(&[4, 6], 93), input(&[3, 6], 94), input(&[3], 95)], |t| t[0].linear(&t[1], Some(&t[2])));
    check("concat axis 1", &[input(&[2, 3, 4], 96), input(&[2, 2, 4], 97)], |t| t[0].concat(&t[1], 1));
    check("flatten", &[input(&[2, 3, 4], 98)], |t| t[0].flatten());
}

#[test]
fn max_pool2d() {
    check("max_pool2d 2x2", &[input(&[2, 3, 6, 5], 100)], |t| t[0].max_pool2d(2, 2, 0));
    check("max_pool2d 3x3 s2 p1 (overlapping)", &[input(&[1, 2, 7, 7], 101)], |t| t[0].max_pool2d(3, 2, 1));
}
