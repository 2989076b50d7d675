// Fused softmax + cross-entropy over logits [batch, classes] with integer targets (f32 indices)
// and label smoothing eps. One workgroup per row. With lse = log sum_c exp(x_c):
//   softmax_xent:          loss = lse - (eps / C) sum_c x_c - (1 - eps) x_target
//                          ( = (eps / C) sum_c -log p_c + (1 - eps) (-log p_target) )
//   softmax_xent_backward: d loss / d x_j = p_j - (eps / C) - (1 - eps) [j == target]
// The row maximum is subtracted before exponentiating so large logits cannot overflow.

const WORKGROUP_SIZE: u32 = 256u;

struct Params {
    batch: u32,
    classes: u32,
    smoothing: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

// Tree reduction of partial[]: sum, or max when `take_max`. Every thread gets the result.
fn reduce(t: u32, value: f32, take_max: bool) -> f32 {
    workgroupBarrier(); // partial may still be read from the previous reduction
    partial[t] = value;
    workgroupBarrier();
    for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
        if (t < stride) {
            let other = partial[t + stride];
            partial[t] = select(partial[t] + other, max(partial[t], other), take_max);
        }
        workgroupBarrier();
    }
    return partial[0];
}

// (row max, log-sum-exp) of row `row`, computed by the whole workgroup.
fn row_stats(row: u32, t: u32) -> vec2<f32> {
    // Start from the row's first logit: a literal like -3.4028235e38 is refused by Chromium's
    // WGSL compiler (it rounds past f32's range).
    var m = logits[row * p.classes];
    for (var c = t; c < p.classes; c += WORKGROUP_SIZE) { m = max(m, logits[row * p.classes + c]); }
    m = reduce(t, m, true);
    var s = 0.0;
    for (var c = t; c < p.classes; c += WORKGROUP_SIZE) { s += exp(logits[row * p.classes + c] - m); }
    s = reduce(t, s, false);
    return vec2<f32>(m, m + log(s));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn softmax_xent(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let row = wid.x;
    let lse = row_stats(row, t).y;
    var total = 0.0;
    for (var c = t; c < p.classes; c += WORKGROUP_SIZE) { total += logits[row * p.classes + c]; }
    total = reduce(t, total, false);
    if (t == 0u) {
        let target_class = u32(targets[row]);
        let picked = select(0.0, logits[row * p.classes + target_class], target_class < p.classes);
        out[row] = lse - p.smoothing / f32(p.classes) * total - (1.0 - p.smoothing) * picked;
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn softmax_xent_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let row = wid.x;
    let lse = row_stats(row, t).y;
    let target_class = u32(targets[row]);
    for (var c = t; c < p.classes; c += WORKGROUP_SIZE) {
        let i = row * p.classes + c;
        let hit = select(0.0, 1.0 - p.smoothing, c == target_class);
        out[i] = exp(logits[i] - lse) - p.smoothing / f32(p.classes) - hit;
    }
}
