//! Whole graphs and composite ops (gradients through several ops, batch norm's running
//! statistics, pooling layers, dropout) agree on the CPU backend and a real wgpu adapter. Each
//! kernel on its own is checked against its f64 reference in src/ops/<family>/tests.rs.

mod common;
use common::*;
use kiln::{Device, Result, Tensor};

/// Runs `f` on the same seeded inputs on the CPU and the GPU and compares the outputs.
fn parity(name: &str, shapes: &[&[usize]], tol: f32, f: impl Fn(&[Tensor]) -> Result<Tensor>) {
    let gpu = gpu();
    let data: Vec<Vec<f32>> = shapes.iter().enumerate().map(|(i, s)| randn_away_from_zero(s, 100 + i as u64, 0.05)).collect();
    let make = |device: &Device| -> Vec<Tensor> { data.iter().zip(shapes).map(|(d, s)| tensor(d, s, device)).collect() };
    let expected = f(&make(&Device::Cpu)).unwrap();
    let actual = f(&make(&gpu)).unwrap();
    assert_eq!(actual.shape(), expected.shape(), "{name}: shapes differ");
    assert_close(&values(&actual), &values(&expected), tol, &format!("{name} {shapes:?}"));
}

#[test]
fn gradients_match_cpu() {
    // One graph through every op, backward on both backends, gradients compared.
    let shapes: &[&[usize]] = &[&[3, 5, 7], &[7, 4], &[5, 1]];
    for input in 0..shapes.len() {
        parity("gradient", shapes, 1e-4, |t| {
            let leaves: Vec<Tensor> = t.iter().map(|x| x.with_requires_grad(true)).collect();
            let hidden = leaves[0].matmul(&leaves[1])?.relu()?.add(&leaves[2])?; // [3, 5, 4]
            let squashed = hidden.exp()?.add_scalar(1.0)?.log()?.div(&leaves[2].pow(2.0)?.add_scalar(1.0)?)?;
            let loss = squashed.transpose()?.sum_axis(0, false)?.neg()?.mean()?;
            loss.backward()?;
            Ok(leaves[input].grad().expect("a gradient"))
        });
    }
}

#[test]
fn pointwise_convolution_gradients_match_cpu() {
    // A 1x1 convolution's product, weight [o, c] @ images [b, c, h w], as MobileNetV2 runs it:
    // thin (h w = 5: matmul_direct, its weight gradient k = 5) and wide (the tiled matmul), and
    // the weight's gradient summed over the batch (one thread per output of sum_axis).
    for shapes in [[&[33, 20][..], &[4, 20, 5]], [&[40, 36], &[3, 36, 40]]] {
        for input in 0..2 {
            parity("pointwise gradient", &shapes, 1e-4, |t| {
                let leaves: Vec<Tensor> = t.iter().map(|x| x.with_requires_grad(true)).collect();
                leaves[0].matmul(&leaves[1])?.pow(2.0)?.sum()?.backward()?;
                Ok(leaves[input].grad().expect("a gradient"))
            });
        }
    }
}

#[test]
fn many_dispatches_and_reused_buffers_stay_correct() {
    // Longer than one batch of dispatches, with temporaries dropped and their buffers reused.
    let gpu = gpu();
    let mut x = Tensor::ones(&[33, 17], &gpu).unwrap();
    let mut expected = 1.0f32;
    for i in 0..600 {
        let step = Tensor::full(&[17], i as f32 * 1e-3, &gpu).unwrap();
        x = x.add(&step).unwrap().mul_scalar(0.5).unwrap();
        expected = (expected + i as f32 * 1e-3) * 0.5;
    }
    assert_close(&values(&x), &vec![expected; 33 * 17], 1e-5, "chain of 1200 dispatches");
}

#[test]
fn conv_kernels_match_cpu() {
    // (input, weight, stride, padding, groups), odd sizes included.
    type Case = (&'static [usize], &'static [usize], (usize, usize), (usize, usize), usize);
    let cases: &[Case] = &[
        (&[1, 1, 1, 1], &[1, 1, 1, 1], (1, 1), (0, 0), 1),
        (&[2, 3, 9, 7], &[5, 3, 3, 3], (1, 1), (1, 1), 1),
        (&[3, 4, 13, 11], &[4, 1, 3, 3], (2, 2), (1, 1), 4),
        (&[2, 6, 8, 9], &[9, 2, 3, 1], (2, 1), (0, 2), 3),
        (&[1, 32, 17, 17], &[16, 32, 1, 1], (1, 1), (0, 0), 1),
    ];
    for &(x, w, stride, padding, groups) in cases {
        parity("conv2d", &[x, w], 1e-4, |t| t[0].conv2d(&t[1], stride, padding, groups));
        for input in 0..2 {
            parity("conv2d gradient", &[x, w], 1e-4, |t| {
                let leaves: Vec<Tensor> = t.iter().map(|v| v.with_requires_grad(true)).collect();
                leaves[0].conv2d(&leaves[1], stride, padding, groups)?.pow(2.0)?.sum()?.backward()?;
                Ok(leaves[input].grad().unwrap())
            });
        }
    }
}

