//! Augmentation against the f64 reference, on the CPU and the GPU: identity, a rotation with
//! zoom that reaches past the edges (reflection), a perspective warp, lighting.

use super::{reference, Augment, AUGMENT_PARAMS};
use crate::ops::testing::{check, random, Case};

pub fn cases() -> Vec<Case> {
    let (height, width) = (13, 17);
    let (cos, sin) = (0.3f32.cos() * 1.3, 0.3f32.sin() * 1.3);
    let rows: [[f32; AUGMENT_PARAMS]; 3] = [
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0],
        [cos, -sin, 4.0, sin, cos, -3.0, 0.0, 0.0, 1.0, 1.0, 0.2, 1.1],
        [0.9, 0.1, 1.0, -0.05, 1.1, 0.5, 0.01, -0.004, 1.0, 1.0, -0.3, 0.8],
    ];
    let images: Vec<f32> = random(3 * 3 * height * width, 1, 0.0).iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect();
    let params: Vec<f32> = rows.concat();
    let kernel = Augment { images: 3, height, width, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    let expected = reference::augment(&kernel, &images, &params);
    vec![Case::new(kernel, vec![images, params], vec![expected], 1e-4)]
}

#[test]
fn augment_matches_the_reference() {
    check(cases());
}
