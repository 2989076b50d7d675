//! fastai's learning-rate finder on a Learner.

use super::clock::yield_to_event_loop;
use super::snapshot::Snapshot;
use super::{Learner, Progress};
use crate::error::{Error, Result};
use crate::lr_find::{suggest, Suggestions};
use crate::rng::Pcg32;
use crate::schedule::{lr_find_rate, SmoothedLoss};

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
        self.optimizer = Some(self.build_optimizer()?);
        self.set_training(true);
        let (mut lrs, mut losses) = (Vec::new(), Vec::new());
        let mut smooth = SmoothedLoss::default();
        let mut best = f64::INFINITY;
        let mut rng = Pcg32::new(self.next_seed());
        'sweep: loop {
            let seed = self.next_seed();
            for indices in self.data.train_batches(self.batch_size, seed) {
                let lr = lr_find_rate(start, end, lrs.len(), num_it);
                Self::set_rates(self.optimizer.as_mut().expect("created above"), &[lr; 3], 0.9);
                let (loss_tensor, loss) = self.batch_loss(&indices, &mut rng).await?;
                if loss.is_finite() {
                    self.step(&loss_tensor)?; // never step on a NaN
                }
                let smoothed = smooth.push(loss);
                lrs.push(lr);
                losses.push(smoothed);
                best = best.min(smoothed);
                self.report(Progress::LrFind { iteration: lrs.len(), iterations: num_it, lr, smoothed });
                yield_to_event_loop().await;
                let stop = self.stop_requested.replace(false);
                if stop || lrs.len() >= num_it || !smoothed.is_finite() || smoothed > 4.0 * best {
                    break 'sweep;
                }
            }
        }
        saved.restore()?;
        self.optimizer = saved_optimizer;
        let suggestions = suggest(&lrs, &losses, num_it)?;
        Ok((lrs, losses, suggestions))
    }
}
