//! torchvision's MobileNetV2 with its real ImageNet weights, against an independent numpy forward
//! pass (tests/fixtures/mobilenet_reference.json); safetensors and image files, good and bad.

mod common;
use common::*;
use kiln::data::decode_image;
use kiln::inference::{top_k, ImageClassifier};
use kiln::learner::speed::SpeedTest;
use kiln::nn::{load_safetensors, mobilenet_v2, save_safetensors, Module};
use kiln::Device;
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn classifier(device: &Device) -> ImageClassifier {
    let classes = String::from_utf8(read("www/models/imagenet_classes.txt")).unwrap();
    ImageClassifier::mobilenet_v2_imagenet(&read("www/models/mobilenet_v2.safetensors"), "mobilenet_v2.safetensors", &classes, device)
        .unwrap()
}

#[test]
fn mobilenet_v2_sees_what_pytorch_sees() {
    let reference: Value = serde_json::from_slice(&read("tests/fixtures/mobilenet_reference.json")).unwrap();
    for device in both_devices() {
        let model = classifier(&device);
        for (image, top1) in [("eagle", "bald eagle"), ("dog", "malamute")] {
            let expected = &reference["images"][image];
            let probabilities = block_on(model.probabilities(&read(&format!("tests/fixtures/images/{image}.jpg")), image)).unwrap();
            let best = top_k(&probabilities, 1)[0];
            assert_eq!(model.labels[best.0], top1, "{image} on {}", device.info().backend);
            let indices = expected["top5_indices"].as_array().unwrap();
            let reference_p = expected["top5_probabilities"].as_array().unwrap();
            for (index, p) in indices.iter().zip(reference_p) {
                let (index, p) = (index.as_u64().unwrap() as usize, p.as_f64().unwrap() as f32);
                let got = probabilities[index];
                assert!((got - p).abs() <= 0.01, "{image} class {index} on {}: {got} vs numpy {p}", device.info().backend);
            }
        }
    }
}

#[test]
fn mobilenet_v2_has_torchvisions_names() {
    let model = mobilenet_v2(1000, &Device::Cpu, 0).unwrap();
    let state = model.state();
    assert_eq!(state.len(), 262);
    let names: Vec<&str> = state.iter().map(|t| t.name.as_str()).collect();
    for name in [
        "features.0.0.weight",
        "features.0.1.running_var",
        "features.1.conv.0.0.weight",
        "features.1.conv.2.bias",
        "features.2.conv.3.running_mean",
        "features.18.1.weight",
        "classifier.1.weight",
        "classifier.1.bias",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    let parameters: usize = model.parameters().iter().map(|p| p.numel()).sum();
    assert_eq!(parameters, 3_504_872, "torchvision's parameter count");
    let groups = model.layer_groups();
    let grouped: usize = groups.iter().flatten().map(|p| p.numel()).sum();
    assert_eq!(grouped, parameters, "every parameter is in exactly one layer group");
    assert_eq!(groups[2].len(), 2, "the head group is the classifier's weight and bias");
    assert!(groups.iter().all(|g| !g.is_empty()));
}

/// A safetensors file with one tensor, written by hand: 8-byte header length, JSON header, data.
fn safetensors_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend(header.as_bytes());
    file.extend(data);
    file
}

