//! fastai's learning-rate suggestions from an lr_find record (fastai 2.x, callback/schedule.py).
//! The record is first cut to [num_it / 10 .. len - 5] (the noisy start and the explosion at the
//! end), and at its first NaN.

use crate::error::{Error, ErrorKind, Result};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Suggestions {
    /// The rate at the lowest loss, divided by 10.
    pub minimum: f64,
    /// Where the loss falls fastest (steepest negative slope against log lr).
    pub steep: f64,
    /// fastai's default: part way along the longest run of decreasing loss.
    pub valley: f64,
    /// Where the slope stops changing much, sliding left from the end.
    pub slide: f64,
}

pub fn suggest(lrs: &[f64], losses: &[f64], num_it: usize) -> Result<Suggestions> {
    if lrs.len() != losses.len() {
        return Err(Error::new("lr_find", format!("{} rates but {} losses", lrs.len(), losses.len())));
    }
    let end = losses.iter().position(|l| l.is_nan()).unwrap_or(losses.len()).min(losses.len().saturating_sub(5));
    let start = num_it / 10;
    if end < start + 2 {
        return Err(too_few(losses, num_it));
    }
    let (lrs, losses) = (&lrs[start..end], &losses[start..end]);
    let argmin = |values: &[f64]| values.iter().enumerate().fold(0, |best, (i, &v)| if v < values[best] { i } else { best });

    let minimum = lrs[argmin(losses)] / 10.0;
    // Slope of the loss against ln(lr) between neighbouring records.
    let slopes: Vec<f64> = (0..losses.len() - 1).map(|i| (losses[i + 1] - losses[i]) / (lrs[i + 1].ln() - lrs[i].ln())).collect();
    let steep = lrs[argmin(&slopes)];

    // lds[i]: the length of the longest strictly decreasing run of losses ending at i (O(n^2)).
    let n = losses.len();
    let mut lds = vec![1usize; n];
    for i in 1..n {
        for j in 0..i {
            if losses[i] < losses[j] && lds[i] < lds[j] + 1 {
                lds[i] = lds[j] + 1;
            }
        }
    }
    let max_end = lds.iter().enumerate().fold(0, |best, (i, &v)| if v > lds[best] { i } else { best });
    // fastai sets max_start = max_end - lds[max_end] only when it moves max_end off 0 (so a run
    // from index 0 gives -1), in Python's arithmetic, where an index of -1 is the last record.
    let at = |offset: isize| (offset + if offset < 0 { n as isize } else { 0 }) as usize;
    let max_start = if max_end == 0 { 0 } else { max_end as isize - lds[max_end] as isize };
    let sections = (max_end as isize - max_start) as f64 / 3.0;
    let valley = lrs[at(max_start + sections as isize + (sections / 2.0) as isize)];

    // numpy.gradient: central differences inside, one-sided at the ends.
    let gradient: Vec<f64> = (0..n)
        .map(|i| match i {
            0 => losses[1] - losses[0],
            i if i == n - 1 => losses[n - 1] - losses[n - 2],
            i => (losses[i + 1] - losses[i - 1]) / 2.0,
        })
        .collect();
    let (mut right, mut left) = (-1isize, -16isize);
    let mut slide = lrs[at(left.max(-(n as isize)))];
    while left >= -(n as isize) && (gradient[at(right)] - gradient[at(left)]).abs() > 0.005 {
        slide = lrs[at(left)];
        right -= 1;
        left -= 1;
    }
    Ok(Suggestions { minimum, steep, valley, slide })
}

/// Why a record is too short to suggest from: a sweep cut short (a loss that became NaN or
/// exploded at once) diverged; a full sweep of very few iterations is a bad request.
fn too_few(losses: &[f64], num_it: usize) -> Error {
    let detail = "too few recorded batches to suggest a learning rate";
    if losses.len() < num_it || losses.iter().any(|l| !l.is_finite()) {
        let why = format!("{detail}: the loss diverged after {} batch(es); try a smaller start rate", losses.len());
        Error::of(ErrorKind::Diverged, "lr_find", why)
    } else {
        Error::new("lr_find", format!("{detail}: {num_it} iterations leave too few once the first tenth and the last 5 are dropped"))
    }
}
