//! The training loop's batch losses, kept on the device and read back a block at a time.
//!
//! Reading a loss as soon as its batch is recorded would cost, on the GPU, a full round trip per
//! batch (submit, wait for the GPU to drain, map the buffer) before the next batch can even be
//! recorded, leaving the GPU idle while the CPU records and the CPU idle while the GPU runs. So
//! each batch's loss stays a scalar on the device; a block of them is joined into one tensor and
//! read with one readback, and only then bookkept, in order: smoothed loss, recorder, progress
//! reports, and the check for divergence (which therefore comes up to a block late; the weights
//! then go back to a snapshot, so the steps taken on a bad loss meanwhile do no harm).

use super::snapshot::Snapshot;
use super::{FitOutcome, Learner, Progress, EXPLOSION_WARMUP_BATCHES};
use crate::error::Result;
use crate::schedule::SmoothedLoss;
use crate::tensor::{no_grad, Tensor};

/// Batches whose losses wait on the device before one readback. 16 makes readbacks rare (one
/// per 16 batches instead of one each) while bounding how far the CPU runs ahead of the GPU
/// (the queued work, and the buffers it holds), how late a diverging loss is noticed (16
/// batches of wasted work at most) and how long the page's live chart waits for news.
pub(super) const LOSS_BLOCK: usize = 16;

/// A batch's loss as a one-element tensor cut from the autograd graph: it shares the loss's
/// storage (no copy) but not its graph, so keeping it keeps no activation alive.
pub(super) fn detached(loss: &Tensor) -> Result<Tensor> {
    no_grad(|| loss.reshape(&[1]))
}

/// Joins `parts` along their first axis and reads the whole with ONE readback (nothing for no
/// parts). The parts are joined pairwise, round after round, so each number is copied about
/// log2(parts) times rather than once per later part.
pub(super) async fn read_joined(mut parts: Vec<Tensor>) -> Result<Vec<f32>> {
    while parts.len() > 1 {
        let pairs = parts.chunks(2).map(|pair| match pair {
            [a, b] => a.concat(b, 0),
            single => Ok(single[0].clone()),
        });
        parts = no_grad(|| pairs.collect::<Result<Vec<_>>>())?;
    }
    match parts.pop() {
        Some(joined) => joined.to_vec().await,
        None => Ok(Vec::new()),
    }
}

/// A trained batch whose loss is still on the device: what its bookkeeping will report.
pub(super) struct TrainedBatch {
    pub epoch: usize,
    pub batch: usize,
    pub batches: usize,
    /// The last layer group's rate.
    pub lr: f64,
    pub momentum: f64,
}

/// One fit's record of its batch losses: the smoothed loss, the best so far, and the batches
/// trained but not yet read back.
pub(super) struct LossBook {
    smooth: SmoothedLoss,
    best: f64,
    /// A uniform guess's loss, ln(classes): explosions count only far above it.
    uniform_guess_loss: f64,
    /// Batches bookkept so far in this fit.
    counted: usize,
    pending: Vec<(TrainedBatch, Tensor)>,
}

impl LossBook {
    pub(super) fn new(classes: usize) -> Self {
        LossBook {
            smooth: SmoothedLoss::default(),
            best: f64::INFINITY,
            uniform_guess_loss: (classes as f64).ln(),
            counted: 0,
            pending: Vec::new(),
        }
    }

    /// The smoothed training loss of the batches bookkept so far.
    pub(super) fn smoothed(&self) -> f64 {
        self.smooth.value()
    }

    /// Keeps a trained batch's loss until the next read; true once a block is waiting.
    pub(super) fn push(&mut self, batch: TrainedBatch, loss: &Tensor) -> Result<bool> {
        self.pending.push((batch, detached(loss)?));
        Ok(self.pending.len() >= LOSS_BLOCK)
    }
}

impl Learner {
    /// Reads the pending losses (one readback) and bookkeeps each batch in order. At the first
    /// loss that is not finite or has exploded, the weights go back to `last_good` (the end of
    /// the last validated epoch) or, if its numbers are no longer finite, to `fit_start`; the
    /// optimizer's state is dropped and the outcome says where it happened (later batches are
    /// not recorded). None when every loss was sane.
    pub(super) async fn settle_losses(
        &mut self,
        book: &mut LossBook,
        fit_start: &Snapshot,
        last_good: &Snapshot,
    ) -> Result<Option<FitOutcome>> {
        let pending = std::mem::take(&mut book.pending);
        let values = read_joined(pending.iter().map(|(_, loss)| loss.clone()).collect()).await?;
        for ((b, _), value) in pending.iter().zip(values) {
            let loss = value as f64;
            let smoothed = book.smooth.push(loss);
            // The first few smoothed values swing with single noisy batches (small batches,
            // augmentation), so an explosion only counts once the average has settled, and
            // only far above a uniform guess's loss.
            let settled = book.counted >= EXPLOSION_WARMUP_BATCHES;
            if !loss.is_finite() || (settled && smoothed > 4.0 * book.best.max(book.uniform_guess_loss)) {
                // If overflowing activations had already made the last good batch-norm
                // statistics infinite, only the fit's start is safe. (Snapshots are taken per
                // epoch, not per batch: on a software GPU each copy is a slow dispatch.)
                let fallback = if last_good.all_finite().await? { last_good } else { fit_start };
                fallback.restore()?;
                self.optimizer = None;
                let why = format!("the loss became {loss:.3e} at epoch {}, batch {}: the learning rate is too high", b.epoch, b.batch);
                return Ok(Some(FitOutcome::Diverged(why)));
            }
            book.counted += 1;
            book.best = book.best.min(smoothed);
            self.recorder.losses.push(smoothed);
            self.recorder.lrs.push(b.lr);
            self.recorder.moms.push(b.momentum);
            let progress =
                Progress::Batch { epoch: b.epoch, batch: b.batch, batches: b.batches, loss, smoothed, lr: b.lr, momentum: b.momentum };
            self.report(progress);
        }
        Ok(None)
    }
}
