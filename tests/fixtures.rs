//! Conv2d, depthwise conv and batch norm, forward and backward, against values computed
//! independently with numpy (tests/fixtures/*.json, written by scripts/make_fixtures.py), on the
//! CPU backend and on a real wgpu adapter.

mod common;
use common::*;
use kiln::ops::BatchNormConfig;
use kiln::{Device, Tensor};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture file")).expect("fixture JSON")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number") as f32).collect()
}

fn sizes(v: &Value) -> Vec<usize> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("size") as usize).collect()
}

fn pair(v: &Value) -> (usize, usize) {
    match v {
        Value::Array(a) => (a[0].as_u64().unwrap() as usize, a[1].as_u64().unwrap() as usize),
        n => (n.as_u64().unwrap() as usize, n.as_u64().unwrap() as usize),
    }
}

fn leaf(case: &Value, data: &str, shape: &str, device: &Device) -> Tensor {
    tensor(&floats(&case[data]), &sizes(&case[shape]), device).with_requires_grad(true)
}

#[test]
fn conv2d_matches_numpy() {
    for device in both_devices() {
        for case in fixture("conv.json").as_array().unwrap() {
            let name = format!("{} on {}", case["name"], device.info().backend);
            let x = leaf(case, "input", "input_shape", &device);
            let w = leaf(case, "weight", "weight_shape", &device);
            let groups = case["groups"].as_u64().unwrap() as usize;
            let y = x.conv2d(&w, pair(&case["stride"]), pair(&case["padding"]), groups).unwrap();
            assert_eq!(y.shape(), sizes(&case["output_shape"]).as_slice(), "{name}");
            assert_close(&values(&y), &floats(&case["output"]), 1e-5, &format!("{name}: output"));
            let upstream = tensor(&floats(&case["upstream"]), y.shape(), &device);
            y.mul(&upstream).unwrap().sum().unwrap().backward().unwrap();
            assert_close(&values(&x.grad().unwrap()), &floats(&case["grad_input"]), 1e-5, &format!("{name}: grad input"));
            assert_close(&values(&w.grad().unwrap()), &floats(&case["grad_weight"]), 1e-5, &format!("{name}: grad weight"));
        }
    }
}

#[test]
fn batch_norm_matches_numpy() {
    let cases = fixture("batch_norm.json");
    for device in both_devices() {
        for key in ["bn2d_train", "bn1d_train", "bn2d_eval"] {
            let case = &cases[key];
            let name = format!("{key} on {}", device.info().backend);
            let shape = sizes(&case["input_shape"]);
            let channels = shape[1];
            let x = tensor(&floats(&case["input"]), &shape, &device).with_requires_grad(true);
            let w = tensor(&floats(&case["weight"]), &[channels], &device).with_requires_grad(true);
            let b = tensor(&floats(&case["bias"]), &[channels], &device).with_requires_grad(true);
            let training = key.ends_with("train");
            let (mean_key, var_key) = if training { ("running_mean_in", "running_var_in") } else { ("running_mean", "running_var") };
            let mean = tensor(&floats(&case[mean_key]), &[channels], &device);
            let var = tensor(&floats(&case[var_key]), &[channels], &device);
            let config = BatchNormConfig { eps: case["eps"].as_f64().unwrap() as f32, ..BatchNormConfig::default() };
            let y = x.batch_norm(&w, &b, &mean, &var, training, config).unwrap();
            assert_close(&values(&y), &floats(&case["output"]), 1e-5, &format!("{name}: output"));
            if !training {
                continue;
            }
            assert_close(&values(&mean), &floats(&case["running_mean"]), 1e-5, &format!("{name}: running mean"));
            assert_close(&values(&var), &floats(&case["running_var"]), 1e-5, &format!("{name}: running var"));
            let upstream = tensor(&floats(&case["upstream"]), &shape, &device);
            y.mul(&upstream).unwrap().sum().unwrap().backward().unwrap();
            for (leaf, grad) in [(&x, "grad_input"), (&w, "grad_weight"), (&b, "grad_bias")] {
                assert_close(&values(&leaf.grad().unwrap()), &floats(&case[grad]), 1e-4, &format!("{name}: {grad}"));
            }
        }
    }
}

#[test]
fn lr_find_suggestions_match_fastais_formulas() {
    let case = fixture("lr_find.json");
    let as_f64 = |v: &Value| floats(v).into_iter().map(f64::from).collect::<Vec<_>>();
    let got = kiln::lr_find::suggest(&as_f64(&case["lrs"]), &as_f64(&case["losses"]), 100).unwrap();
    for (name, value) in [("minimum", got.minimum), ("steep", got.steep), ("valley", got.valley), ("slide", got.slide)] {
        let want = case[name].as_f64().unwrap();
        assert!((value - want).abs() <= 1e-6 * want, "{name}: {value} vs numpy {want}");
    }
    assert!(kiln::lr_find::suggest(&[1e-3; 8], &[f64::NAN; 8], 100).is_err(), "nothing to suggest from");
    // The longest downhill run starting at the first kept record (fastai's max_start = -1): 20
    // records keep [2, 15), 13 falling losses, so valley = kept[-1 + 13 / 3 + 13 / 6] = kept[5].
    let lrs: Vec<f64> = (0..20).map(|i| 1e-7 * 10f64.powf(i as f64 * 0.4)).collect();
    let falling: Vec<f64> = (0..20).map(|i| 3.0 - 0.1 * i as f64).collect();
    assert_eq!(kiln::lr_find::suggest(&lrs, &falling, 20).unwrap().valley, lrs[2 + 5]);
    // No downhill step at all: fastai's max_start and max_end stay 0.
    assert_eq!(kiln::lr_find::suggest(&lrs, &[1.0; 20], 20).unwrap().valley, lrs[2]);
}
