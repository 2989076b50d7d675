//! Optimizer updates as kernels: each weight updated in place, one thread per weight, so a step
//! costs one dispatch per parameter tensor and nothing is read back. The optimizers (src/optim.rs)
//! keep the state and call these. Kernels: shaders/sgd.wgsl, shaders/adam.wgsl.

#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod reference;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod tests;

use crate::backend::{linear_groups, Kernel, Shader};

pub static SGD_SHADER: Shader = Shader { name: "sgd", source: include_str!("../../../shaders/sgd.wgsl") };
pub static ADAM_SHADER: Shader = Shader { name: "adam", source: include_str!("../../../shaders/adam.wgsl") };

crate::params_struct! {
    SgdParams { n: u32, lr: f32, momentum: f32, weight_decay: f32, first_step: u32 }
}

crate::params_struct! {
    AdamParams { n: u32, lr: f32, momentum: f32, sqr_momentum: f32, eps: f32, weight_decay: f32, step: u32 }
}

/// PyTorch's SGD, in place. Inputs: [grad]; outputs: [param, momentum buffer].
///   d = g + wd p;  with momentum, m = d on the first step, else m = momentum m + d (no
///   dampening), and d = m;  p = p - lr d.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdStep {
    pub n: usize,
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub first_step: bool,
}

/// fastai's Adam, in place, at step t (from 1). Inputs: [grad]; outputs: [param, average
/// gradient m, average squared gradient v]. Decoupled weight decay, dampened averages, bias
/// correction:
///   p = p (1 - lr wd);  m = mom m + (1 - mom) g;  v = sqr_mom v + (1 - sqr_mom) g²;
///   p = p - lr / (1 - mom^t) m / (sqrt(v / (1 - sqr_mom^t)) + eps).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    pub n: usize,
    pub lr: f32,
    pub momentum: f32,
    pub sqr_momentum: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub step: u32,
}

impl Kernel for SgdStep {
    fn name(&self) -> &'static str {
        "sgd_step"
    }

    fn shader(&self) -> &'static Shader {
        &SGD_SHADER
    }

    fn params(&self) -> Vec<u8> {
        let SgdStep { n, lr, momentum, weight_decay, first_step } = *self;
        super::bytes(SgdParams { n: n as u32, lr, momentum, weight_decay, first_step: first_step as u32 })
    }

    fn workgroups(&self) -> [u32; 3] {
        linear_groups(self.n)
    }

    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let SgdStep { lr, momentum, weight_decay, first_step, .. } = *self;
        let [param, buffer] = outputs else { unreachable!("sgd_step writes param and momentum buffer") };
        for ((p, m), &g) in param.iter_mut().zip(buffer.iter_mut()).zip(inputs[0]) {
            let d = g + weight_decay * *p;
            if momentum == 0.0 {
                *p -= lr * d;
            } else {
                *m = if first_step { d } else { momentum * *m + d };
                *p -= lr * *m;
            }
        }
    }
}

impl Kernel for AdamStep {
    fn name(&self) -> &'static str {
        "adam_step"
    }

    fn shader(&self) -> &'static Shader {
        &ADAM_SHADER
    }

    fn params(&self) -> Vec<u8> {
        let AdamStep { n, lr, momentum, sqr_momentum, eps, weight_decay, step } = *self;
        super::bytes(AdamParams { n: n as u32, lr, momentum, sqr_momentum, eps, weight_decay, step })
    }

    fn workgroups(&self) -> [u32; 3] {
        linear_groups(self.n)
    }

    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let AdamStep { lr, momentum, sqr_momentum, eps, weight_decay, step, .. } = *self;
        let [param, avg, sqr_avg] = outputs else { unreachable!("adam_step writes param and two averages") };
        let (debias1, debias2) = (1.0 - momentum.powi(step as i32), 1.0 - sqr_momentum.powi(step as i32));
        for (((p, m), v), &g) in param.iter_mut().zip(avg.iter_mut()).zip(sqr_avg.iter_mut()).zip(inputs[0]) {
            *p *= 1.0 - lr * weight_decay;
            *m = momentum * *m + (1.0 - momentum) * g;
            *v = sqr_momentum * *v + (1.0 - sqr_momentum) * g * g;
            *p -= lr / debias1 * *m / ((*v / debias2).sqrt() + eps);
        }
    }
}
