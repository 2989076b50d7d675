//! The timing loop every benchmark shares (included with `#[path]`; benches are separate crates).

use std::time::{Duration, Instant};

/// Median seconds per call of `f`, after one warm-up call (caches, pipelines, buffer pool), over
/// at least 3 and at most `max_runs` calls, as many as fit in about `budget`.
pub fn median_seconds(budget: Duration, max_runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times = vec![];
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed() < budget && times.len() < max_runs) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