#[test]
fn safetensors_round_trip_and_bad_files() {
    let model = mobilenet_v2(10, &Device::Cpu, 1).unwrap();
    let saved = block_on(save_safetensors(&model)).unwrap();
    let other = mobilenet_v2(10, &Device::Cpu, 2).unwrap();
    load_safetensors(&other, &saved, "saved.safetensors").unwrap();
    assert_eq!(values(&other.classifier.parameters()[0]), values(&model.classifier.parameters()[0]));

    let good = read("www/models/mobilenet_v2.safetensors");
    let err = |bytes: &[u8]| error_message(load_safetensors(&model, bytes, "weights.safetensors"));
    assert!(
        err(&good).contains("weights.safetensors: tensor 'classifier.1.weight' has shape [1000, 1280], the model expects [10, 1280]"),
        "{}",
        err(&good)
    );
    assert!(err(&good[..good.len() / 2]).contains("weights.safetensors: not a readable safetensors file"), "truncated file");
    assert!(err(b"not a safetensors file at all").contains("not a readable safetensors file"));
    let lying = safetensors_file(r#"{"a":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}}"#, &[0; 8]);
    assert!(err(&lying).contains("not a readable safetensors file"), "header claims more bytes than the file holds");
    let extra = safetensors_file(r#"{"surprise":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, &[0; 4]);
    assert!(err(&extra).contains("holds 1 tensor(s) the model does not have, e.g. 'surprise'"));
    let missing = safetensors_file(r#"{"__metadata__":{"format":"pt"}}"#, &[]);
    assert!(err(&missing).contains("tensor 'features.0.0.weight' is missing"), "{}", err(&missing));
    // Nothing was changed by the failed loads.
    assert_eq!(values(&other.classifier.parameters()[0]), values(&model.classifier.parameters()[0]));
}

#[test]
fn f16_files_load() {
    let linear = kiln::nn::Linear::new(2, 1, false, &Device::Cpu, &mut kiln::rng::Pcg32::new(0)).unwrap();
    let halves: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect();
    let file = safetensors_file(r#"{"weight":{"dtype":"F16","shape":[1,2],"data_offsets":[0,4]}}    "#, &halves);
    load_safetensors(&linear, &file, "half.safetensors").unwrap();
    assert_eq!(values(&linear.weight), vec![1.5, -2.0]);
}

#[test]
fn non_finite_weights_are_refused() {
    let linear = kiln::nn::Linear::new(2, 1, false, &Device::Cpu, &mut kiln::rng::Pcg32::new(0)).unwrap();
    let before = values(&linear.weight);
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let data: Vec<u8> = [1.0, bad].iter().flat_map(|v| v.to_le_bytes()).collect();
        // The header padded to a multiple of 8 bytes, as safetensors writes it.
        let file = safetensors_file(r#"{"weight":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}   "#, &data);
        let error = load_safetensors(&linear, &file, "nan.safetensors").unwrap_err();
        assert_eq!(error.kind(), kiln::ErrorKind::Decode, "{error}");
        assert_eq!(error.message(), "load_safetensors: nan.safetensors: tensor 'weight' has NaN or infinite values (1 of 2)");
        assert_eq!(values(&linear.weight), before, "nothing changed");
    }
}

/// A PNG whose header claims `width` x `height` pixels, followed by a few bytes of image data
/// (far too few) and the end chunk: small on disk, enormous once decoded.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", vec![0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]), (b"IEND", vec![])] {
        let mut chunk = kind.to_vec();
        chunk.extend(&data);
        png.extend((data.len() as u32).to_be_bytes());
        png.extend(&chunk);
        png.extend(crc32(&chunk).to_be_bytes());
    }
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn bad_images_get_clear_errors() {
    let eagle = read("tests/fixtures/images/eagle.jpg");
    let rgb = decode_image(&eagle, "eagle.jpg").unwrap();
    assert_eq!(rgb.dimensions(), (773, 512));
    let err = |bytes: &[u8], name: &str| error_message(decode_image(bytes, name));
    assert!(
        err(&eagle[..eagle.len() / 3], "cut.jpg").starts_with("decode_image: cut.jpg: is damaged or truncated"),
        "{}",
        err(&eagle[..eagle.len() / 3], "cut.jpg")
    );
    assert_eq!(err(b"just some text", "notes.png"), "decode_image: notes.png: is not an image kiln can read (JPEG, PNG, WebP, GIF or BMP)");
    assert!(err(&png_header(30000, 30000), "huge.png").contains("huge.png: is 30000x30000 pixels, more than the limit of 50 megapixels"));
    assert_eq!(
        err(&png_header(0, 0), "empty.png"),
        "decode_image: empty.png: is not a valid image (Format error decoding Png: Invalid image dimensions)"
    );
    assert!(err(&png_header(3, 3), "short.png").starts_with("decode_image: short.png: is damaged or truncated"));
}

/// A JPEG with an EXIF block added saying "rotate 90° clockwise to display" (orientation 6).
fn rotated_jpeg(jpeg: &[u8]) -> Vec<u8> {
    // TIFF header (little endian), one IFD entry: tag 0x0112 Orientation, SHORT, count 1, value 6.
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    tiff.extend(1u16.to_le_bytes());
    tiff.extend([0x12, 0x01, 3, 0]);
    tiff.extend(1u32.to_le_bytes());
    tiff.extend([6, 0, 0, 0]);
    tiff.extend(0u32.to_le_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend([0xFF, 0xE1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

#[test]
fn every_supported_format_and_pixel_layout_decodes() {
    use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
    let rgb = RgbImage::from_fn(5, 3, |x, y| Rgb([x as u8 * 50, y as u8 * 100, 7]));
    let encode = |image: DynamicImage, format: ImageFormat| {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image.write_to(&mut bytes, format).unwrap();
        bytes.into_inner()
    };
    let base = DynamicImage::ImageRgb8(rgb.clone());
    let jpeg = encode(base.clone(), ImageFormat::Jpeg);
    assert_eq!(decode_image(&jpeg, "plain.jpg").unwrap().dimensions(), (5, 3));
    assert_eq!(decode_image(&rotated_jpeg(&jpeg), "rotated.jpg").unwrap().dimensions(), (3, 5), "EXIF orientation applied");
    for (format, image) in [
        (ImageFormat::Png, base.clone()),
        (ImageFormat::Png, DynamicImage::ImageRgba8(base.to_rgba8())),
        (ImageFormat::Png, DynamicImage::ImageRgb16(base.to_rgb16())),
        (ImageFormat::Bmp, base.clone()),
        (ImageFormat::WebP, base.clone()),
        (ImageFormat::Gif, DynamicImage::ImageRgba8(base.to_rgba8())),
    ] {
        let decoded = decode_image(&encode(image.clone(), format), "picture").unwrap();
        assert_eq!(decoded.dimensions(), (5, 3), "{format:?} {:?}", image.color());
        if format != ImageFormat::Gif {
            // GIF quantises colours; the lossless formats give back the exact pixels.
            assert_eq!(decoded, rgb, "{format:?} {:?}", image.color());
        }
    }
    let grey = decode_image(&encode(DynamicImage::ImageLuma8(base.to_luma8()), ImageFormat::Png), "grey.png").unwrap();
    assert!(grey.pixels().all(|p| p[0] == p[1] && p[1] == p[2]), "greyscale becomes equal RGB");
}

#[test]
fn cmyk_jpegs_become_rgb() {
    // Written by scripts/make_fixtures.py: left half pure red, right half pure blue, in CMYK.
    let rgb = decode_image(&read("tests/fixtures/images/cmyk.jpg"), "cmyk.jpg").unwrap();
    assert_eq!(rgb.dimensions(), (4, 2));
    let close = |p: &image::Rgb<u8>, want: [u8; 3]| p.0.iter().zip(want).all(|(&a, b)| a.abs_diff(b) <= 8);
    assert!(close(rgb.get_pixel(0, 0), [255, 0, 0]), "left {:?}", rgb.get_pixel(0, 0));
    assert!(close(rgb.get_pixel(3, 1), [0, 0, 255]), "right {:?}", rgb.get_pixel(3, 1));
}

/// What `useBackend('auto')` and `compareBackends` time on each backend: images/s of training
/// steps of the Learner's network, from the median step.
#[test]
fn speed_test_measures_training_images_per_second() {
    let mut test = SpeedTest::new(32, 2, &Device::Cpu).unwrap();
    let rate = pollster::block_on(test.training_rate(2)).unwrap();
    assert!(rate.is_finite() && rate > 0.0, "{rate} images/s");
}
