//! Optimizer updates as kernels: weights updated in place, one thread per weight, several
//! parameter tensors per dispatch, nothing read back. The optimizers (src/optim.rs) keep the
//! state and call `update`. Kernels: shaders/sgd.wgsl, shaders/adam.wgsl.
//!
//! Why several tensors per dispatch and not one flat buffer of all parameters: parameters are
//! ordinary tensors, each with a buffer of its own that every other kernel binds whole, from
//! element 0. Views into one flat buffer would need each binding to carry an offset (aligned to
//! 256 bytes) through the backend and every kernel. So a dispatch binds SLOTS tensors, each its
//! gradient (read) and its numbers (written in place), while the optimizer state of all the
//! tensors lives in one flat buffer that the optimizer owns: 2 SLOTS + 1 = 7 storage buffers, within
//! the 8 per shader stage that every WebGPU device offers.

#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod reference;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod tests;

use crate::backend::{linear_groups, Kernel, Shader, Storage};
use crate::error::Result;
use crate::tensor::Tensor;

pub static SGD_SHADER: Shader = Shader { name: "sgd", source: include_str!("../../../shaders/sgd.wgsl") };
pub static ADAM_SHADER: Shader = Shader { name: "adam", source: include_str!("../../../shaders/adam.wgsl") };

/// Parameter tensors updated by one dispatch (the bindings each WGSL entry point declares).
pub const SLOTS: usize = 3;

crate::params_struct! {
    /// `ends[s]`: one past slot s's last thread (threads run over the slots' weights one after
    /// another); `states[s]`: where slot s's state starts in the flat state buffer. Lane 3 unused.
    SgdParams { momentum: f32, _pad0: u32, _pad1: u32, _pad2: u32, ends: [u32; 4], states: [u32; 4], rates: [[f32; 4]; SLOTS] }
}

crate::params_struct! {
    /// As `SgdParams`.
    AdamParams { momentum: f32, sqr_momentum: f32, eps: f32, _pad0: u32, ends: [u32; 4], states: [u32; 4], rates: [[f32; 4]; SLOTS] }
}

/// One parameter tensor of a step: its n weights, where its state starts in the optimizer's flat
/// state buffer (in weights: Adam keeps 2 numbers per weight there, SGD 1), its learning rate and
/// weight decay, and its step t (from 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slot {
    pub n: usize,
    pub state: usize,
    pub lr: f32,
    pub weight_decay: f32,
    pub step: u32,
}

/// The update rules, in place, for weight p with gradient g.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// PyTorch's SGD; state: the momentum buffer m.
    ///   d = g + wd p;  with momentum, m = d on the first step, else m = momentum m + d (no
    ///   dampening), and d = m;  p = p - lr d.
    Sgd { momentum: f32 },
    /// fastai's Adam at step t: decoupled weight decay, dampened averages, bias correction; state:
    /// (average gradient m, average squared gradient v) per weight.
    ///   p = p (1 - lr wd);  m = mom m + (1 - mom) g;  v = sqr_mom v + (1 - sqr_mom) g²;
    ///   p = p - lr / (1 - mom^t) m / (sqrt(v / (1 - sqr_mom^t)) + eps).
    Adam { momentum: f32, sqr_momentum: f32, eps: f32 },
}

/// One step of up to SLOTS tensors. Inputs: their gradients; outputs: [flat state, their weights],
/// padded to SLOTS tensors with one-number stand-ins (see `update`).
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateKernel {
    pub rule: Rule,
    pub slots: Vec<Slot>,
}

impl UpdateKernel {
    /// (ends, states) of the parameter block: empty slots end where the last one does.
    fn layout(&self) -> ([u32; 4], [u32; 4]) {
        let (mut ends, mut states, mut end) = ([0; 4], [0; 4], 0);
        for s in 0..4 {
            if let Some(slot) = self.slots.get(s) {
                end += slot.n as u32;
                states[s] = slot.state as u32;
            }
            ends[s] = end;
        }
        (ends, states)
    }

    /// Per slot (lr, weight decay, then for Adam the bias corrections 1 - mom^t and
    /// 1 - sqr_mom^t; for SGD 1 on the first step), computed once here for both backends.
    fn rates(&self) -> [[f32; 4]; SLOTS] {
        let mut rates = [[0.0; 4]; SLOTS];
        for (rate, slot) in rates.iter_mut().zip(&self.slots) {
            let t = slot.step as i32;
            *rate = match self.rule {
                Rule::Sgd { .. } => [slot.lr, slot.weight_decay, (slot.step == 1) as u32 as f32, 0.0],
                Rule::Adam { momentum, sqr_momentum, .. } => {
                    [slot.lr, slot.weight_decay, 1.0 - momentum.powi(t), 1.0 - sqr_momentum.powi(t)]
                }
            };
        }
        rates
    }
}

