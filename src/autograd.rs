//! Reverse-mode automatic differentiation. `backward` walks the graph recorded in each tensor's
//! `Op` from the loss back to the leaves; `local_gradients` is the derivative table, one arm per
//! primitive op: given the output y = f(inputs) and dL/dy (`g`), it returns dL/d(each input).

use std::collections::{HashMap, HashSet};

use crate::backend::{BinaryOp, Kernel, UnaryOp};
use crate::error::{Error, Result};
use crate::ops::Op;
use crate::shape::show;
use crate::tensor::{no_grad, Tensor};

impl Tensor {
    /// Computes d(self)/d(leaf) for every leaf that requires grad and adds it to the leaf's
    /// `.grad` (gradients accumulate across calls until `zero_grad`). `self` must hold one number.
    pub fn backward(&self) -> Result<()> {
        if self.numel() != 1 {
            return Err(Error::new("backward", format!("needs a single number (a scalar loss), got shape {}", show(self.shape()))));
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
                for (input, input_grad) in op.inputs().into_iter().zip(local_gradients(op, &node, &g)?) {
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

/// dL/d(input) for each input of `op`, given its output `y` and g = dL/dy.
fn local_gradients(op: &Op, y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    // Only inputs that require grad get one: a frozen weight costs no gradient computation.
    let wanted = |input: &Tensor, gradient: &dyn Fn() -> Result<Tensor>| -> Result<Option<Tensor>> {
        if input.requires_grad() {
            gradient().map(Some)
        } else {
            Ok(None)
        }
    };
    Ok(match op {
        Op::Unary(unary, x) => vec![Some(match *unary {
            UnaryOp::Neg => g.neg()?,                                      // d(-x) = -1
            UnaryOp::Exp => g.mul(y)?,                                     // d(e^x) = e^x = y
            UnaryOp::Log => g.div(x)?,                                     // d(ln x) = 1/x
            UnaryOp::Relu => x.clamp_backward(0.0, f32::INFINITY, g)?,     // d relu = 1 where x > 0
            UnaryOp::Pow(p) if p == 2.0 => g.mul(&x.mul_scalar(2.0)?)?,    // d(x^2) = 2x (one pass)
            UnaryOp::Pow(p) => g.mul(&x.pow(p - 1.0)?.mul_scalar(p)?)?,    // d(x^p) = p x^(p-1)
            UnaryOp::Affine { scale, .. } => g.mul_scalar(scale)?,         // d(sx + t) = s
            UnaryOp::Clamp { min, max } => x.clamp_backward(min, max, g)?, // 1 inside (min, max)
        })],
        // Broadcasting in the forward pass means summing the gradient back to each input's shape.
        Op::Binary(binary, a, b) => {
            let ga = || match binary {
                BinaryOp::Add | BinaryOp::Sub => Ok(g.clone()), // d(a+b)/da = d(a-b)/da = 1
                BinaryOp::Mul => g.mul(b),                      // d(ab)/da = b
                BinaryOp::Div => g.div(b),                      // d(a/b)/da = 1/b
                BinaryOp::ClampBackward { .. } => unreachable!("clamp_backward is never recorded in a graph"),
            };
            let gb = || match binary {
                BinaryOp::Add => Ok(g.clone()),           // d(a+b)/db = 1
                BinaryOp::Sub => g.neg(),                 // d(a-b)/db = -1
                BinaryOp::Mul => g.mul(a),                // d(ab)/db = a
                BinaryOp::Div => g.mul(y)?.div(b)?.neg(), // d(a/b)/db = -a/b^2 = -y/b
                BinaryOp::ClampBackward { .. } => unreachable!("clamp_backward is never recorded in a graph"),
            };
            vec![wanted(a, &|| ga()?.sum_to_shape(a.shape()))?, wanted(b, &|| gb()?.sum_to_shape(b.shape()))?]
        }
        // y = a @ b: dL/da = g @ b^T, dL/db = a^T @ g; a 2-D operand of a batched product was used
        // by every batch entry, so its gradient sums over the batch.
        Op::MatMul(a, b) => vec![
            wanted(a, &|| g.matmul(&b.transpose()?)?.sum_to_shape(a.shape()))?,
            wanted(b, &|| a.transpose()?.matmul(g)?.sum_to_shape(b.shape()))?,
        ],
        Op::Transpose(_) => vec![Some(g.transpose()?)],
        Op::Reshape(x) => vec![Some(g.reshape(x.shape())?)],
        Op::Expand(x) => vec![Some(g.sum_to_shape(x.shape())?)],
        // Convolution is linear in each argument: its gradients are the two "transposed"
        // convolutions of g (see shaders/conv.wgsl for the sums).
        Op::Conv2d(x, w, geometry) => vec![
            wanted(x, &|| g.run_kernel(Kernel::Conv2dBackwardInput(*geometry), &[g, w], x.shape().to_vec(), None))?,
            wanted(w, &|| x.run_kernel(Kernel::Conv2dBackwardWeight(*geometry), &[x, g], w.shape().to_vec(), None))?,
        ],
        // Only the largest element along the axis moved the max: g goes there (the first on ties).
        Op::MaxAxis(x, axis) => {
            let mut kept = x.shape().to_vec();
            kept[*axis] = 1;
            let winners = x.argmax_axis(*axis as isize, true)?;
            vec![Some(g.reshape(&kept)?.scatter_axis(&winners, *axis, x.shape()[*axis])?)]
        }
        // Each picked value came from one element of x: g goes back there.
        Op::Gather(x, indices, axis) => vec![Some(g.scatter_axis(indices, *axis, x.shape()[*axis])?)],
        // Each window's gradient goes to the input element that won it.
        Op::MaxPool2d(x, geometry) => vec![Some(x.run_kernel(Kernel::MaxPool2dBackward(*geometry), &[x, g], x.shape().to_vec(), None)?)],
        // d loss_b / d logits_b = softmax - smoothed one-hot, scaled by each row's incoming g.
        Op::SoftmaxCrossEntropy(logits, targets, smoothing) => {
            let (batch, classes) = (logits.shape()[0], logits.shape()[1]);
            let kernel = Kernel::SoftmaxCrossEntropyBackward { batch, classes, smoothing: *smoothing };
            let per_row = logits.run_kernel(kernel, &[logits, targets], logits.shape().to_vec(), None)?;
            vec![Some(per_row.mul(&g.reshape(&[batch, 1])?)?)]
        }
        // Training-mode batch norm, one fused kernel (shaders/norm.wgsl). With x̂ = (x - mean) inv_std
        // and M values per channel: d bias = Σ g, d weight = Σ g x̂ and
        // d x = weight inv_std / M (M g - Σ g - x̂ Σ g x̂); d x only when x needs it.
        Op::BatchNorm(x, weight, bias, saved) => {
            let (param_grads, dx) = x.batch_norm_backward(g, saved, x.requires_grad())?;
            let row = |r: usize| param_grads.narrow(0, r, 1)?.reshape(weight.shape());
            vec![dx, wanted(weight, &|| row(0))?, wanted(bias, &|| row(1))?]
        }
        // Each input's part of the joined tensor is its gradient.
        Op::Concat(a, b, axis) => {
            let split = a.shape()[*axis];
            vec![wanted(a, &|| g.narrow(*axis, 0, split))?, wanted(b, &|| g.narrow(*axis, split, b.shape()[*axis]))?]
        }
        // Every x along the axis contributed once to its sum: spread g back along the axis.
        Op::SumAxis(x, axis) => {
            let mut kept = x.shape().to_vec();
            kept[*axis] = 1;
            vec![Some(g.reshape(&kept)?.expand(x.shape())?)]
        }
    })
}
