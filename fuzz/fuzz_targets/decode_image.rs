//! Image files, alone and as a dataset: the input is one or more files separated by `FILE_SEPARATOR`.
//! Each is decoded with `decode_image`, then all of them become an `ImageDataset` with alternating
//! labels, so one input reaches both the decoders and the dataset's building (vocabulary, split,
//! resizing). Errors are expected; a panic, an abort or running out of memory is a bug.
#![no_main]

use kiln::data::dataset::{ImageDataset, LabelledFile, Split};
use kiln::data::image::decode_image;
use libfuzzer_sys::fuzz_target;

/// Splits the input into files; rare in images, and kept whole by the seeds that use it.
const FILE_SEPARATOR: &[u8] = b"--kiln-file--";
/// Small crops keep each run fast; the sizes a dataset accepts are the options target's business.
const SIZE: u32 = 8;

fuzz_target!(|data: &[u8]| {
    let parts = split(data);
    for (i, part) in parts.iter().enumerate() {
        let _ = decode_image(part, &format!("file {i}"));
    }
    let files = parts
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let label = ["cat", "dog"][i % 2].to_string();
            (LabelledFile { name: format!("{label}_{i}.img"), bytes: bytes.to_vec(), label }, i % 3 == 2)
        })
        .collect();
    let split = if data.len() % 2 == 0 { Split::Given } else { Split::Random { valid_pct: 0.5, seed: 42 } };
    let _ = ImageDataset::from_files(files, SIZE, split);
});

/// At most three files: `data` cut at its first two separators.
fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while parts.len() < 2 {
        match rest.windows(FILE_SEPARATOR.len()).position(|w| w == FILE_SEPARATOR) {
            Some(at) => {
                parts.push(&rest[..at]);
                rest = &rest[at + FILE_SEPARATOR.len()..];
            }
            None => break,
        }
    }
    parts.push(rest);
    parts
}
