//! Classifies photos with torchvision's ImageNet MobileNetV2:
//!
//!     cargo run --release --example predict -- IMAGE... [--backend cpu|webgpu]
//!
//! prints, for each image, its name and then the top 5 classes, one per line as `label probability`.

use kiln::inference::ImageClassifier;
use kiln::Device;

const WEIGHTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www/models/mobilenet_v2.safetensors");
const CLASSES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www/models/imagenet_classes.txt");

fn main() {
    if let Err(message) = run() {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let backend = match args.iter().position(|a| a == "--backend") {
        Some(i) if i + 1 < args.len() => {
            let name = args.remove(i + 1);
            args.remove(i);
            name
        }
        Some(_) => return Err("--backend needs a value: cpu or webgpu".into()),
        None => "cpu".into(),
    };
    if args.is_empty() {
        return Err("usage: predict IMAGE... [--backend cpu|webgpu]".into());
    }
    let device = match backend.as_str() {
        "cpu" => Device::Cpu,
        "webgpu" => pollster::block_on(Device::gpu()).map_err(|e| e.to_string())?,
        other => return Err(format!("unknown backend '{other}': use cpu or webgpu")),
    };
    let weights = std::fs::read(WEIGHTS).map_err(|e| format!("{WEIGHTS}: {e}"))?;
    let classes = std::fs::read_to_string(CLASSES).map_err(|e| format!("{CLASSES}: {e}"))?;
    let classifier = ImageClassifier::mobilenet_v2_imagenet(&weights, WEIGHTS, &classes, &device).map_err(|e| e.to_string())?;
    let mut failed = false;
    for path in &args {
        let result = std::fs::read(path)
            .map_err(|e| format!("{path}: {e}"))
            .and_then(|bytes| pollster::block_on(classifier.predict(&bytes, path, 5)).map_err(|e| e.to_string()));
        match result {
            Ok(top) => {
                println!("{path}");
                top.iter().for_each(|p| println!("{} {:.4}", p.label, p.probability));
            }
            Err(message) => {
                eprintln!("error: {message}");
                failed = true;
            }
        }
    }
    if failed {
        return Err("some images could not be classified".into());
    }
    Ok(())
}
