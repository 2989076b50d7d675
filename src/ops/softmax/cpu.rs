//! Cross-entropy on the CPU, row by row (the formulas: `CrossEntropyKernel` in mod.rs).

pub fn cross_entropy(logits: &[f32], targets: &[f32], out: &mut [f32], classes: usize, smoothing: f32) {
    for ((row, &target), loss) in logits.chunks(classes).zip(targets).zip(out.iter_mut()) {
        let lse = log_sum_exp(row);
        let picked = row.get(target as usize).copied().unwrap_or(0.0);
        *loss = lse - smoothing / classes as f32 * row.iter().sum::<f32>() - (1.0 - smoothing) * picked;
    }
}

pub fn cross_entropy_backward(logits: &[f32], targets: &[f32], out: &mut [f32], classes: usize, smoothing: f32) {
    for ((row, &target), grad) in logits.chunks(classes).zip(targets).zip(out.chunks_mut(classes)) {
        let lse = log_sum_exp(row);
        for (c, (g, &x)) in grad.iter_mut().zip(row).enumerate() {
            let hit = if c == target as usize { 1.0 - smoothing } else { 0.0 };
            *g = (x - lse).exp() - smoothing / classes as f32 - hit;
        }
    }
}

/// log sum exp(row), with the row's maximum taken out first so nothing overflows.
fn log_sum_exp(row: &[f32]) -> f32 {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    m + row.iter().map(|&x| (x - m).exp()).sum::<f32>().ln()
}
