//! Finite-difference gradient checks in float64.
//!
//! For an op y = f(inputs), the loss is L = Σ_k w_k y_k with fixed random weights w. kiln computes
//! dL/d(input) by `backward()` in f32 on a device; the check computes it again by central
//! differences, (L(x + ε e_j) - L(x - ε e_j)) / 2ε for every element j, with ε = 1e-6 and L
//! evaluated by the op's naive f64 forward (`reference.rs`) at the same (f32) input values.
//! In f64 the difference quotient is exact to about 1e-9, so the comparison's tolerance only has
//! to absorb kiln's f32 rounding, and can be tight: element by element,
//!
//!     |analytic - numeric| <= RTOL |numeric| + ATOL max_j |numeric_j|,  RTOL = 1e-3, ATOL = 1e-4,
//!
//! so a wrong term t of a derivative (doubled: off by t, halved: off by t / 2) is caught as soon as
//! |t| / 2 exceeds 0.1% of that element or 0.01% of the largest one. The gradient tests show it by
//! building such wrong gradients and asserting that `mismatch` rejects them.

use kiln::{Device, Result, Tensor};

use super::reference::T64;
use super::{assert_close, randn_away_from_zero, tensor, values};

pub const EPS: f64 = 1e-6;
pub const RTOL: f64 = 1e-3;
pub const ATOL: f64 = 1e-4;

/// One input of a checked op: its f32 numbers (the device and the f64 reference read the same
/// values) and whether it requires grad (then its gradient is checked; else it must get none).
#[derive(Clone, Debug)]
pub struct Input {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
    pub grad: bool,
}

impl Input {
    /// The same numbers, without gradient (targets, running statistics, frozen parameters).
    pub fn frozen(self) -> Input {
        Input { grad: false, ..self }
    }

    /// Each value transformed (e.g. moved away from clamp's bounds).
    pub fn map(self, f: impl Fn(f32) -> f32) -> Input {
        Input { data: self.data.iter().map(|&v| f(v)).collect(), ..self }
    }

    pub fn t64(&self) -> T64 {
        T64::new(&self.shape, self.data.iter().map(|&v| v as f64).collect())
    }
}

/// Normal numbers at least 0.2 away from 0 (relu's kink), requiring grad.
pub fn var(shape: &[usize], seed: u64) -> Input {
    Input { shape: shape.to_vec(), data: randn_away_from_zero(shape, seed, 0.2), grad: true }
}

/// Numbers at least 0.5 (for log, division and fractional powers).
pub fn positive(shape: &[usize], seed: u64) -> Input {
    var(shape, seed).map(|v| v.abs() + 0.3)
}

/// Distinct numbers at least 0.05 apart, in shuffled order: no ties for max and max_pool2d.
pub fn distinct(shape: &[usize], seed: u64) -> Input {
    let keys = randn_away_from_zero(shape, seed, 0.0);
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    let mut data = vec![0.0; keys.len()];
    for (rank, &position) in order.iter().enumerate() {
        data[position] = (rank as f32 - keys.len() as f32 / 2.0) * 0.05;
    }
    Input { shape: shape.to_vec(), data, grad: true }
}

/// Given numbers, without gradient.
pub fn fixed(shape: &[usize], data: &[f32]) -> Input {
    Input { shape: shape.to_vec(), data: data.to_vec(), grad: false }
}

/// The loss weights w for an output shape (fixed seed: the same on every device).
pub fn loss_weights(shape: &[usize]) -> Vec<f32> {
    randn_away_from_zero(shape, 5, 0.1)
}

/// Σ_k w_k y_k.
pub fn weighted_sum(y: &T64, w: &[f64]) -> f64 {
    assert_eq!(y.data.len(), w.len(), "one weight per output");
    y.data.iter().zip(w).map(|(y, w)| y * w).sum()
}

/// Central differences of Σ w · reference(inputs) with respect to every element of input
/// `which`, in f64.
pub fn numeric_gradient(inputs: &[T64], which: usize, w: &[f64], reference: &dyn Fn(&[T64]) -> T64) -> Vec<f64> {
    let mut moved = inputs.to_vec();
    (0..inputs[which].data.len())
        .map(|j| {
            let mut loss_at = |delta: f64| {
                moved[which].data[j] = inputs[which].data[j] + delta;
                weighted_sum(&reference(&moved), w)
            };
            let (up, down) = (loss_at(EPS), loss_at(-EPS));
            moved[which].data[j] = inputs[which].data[j];
            (up - down) / (2.0 * EPS)
        })
        .collect()
}

