//! fastai's aug_transforms as one resampling per image: the kernel against hand-computed pixels
//! (flip, quarter turn, reflection padding, lighting), CPU against GPU, the parameter draws, and
//! training batches with augmentation on and off.

mod common;
use common::*;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use kiln::data::augment::{AugTransforms, ImageAugmentation};
use kiln::data::dataset::{ImageDataset, LabelledFile, Split};
use kiln::data::{crop_normalized, crop_unit, ImageNetNormalization};
use kiln::ops::image::AUGMENT_PARAMS;
use kiln::rng::Pcg32;
use kiln::{Device, Tensor};

const IMAGENET: ImageNetNormalization = ImageNetNormalization { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
/// No normalisation: the outputs are the resampled [0, 1] values themselves.
const RAW: ImageNetNormalization = ImageNetNormalization { mean: [0.0; 3], std: [1.0; 3] };

/// Augments CHW images [n, 3, h, w] with one parameter row each on `device`.
fn augment(images: &[f32], h: usize, w: usize, rows: &[[f32; AUGMENT_PARAMS]], norm: ImageNetNormalization, device: &Device) -> Vec<f32> {
    let n = rows.len();
    let params: Vec<f32> = rows.iter().flatten().copied().collect();
    let x = tensor(images, &[n, 3, h, w], device);
    values(&x.augment(&tensor(&params, &[n, AUGMENT_PARAMS], device), norm.mean, norm.std).unwrap())
}

/// A w x h image whose every value differs: v(c, y, x) = (c * 100 + y * 10 + x) / 255, CHW.
fn numbered(h: usize, w: usize) -> Vec<f32> {
    (0..3 * h * w).map(|i| ((i / (h * w)) * 100 + (i / w % h) * 10 + i % w) as f32 / 255.0).collect()
}

/// Channel c at row y, column x of CHW numbers.
fn at(chw: &[f32], h: usize, w: usize, c: usize, y: usize, x: usize) -> f32 {
    chw[(c * h + y) * w + x]
}

fn noise_image(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut rng = Pcg32::new(seed);
    RgbImage::from_fn(w, h, |_, _| Rgb([0; 3].map(|_: u8| (rng.uniform() * 256.0) as u8)))
}

#[test]
fn gpu_matches_cpu_on_odd_shapes_with_warp_and_lighting() {
    let strong = AugTransforms {
        flip_vert: true,
        max_rotate: 30.0,
        min_zoom: 0.6,
        max_zoom: 1.5,
        max_warp: 0.4,
        p_affine: 1.0,
        p_lighting: 1.0,
        ..AugTransforms::default()
    };
    let mut rng = Pcg32::new(5);
    for (h, w) in [(13, 13), (17, 17), (13, 17)] {
        let drawn: Vec<ImageAugmentation> = (0..3).map(|_| strong.draw(&mut rng).unwrap()).collect();
        assert!(drawn.iter().all(|d| d.warp != [0.0, 0.0] && d.brightness.is_some() && d.contrast.is_some()), "{drawn:?}");
        let rows: Vec<_> = drawn.iter().map(|d| d.params(h, w)).collect();
        let images = values(&Tensor::rand(&[3, 3, h, w], 7, &Device::Cpu).unwrap());
        let expected = augment(&images, h, w, &rows, IMAGENET, &Device::Cpu);
        assert_close(&augment(&images, h, w, &rows, IMAGENET, &gpu()), &expected, 1e-4, &format!("augment {h}x{w}"));
    }
}

#[test]
fn identity_reproduces_the_normalised_crop() {
    let none = ImageAugmentation::default();
    assert_eq!(none.homography(), [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0], "no warp solves to exactly the identity");
    assert_eq!(none.params(13, 13), [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
    let image = noise_image(20, 16, 1);
    let (left, top, size) = (3, 2, 13);
    let expected = crop_normalized(&image, left, top, size, &IMAGENET);
    let crop = crop_unit(&image, left, top, size);
    let row = none.params(13, 13);
    assert_eq!(augment(&crop, 13, 13, &[row], IMAGENET, &Device::Cpu), expected, "bit for bit on the CPU");
    assert_close(&augment(&crop, 13, 13, &[row], IMAGENET, &gpu()), &expected, 1e-6, "identity on the GPU");
}

#[test]
fn horizontal_flip_mirrors_the_columns() {
    let (h, w) = (4, 5);
    let image = numbered(h, w);
    let row = ImageAugmentation { dihedral: 1, ..Default::default() }.params(h, w);
    for device in both_devices() {
        let out = augment(&image, h, w, &[row], RAW, &device);
        for (c, y, x) in [(0, 0, 0), (1, 2, 1), (2, 3, 4), (0, 1, 2)] {
            assert!((at(&out, h, w, c, y, x) - at(&image, h, w, c, y, w - 1 - x)).abs() < 1e-6, "({c}, {y}, {x})");
        }
    }
}

#[test]
fn quarter_turn_moves_pixels_as_expected() {
    // fastai's rotate_mat at 90 degrees: the output at (x, y) reads the source at (y, -x), so on
    // a 5 x 5 image out[y][x] = in[4 - x][y].
    let s = 5;
    let image = numbered(s, s);
    let row = ImageAugmentation { rotate: 90.0, ..Default::default() }.params(s, s);
    for device in both_devices() {
        let out = augment(&image, s, s, &[row], RAW, &device);
        for (c, y, x) in [(0, 0, 0), (1, 0, 4), (2, 4, 0), (0, 1, 3), (1, 2, 2)] {
            assert!((at(&out, s, s, c, y, x) - at(&image, s, s, c, 4 - x, y)).abs() < 1e-6, "({c}, {y}, {x})");
        }
    }
}

#[test]
fn zooming_out_reads_reflected_pixels() {
    // Zoom 0.2 (scale 5) about the centre on a 5 x 5 image: output column x reads source column
    // 5x - 8 = -8, -3, 2, 7, 12, reflected about columns 0 and 4 to 0, 3, 2, 1, 4.
    let s = 5;
    let image = numbered(s, s);
    let far = ImageAugmentation { zoom: 0.2, ..Default::default() }.params(s, s);
    // Zoom 0.5 (scale 2) on 4 x 4: output pixel 0 reads -1.5, reflected to 1.5 on each axis.
    let near = ImageAugmentation { zoom: 0.5, ..Default::default() }.params(4, 4);
    let small = numbered(4, 4);
    for device in both_devices() {
        let out = augment(&image, s, s, &[far], RAW, &device);
        for (x, source) in [0, 3, 2, 1, 4].into_iter().enumerate() {
            assert!((at(&out, s, s, 1, 2, x) - at(&image, s, s, 1, 2, source)).abs() < 1e-6, "column {x}");
        }
        // Bilinear halfway between rows and columns 1 and 2: (11 + 12 + 21 + 22) / 4 = 16.5 (/ 255).
        let corner = augment(&small, 4, 4, &[near], RAW, &device)[0];
        assert!((corner - 16.5 / 255.0).abs() < 1e-6, "reflected and interpolated: {}", corner * 255.0);
    }
}

#[test]
fn lighting_follows_fastai_formula() {
    // Brightness 0.6 and contrast 1.1 on v = 0.25: logit(0.25) + logit(0.6) = ln(1/3 * 3/2) =
    // ln(0.5), and sigmoid(1.1 ln 0.5) = 0.5^1.1 / (1 + 0.5^1.1) = 0.318111.
    let lit = ImageAugmentation { brightness: Some(0.6), contrast: Some(1.1), ..Default::default() };
    // Contrast 0.5 on black: logit clamps 0 to 1e-7, and sigmoid(0.5 logit(1e-7)) =
    // 1 / (1 + sqrt(1e7 - 1)) = 3.16128e-4 (unclamped, it would stay 0).
    let flat = ImageAugmentation { contrast: Some(0.5), ..Default::default() };
    let rows = [lit.params(2, 2), flat.params(2, 2)];
    assert_eq!(rows[0][9], 1.0);
    assert!((rows[0][10] - 1.5f32.ln()).abs() < 1e-6 && rows[0][11] == 1.1, "shift logit(0.6), scale 1.1");
    assert_eq!(rows[1][9..], [1.0, 0.0, 0.5]);
    let mut images = vec![0.5; 24];
    images[0] = 0.25; // image 0, red, top left
    images[12] = 0.0; // image 1, red, top left
    for device in both_devices() {
        let out = augment(&images, 2, 2, &rows, IMAGENET, &device);
        let [grey, black] = [out[0], out[12]].map(|v| v * 0.229 + 0.485);
        assert!((grey - 0.318111).abs() < 2e-6, "{grey}");
        assert!((black - 3.16128e-4).abs() < 1e-7, "{black}");
    }
}

#[test]
fn homography_composes_fastai_matrices_in_order() {
    // flip · rotate(90) · zoom(0.5 about u = (1, 0.5)): zoom is s = 2 with centre c = (-1, 0),
    // [[2, 0, -1], [0, 2, 0]]; flip · rotate is [[0, -1], [-1, 0]]; together the output (x, y)
    // reads (-2y, 1 - 2x).
    let affine = ImageAugmentation { dihedral: 1, rotate: 90.0, zoom: 0.5, zoom_centre: [1.0, 0.5], ..Default::default() };
    let expected = [0.0, -2.0, 0.0, -2.0, 0.0, 1.0, 0.0, 0.0, 1.0];
    assert!(affine.homography().iter().zip(&expected).all(|(a, e)| (a - e).abs() < 1e-12), "{:?}", affine.homography());
    // The warp comes after the affine part and takes fastai's target corners back to the
    // image's: with a flip first, the output at flip(targ) reads orig.
    let [x, y] = [0.1f64, -0.05];
    let warped = ImageAugmentation { dihedral: 1, warp: [x as f32, y as f32], ..Default::default() }.homography();
    let orig = [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]];
    let targ = [[-1.0 - y, -1.0 - x], [-1.0 + y, 1.0 + x], [1.0 + y, -1.0 + x], [1.0 - y, 1.0 - x]];
    for (o, t) in orig.iter().zip(&targ) {
        let (px, py) = (-t[0], t[1]);
        let w = warped[6] * px + warped[7] * py + warped[8];
        let source = [(warped[0] * px + warped[1] * py + warped[2]) / w, (warped[3] * px + warped[4] * py + warped[5]) / w];
        assert!((source[0] - o[0]).abs() < 1e-6 && (source[1] - o[1]).abs() < 1e-6, "{t:?} reads {source:?}, not {o:?}");
    }
}

#[test]
fn draws_reproduce_and_follow_fastai_distributions() {
    let aug = AugTransforms::default();
    let draw = |seed| -> Vec<ImageAugmentation> {
        let mut rng = Pcg32::new(seed);
        (0..4000).map(|_| aug.draw(&mut rng).unwrap()).collect()
    };
    let draws = draw(11);
    assert_eq!(draws, draw(11), "same seed, same augmentation");
    assert_ne!(draws, draw(12));
    let share = |f: &dyn Fn(&ImageAugmentation) -> bool| draws.iter().filter(|d| f(d)).count() as f64 / draws.len() as f64;
    let flipped = share(&|d| d.dihedral == 1);
    assert!((0.47..0.53).contains(&flipped) && share(&|d| d.dihedral > 1) == 0.0, "flipped {flipped}");
    assert!(draws.iter().all(|d| d.rotate.abs() <= 10.0 && (1.0..=1.1).contains(&d.zoom)));
    assert!((0.72..0.78).contains(&share(&|d| d.rotate != 0.0)), "rotation with p_affine");
    assert!(draws.iter().all(|d| d.warp.iter().all(|w| w.abs() <= 0.2)));
    assert!(draws.iter().all(|d| d.brightness.is_none_or(|b| (0.4..=0.6).contains(&b))));
    assert!(draws.iter().all(|d| d.contrast.is_none_or(|c| (0.8..=1.25).contains(&c))));
    assert!((0.72..0.78).contains(&share(&|d| d.contrast.is_some())), "contrast with p_lighting");
    // Dihedral: all eight symmetries appear; fastai's k = 0 counts as drawn but changes nothing.
    let mut rng = Pcg32::new(3);
    let dihedral = AugTransforms { flip_vert: true, ..aug };
    let seen: std::collections::BTreeSet<usize> = (0..400).map(|_| dihedral.draw(&mut rng).unwrap().dihedral).collect();
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), (0..8).collect::<Vec<_>>());
    let bad = AugTransforms { p_affine: 1.5, ..aug };
    assert!(error_message(bad.draw(&mut rng)).contains("p_affine 1.5"));
}

