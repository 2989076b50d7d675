//! fastai's head for a pretrained body (create_head with concat pooling).

use std::rc::Rc;

use crate::backend::Device;
use crate::error::Result;
use crate::nn::layers::kaiming_normal;
use crate::nn::{BatchNorm, Dropout, Linear, Module, Sequential, Stateless};
use crate::rng::Pcg32;
use crate::tensor::Tensor;

/// fastai's create_head for `features` input channels and `classes` outputs.
pub(super) fn create_head(features: usize, classes: usize, device: &Device, rng: &mut Pcg32) -> Result<Sequential> {
    let batch_norm = |channels: usize| -> Result<Rc<dyn Module>> {
        let norm = BatchNorm::new(channels, device)?;
        norm.bias.assign(&Tensor::full(&[channels], 1e-3, device)?)?; // fastai: weight 1, bias 1e-3
        Ok(Rc::new(norm))
    };
    let mut linear = |inputs: usize, outputs: usize| -> Result<Rc<dyn Module>> {
        Ok(Rc::new(Linear { weight: kaiming_normal(&[outputs, inputs], inputs, device, rng)?, bias: None }))
    };
    let hidden = 512;
    Ok(Sequential::new(vec![
        Rc::new(Stateless::AdaptiveConcatPool),
        Rc::new(Stateless::Flatten),
        batch_norm(2 * features)?,
        Rc::new(Dropout::new(0.25, 1)),
        linear(2 * features, hidden)?,
        Rc::new(Stateless::Relu),
        batch_norm(hidden)?,
        Rc::new(Dropout::new(0.5, 2)),
        linear(hidden, classes)?,
    ]))
}
