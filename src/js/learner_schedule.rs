//! Schedules and lr_find's suggestions from JavaScript: what a fit would set before each batch
//! (`learner.schedule` on a Learner's data, `kiln.schedule` for any number of batches an epoch,
//! as the lesson widgets draw it), and fastai's four suggestions on any loss curve
//! (`kiln.lrSuggestions`). (The fits themselves: learner.rs.)

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::interop::{bad_input, js_error, js_object};
use super::learner::JsLearner;
use super::options::{self, learning_rate, ScheduleOptions};
use crate::learner::plan::{self, fine_tune, Fit};
use crate::lr_find::{suggest, Suggestions};
use crate::schedule::LearningRate;

/// The fits `method` runs with `lr` and these options (fine_tune: its two).
fn fits_of(op: &str, method: &str, lr: &JsValue, options: &JsValue) -> Result<Vec<(Fit, LearningRate)>, JsValue> {
    let ScheduleOptions { epochs, cycles, cycle_len, cycle_mult, pct_start, div } = options::read(op, options)?;
    let lr = learning_rate(lr, op)?;
    Ok(match method {
        "fit_one_cycle" => vec![(Fit::OneCycle { epochs, pct_start, div }, lr)],
        "fit" => vec![(Fit::Constant { epochs }, lr)],
        "fit_sgdr" => vec![(Fit::Sgdr { cycles, cycle_len, cycle_mult }, lr)],
        "fine_tune" => match lr {
            LearningRate::Single(base_lr) => fine_tune(epochs, base_lr).to_vec(),
            _ => return Err(bad_input(op, "fine_tune takes one base learning rate (it makes its own slice)").into()),
        },
        other => return Err(bad_input(op, format!("unknown method '{other}'; use fit_one_cycle, fine_tune, fit or fit_sgdr")).into()),
    })
}

/// `{lrs, moms, epochs, batchesPerEpoch}` for the (rate, momentum) `points` of `fits`.
fn schedule_object(points: &[(f64, f64)], fits: &[(Fit, LearningRate)], per_epoch: usize) -> JsValue {
    let column = |pick: fn(&(f64, f64)) -> f64| points.iter().map(|p| JsValue::from(pick(p))).collect::<Array>();
    let epochs: usize = fits.iter().map(|(fit, _)| fit.epochs()).sum();
    js_object(&[
        ("lrs", column(|p| p.0).into()),
        ("moms", column(|p| p.1).into()),
        ("epochs", epochs.into()),
        ("batchesPerEpoch", per_epoch.into()),
    ])
}

#[wasm_bindgen(js_class = Learner)]
impl JsLearner {
    /// `schedule(method, lr, {epochs = 1, cycles = 1, cycleLen = 1, cycleMult = 1, pctStart =
    /// 0.25, div = 25})` → `{lrs, moms, epochs, batchesPerEpoch}`: the head's learning rate and
    /// the momentum before each batch of the training that `fitOneCycle`, `fineTune` (lr: its
    /// base rate), `fit` or `fitSgdr` would run with these settings, on this Learner's data.
    #[wasm_bindgen(unchecked_return_type = "{lrs: number[], moms: number[], epochs: number, batchesPerEpoch: number}")]
    pub fn schedule(
        &self,
        #[wasm_bindgen(unchecked_param_type = "'fit_one_cycle' | 'fine_tune' | 'fit' | 'fit_sgdr'")] method: String,
        #[wasm_bindgen(unchecked_param_type = "number | number[]")] lr: JsValue,
        #[wasm_bindgen(
            unchecked_param_type = "{epochs?: number, cycles?: number, cycleLen?: number, cycleMult?: number, pctStart?: number, div?: number}"
        )]
        options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let fits = fits_of("schedule", &method, &lr, &options)?;
        let (points, per_epoch) = self.with("schedule", |l| Ok((l.schedule(&fits)?, l.batches_per_epoch())))?;
        Ok(schedule_object(&points, &fits, per_epoch))
    }
}

/// `kiln.schedule(method, lr, batchesPerEpoch, options)`: `learner.schedule` without a Learner,
/// for `batchesPerEpoch` batches an epoch (what a dataset of that many batches would give).
#[wasm_bindgen(js_name = schedule, unchecked_return_type = "{lrs: number[], moms: number[], epochs: number, batchesPerEpoch: number}")]
pub fn schedule_of(
    #[wasm_bindgen(unchecked_param_type = "'fit_one_cycle' | 'fine_tune' | 'fit' | 'fit_sgdr'")] method: String,
    #[wasm_bindgen(unchecked_param_type = "number | number[]")] lr: JsValue,
    #[wasm_bindgen(js_name = batchesPerEpoch)] batches_per_epoch: u32,
    #[wasm_bindgen(
        unchecked_param_type = "{epochs?: number, cycles?: number, cycleLen?: number, cycleMult?: number, pctStart?: number, div?: number}"
    )]
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let fits = fits_of("schedule", &method, &lr, &options)?;
    let per_epoch = batches_per_epoch as usize;
    let points = plan::schedule(&fits, per_epoch).map_err(js_error)?;
    Ok(schedule_object(&points, &fits, per_epoch))
}

/// `{valley, steep, minimum, slide}`, the object `lrFind` and `lrSuggestions` give.
pub(super) fn suggestions_object(s: &Suggestions) -> JsValue {
    js_object(&[("valley", s.valley.into()), ("steep", s.steep.into()), ("minimum", s.minimum.into()), ("slide", s.slide.into())])
}

/// `kiln.lrSuggestions(lrs, losses)` → `{valley, steep, minimum, slide}`: fastai's four
/// suggestions on a loss curve recorded elsewhere (or made up, to teach how they are read), as
/// `lrFind` makes them from its own sweep (the first tenth and the last 5 records left out).
#[wasm_bindgen(js_name = lrSuggestions, unchecked_return_type = "{valley: number, steep: number, minimum: number, slide: number}")]
pub fn lr_suggestions(lrs: Vec<f64>, losses: Vec<f64>) -> Result<JsValue, JsValue> {
    if lrs.iter().any(|&lr| !(lr > 0.0 && lr.is_finite())) {
        return Err(bad_input("lrSuggestions", "every learning rate must be a positive number").into());
    }
    let s = suggest(&lrs, &losses, lrs.len()).map_err(js_error)?;
    Ok(suggestions_object(&s))
}
