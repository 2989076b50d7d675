//! SGD against hand-computed steps, and Lesson 2's "SGD from scratch" fit, on both backends.

mod common;
use common::*;
use kiln::{no_grad, Sgd, SgdConfig, Tensor};

#[test]
fn plain_step_is_p_minus_lr_g() {
    for device in both_devices() {
        let p = tensor(&[1.0, -2.0], &[2], &device).with_requires_grad(true);
        let mut sgd = Sgd::new(vec![p.clone()], SgdConfig::new(0.1)).unwrap();
        p.mul(&p).unwrap().sum().unwrap().backward().unwrap(); // g = 2p = (2, -4)
        sgd.step().unwrap();
        assert_close(&values(&p), &[0.8, -1.6], 1e-6, "p - 0.1 * 2p");
    }
}

#[test]
fn momentum_and_weight_decay_follow_pytorch() {
    // Loss sum(c * p) has constant gradient c. With lr 0.1, momentum 0.9, wd 0.01, p0 = 1, c = 2:
    // step 1: d = 2 + 0.01*1 = 2.01; m = 2.01; p = 1 - 0.201 = 0.799
    // step 2: d = 2 + 0.00799 = 2.00799; m = 0.9*2.01 + 2.00799 = 3.81699; p = 0.799 - 0.381699 = 0.417301
    for device in both_devices() {
        let p = tensor(&[1.0], &[1], &device).with_requires_grad(true);
        let c = tensor(&[2.0], &[1], &device);
        let config = SgdConfig { lr: 0.1, momentum: 0.9, weight_decay: 0.01 };
        let mut sgd = Sgd::new(vec![p.clone()], config).unwrap();
        let mut seen = vec![];
        for _ in 0..2 {
            sgd.zero_grad();
            p.mul(&c).unwrap().sum().unwrap().backward().unwrap();
            sgd.step().unwrap();
            seen.push(values(&p)[0]);
        }
        assert_close(&seen, &[0.799, 0.417301], 1e-6, "momentum 0.9, weight decay 0.01");
    }
}

#[test]
fn bad_settings_are_refused() {
    let p = Tensor::ones(&[2], &kiln::Device::Cpu).unwrap();
    assert!(error_message(Sgd::new(vec![p.clone()], SgdConfig::new(0.1))).contains("does not require grad"));
    let p = p.with_requires_grad(true);
    assert!(error_message(Sgd::new(vec![p.clone()], SgdConfig::new(-1.0))).contains("positive"));
    assert!(error_message(Sgd::new(vec![p.clone()], SgdConfig::new(f32::NAN))).contains("positive"));
    // One dispatch updates several parameters in place: a parameter listed twice is refused.
    let mut sgd = Sgd::new(vec![p.clone(), p.clone()], SgdConfig::new(0.1)).unwrap();
    p.sum().unwrap().backward().unwrap();
    assert!(error_message(sgd.step()).contains("appears twice"));
}

/// Lesson 2's data: x = [U(-1,1), 1], y = x @ (3, 2) + U(0,1).
fn lesson_data(n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = kiln::rng::Pcg32::new(42);
    let mut x = Vec::with_capacity(2 * n);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let x0 = rng.uniform() * 2.0 - 1.0;
        x.extend([x0, 1.0]);
        y.push(3.0 * x0 + 2.0 + rng.uniform());
    }
    (x, y)
}

/// The least-squares solution of x a = y from the 2x2 normal equations, in f64.
fn least_squares(x: &[f32], y: &[f32]) -> [f64; 2] {
    let (mut s00, mut s01, mut s11, mut t0, mut t1) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (row, &yi) in x.chunks(2).zip(y) {
        let (u, v, yi) = (row[0] as f64, row[1] as f64, yi as f64);
        (s00, s01, s11, t0, t1) = (s00 + u * u, s01 + u * v, s11 + v * v, t0 + u * yi, t1 + v * yi);
    }
    let det = s00 * s11 - s01 * s01;
    [(s11 * t0 - s01 * t1) / det, (s00 * t1 - s01 * t0) / det]
}

#[test]
fn lesson2_sgd_from_scratch_converges() {
    let (xs, ys) = lesson_data(100);
    let target = least_squares(&xs, &ys);
    for device in both_devices() {
        let x = tensor(&xs, &[100, 2], &device);
        let y = tensor(&ys, &[100, 1], &device);
        let a = tensor(&[-1.0, 1.0], &[2, 1], &device).with_requires_grad(true);
        let mut first_loss = None;
        for _ in 0..100 {
            let loss = x.matmul(&a).unwrap().sub(&y).unwrap().pow(2.0).unwrap().mean().unwrap();
            first_loss.get_or_insert_with(|| values(&loss)[0]);
            loss.backward().unwrap();
            no_grad(|| a.sub_(&a.grad().unwrap().mul_scalar(0.1).unwrap())).unwrap();
            a.zero_grad();
        }
        let fitted = values(&a);
        assert!(first_loss.unwrap() > 5.0, "the start (-1, 1) is far off");
        for (got, want) in fitted.iter().zip(target) {
            assert!((*got as f64 - want).abs() < 0.1, "{:?}: fitted {fitted:?}, least squares {target:?}", device.info());
        }
    }
}

