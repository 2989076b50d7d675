//! What each of fastai's fits sets before every batch, as one value the training loop runs and the
//! page previews (`schedule`, `Learner::schedule`): both always show the same schedule. The formulas are in
//! `crate::schedule`.

use super::Learner;
use crate::error::{Error, Result};
use crate::schedule::{sgdr, LearningRate, OneCycle};

/// The most batches a schedule is worked out for (a preview of more says nothing a person can see).
const MOST_BATCHES: usize = 1_000_000;

/// The Learner's layer groups: early body, late body, head.
pub const GROUPS: usize = 3;

/// One fit, as fastai's fit_one_cycle, fit and fit_sgdr take it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fit {
    /// fit_one_cycle(epochs, lr_max, pct_start, div): warm up, then anneal; momentum the other way.
    OneCycle { epochs: usize, pct_start: f64, div: f64 },
    /// fit(epochs, lr): constant rates, Adam's default momentum 0.9.
    Constant { epochs: usize },
    /// fit_sgdr(cycles, cycle_len, lr_max, cycle_mult): cosine cycles from lr_max to 0, each
    /// cycle_mult times longer than the one before; momentum 0.9.
    Sgdr { cycles: usize, cycle_len: usize, cycle_mult: usize },
}

/// Each layer group's (learning rate, momentum) at a position pos in [0, 1) of a fit.
pub type Rates = Box<dyn Fn(f64) -> Vec<(f64, f64)>>;

impl Fit {
    /// fastai's name for it, which errors and the page use.
    pub fn name(&self) -> &'static str {
        match self {
            Fit::OneCycle { .. } => "fit_one_cycle",
            Fit::Constant { .. } => "fit",
            Fit::Sgdr { .. } => "fit_sgdr",
        }
    }

    /// Epochs it trains for (SGDR's: the cycles' lengths added up; `check` first, or they may overflow).
    pub fn epochs(&self) -> usize {
        match *self {
            Fit::OneCycle { epochs, .. } | Fit::Constant { epochs } => epochs,
            Fit::Sgdr { cycles, cycle_len, cycle_mult } => sgdr(cycles, cycle_len, 1.0, cycle_mult).1,
        }
    }

    /// Refuses a fit of no epoch, and SGDR settings of no cycle or of more epochs than anyone
    /// means (2^20: the lengths would also overflow).
    pub fn check(&self) -> Result<()> {
        if let Fit::Sgdr { cycles, cycle_len, cycle_mult } = *self {
            if cycles == 0 || cycle_len == 0 || cycle_mult == 0 {
                return Err(Error::new(self.name(), "cycles, cycle_len and cycle_mult must be at least 1"));
            }
            let total: f64 = (0..cycles.min(64)).map(|i| cycle_len as f64 * (cycle_mult as f64).powi(i as i32)).sum();
            if cycles > 64 || total > (1 << 20) as f64 {
                return Err(Error::new(self.name(), format!("{cycles} cycles would last {total:.0} epochs or more")));
            }
        }
        if self.epochs() == 0 {
            return Err(Error::new(self.name(), "needs at least one epoch"));
        }
        Ok(())
    }

    /// The schedule with the rate `lr` (one per group, or fastai's slice), once `check`ed; refuses
    /// rates that are not positive.
    pub fn rates(&self, lr: LearningRate) -> Result<Rates> {
        self.check()?;
        let groups = lr.per_group(GROUPS)?;
        Ok(match *self {
            Fit::OneCycle { pct_start, div, .. } => {
                let cycles: Vec<OneCycle> = groups.iter().map(|&r| OneCycle { pct_start, div, ..OneCycle::new(r) }).collect();
                Box::new(move |pos| cycles.iter().map(|c| (c.lr().at(pos), c.momentum().at(pos))).collect())
            }
            Fit::Constant { .. } => Box::new(move |_| groups.iter().map(|&r| (r, 0.9)).collect()),
            Fit::Sgdr { cycles, cycle_len, cycle_mult } => {
                let schedules: Vec<_> = groups.iter().map(|&r| sgdr(cycles, cycle_len, r, cycle_mult).0).collect();
                Box::new(move |pos| schedules.iter().map(|s| (s.at(pos), 0.9)).collect())
            }
        })
    }
}

/// fastai's fine_tune(epochs, base_lr) as its two fits: one frozen epoch at slice(base_lr)
/// (pct_start 0.99), then, unfrozen, `epochs` at slice(base_lr / 2 / 100, base_lr / 2)
/// (pct_start 0.3, div 5).
pub fn fine_tune(epochs: usize, base_lr: f64) -> [(Fit, LearningRate); 2] {
    let half = base_lr / 2.0;
    [
        (Fit::OneCycle { epochs: 1, pct_start: 0.99, div: 25.0 }, LearningRate::UpTo(base_lr)),
        (Fit::OneCycle { epochs, pct_start: 0.3, div: 5.0 }, LearningRate::Range(half / 100.0, half)),
    ]
}

/// The head's (learning rate, momentum) before each batch of the training that `fits` would run
/// one after the other, with `per_epoch` batches an epoch (at least 1).
pub fn schedule(fits: &[(Fit, LearningRate)], per_epoch: usize) -> Result<Vec<(f64, f64)>> {
    if per_epoch == 0 {
        return Err(Error::new("schedule", "an epoch needs at least one batch"));
    }
    fits.iter().try_for_each(|(fit, _)| fit.check())?;
    let total: usize = fits.iter().map(|(fit, _)| fit.epochs().saturating_mul(per_epoch)).sum();
    if total > MOST_BATCHES {
        return Err(Error::new("schedule", format!("{total} batches are more than the {MOST_BATCHES} a schedule is worked out for")));
    }
    let mut out = Vec::with_capacity(total);
    for &(fit, lr) in fits {
        let rates = fit.rates(lr)?;
        // As the training loop: batch k of the fit's N is at position k / N.
        let batches = fit.epochs() * per_epoch;
        out.extend((0..batches).map(|k| *rates(k as f64 / batches as f64).last().expect("one rate per layer group")));
    }
    Ok(out)
}

impl Learner {
    /// `schedule` on this Learner's data and batch size.
    pub fn schedule(&self, fits: &[(Fit, LearningRate)]) -> Result<Vec<(f64, f64)>> {
        self.check_batches("schedule")?;
        schedule(fits, self.batches_per_epoch())
    }

    /// Batches in an epoch: the last incomplete batch is dropped (fastai's drop_last).
    pub fn batches_per_epoch(&self) -> usize {
        self.data.train.len() / self.batch_size
    }
}