#[test]
fn extreme_warps_never_divide_by_zero() {
    // Far past fastai's 0.2, corners cross and the perspective denominator would reach 0 on the
    // image: such a warp is left out, as fastai's apply_perspective leaves it out.
    let wild = AugTransforms { max_warp: 3.0, p_affine: 1.0, ..AugTransforms::default() };
    let mut rng = Pcg32::new(8);
    let mut left_out = 0;
    for _ in 0..200 {
        let drawn = wild.draw(&mut rng).unwrap();
        let h = drawn.homography();
        assert!([(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)].iter().all(|&(x, y)| h[6] * x + h[7] * y + h[8] > 0.0));
        left_out += (h[6] == 0.0 && h[7] == 0.0) as usize;
    }
    assert!(left_out > 0 && left_out < 200, "some warps kept, some left out: {left_out}");
}

/// 12 noise images of 30 x 24 in two classes.
fn noisy_dataset(size: u32) -> ImageDataset {
    let files = (0..12)
        .map(|i| {
            let mut bytes = std::io::Cursor::new(Vec::new());
            DynamicImage::ImageRgb8(noise_image(30, 24, i)).write_to(&mut bytes, ImageFormat::Png).unwrap();
            let label = if i % 2 == 0 { "even" } else { "odd" };
            (LabelledFile { name: format!("{label}_{i}.png"), bytes: bytes.into_inner(), label: label.into() }, false)
        })
        .collect();
    ImageDataset::from_files(files, size, Split::default()).unwrap()
}