/// The largest |analytic - numeric| / allowed over the elements (<= 1 passes), and where.
pub fn worst_ratio(analytic: &[f64], numeric: &[f64]) -> (f64, usize) {
    assert_eq!(analytic.len(), numeric.len(), "one derivative per element");
    let scale = numeric.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let ratio = |j: usize| {
        let allowed = RTOL * numeric[j].abs() + ATOL * scale;
        let error = (analytic[j] - numeric[j]).abs();
        if error == 0.0 {
            0.0
        } else if analytic[j].is_finite() {
            error / allowed
        } else {
            f64::INFINITY
        }
    };
    (0..numeric.len()).map(|j| (ratio(j), j)).fold((0.0, 0), |best, r| if r.0 > best.0 { r } else { best })
}

/// None when the gradients agree within the tolerance; else the worst element, described.
pub fn mismatch(analytic: &[f64], numeric: &[f64]) -> Option<String> {
    let (ratio, j) = worst_ratio(analytic, numeric);
    (ratio > 1.0).then(|| format!("element {j} is {} analytically, {} numerically ({ratio:.3e} x the tolerance)", analytic[j], numeric[j]))
}

/// Checks op's forward against `reference` and every gradient `backward()` gives against central
/// differences of the reference, on `device`. Inputs without gradient must get none.
pub fn check(device: &Device, name: &str, inputs: &[Input], op: impl Fn(&[Tensor]) -> Result<Tensor>, reference: impl Fn(&[T64]) -> T64) {
    let backend = device.info().backend;
    let leaves: Vec<Tensor> = inputs.iter().map(|i| tensor(&i.data, &i.shape, device).with_requires_grad(i.grad)).collect();
    let y = op(&leaves).unwrap_or_else(|e| panic!("{name} on {backend}: {}", e.message()));
    let x64: Vec<T64> = inputs.iter().map(Input::t64).collect();
    let expected = reference(&x64);
    assert_eq!(y.shape(), expected.shape, "{name} on {backend}: output shape");
    let expected32: Vec<f32> = expected.data.iter().map(|&v| v as f32).collect();
    assert_close(&values(&y), &expected32, 1e-4, &format!("{name} on {backend}: forward vs the f64 reference"));

    let w = loss_weights(y.shape());
    y.mul(&tensor(&w, y.shape(), device)).unwrap().sum().unwrap().backward().unwrap();
    let w64: Vec<f64> = w.iter().map(|&v| v as f64).collect();
    for (which, input) in inputs.iter().enumerate() {
        let grad = leaves[which].grad();
        if !input.grad {
            assert!(grad.is_none(), "{name} on {backend}: input {which} requires no grad but got one");
            continue;
        }
        let grad = grad.unwrap_or_else(|| panic!("{name} on {backend}: input {which} got no gradient"));
        let analytic: Vec<f64> = values(&grad).iter().map(|&v| v as f64).collect();
        let numeric = numeric_gradient(&x64, which, &w64, &reference);
        if let Some(why) = mismatch(&analytic, &numeric) {
            panic!("{name} on {backend}: d loss / d input {which}: {why}");
        }
    }
}

/// The analytic gradients kiln computes on `device` for L = Σ w y (w from `loss_weights`), one
/// per input (empty for inputs without gradient), in f64.
pub fn analytic_gradients(device: &Device, inputs: &[Input], op: impl Fn(&[Tensor]) -> Result<Tensor>) -> Vec<Vec<f64>> {
    let leaves: Vec<Tensor> = inputs.iter().map(|i| tensor(&i.data, &i.shape, device).with_requires_grad(i.grad)).collect();
    let y = op(&leaves).unwrap();
    y.mul(&tensor(&loss_weights(y.shape()), y.shape(), device)).unwrap().sum().unwrap().backward().unwrap();
    leaves.iter().map(|l| l.grad().map(|g| values(&g).iter().map(|&v| v as f64).collect()).unwrap_or_default()).collect()
}
