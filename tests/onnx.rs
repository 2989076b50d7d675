//! The ONNX export: a Learner briefly trained on the sample photos, exported, and run by ONNX
//! Runtime (tests/onnx_runtime.py, in the Python environment scripts/setup.sh makes) on the
//! validation photos, which must predict what kiln predicts within 1e-4; and models the export
//! cannot describe, refused with the layer's name.

mod common;
use common::*;
use kiln::data::dataset::{ImageDataset, Split};
use kiln::learner::{FitOutcome, Learner};
use kiln::nn::onnx::{export, ModelInfo};
use kiln::nn::{Conv2d, Linear, Module, NamedTensor, Sequential, Stateless};
use kiln::schedule::LearningRate;
use kiln::{no_grad, Device, Tensor};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The Python with ONNX Runtime that scripts/setup.sh installs.
const PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/onnxruntime-venv/bin/python");

fn write_f32(path: &Path, values: &[f32]) {
    std::fs::write(path, values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
}

#[test]
fn onnx_runtime_predicts_what_kiln_predicts_on_the_validation_photos() {
    let data = ImageDataset::from_folder(&Path::new(ROOT).join("www/sample"), 64, Split::default()).unwrap();
    let weights = std::fs::read(Path::new(ROOT).join("www/models/mobilenet_v2.safetensors")).unwrap();
    let mut learner = Learner::vision(data, &weights, "mobilenet_v2.safetensors", &Device::Cpu).unwrap();
    // One epoch of the whole network, so no weight or batch-norm statistic is as initialised or
    // as on ImageNet.
    learner.unfreeze();
    assert_eq!(block_on(learner.fit_one_cycle(1, LearningRate::Single(1e-3), 0.25, 25.0)).unwrap(), FitOutcome::Finished);

    let valid = learner.data.valid.clone();
    let (images, _) = learner.data.batch(&valid, None, &Device::Cpu).unwrap();
    learner.model().set_training(false);
    let logits = no_grad(|| learner.forward(&images)).unwrap();
    let probabilities = logits.softmax(1).unwrap();

    let dir = PathBuf::from(ROOT).join("target/tmp/onnx-export");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("model.onnx"), block_on(learner.export_onnx()).unwrap()).unwrap();
    let (safetensors, description) = block_on(learner.export()).unwrap();
    std::fs::write(dir.join("model.safetensors"), safetensors).unwrap();
    std::fs::write(dir.join("model.json"), description).unwrap();
    write_f32(&dir.join("images.f32"), &values(&images));
    write_f32(&dir.join("logits.f32"), &values(&logits));
    write_f32(&dir.join("probabilities.f32"), &values(&probabilities));

    assert!(Path::new(PYTHON).exists(), "{PYTHON} is missing: `bash scripts/setup.sh` installs ONNX Runtime there");
    let run = Command::new(PYTHON).arg(Path::new(ROOT).join("tests/onnx_runtime.py")).arg(&dir).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    println!("{stdout}");
    assert!(run.status.success(), "ONNX Runtime disagrees with kiln:\n{stdout}\n{stderr}");
}

/// A layer the export knows nothing of.
struct Custom;

impl Module for Custom {
    fn forward(&self, x: &Tensor) -> kiln::Result<Tensor> {
        Ok(x.clone())
    }

    fn collect_tensors(&self, _prefix: &str, _out: &mut Vec<NamedTensor>) {}

    fn set_training(&self, _training: bool) {}
}

fn export_error(layers: Vec<Rc<dyn Module>>, image: &[usize]) -> String {
    let info = ModelInfo { doc: String::new(), metadata: vec![] };
    error_message(block_on(export(&Sequential::new(layers), image, info)))
}

#[test]
fn models_the_export_cannot_describe_are_refused_with_the_layer() {
    let mut rng = kiln::rng::Pcg32::new(1);
    let conv = Rc::new(Conv2d::new(3, 4, 3, 1, 0, 1, false, &Device::Cpu, &mut rng).unwrap());
    let linear = Rc::new(Linear::new(16, 2, true, &Device::Cpu, &mut rng).unwrap());

    let message = export_error(vec![conv.clone(), Rc::new(Custom)], &[3, 8, 8]);
    assert!(message.contains("Custom '1' cannot be exported to ONNX: it has no ONNX form"), "{message}");
    let message = export_error(vec![conv.clone()], &[5, 8, 8]);
    assert!(message.contains("Conv2d '0' cannot be exported to ONNX: it takes 3 channels, gets 5"), "{message}");
    let message = export_error(vec![conv.clone()], &[3, 2, 2]);
    assert!(message.contains("the image is too small"), "{message}");
    let message = export_error(vec![conv.clone()], &[3, 8, 8]);
    assert!(message.contains("one image gives [4, 6, 6]; the export needs one row of class scores"), "{message}");
    let message = export_error(vec![conv.clone(), Rc::new(Stateless::Flatten), linear], &[3, 8, 8]);
    assert!(message.contains("Linear '2' cannot be exported to ONNX: it takes 16 features per item, gets [144]"), "{message}");
    let odd = Rc::new(Linear { weight: Tensor::zeros(&[2, 3, 4], &Device::Cpu).unwrap(), bias: None });
    let message = export_error(vec![conv.clone(), Rc::new(Stateless::Flatten), odd], &[3, 8, 8]);
    assert!(message.contains("Linear '2' cannot be exported to ONNX: its weight is [2, 3, 4], not [out, in]"), "{message}");
    let message = export_error(vec![], &[3, 8, 8]);
    assert!(message.contains("the model has no layers"), "{message}");
}
