//! Matrix products (2-D and batched) and the linear layer. Kernel: shaders/matmul.wgsl; the fast
//! CPU path is the register-tiled micro-kernel in cpu.rs.

pub(crate) mod cpu;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod reference;
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) mod tests;

use crate::autograd::{record, wanted, Derivative};
use crate::backend::{linear_groups, Kernel, Shader};
use crate::error::{Error, Result};
use crate::shape::show;
use crate::tensor::Tensor;

pub static SHADER: Shader = Shader { name: "matmul", source: include_str!("../../../shaders/matmul.wgsl") };

/// Output tile edge of the tiled matmul kernel (shaders/matmul.wgsl): one workgroup per 64 x 64 tile.
const TILE: usize = 64;
/// k values per panel of the tiled kernel (DEPTH in shaders/matmul.wgsl).
const DEPTH: usize = 32;

crate::params_struct! {
    Params { m: u32, k: u32, n: u32, a_batch_stride: u32, b_batch_stride: u32, batch: u32 }
}

/// out[b] = a[b] @ c[b] with a: [m, k], c: [k, n]; a batch stride of 0 reuses one matrix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatMul {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a_batch_stride: usize,
    pub b_batch_stride: usize,
}

impl MatMul {
    /// Whether the tiled kernel pays: m and n fill at least half a tile edge and k half a panel.
    /// Thinner products (MobileNetV2's 1x1 convolutions on small images: n = 1, 4, 16; their
    /// weight gradients, k = h w = 1 or 4) would leave most of each 64 x 64 tile or 32-deep panel
    /// as padding, and run one thread per output instead.
    fn tiled(&self) -> bool {
        self.m >= TILE / 2 && self.n >= TILE / 2 && self.k >= DEPTH / 2
    }
}

impl Kernel for MatMul {
    fn name(&self) -> &'static str {
        if self.tiled() {
            "matmul"
        } else {
            "matmul_direct"
        }
    }

    fn shader(&self) -> &'static Shader {
        &SHADER
    }

    fn params(&self) -> Vec<u8> {
        let [m, k, n, a_batch_stride, b_batch_stride, batch] =
            [self.m, self.k, self.n, self.a_batch_stride, self.b_batch_stride, self.batch].map(|v| v as u32);
        super::bytes(Params { m, k, n, a_batch_stride, b_batch_stride, batch })
    }

    fn workgroups(&self) -> [u32; 3] {
        match self.tiled() {
            true => [self.n.div_ceil(TILE) as u32, self.m.div_ceil(TILE) as u32, self.batch as u32],
            false => linear_groups(self.batch * self.m * self.n),
        }
    }

    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let MatMul { batch, m, k, n, a_batch_stride, b_batch_stride } = *self;
        cpu::batched_matmul(inputs[0], inputs[1], outputs[0], batch, m, k, n, a_batch_stride, b_batch_stride)
    }
}

/// y = a @ b, recorded.
struct Product(Tensor, Tensor);

impl Derivative for Product {
    fn inputs(&self) -> Vec<&Tensor> {
        vec![&self.0, &self.1]
    }

    // y = a @ b: dL/da = g @ b^T, dL/db = a^T @ g; a 2-D operand of a batched product was used by
    // every batch entry, so its gradient sums over the batch.
    fn backward(&self, _y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let Product(a, b) = self;
        Ok(vec![
            wanted(a, || g.matmul(&b.transpose()?)?.sum_to_shape(a.shape()))?,
            wanted(b, || a.transpose()?.matmul(g)?.sum_to_shape(b.shape()))?,
        ])
    }
}

impl Tensor {
    /// Matrix product of 2-D and batched 3-D operands: [m,k]@[k,n], [b,m,k]@[k,n], [m,k]@[b,k,n]
    /// or [b,m,k]@[b,k,n].
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        self.check_same("matmul", other)?;
        let (a, b) = (self.shape(), other.shape());
        if !(2..=3).contains(&a.len()) || !(2..=3).contains(&b.len()) {
            return Err(Error::shape("matmul", format!("needs 2-D or 3-D operands, got shapes {} and {}", show(a), show(b))));
        }
        let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
        let (k2, n) = (b[b.len() - 2], b[b.len() - 1]);
        let batch_a = if a.len() == 3 { Some(a[0]) } else { None };
        let batch_b = if b.len() == 3 { Some(b[0]) } else { None };
        if k != k2 || matches!((batch_a, batch_b), (Some(x), Some(y)) if x != y) {
            return Err(Error::shape("matmul", format!("cannot multiply shapes {} and {}", show(a), show(b))));
        }
        let batch = batch_a.or(batch_b);
        let kernel = MatMul {
            batch: batch.unwrap_or(1),
            m,
            k,
            n,
            a_batch_stride: if batch_a.is_some() { m * k } else { 0 },
            b_batch_stride: if batch_b.is_some() { k * n } else { 0 },
        };
        let out_shape = match batch {
            Some(batch) => vec![batch, m, n],
            None => vec![m, n],
        };
        self.run_kernel(&kernel, &[self, other], out_shape, record(Product(self.clone(), other.clone())))
    }

    /// PyTorch's Linear: x @ weight^T + bias, weight [out, in], x [..., in].
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let y = self.matmul(&weight.transpose()?)?;
        match bias {
            Some(bias) => y.add(bias),
            None => Ok(y),
        }
    }
}
