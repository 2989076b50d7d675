//! Trains an image classifier the fast.ai way on a folder of photos (one subfolder per class,
//! or train/ and valid/ folders), from torchvision's pretrained MobileNetV2:
//!
//!     cargo run --release --example train -- DIR [--epochs N] [--lr X] [--size S] [--fine-tune] [--backend cpu|webgpu]
//!                                               [--no-augment] [--tta]
//!
//! prints fastai's epoch table (epoch, train_loss, valid_loss, error_rate, time) as it goes, then
//! (with --tta) the error rate with test-time augmentation, the top losses, and saves the model as
//! model.safetensors + model.json (PyTorch, or kiln's `loadExported`) and model.onnx (ONNX Runtime
//! and other deployment runtimes). Training batches get fastai's aug_transforms unless --no-augment.

use kiln::data::dataset::{ImageDataset, Split};
use kiln::interpret::top_losses;
use kiln::learner::{FitOutcome, Learner, Progress};
use kiln::schedule::LearningRate;
use kiln::Device;

const WEIGHTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/www/models/mobilenet_v2.safetensors");

struct Options {
    dir: String,
    epochs: usize,
    lr: Option<f64>,
    size: u32,
    fine_tune: bool,
    backend: String,
    augment: bool,
    tta: bool,
}

fn parse() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut options =
        Options { dir: String::new(), epochs: 2, lr: None, size: 128, fine_tune: false, backend: "cpu".into(), augment: true, tta: false };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--epochs" => options.epochs = value("--epochs")?.parse().map_err(|e| format!("--epochs: {e}"))?,
            "--lr" => options.lr = Some(value("--lr")?.parse().map_err(|e| format!("--lr: {e}"))?),
            "--size" => options.size = value("--size")?.parse().map_err(|e| format!("--size: {e}"))?,
            "--backend" => options.backend = value("--backend")?,
            "--fine-tune" => options.fine_tune = true,
            "--no-augment" => options.augment = false,
            "--tta" => options.tta = true,
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            dir => options.dir = dir.to_string(),
        }
    }
    if options.dir.is_empty() {
        return Err("usage: train DIR [--epochs N] [--lr X] [--size S] [--fine-tune] [--backend cpu|webgpu] [--no-augment] [--tta]".into());
    }
    Ok(options)
}

fn main() {
    if let Err(message) = pollster::block_on(run()) {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let options = parse()?;
    let device = match options.backend.as_str() {
        "cpu" => Device::Cpu,
        "webgpu" => Device::gpu().await.map_err(|e| e.to_string())?,
        other => return Err(format!("unknown backend '{other}': use cpu or webgpu")),
    };
    let mut data =
        ImageDataset::from_folder(std::path::Path::new(&options.dir), options.size, Split::default()).map_err(|e| e.to_string())?;
    if !options.augment {
        data.augmentation = None;
    }
    for (file, why) in &data.skipped {
        eprintln!("skipped {file}: {why}");
    }
    data.warnings.iter().for_each(|w| eprintln!("warning: {w}"));
    println!(
        "{} classes: {}; {} training and {} validation images",
        data.vocab.len(),
        data.vocab.join(", "),
        data.train.len(),
        data.valid.len()
    );
    let weights = std::fs::read(WEIGHTS).map_err(|e| format!("{WEIGHTS}: {e}"))?;
    let mut learner = Learner::vision(data, &weights, WEIGHTS, &device).map_err(|e| e.to_string())?;
    println!("{:>5} {:>12} {:>12} {:>12} {:>8}", "epoch", "train_loss", "valid_loss", "error_rate", "time");
    let mut row = 0;
    learner.on_progress = Some(Box::new(move |progress| {
        if let Progress::Epoch(r) = progress {
            println!("{row:>5} {:>12.6} {:>12.6} {:>12.6} {:>7.1}s", r.train_loss, r.valid_loss, r.error_rate, r.seconds);
            row += 1;
        }
    }));
    let outcome = if options.fine_tune {
        learner.fine_tune(options.epochs, options.lr.unwrap_or(2e-3)).await
    } else {
        learner.fit_one_cycle(options.epochs, LearningRate::Single(options.lr.unwrap_or(1e-3)), 0.25, 25.0).await
    }
    .map_err(|e| e.to_string())?;
    if let FitOutcome::Diverged(why) = outcome {
        println!("stopped: {why}");
    }
    if options.tta {
        let tta = learner.tta(4, 0.25).await.map_err(|e| e.to_string())?;
        println!("tta(n=4, beta=0.25): error_rate {:.6} (plain pass {:.6})", tta.error_rate, tta.plain_error_rate);
    }
    println!("\ntop losses (prediction/actual/loss/probability):");
    let results = learner.validation_results().await.map_err(|e| e.to_string())?;
    let vocab = &learner.data.vocab;
    for r in top_losses(&results, 9) {
        let name = &learner.data.items[r.item].name;
        println!("  {name}: {}/{}/{:.2}/{:.2}", vocab[r.predicted], vocab[r.actual], r.loss, r.probability);
    }
    let (weights, description) = learner.export().await.map_err(|e| e.to_string())?;
    std::fs::write("model.safetensors", weights).map_err(|e| format!("model.safetensors: {e}"))?;
    std::fs::write("model.json", description).map_err(|e| format!("model.json: {e}"))?;
    let onnx = learner.export_onnx().await.map_err(|e| e.to_string())?;
    std::fs::write("model.onnx", onnx).map_err(|e| format!("model.onnx: {e}"))?;
    println!("saved model.safetensors, model.json and model.onnx");
    Ok(())
}