#[test]
fn reduce_and_index_kernels_match_cpu() {
    for &shape in &[&[1, 1][..], &[3, 5, 7], &[129, 65], &[2, 1000]] {
        for axis in 0..shape.len() as isize {
            parity("max_axis", &[shape], 0.0, |t| t[0].max_axis(axis, false));
            parity("argmax_axis", &[shape], 0.0, |t| t[0].argmax_axis(axis, true));
            parity("softmax", &[shape], 1e-5, |t| t[0].softmax(axis));
            parity("max_axis gradient", &[shape], 0.0, |t| {
                let x = t[0].with_requires_grad(true);
                x.max_axis(axis, false)?.sum()?.backward()?;
                Ok(x.grad().unwrap())
            });
        }
    }
    // Ties pick the first index on both backends.
    parity("argmax ties", &[&[3, 4]], 0.0, |t| t[0].relu()?.mul_scalar(0.0)?.argmax_axis(1, false));
    for &(batch, classes) in &[(1, 1), (7, 10), (33, 1000)] {
        let labels: Vec<u32> = (0..batch as u32).map(|i| (i * 7) % classes as u32).collect();
        parity("cross_entropy gradient", &[&[batch, classes]], 1e-5, |t| {
            let targets = Tensor::class_indices(&labels, classes, t[0].device())?;
            let logits = t[0].with_requires_grad(true);
            logits.cross_entropy(&targets, 0.1)?.backward()?;
            Ok(logits.grad().unwrap())
        });
    }
}

#[test]
fn batch_norm_gradients_and_running_statistics_match_cpu() {
    use kiln::ops::BatchNormConfig;
    // [N, C, L] = [3, 5, 7], [2, 3, 1] (BatchNorm1d) and more values per channel than a workgroup
    // has threads; inputs shifted and scaled so the mean and variance matter.
    for &shape in &[&[3, 5, 1, 7][..], &[2, 3], &[5, 4, 9, 13]] {
        let channels = shape[1];
        for input_grad in [true, false] {
            parity("batch_norm backward", &[shape, &[channels], &[channels], shape], 1e-4, |t| {
                let x = t[0].mul_scalar(3.0)?.add_scalar(2.0)?.with_requires_grad(input_grad);
                let (w, b) = (t[1].with_requires_grad(true), t[2].with_requires_grad(true));
                let (mean, var) = (Tensor::zeros(&[channels], x.device())?, Tensor::ones(&[channels], x.device())?);
                x.batch_norm(&w, &b, &mean, &var, true, BatchNormConfig::default())?.mul(&t[3])?.sum()?.backward()?;
                let mut parts = vec![w.grad().unwrap(), b.grad().unwrap(), mean, var];
                if input_grad {
                    parts.push(x.grad().unwrap().reshape(&[x.numel()])?);
                }
                parts[1..].iter().try_fold(parts[0].clone(), |all, part| all.concat(part, 0))
            });
        }
    }
}

#[test]
fn layers_match_cpu() {
    use kiln::ops::BatchNormConfig;
    for &shape in &[&[2, 3, 5, 7][..], &[16, 33, 4, 4], &[9, 17]] {
        let channels = shape[1];
        for training in [true, false] {
            parity("batch_norm", &[shape, &[channels], &[channels]], 1e-4, |t| {
                let mean = Tensor::rand(&[channels], 1, t[0].device())?;
                let var = Tensor::rand(&[channels], 2, t[0].device())?.add_scalar(0.5)?;
                let y = t[0].batch_norm(&t[1], &t[2], &mean, &var, training, BatchNormConfig::default())?;
                y.concat(
                    &mean
                        .reshape(&[1, channels])?
                        .expand(&[shape[0], channels])?
                        .reshape(&[shape[0], channels, 1, 1])?
                        .expand(&[shape[0], channels, y.shape().get(2).copied().unwrap_or(1), y.shape().get(3).copied().unwrap_or(1)])?
                        .reshape(y.shape())?,
                    1,
                )
            });
        }
    }
    parity("adaptive_concat_pool", &[&[3, 5, 7, 9]], 1e-5, |t| t[0].adaptive_concat_pool());
    parity("dropout (same seeded mask on both)", &[&[4, 33]], 1e-6, |t| t[0].dropout(0.3, true, 11));
    parity("avg_pool2d", &[&[2, 3, 9, 8]], 1e-5, |t| t[0].avg_pool2d(3, 2, 1));
    parity("concat gradient", &[&[2, 3, 5], &[2, 4, 5]], 0.0, |t| {
        let (a, b) = (t[0].with_requires_grad(true), t[1].with_requires_grad(true));
        a.concat(&b, 1)?.mul(&a.concat(&b, 1)?)?.sum()?.backward()?;
        a.grad().unwrap().concat(&b.grad().unwrap(), 1)
    });
}