#[test]
fn adam_follows_fastai() {
    // One weight p0 = 1, constant gradient g = 2 (loss 2p), lr 0.1, wd 0.01, mom 0.9, sqr_mom 0.99:
    // step 1: p = 1 * (1 - 0.001) = 0.999; m = 0.2; v = 0.04; m^ = 0.2/0.1 = 2; v^ = 0.04/0.01 = 4
    //         p = 0.999 - 0.1 * 2 / (2 + 1e-5) = 0.899000499...
    // step 2: p = 0.899000499 * 0.999; m = 0.38, v = 0.0796; m^ = 0.38/0.19 = 2; v^ = 0.0796/0.0199 = 4
    //         p -= 0.1 * 2 / (2 + 1e-5)
    let step = |p: f64| p * 0.999 - 0.1 * 2.0 / (2.0 + 1e-5);
    let expected = [step(1.0), step(step(1.0))];
    for device in both_devices() {
        let p = tensor(&[1.0], &[1], &device).with_requires_grad(true);
        let mut adam = kiln::Adam::new(vec![kiln::ParamGroup { params: vec![p.clone()], lr: 0.1, weight_decay: 0.01 }]).unwrap();
        let mut seen = vec![];
        for _ in 0..2 {
            adam.zero_grad();
            p.mul_scalar(2.0).unwrap().sum().unwrap().backward().unwrap();
            adam.step().unwrap();
            seen.push(values(&p)[0]);
        }
        assert_close(&seen, &expected.map(|v| v as f32), 1e-6, &format!("{:?}", device.info().backend));
    }
    let p = Tensor::ones(&[1], &kiln::Device::Cpu).unwrap().with_requires_grad(true);
    assert!(error_message(kiln::Adam::new(vec![kiln::ParamGroup { params: vec![p], lr: 0.0, weight_decay: 0.0 }])).contains("positive"));
}

/// Sizes of the tensors below: more than one dispatch's worth, odd lengths, one past a workgroup.
const SIZES: [usize; 7] = [3, 1, 257, 40, 5, 1000, 2];

/// Tensors of `SIZES` on `device`, the same numbers each call.
fn params(device: &kiln::Device) -> Vec<Tensor> {
    SIZES
        .iter()
        .enumerate()
        .map(|(i, &n)| tensor(&randn_away_from_zero(&[n], 50 + i as u64, 0.0), &[n], device).with_requires_grad(true))
        .collect()
}

/// Three steps of loss Σ_i Σ c_i p_i², tensor 2 getting no gradient on the second step (it is left
/// alone, and its state waits): `step` is one optimizer over all of `params` or one per tensor.
fn train(params: &[Tensor], mut step: impl FnMut()) -> Vec<Vec<f32>> {
    for s in 0..3 {
        params.iter().for_each(Tensor::zero_grad);
        let terms = params.iter().enumerate().filter(|&(i, _)| !(s == 1 && i == 2));
        let loss =
            terms.map(|(i, p)| p.mul(p).unwrap().mul_scalar(1.0 + i as f32).unwrap().sum().unwrap()).reduce(|a, b| a.add(&b).unwrap());
        loss.unwrap().backward().unwrap();
        step();
    }
    params.iter().map(values).collect()
}

#[test]
fn optimizers_update_many_tensors_as_one_at_a_time() {
    // The optimizers update a few tensors per dispatch, their state in one flat buffer: the same
    // numbers as an optimizer per tensor, whatever the tensor's place, step count and group.
    for device in both_devices() {
        let config = SgdConfig { lr: 0.1, momentum: 0.9, weight_decay: 0.01 };
        let (together, apart) = (params(&device), params(&device));
        let mut sgd = Sgd::new(together.clone(), config).unwrap();
        let mut sgds: Vec<_> = apart.iter().map(|p| Sgd::new(vec![p.clone()], config).unwrap()).collect();
        let expected = train(&apart, || sgds.iter_mut().for_each(|o| o.step().unwrap()));
        assert_eq!(train(&together, || sgd.step().unwrap()), expected, "SGD on {:?}", device.info().backend);

        let group = |params: &[Tensor], g: usize| kiln::ParamGroup {
            params: params.to_vec(),
            lr: 0.01 * (g + 1) as f32,
            weight_decay: 0.1 * g as f32,
        };
        let (together, apart) = (params(&device), params(&device));
        let mut adam = kiln::Adam::new(vec![group(&together[..4], 0), group(&together[4..], 1)]).unwrap();
        let mut adams: Vec<_> = apart
            .iter()
            .enumerate()
            .map(|(i, p)| kiln::Adam::new(vec![group(std::slice::from_ref(p), (i >= 4) as usize)]).unwrap())
            .collect();
        let expected = train(&apart, || adams.iter_mut().for_each(|o| o.step().unwrap()));
        assert_eq!(train(&together, || adam.step().unwrap()), expected, "Adam on {:?}", device.info().backend);
    }
}
