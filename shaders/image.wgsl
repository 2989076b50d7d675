// Data augmentation as one resampling per image (fastai's aug_transforms on the GPU), one thread
// per output pixel, its three channels together. Images [n, 3, height, width] in [0, 1]; each
// image's parameter row (AUGMENT_PARAMS = 12 numbers, see Kernel::Augment):
//   h = row[0..9], a homography in pixel coordinates (x = column, y = row):
//       (X, Y, W) = h (x, y, 1);  output (x, y) reads the source at (X / W, Y / W)
//   row[9] = 1 to change the lighting, row[10] = shift s, row[11] = scale c.
// A source coordinate outside the image is reflected about the first and last pixel centres
// (PyTorch's grid_sample, padding_mode="reflection", align_corners=True), then read bilinearly:
//   v = (1 - fy) ((1 - fx) v00 + fx v01) + fy ((1 - fx) v10 + fx v11)
// Lighting works on logits (fastai's Brightness and Contrast, merged):
//   v = sigmoid(c (logit(clamp(v, 1e-7, 1 - 1e-7)) + s)),  logit(v) = -log(1 / v - 1)
// and the output is normalised: (v - mean) / std per channel.
// src/backend/cpu_image.rs is the reference, with the same operations in the same order.

const WORKGROUP_SIZE: u32 = 256u;
const AUGMENT_PARAMS: u32 = 12u;
const LOGIT_EPS: f32 = 1e-7;

struct Params {
    images: u32,
    height: u32,
    width: u32,
    mean: vec3<f32>, // aligned to 16 bytes: the host leaves a word of padding before it
    std_dev: vec3<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> images: array<f32>;
@group(0) @binding(2) var<storage, read> params: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// A pixel coordinate reflected into [0, size - 1] about the end pixels' centres: |t| is folded
// back and forth over spans of size - 1, then clipped against rounding.
fn reflect(t: f32, size: u32) -> f32 {
    let span = f32(size - 1u);
    if (span == 0.0) { return 0.0; }
    let d = abs(t);
    let flips = floor(d / span);
    let extra = d - flips * span;
    let odd = flips - 2.0 * floor(flips / 2.0) == 1.0;
    return clamp(select(extra, span - extra, odd), 0.0, span);
}

// Channel c of the source image `image` at pixel (x, y).
fn source(image: u32, c: u32, y: u32, x: u32) -> f32 {
    return images[((image * 3u + c) * p.height + y) * p.width + x];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn augment(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE; // output pixel, over [n, height, width]
    let plane = p.height * p.width;
    if (i >= p.images * plane) { return; }
    let n = i / plane;
    let y = (i % plane) / p.width;
    let x = i % p.width;
    let r = n * AUGMENT_PARAMS;
    let xf = f32(x);
    let yf = f32(y);
    let w = params[r + 6u] * xf + params[r + 7u] * yf + params[r + 8u];
    let sx = reflect((params[r] * xf + params[r + 1u] * yf + params[r + 2u]) / w, p.width);
    let sy = reflect((params[r + 3u] * xf + params[r + 4u] * yf + params[r + 5u]) / w, p.height);

    let x0f = floor(sx);
    let y0f = floor(sy);
    let fx = sx - x0f;
    let fy = sy - y0f;
    let x0 = u32(x0f);
    let y0 = u32(y0f);
    let x1 = min(x0 + 1u, p.width - 1u); // weight fx is 0 when x0 is the last column
    let y1 = min(y0 + 1u, p.height - 1u);
    var v: vec3<f32>;
    for (var c = 0u; c < 3u; c++) {
        let top = (1.0 - fx) * source(n, c, y0, x0) + fx * source(n, c, y0, x1);
        let bottom = (1.0 - fx) * source(n, c, y1, x0) + fx * source(n, c, y1, x1);
        v[c] = (1.0 - fy) * top + fy * bottom;
    }

    if (params[r + 9u] != 0.0) {
        let logit = -log(1.0 / clamp(v, vec3(LOGIT_EPS), vec3(1.0 - LOGIT_EPS)) - 1.0);
        v = 1.0 / (1.0 + exp(-(params[r + 11u] * (logit + params[r + 10u]))));
    }
    let normalised = (v - p.mean) / p.std_dev;
    for (var c = 0u; c < 3u; c++) {
        out[(n * 3u + c) * plane + y * p.width + x] = normalised[c];
    }
}
