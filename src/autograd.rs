//! Reverse-mode automatic differentiation. Each op's output records how it was made: an `Op`
//! (tensor.rs), its inputs plus the op's `Derivative`. `backward` walks that graph from the loss
//! back to the leaves. The derivative rules themselves live beside each op family's forward pass
//! (src/ops/<family>/mod.rs, `impl Derivative`), each arm with its math.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

pub use crate::tensor::{Derivative, Op};

use crate::error::{Error, Result};
use crate::shape::show;
use crate::tensor::{no_grad, Tensor};

/// Records `derivative` as an op (for `Tensor::from_op`).
pub fn record(derivative: impl Derivative + 'static) -> Option<Op> {
    Some(Rc::new(derivative))
}

/// `gradient()` when `input` requires grad, else None: a frozen weight costs no gradient work.
pub fn wanted(input: &Tensor, gradient: impl FnOnce() -> Result<Tensor>) -> Result<Option<Tensor>> {
    if input.requires_grad() {
        gradient().map(Some)
    } else {
        Ok(None)
    }
}

impl Tensor {
    /// Computes d(self)/d(leaf) for every leaf that requires grad and adds it to the leaf's
    /// `.grad` (gradients accumulate across calls until `zero_grad`). `self` must hold one number.
    pub fn backward(&self) -> Result<()> {
        if self.numel() != 1 {
            return Err(Error::shape("backward", format!("needs a single number (a scalar loss), got shape {}", show(self.shape()))));
        }
        if !self.requires_grad() {
            return Err(Error::new("backward", "the tensor does not depend on anything that requires grad"));
        }
        no_grad(|| {
            let mut grads: HashMap<u64, Tensor> = HashMap::new();
            grads.insert(self.id(), Tensor::ones(self.shape(), self.device())?);
            for node in self.topological_order() {
                let Some(g) = grads.remove(&node.id()) else {
                    continue;
                };
                let Some(op) = node.op() else {
                    // A leaf: accumulate into .grad.
                    let total = match node.grad() {
                        Some(previous) => previous.add(&g)?,
                        None => g,
                    };
                    node.set_grad(Some(total));
                    continue;
                };
                for (input, input_grad) in op.inputs().into_iter().zip(op.backward(&node, &g)?) {
                    let Some(input_grad) = input_grad else { continue };
                    let summed = match grads.remove(&input.id()) {
                        Some(existing) => existing.add(&input_grad)?,
                        None => input_grad,
                    };
                    grads.insert(input.id(), summed);
                }
            }
            Ok(())
        })
    }

    /// Every tensor that requires grad and leads to self, each after all the tensors it feeds
    /// (self first). Iterative, so deep graphs cannot overflow the stack.
    fn topological_order(&self) -> Vec<Tensor> {
        let mut order = Vec::new();
        let mut visited = HashSet::new();
        // (tensor, children already pushed?)
        let mut stack = vec![(self.clone(), false)];
        while let Some((node, expanded)) = stack.pop() {
            if expanded {
                order.push(node);
                continue;
            }
            if !visited.insert(node.id()) {
                continue;
            }
            stack.push((node.clone(), true));
            if let Some(op) = node.op() {
                for input in op.inputs() {
                    if input.requires_grad() && !visited.contains(&input.id()) {
                        stack.push((input.clone(), false));
                    }
                }
            }
        }
        order.reverse(); // post-order reversed: outputs before the inputs they consume
        order
    }
}
