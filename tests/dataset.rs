//! Image datasets: vocabulary, seeded split, labels from names, bad files, batches.

mod common;
use common::*;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use kiln::data::dataset::{ImageDataset, LabelledFile, Split};
use kiln::rng::Pcg32;
use kiln::{Device, ErrorKind};

/// A small PNG of one colour, `w` x `h`.
fn png(w: u32, h: u32, colour: [u8; 3]) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, Rgb(colour))).write_to(&mut bytes, ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// 10 "cat" and 10 "dog" images (red and blue), plus `extra`.
fn files(extra: Vec<LabelledFile>) -> Vec<(LabelledFile, bool)> {
    let mut out: Vec<(LabelledFile, bool)> = (0..20)
        .map(|i| {
            let (label, colour) = if i % 2 == 0 { ("dog", [0, 0, 255]) } else { ("cat", [255, 0, 0]) };
            (LabelledFile { name: format!("{label}_{i:02}.png"), bytes: png(40 + i, 30, colour), label: label.into() }, false)
        })
        .collect();
    out.extend(extra.into_iter().map(|f| (f, false)));
    out
}

/// The validation files of the 20-file set with the default split (seed 42). tests/web.rs checks
/// the same list in the browser, so a split is the same natively and in wasm.
pub const EXPECTED_VALID: [&str; 4] = ["cat_03.png", "dog_08.png", "dog_04.png", "dog_00.png"];

fn names(dataset: &ImageDataset, indices: &[usize]) -> Vec<String> {
    indices.iter().map(|&i| dataset.items[i].name.clone()).collect()
}

#[test]
fn vocabulary_and_split_are_deterministic() {
    let dataset = ImageDataset::from_files(files(vec![]), 24, Split::default()).unwrap();
    assert_eq!(dataset.vocab, vec!["cat", "dog"]);
    assert_eq!((dataset.train.len(), dataset.valid.len()), (16, 4), "valid_pct 0.2");
    assert_eq!(names(&dataset, &dataset.valid), EXPECTED_VALID);
    // The same files given in another order validate the same way.
    let mut reversed = files(vec![]);
    reversed.reverse();
    let again = ImageDataset::from_files(reversed, 24, Split::default()).unwrap();
    assert_eq!(names(&again, &again.valid), EXPECTED_VALID);
    let other_seed = ImageDataset::from_files(files(vec![]), 24, Split::Random { valid_pct: 0.2, seed: 7 }).unwrap();
    assert_ne!(names(&other_seed, &other_seed.valid), EXPECTED_VALID);
}

#[test]
fn labels_from_file_names() {
    let raw: Vec<(String, Vec<u8>)> = files(vec![]).into_iter().map(|(f, _)| (f.name, f.bytes)).collect();
    let mut with_stranger = raw.clone();
    with_stranger.push(("README.txt".into(), b"notes".to_vec()));
    let dataset = ImageDataset::from_name_regex(with_stranger, r"^([a-z]+)_\d+\.png$", 24, Split::default()).unwrap();
    assert_eq!(dataset.vocab, vec!["cat", "dog"]);
    assert_eq!(dataset.items.len(), 20);
    assert_eq!(dataset.skipped, vec![("README.txt".to_string(), r"does not match the label pattern '^([a-z]+)_\d+\.png$'".to_string())]);
    assert!(error_message(ImageDataset::from_name_regex(raw, "([a-z", 24, Split::default())).contains("bad label pattern"));
}

#[test]
fn bad_files_and_bad_datasets() {
    let broken = LabelledFile { name: "dog_99.png".into(), bytes: b"not a png".to_vec(), label: "dog".into() };
    let lonely = LabelledFile { name: "fox_1.png".into(), bytes: png(30, 30, [9, 9, 9]), label: "fox".into() };
    let dataset = ImageDataset::from_files(files(vec![broken, lonely]), 24, Split::default()).unwrap();
    assert_eq!(dataset.skipped.len(), 1, "unreadable files are skipped and listed");
    assert!(dataset.skipped[0].1.contains("dog_99.png: is not an image"));
    assert_eq!(dataset.vocab, vec!["cat", "dog", "fox"]);
    assert_eq!(
        dataset.warnings,
        vec![
            "class 'fox' has only 1 image: it cannot be learned reliably",
            "the classes are unbalanced (1 to 10 images): consider oversampling, so that small classes are seen as often"
        ]
    );
    let balanced = ImageDataset::from_files(files(vec![]), 24, Split::default()).unwrap();
    assert!(balanced.warnings.is_empty(), "{:?}", balanced.warnings);

    let one_class: Vec<_> = files(vec![]).into_iter().filter(|(f, _)| f.label == "cat").collect();
    assert_eq!(
        error_message(ImageDataset::from_files(one_class, 24, Split::default())),
        "dataset: a classifier needs at least two classes; found only 'cat'"
    );
    assert_eq!(error_message(ImageDataset::from_files(vec![], 24, Split::default())), "dataset: no readable images (0 file(s) skipped)");
    let two = files(vec![]).into_iter().take(2).collect();
    assert!(error_message(ImageDataset::from_files(two, 24, Split::default())).contains("0 validation images"), "too few to split");
}

/// The kind of each failure, which the page acts on: unreadable photos are decode errors; an
/// empty, single-class or unsplittable dataset and bad settings are bad input.
#[test]
fn failures_have_their_kinds() {
    let kind = |result: kiln::Result<ImageDataset>| result.err().expect("an error").kind();
    let unreadable = (0..3).map(|i| (LabelledFile { name: format!("{i}.png"), bytes: b"junk".to_vec(), label: format!("c{i}") }, false));
    assert_eq!(kind(ImageDataset::from_files(unreadable.collect(), 24, Split::default())), ErrorKind::Decode);
    assert_eq!(kind(ImageDataset::from_files(vec![], 24, Split::default())), ErrorKind::BadInput, "no files at all");
    let one_class: Vec<_> = files(vec![]).into_iter().filter(|(f, _)| f.label == "cat").collect();
    assert_eq!(kind(ImageDataset::from_files(one_class, 24, Split::default())), ErrorKind::BadInput);
    assert_eq!(kind(ImageDataset::from_files(files(vec![]), 0, Split::default())), ErrorKind::BadInput);
    let bad_pct = Split::Random { valid_pct: 1.5, seed: 1 };
    assert_eq!(kind(ImageDataset::from_files(files(vec![]), 24, bad_pct)), ErrorKind::BadInput);
    let truncated = &png(40, 30, [1, 2, 3])[..40];
    assert_eq!(kiln::data::image::decode_image(truncated, "cut.png").unwrap_err().kind(), ErrorKind::Decode);
}

#[test]
fn batches_are_cropped_shuffled_and_labelled() {
    let dataset = ImageDataset::from_files(files(vec![]), 24, Split::default()).unwrap();
    let epoch = dataset.train_batches(5, 1);
    assert_eq!(epoch.len(), 3, "16 training images in batches of 5, the last partial one dropped");
    assert_eq!(epoch, dataset.train_batches(5, 1), "same seed, same order");
    assert_ne!(epoch, dataset.train_batches(5, 2));
    assert_eq!(dataset.valid_batches(3).iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 1]);
    let (x, y) = dataset.batch(&epoch[0], Some(&mut Pcg32::new(3)), &Device::Cpu).unwrap();
    assert_eq!(x.shape(), &[5, 3, 24, 24]);
    let labels = values(&y);
    for (k, &i) in epoch[0].iter().enumerate() {
        assert_eq!(labels[k] as usize, dataset.items[i].label);
        // A red (cat) image normalises to (1 - 0.485) / 0.229 in the red channel, blue to (0 - 0.485) / 0.229.
        // (Augmentation keeps a one-colour image one colour; its lighting moves 0 and 1, clamped to
        // 1e-7 from the ends, by less than 1e-5 before normalising.)
        let red = values(&x)[k * 3 * 576];
        let expected = if dataset.vocab[dataset.items[i].label] == "cat" { (1.0 - 0.485) / 0.229 } else { -0.485 / 0.229 };
        assert!((red - expected).abs() < 1e-4, "{red} vs {expected}");
    }
}