impl Kernel for UpdateKernel {
    fn name(&self) -> &'static str {
        match self.rule {
            Rule::Sgd { .. } => "sgd_step",
            Rule::Adam { .. } => "adam_step",
        }
    }

    fn shader(&self) -> &'static Shader {
        match self.rule {
            Rule::Sgd { .. } => &SGD_SHADER,
            Rule::Adam { .. } => &ADAM_SHADER,
        }
    }

    fn params(&self) -> Vec<u8> {
        let ((ends, states), rates) = (self.layout(), self.rates());
        match self.rule {
            Rule::Sgd { momentum } => super::bytes(SgdParams { momentum, _pad0: 0, _pad1: 0, _pad2: 0, ends, states, rates }),
            Rule::Adam { momentum, sqr_momentum, eps } => {
                super::bytes(AdamParams { momentum, sqr_momentum, eps, _pad0: 0, ends, states, rates })
            }
        }
    }

    fn workgroups(&self) -> [u32; 3] {
        linear_groups(self.slots.iter().map(|s| s.n).sum())
    }

    fn run_cpu(&self, grads: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let [state, params @ ..] = outputs else { unreachable!("an update writes its state and weights") };
        for (((slot, rate), param), grad) in self.slots.iter().zip(self.rates()).zip(params.iter_mut()).zip(grads) {
            let (state, [lr, wd, ..]) = (&mut state[slot.state * self.rule.state_width()..], rate);
            match self.rule {
                Rule::Sgd { momentum } => {
                    let first_step = rate[2] == 1.0;
                    for ((p, m), &g) in param.iter_mut().zip(state.iter_mut()).zip(*grad) {
                        let d = g + wd * *p;
                        if momentum == 0.0 {
                            *p -= lr * d;
                        } else {
                            *m = if first_step { d } else { momentum * *m + d };
                            *p -= lr * *m;
                        }
                    }
                }
                Rule::Adam { momentum, sqr_momentum, eps } => {
                    let (debias1, debias2) = (rate[2], rate[3]);
                    for ((p, mv), &g) in param.iter_mut().zip(state.chunks_exact_mut(2)).zip(*grad) {
                        *p *= 1.0 - lr * wd;
                        mv[0] = momentum * mv[0] + (1.0 - momentum) * g;
                        mv[1] = sqr_momentum * mv[1] + (1.0 - sqr_momentum) * g * g;
                        *p -= lr / debias1 * mv[0] / ((mv[1] / debias2).sqrt() + eps);
                    }
                }
            }
        }
    }
}

impl Rule {
    /// Numbers of state per weight in the flat state buffer: SGD's momentum, Adam's (m, v).
    pub fn state_width(&self) -> usize {
        match self {
            Rule::Sgd { .. } => 1,
            Rule::Adam { .. } => 2,
        }
    }
}

/// Updates each (weight, its gradient, its slot) in place by `rule`, SLOTS tensors per dispatch;
/// `state` is the flat state buffer the slots point into.
pub fn update(rule: Rule, tensors: &[(&Tensor, Tensor, Slot)], state: &Storage) -> Result<()> {
    for chunk in tensors.chunks(SLOTS) {
        let device = chunk[0].0.device();
        // Every entry point binds SLOTS tensors: a short chunk pads with one-number stand-ins,
        // which its empty slots leave alone.
        let stand_ins = (0..2 * (SLOTS - chunk.len())).map(|_| device.alloc(1)).collect::<Result<Vec<_>>>()?;
        let (grads, params): (Vec<_>, Vec<_>) = chunk.iter().map(|(p, g, _)| (g.storage(), p.storage())).unzip();
        let (grad_pad, param_pad) = stand_ins.split_at(SLOTS - chunk.len());
        let inputs: Vec<&Storage> = grads.iter().map(|s| s.as_ref()).chain(grad_pad).collect();
        let outputs: Vec<&Storage> = [state].into_iter().chain(params.iter().map(|s| s.as_ref())).chain(param_pad).collect();
        let kernel = UpdateKernel { rule, slots: chunk.iter().map(|(.., slot)| *slot).collect() };
        device.run(&kernel, &inputs, &outputs)?;
    }
    Ok(())
}
