//! Saving and loading a module's parameters and buffers as safetensors, by PyTorch name.

use std::collections::HashSet;

use safetensors::{Dtype, SafeTensors};

use super::Module;
use crate::error::{Error, ErrorKind, Result};
use crate::shape::show;
use crate::tensor::Tensor;

/// Replaces every parameter and buffer of `module` with the tensor of the same name in `bytes`, a
/// safetensors file (F32 or F16) called `source` in error messages. Every name must be present
/// with the right shape and finite values, and the file must hold nothing else; on any error
/// nothing is changed.
pub fn load_safetensors(module: &dyn Module, bytes: &[u8], source: &str) -> Result<()> {
    // A file that is not what a safetensors file of this model should be is a decode error; a
    // tensor of another shape (weights of another model, another number of classes) a shape error.
    let fail = |detail: String| Error::of(ErrorKind::Decode, "load_safetensors", format!("{source}: {detail}"));
    let file = SafeTensors::deserialize(bytes).map_err(|e| fail(format!("not a readable safetensors file ({e})")))?;
    let state = module.state();
    let expected: HashSet<&str> = state.iter().map(|t| t.name.as_str()).collect();
    let mut extra: Vec<&str> = file.names().into_iter().filter(|n| !expected.contains(n)).collect();
    if !extra.is_empty() {
        extra.sort();
        return Err(fail(format!("holds {} tensor(s) the model does not have, e.g. '{}'", extra.len(), extra[0])));
    }
    // Read and upload everything first, so a bad entry leaves the model untouched.
    let mut replacements = Vec::with_capacity(state.len());
    for entry in &state {
        let view = file.tensor(&entry.name).map_err(|_| fail(format!("tensor '{}' is missing", entry.name)))?;
        if view.shape() != entry.tensor.shape() {
            return Err(Error::shape(
                "load_safetensors",
                format!(
                    "{source}: tensor '{}' has shape {}, the model expects {}",
                    entry.name,
                    show(view.shape()),
                    show(entry.tensor.shape())
                ),
            ));
        }
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => view.data().chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            other => return Err(fail(format!("tensor '{}' is stored as {other:?}; only F32 and F16 are supported", entry.name))),
        };
        // NaN or infinite weights would load, then predict "NaN%" and make training diverge.
        let not_finite = data.iter().filter(|v| !v.is_finite()).count();
        if not_finite > 0 {
            return Err(fail(format!("tensor '{}' has NaN or infinite values ({not_finite} of {})", entry.name, data.len())));
        }
        replacements.push(Tensor::from_slice(&data, view.shape(), entry.tensor.device())?);
    }
    for (entry, value) in state.iter().zip(&replacements) {
        entry.tensor.assign(value)?;
    }
    Ok(())
}

/// The module's parameters and buffers as a safetensors file (F32, PyTorch names), readable by
/// PyTorch's `safetensors.torch.load_file`.
pub async fn save_safetensors(module: &dyn Module) -> Result<Vec<u8>> {
    let state = module.state();
    let mut bytes = Vec::with_capacity(state.len());
    for entry in &state {
        let values = entry.tensor.to_vec().await?;
        bytes.push(values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
    }
    let views = state
        .iter()
        .zip(&bytes)
        .map(|(entry, data)| {
            safetensors::tensor::TensorView::new(Dtype::F32, entry.tensor.shape().to_vec(), data)
                .map(|view| (entry.name.clone(), view))
                .map_err(|e| Error::new("save_safetensors", format!("tensor '{}': {e}", entry.name)))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None).map_err(|e| Error::new("save_safetensors", e.to_string()))
}