#[test]
fn oversampling_evens_out_unbalanced_classes() {
    // 16 red and 4 blue images: oversampled, each epoch holds about as many blue as red.
    let files = (0..20)
        .map(|i| {
            let (label, colour) = if i < 16 { ("red", [255, 0, 0]) } else { ("blue", [0, 0, 255]) };
            (LabelledFile { name: format!("{label}_{i:02}.png"), bytes: png(30, 30, colour), label: label.into() }, false)
        })
        .collect();
    let mut dataset = ImageDataset::from_files(files, 24, Split::Random { valid_pct: 0.2, seed: 1 }).unwrap();
    let blue = |d: &ImageDataset, seed| d.train_batches(1, seed).iter().flatten().filter(|&&i| d.items[i].label == 0).count();
    let plain: usize = (0..50).map(|s| blue(&dataset, s)).sum();
    dataset.oversample = true;
    let oversampled: usize = (0..50).map(|s| blue(&dataset, s)).sum();
    let per_epoch = dataset.train.len() as f64;
    assert!((plain as f64 / 50.0) < per_epoch * 0.3, "without oversampling blue stays rare");
    let share = oversampled as f64 / 50.0 / per_epoch;
    assert!((0.4..0.6).contains(&share), "about half the draws are blue: {share}");
    assert_eq!(dataset.train_batches(4, 3), dataset.train_batches(4, 3), "deterministic for a seed");
}

