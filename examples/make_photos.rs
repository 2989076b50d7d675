//! Photo-like JPEGs for the loading benchmark (scripts/bench-photos.mjs): a folder with one
//! subfolder per class, each photo a sky-to-ground gradient in its class's colours with soft
//! shapes, texture and sensor grain, so that it compresses as a real photo does (about 130 KB at
//! 1024x768, 3-5 MB at 4000x3000).
//!
//!     cargo run --release --example make_photos -- DIR COUNT WIDTH HEIGHT [CLASSES]

use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use kiln::rng::Pcg32;
use rayon::prelude::*;

/// A few soft discs: (centre x, centre y, radius, colour), in units of the image's width.
type Shape = (f32, f32, f32, [f32; 3]);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, count, width, height] = &args[..4] else {
        eprintln!("usage: make_photos DIR COUNT WIDTH HEIGHT [CLASSES]");
        std::process::exit(2);
    };
    let number = |text: &str| text.parse::<u32>().unwrap_or_else(|_| panic!("{text} is not a number"));
    let (count, width, height) = (number(count), number(width), number(height));
    let classes = args.get(4).map_or(4, |c| number(c));
    (0..count).into_par_iter().for_each(|i| {
        let class = i % classes;
        let folder = Path::new(dir).join(format!("class{class}"));
        std::fs::create_dir_all(&folder).expect("the folder can be made");
        let photo = photo(i, class, width, height);
        let file = std::fs::File::create(folder.join(format!("photo{i:05}.jpg"))).expect("the file can be made");
        JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 88).encode_image(&photo).expect("the photo is written");
    });
}

/// Photo `index` of class `class`: the class sets the colours, the index everything else.
fn photo(index: u32, class: u32, width: u32, height: u32) -> RgbImage {
    let mut rng = Pcg32::new(index as u64 * 7919 + 17);
    let hue = class as f32 * 1.7;
    let tint = |shift: f32, light: f32| [0.0f32, 2.1, 4.2].map(|phase| light * (0.55 + 0.45 * (hue + shift + phase).cos()));
    let (sky, ground) = (tint(0.0, 230.0), tint(1.0, 120.0));
    let shapes: Vec<Shape> = (0..3 + index % 4)
        .map(|_| {
            (rng.uniform(), rng.uniform() * height as f32 / width as f32, 0.05 + 0.2 * rng.uniform(), tint(rng.uniform() * 3.0, 200.0))
        })
        .collect();
    let horizon = 0.4 + 0.3 * rng.uniform();
    let seed = rng.next_u32();
    // Sensor noise shows less once a photo is scaled down: about ±12 levels at 4000 px wide.
    let grain_levels = (25.0 * (width as f32 / 4000.0).sqrt()).max(3.0) as u32;
    RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = (x as f32 / width as f32, y as f32 / width as f32);
        let t = (y as f32 / height as f32 - horizon).clamp(-0.1, 0.1) * 5.0 + 0.5;
        let mut colour: [f32; 3] = std::array::from_fn(|c| sky[c] * (1.0 - t) + ground[c] * t);
        for &(cx, cy, r, shade) in &shapes {
            let inside = (1.0 - ((u - cx).powi(2) + (v - cy).powi(2)).sqrt() / r).clamp(0.0, 1.0).powf(0.3);
            colour = std::array::from_fn(|c| colour[c] * (1.0 - inside) + shade[c] * inside);
        }
        // Texture at a few pixels' scale, and grain at every pixel: what makes a JPEG large.
        let texture = 12.0 * ((u * 180.0).sin() * (v * 230.0 + u * 40.0).cos());
        let grain = (hash(x, y, seed) % grain_levels) as f32 - (grain_levels / 2) as f32;
        Rgb(colour.map(|c| (c + texture + grain).clamp(0.0, 255.0) as u8))
    })
}

/// A cheap per-pixel hash for the grain.
fn hash(x: u32, y: u32, seed: u32) -> u32 {
    let mut h = x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77) ^ seed;
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^ (h >> 12)
}
