//! `kiln.Learner`'s schedules from JavaScript: what a fit would set before each batch, for the
//! page's preview. (The fits themselves: learner.rs.)

use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::interop::{bad_input, js_object};
use super::learner::JsLearner;
use super::options::{self, learning_rate, ScheduleOptions};
use crate::learner::plan::{fine_tune, Fit};
use crate::schedule::LearningRate;

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
        let op = "schedule";
        let ScheduleOptions { epochs, cycles, cycle_len, cycle_mult, pct_start, div } = options::read(op, &options)?;
        let lr = learning_rate(&lr, op)?;
        let fits = match method.as_str() {
            "fit_one_cycle" => vec![(Fit::OneCycle { epochs, pct_start, div }, lr)],
            "fit" => vec![(Fit::Constant { epochs }, lr)],
            "fit_sgdr" => vec![(Fit::Sgdr { cycles, cycle_len, cycle_mult }, lr)],
            "fine_tune" => match lr {
                LearningRate::Single(base_lr) => fine_tune(epochs, base_lr).to_vec(),
                _ => return Err(bad_input(op, "fine_tune takes one base learning rate (it makes its own slice)").into()),
            },
            other => return Err(bad_input(op, format!("unknown method '{other}'; use fit_one_cycle, fine_tune, fit or fit_sgdr")).into()),
        };
        let (points, per_epoch) = self.with(op, |l| Ok((l.schedule(&fits)?, l.batches_per_epoch())))?;
        let column = |pick: fn(&(f64, f64)) -> f64| points.iter().map(|p| JsValue::from(pick(p))).collect::<Array>();
        let epochs: usize = fits.iter().map(|(fit, _)| fit.epochs()).sum();
        Ok(js_object(&[
            ("lrs", column(|p| p.0).into()),
            ("moms", column(|p| p.1).into()),
            ("epochs", epochs.into()),
            ("batchesPerEpoch", per_epoch.into()),
        ]))
    }
}