#[test]
fn cleaning_deletes_and_relabels_without_moving_items() {
    let mut dataset = ImageDataset::from_files(files(vec![]), 24, Split::default()).unwrap();
    let counts = |d: &ImageDataset| d.class_counts().iter().map(|c| (c.class.clone(), c.train, c.valid)).collect::<Vec<_>>();
    assert_eq!(counts(&dataset), vec![("cat".into(), 9, 1), ("dog".into(), 7, 3)]);
    let valid_dog = dataset.valid[1];
    assert_eq!(dataset.items[valid_dog].name, "dog_08.png");
    dataset.relabel_item(valid_dog, "cat").unwrap();
    assert_eq!(counts(&dataset), vec![("cat".into(), 9, 2), ("dog".into(), 7, 2)]);
    let first_train = dataset.train[0];
    dataset.delete_item(first_train).unwrap();
    assert_eq!(dataset.train.len(), 15);
    assert_eq!(dataset.items.len(), 20, "items keep their indices");
    assert!(dataset.delete_item(first_train).unwrap_err().message().contains("no image number"));
    let refused = dataset.relabel_item(valid_dog, "horse").unwrap_err();
    assert!(refused.message().contains("'horse' is not one of the classes"), "{}", refused.message());
    // The last validation image cannot go, and trying changes nothing.
    let mut tiny = ImageDataset::from_files(files(vec![]), 24, Split::Random { valid_pct: 0.06, seed: 42 }).unwrap();
    assert_eq!(tiny.valid.len(), 1);
    let before = tiny.valid.clone();
    assert!(tiny.delete_item(before[0]).is_err());
    assert_eq!(tiny.valid, before);
}

#[test]
fn a_builder_fed_in_chunks_gives_the_dataset_from_files() {
    use kiln::data::loading::DatasetBuilder;
    let broken = LabelledFile { name: "cat_broken.png".into(), bytes: b"not a png".to_vec(), label: "cat".into() };
    let all = ImageDataset::from_files(files(vec![broken]), 24, Split::default()).unwrap();
    // Chunks of 3, last file first: arrival order and chunking change nothing.
    let mut chunks = files(vec![LabelledFile { name: "cat_broken.png".into(), bytes: b"not a png".to_vec(), label: "cat".into() }]);
    chunks.reverse();
    let mut builder = DatasetBuilder::new(24).unwrap();
    let mut added = 0;
    while !chunks.is_empty() {
        let rest = chunks.split_off(chunks.len().min(3));
        added += chunks.len();
        builder.add(std::mem::replace(&mut chunks, rest));
        assert_eq!(builder.decoded() + builder.skipped(), added);
    }
    assert_eq!(builder.skipped(), 1);
    // Only the pixels at the dataset's size are kept: 24 px on the shorter side (30 px here).
    let expected_bytes: usize = (0..20).map(|i| 3 * 24 * ((40 + i) * 24 / 30) as usize).sum();
    assert_eq!(builder.bytes(), expected_bytes);
    let built = builder.finish(Split::default()).unwrap();
    assert_eq!(names(&built, &built.valid), EXPECTED_VALID);
    assert_eq!(names(&built, &built.train), names(&all, &all.train));
    assert_eq!(built.skipped, all.skipped);
    assert!(built.items.iter().zip(&all.items).all(|(a, b)| a.image == b.image && a.label == b.label));
}

#[test]
fn image_sizes_outside_1_to_1024_are_refused() {
    for size in [0, 1025, 100_000] {
        let error = ImageDataset::from_files(files(vec![]), size, Split::default()).err().expect("refused");
        assert_eq!(error.kind(), ErrorKind::BadInput);
        assert!(error.to_string().contains("from 1 to 1024 pixels"), "{error}");
    }
}