#[test]
fn batches_augment_only_training_crops() {
    let mut data = noisy_dataset(17);
    assert_eq!(data.augmentation, Some(AugTransforms::default()), "on by default, as in Lesson 2");
    let indices = data.train[..4].to_vec();
    let batch = |data: &ImageDataset, seed: Option<u64>, device: &Device| {
        let mut rng = seed.map(Pcg32::new);
        values(&data.batch(&indices, rng.as_mut(), device).unwrap().0)
    };
    let augmented = batch(&data, Some(3), &Device::Cpu);
    // The same batch by hand: per image, the crop position, then the augmentation, from one rng.
    let mut rng = Pcg32::new(3);
    let (mut crops, mut rows) = (Vec::new(), Vec::new());
    for &i in &indices {
        let image = &data.items[i].image;
        let (w, h) = image.dimensions();
        let left = (rng.uniform() * (w - 17 + 1) as f32) as u32;
        let top = (rng.uniform() * (h - 17 + 1) as f32) as u32;
        crops.extend(crop_unit(image, left, top, 17));
        rows.push(AugTransforms::default().draw(&mut rng).unwrap().params(17, 17));
    }
    assert_eq!(augmented, augment(&crops, 17, 17, &rows, IMAGENET, &Device::Cpu));
    assert_close(&batch(&data, Some(3), &gpu()), &augmented, 1e-4, "augmented batch on the GPU");
    let validation = batch(&data, None, &Device::Cpu);

    data.augmentation = None;
    let off = batch(&data, Some(3), &Device::Cpu);
    assert_ne!(off, augmented);
    // Off, batches are what they were before augmentation: the rng only places each crop, and
    // the values are the normalised crops.
    let mut rng = Pcg32::new(3);
    let expected: Vec<f32> = indices
        .iter()
        .flat_map(|&i| {
            let image = &data.items[i].image;
            let (w, h) = image.dimensions();
            let left = (rng.uniform() * (w - 17 + 1) as f32) as u32;
            let top = (rng.uniform() * (h - 17 + 1) as f32) as u32;
            crop_normalized(image, left, top, 17, &data.normalization)
        })
        .collect();
    assert_eq!(off, expected);
    assert_eq!(batch(&data, None, &Device::Cpu), validation, "validation never augments");
}

#[test]
fn wrong_shapes_are_refused() {
    let device = Device::Cpu;
    let images = Tensor::zeros(&[2, 3, 4, 4], &device).unwrap();
    let params = Tensor::zeros(&[2, AUGMENT_PARAMS], &device).unwrap();
    let grey = Tensor::zeros(&[2, 1, 4, 4], &device).unwrap();
    assert!(error_message(grey.augment(&params, [0.0; 3], [1.0; 3])).contains("3 colour channels"));
    let flat = Tensor::zeros(&[2, 48], &device).unwrap();
    assert!(error_message(flat.augment(&params, [0.0; 3], [1.0; 3])).contains("needs images [N, 3, H, W], got [2, 48]"));
    let short = Tensor::zeros(&[3, AUGMENT_PARAMS], &device).unwrap();
    assert!(error_message(images.augment(&short, [0.0; 3], [1.0; 3])).contains("expected [2, 12]"));
    let elsewhere = Tensor::zeros(&[2, AUGMENT_PARAMS], &gpu()).unwrap();
    assert!(error_message(images.augment(&elsewhere, [0.0; 3], [1.0; 3])).contains("different backends"));
}