#[test]
fn inference_folds_each_batch_norm_into_its_convolution() {
    // MobileNetV2's three convolution + batch norm pairs (a strided 3x3 stem and a depthwise 3x3,
    // each with ReLU6, and a 1x1 projection without), with running statistics and affine
    // parameters far from their defaults. In evaluation mode without a graph, each pair runs as
    // one convolution kernel with the norm folded in (`Sequential::forward`); with a graph wanted,
    // as the two ops. Both ways must agree, on both backends.
    use kiln::nn::layers::{BatchNorm, Conv2d, Sequential};
    use kiln::nn::Module;
    use std::rc::Rc;
    let build = |device: &Device| -> Result<Sequential> {
        let mut layers: Vec<Rc<dyn Module>> = Vec::new();
        for (i, (inp, out, kernel, stride, groups, relu6)) in
            [(3, 8, 3, 2, 1, true), (8, 8, 3, 1, 8, true), (8, 5, 1, 1, 1, false)].into_iter().enumerate()
        {
            let seed = 10 * i as u64;
            let weight = tensor(
                &randn_away_from_zero(&[out, inp / groups, kernel, kernel], seed, 0.0),
                &[out, inp / groups, kernel, kernel],
                device,
            );
            layers.push(Rc::new(Conv2d { weight, bias: None, stride, padding: (kernel - 1) / 2, groups }));
            let mut norm = BatchNorm::new(out, device)?;
            norm.weight = Tensor::rand(&[out], seed + 1, device)?.add_scalar(0.5)?.with_requires_grad(true);
            norm.bias = Tensor::rand(&[out], seed + 2, device)?.add_scalar(-0.3)?.with_requires_grad(true);
            norm.running_mean = Tensor::rand(&[out], seed + 3, device)?.add_scalar(-0.5)?;
            norm.running_var = Tensor::rand(&[out], seed + 4, device)?.add_scalar(0.2)?;
            norm.config.relu6 = relu6;
            layers.push(Rc::new(norm));
        }
        let network = Sequential::new(layers);
        network.set_training(false);
        Ok(network)
    };
    let x = randn_away_from_zero(&[2, 3, 13, 11], 7, 0.0).iter().map(|v| 3.0 * v).collect::<Vec<f32>>();
    let run = |device: &Device, folded: bool| -> Vec<f32> {
        let network = build(device).unwrap();
        let input = tensor(&x, &[2, 3, 13, 11], device);
        let y = match folded {
            true => kiln::no_grad(|| network.forward(&input)),
            false => network.forward(&input.with_requires_grad(true)),
        };
        values(&y.unwrap())
    };
    let expected = run(&Device::Cpu, false);
    assert!(expected.iter().any(|&v| v < 0.0), "the projection has no ReLU6");
    let gpu = gpu();
    for (device, folded) in [(Device::Cpu, true), (gpu.clone(), false), (gpu.clone(), true)] {
        assert_close(&run(&device, folded), &expected, 1e-4, &format!("{} folded {folded}", device.info().backend));
    }
    // Folded, each pair is two dispatches (the fold, the convolution) where it was seven (the
    // convolution, five small ops for the norm's scale and shift, the norm).
    let network = build(&gpu).unwrap();
    let input = tensor(&x, &[2, 3, 13, 11], &gpu);
    let count = |f: &dyn Fn() -> Result<Tensor>| {
        let before = gpu.gpu_counters().unwrap();
        values(&f().unwrap());
        gpu.gpu_counters().unwrap().since(&before).dispatches
    };
    let graph = count(&|| network.forward(&input.with_requires_grad(true)));
    let folded = count(&|| kiln::no_grad(|| network.forward(&input)));
    assert_eq!((graph, folded), (21, 6), "dispatches with the graph, folded");
}
