//! Cross-entropy from its definition, -Σ_c q_c log p_c with p = softmax(x) and the smoothed
//! target q_c = eps / C + (1 - eps) [c = target], in f64, for tests only.

pub fn cross_entropy(logits: &[f32], targets: &[f32], classes: usize, smoothing: f32) -> (Vec<f32>, Vec<f32>) {
    let (mut losses, mut grads) = (Vec::new(), Vec::new());
    for (row, &target) in logits.chunks(classes).zip(targets) {
        let exps: Vec<f64> = row.iter().map(|&x| (x as f64).exp()).collect();
        let total: f64 = exps.iter().sum();
        let q = |c: usize| smoothing as f64 / classes as f64 + if c == target as usize { 1.0 - smoothing as f64 } else { 0.0 };
        losses.push((0..classes).map(|c| -q(c) * (exps[c] / total).ln()).sum::<f64>() as f32);
        grads.extend((0..classes).map(|c| (exps[c] / total - q(c)) as f32));
    }
    (losses, grads)
}
