//! fastai's learning-rate finder on a Learner.

use super::clock::yield_to_event_loop;
use super::losses::{detached, read_joined, LOSS_BLOCK};
use super::snapshot::Snapshot;
use super::{Learner, Progress};
use crate::error::{Error, Result};
use crate::lr_find::{suggest, Suggestions};
use crate::rng::Pcg32;
use crate::schedule::{lr_find_rate, SmoothedLoss};
use crate::tensor::Tensor;

/// What a sweep has recorded: each tried rate with the smoothed loss after it.
#[derive(Default)]
struct Sweep {
    lrs: Vec<f64>,
    losses: Vec<f64>,
    smooth: SmoothedLoss,
    best: f64,
}

impl Learner {
    /// fastai's lr_find: up to `num_it` batches with the rate growing from start to end
    /// exponentially, stopping when the smoothed loss exceeds 4x its best; then every weight and
    /// the optimizer state are restored. A stop request ends the sweep early. Returns (rates, smoothed losses, suggestions).
    pub async fn lr_find(&mut self, start: f64, end: f64, num_it: usize) -> Result<(Vec<f64>, Vec<f64>, Suggestions)> {
        if !(start > 0.0 && end > start && end.is_finite()) || num_it == 0 {
            let detail = format!("needs 0 < start < end and at least one iteration, got start {start}, end {end}, {num_it} iterations");
            return Err(Error::new("lr_find", detail));
        }
        self.check_batches("lr_find")?;
        let saved = Snapshot::take(self.state())?;
        let saved_optimizer = self.optimizer.take();
        let swept = self.sweep(start, end, num_it).await;
        // On every path, errors included: the sweep trains at rates far too high, and since it
        // reads its losses a block late, it may even have stepped on a NaN loss.
        saved.restore()?;
        self.optimizer = saved_optimizer;
        let Sweep { lrs, losses, .. } = swept?;
        let suggestions = suggest(&lrs, &losses, num_it)?;
        Ok((lrs, losses, suggestions))
    }

    /// Trains at growing rates, reading the losses a block at a time (`LOSS_BLOCK`) and at each
    /// epoch's end; the batches trained past the end of the sweep are not recorded.
    async fn sweep(&mut self, start: f64, end: f64, num_it: usize) -> Result<Sweep> {
        self.optimizer = Some(self.build_optimizer()?);
        self.set_training(true);
        let mut sweep = Sweep { best: f64::INFINITY, ..Sweep::default() };
        let mut pending: Vec<(f64, Tensor)> = Vec::with_capacity(LOSS_BLOCK);
        let mut rng = Pcg32::new(self.next_seed());
        loop {
            // Reading at each epoch's end keeps the sweep from starting an epoch (and drawing
            // its seed) past where it ends, so the seeds of later fits stay as they were.
            let seed = self.next_seed();
            let batches = self.data.train_batches(self.batch_size, seed);
            for (b, indices) in batches.iter().enumerate() {
                let tried = sweep.lrs.len() + pending.len();
                let lr = lr_find_rate(start, end, tried, num_it);
                Self::set_rates(self.optimizer.as_mut().expect("created above"), &[lr; 3], 0.9);
                let loss = self.batch_loss(indices, &mut rng)?;
                self.step(&loss)?;
                pending.push((lr, detached(&loss)?));
                yield_to_event_loop().await;
                let stop = self.stop_requested.replace(false);
                let last = stop || tried + 1 == num_it;
                let read_now = last || pending.len() == LOSS_BLOCK || b + 1 == batches.len();
                if read_now && (self.record_sweep(&mut sweep, std::mem::take(&mut pending), num_it).await? || last) {
                    return Ok(sweep);
                }
            }
        }
    }

    /// Reads `pending` (rate, loss) pairs (one readback) and records them in order, until the
    /// sweep ends: at `num_it` rates, a stop request, or a smoothed loss that is not finite or
    /// exceeds 4x the best. True when it has ended.
    async fn record_sweep(&mut self, sweep: &mut Sweep, pending: Vec<(f64, Tensor)>, num_it: usize) -> Result<bool> {
        let (lrs, losses): (Vec<f64>, Vec<Tensor>) = pending.into_iter().unzip();
        for (lr, loss) in lrs.into_iter().zip(read_joined(losses).await?) {
            let smoothed = sweep.smooth.push(loss as f64);
            sweep.lrs.push(lr);
            sweep.losses.push(smoothed);
            sweep.best = sweep.best.min(smoothed);
            self.report(Progress::LrFind { iteration: sweep.lrs.len(), iterations: num_it, lr, smoothed });
            let stop = self.stop_requested.replace(false);
            if stop || sweep.lrs.len() >= num_it || !smoothed.is_finite() || smoothed > 4.0 * sweep.best {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
