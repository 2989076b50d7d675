//! A copy of a model's parameters and buffers, on the same device, to go back to: after lr_find,
//! and when training diverges (the weights that last gave a finite, sane loss).

use crate::error::Result;
use crate::nn::NamedTensor;
use crate::tensor::Tensor;

pub(super) struct Snapshot {
    /// (the saved copy, the model's tensor)
    pairs: Vec<(Tensor, Tensor)>,
}

impl Snapshot {
    /// Copies `state` now.
    pub(super) fn take(state: Vec<NamedTensor>) -> Result<Self> {
        let mut pairs = Vec::with_capacity(state.len());
        for t in state {
            pairs.push((t.tensor.copy()?, t.tensor));
        }
        Ok(Snapshot { pairs })
    }

    /// Copies the model's current values over the saved ones.
    pub(super) fn refresh(&self) -> Result<()> {
        self.pairs.iter().try_for_each(|(copy, live)| copy.assign(&live.copy()?))
    }

    /// Puts the saved values back into the model.
    pub(super) fn restore(&self) -> Result<()> {
        self.pairs.iter().try_for_each(|(copy, live)| live.assign(&copy.copy()?))
    }

    /// Whether every saved number is finite (reads them all back: for rare checks only).
    pub(super) async fn all_finite(&self) -> Result<bool> {
        for (copy, _) in &self.pairs {
            if !copy.to_vec().await?.iter().all(|v| v.is_finite()) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
