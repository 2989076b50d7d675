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
/// Rows of an output column the direct kernel computes together (its vec4 of sums).
const DIRECT_ROWS: usize = 4;

crate::params_struct! {
    /// Operand a's element [r, l] of batch entry b is a[b a_batch_stride + r a_row_stride + l
    /// a_col_stride], bm's [l, c] likewise; sum_batch 1 adds the batch's products into one output.
    /// `lanes`: the threads that share one block of the direct kernel (1 for the tiled one).
    Params {
        m: u32,
        k: u32,
        n: u32,
        batch: u32,
        a_batch_stride: u32,
        b_batch_stride: u32,
        a_row_stride: u32,
        a_col_stride: u32,
        b_row_stride: u32,
        b_col_stride: u32,
        sum_batch: u32,
        lanes: u32,
        epilogue: u32,
    }
}

/// What a forward product or convolution does to each sum before writing it (inference's conv +
/// batch norm + ReLU6 in one kernel: src/nn/layers.rs folds the batch norm into the weights):
/// add the bias of the output's row (a product) or channel (a convolution), then clamp to [0, 6].
/// The bias is stored right after the weights in the same buffer ([weights..., bias...], as
/// `Tensor::fold_batch_norm` makes it), so the kernels keep their bindings.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Epilogue {
    /// The sum as it is.
    #[default]
    None,
    /// sum + bias[row].
    Bias,
    /// min(max(sum + bias[row], 0), 6).
    BiasRelu6,
}

impl Epilogue {
    /// Its number in the kernels' parameter blocks (`finish` in shaders/matmul.wgsl and conv.wgsl).
    pub(crate) fn code(self) -> u32 {
        self as u32
    }

    /// Applies it on the CPU to `rows` of `row_len` outputs each, row r taking bias[r mod bias
    /// len] (an output [N, C, L] has N C rows of L, its bias C numbers).
    pub(crate) fn apply(self, rows: &mut [f32], row_len: usize, bias: &[f32]) {
        if self == Epilogue::None {
            return;
        }
        for (row, &b) in rows.chunks_mut(row_len).zip(bias.iter().cycle()) {
            match self {
                Epilogue::BiasRelu6 => row.iter_mut().for_each(|v| *v = (*v + b).clamp(0.0, 6.0)),
                _ => row.iter_mut().for_each(|v| *v += b),
            }
        }
    }
}

/// out[b] = op(a[b]) @ op(c[b]) with op(a): [m, k], op(c): [k, n], where op transposes the stored
/// matrix when asked (a stored [k, m], c stored [n, k]: read by indexing, nothing copied); a batch
/// stride of 0 reuses one matrix. With `sum_batch` the batch's products add up into one [m, n]
/// output: out = Σ_b op(a[b]) @ op(c[b]), a contraction over (b, l).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatMul {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a_batch_stride: usize,
    pub b_batch_stride: usize,
    pub transpose_a: bool,
    pub transpose_b: bool,
    pub sum_batch: bool,
    /// Only with one unbatched, untransposed a, whose row biases follow its m x k numbers.
    pub epilogue: Epilogue,
}

impl MatMul {
    /// One plain product, [m, k] @ [k, n].
    pub fn plain(m: usize, k: usize, n: usize) -> MatMul {
        MatMul {
            batch: 1,
            m,
            k,
            n,
            a_batch_stride: 0,
            b_batch_stride: 0,
            transpose_a: false,
            transpose_b: false,
            sum_batch: false,
            epilogue: Epilogue::None,
        }
    }

    /// (row stride, column stride) of op(a) [m, k] and of op(c) [k, n] in their stored layouts.
    pub fn strides(&self) -> [(usize, usize); 2] {
        let (m, k, n) = (self.m, self.k, self.n);
        [if self.transpose_a { (1, m) } else { (k, 1) }, if self.transpose_b { (1, k) } else { (n, 1) }]
    }

    /// How many [m, n] matrices the output holds.
    pub fn out_batch(&self) -> usize {
        if self.sum_batch {
            1
        } else {
            self.batch
        }
    }

    /// Whether the tiled kernel pays: m and n fill at least half a tile edge and the contraction
    /// (k, times the batch when it is summed) half a panel. Thinner products (MobileNetV2's 1x1
    /// convolutions on small images: n = 1, 4, 16; their input gradients, k = o) would leave most
    /// of each 64 x 64 tile or 32-deep panel as padding, and run one thread per output instead.
    fn tiled(&self) -> bool {
        let depth = if self.sum_batch { self.batch * self.k } else { self.k };
        self.m >= TILE / 2 && self.n >= TILE / 2 && depth >= DEPTH / 2
    }

    /// Blocks of the direct kernel: 4 rows of one output column each.
    fn direct_blocks(&self) -> usize {
        self.out_batch() * self.m.div_ceil(DIRECT_ROWS) * self.n
    }

    /// Threads of the direct kernel that share one block, splitting its contraction: few blocks
    /// with a long contraction (the head's first linear layer at batch 4: 512 blocks, each a sum
    /// of 2,560 products) would otherwise leave most of a GPU idle while each thread walks its
    /// sum alone. Chosen as a reduction along an axis is: the same trade-off.
    fn lanes(&self) -> usize {
        if self.tiled() {
            return 1;
        }
        let depth = if self.sum_batch { self.batch * self.k } else { self.k };
        crate::ops::reduce::threads_per_output(self.direct_blocks(), depth)
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
        let [(a_row_stride, a_col_stride), (b_row_stride, b_col_stride)] = self.strides().map(|(r, c)| (r as u32, c as u32));
        let [m, k, n, batch, a_batch_stride, b_batch_stride, sum_batch] =
            [self.m, self.k, self.n, self.batch, self.a_batch_stride, self.b_batch_stride, self.sum_batch as usize].map(|v| v as u32);
        super::bytes(Params {
            m,
            k,
            n,
            batch,
            a_batch_stride,
            b_batch_stride,
            a_row_stride,
            a_col_stride,
            b_row_stride,
            b_col_stride,
            sum_batch,
            lanes: self.lanes() as u32,
            epilogue: self.epilogue.code(),
        })
    }

    fn workgroups(&self) -> [u32; 3] {
        match self.tiled() {
            true => [self.n.div_ceil(TILE) as u32, self.m.div_ceil(TILE) as u32, self.out_batch() as u32],
            false => linear_groups(self.direct_blocks() * self.lanes()),
        }
    }

    fn run_cpu(&self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        cpu::batched_matmul(self, inputs[0], inputs[1], outputs[0])
    }
}

/// y = op(a) @ op(b), recorded with the transposes it read its operands with.
struct Product {
    a: Tensor,
    b: Tensor,
    transpose_a: bool,
    transpose_b: bool,
}

impl Derivative for Product {
    fn inputs(&self) -> Vec<&Tensor> {
        vec![&self.a, &self.b]
    }

    // y = A @ B with A = op(a), B = op(b): dL/dA = g @ Bᵀ and dL/dB = Aᵀ @ g. Transposing a
    // product swaps its factors, (X Y)ᵀ = Yᵀ Xᵀ, so with a stored transposed (A = aᵀ)
    // dL/da = (g Bᵀ)ᵀ = B gᵀ, and with b stored transposed dL/db = (Aᵀ g)ᵀ = gᵀ A. Every
    // transpose here is a flag of the product kernel, none a copy: Bᵀ is op(b) with the flag
    // flipped. A 2-D operand of a batched product was used by every batch entry, so its gradient
    // contracts over the batch too (`sum_batch`).
    fn backward(&self, _y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let Product { a, b, transpose_a: ta, transpose_b: tb } = self;
        let (ta, tb) = (*ta, *tb);
        let summed = |x: &Tensor| x.shape().len() == 2 && g.shape().len() == 3;
        Ok(vec![
            wanted(a, || match ta {
                true => b.product(g, tb, true, summed(a)),
                false => g.product(b, false, !tb, summed(a)),
            })?,
            wanted(b, || match tb {
                true => g.product(a, true, ta, summed(b)),
                false => a.product(g, !ta, false, summed(b)),
            })?,
        ])
    }
}

impl Tensor {
    /// Matrix product of 2-D and batched 3-D operands: [m,k]@[k,n], [b,m,k]@[k,n], [m,k]@[b,k,n]
    /// or [b,m,k]@[b,k,n].
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        self.product(other, false, false, false)
    }

    /// op(self) @ op(other), op transposing the last two axes where asked (by indexing: no copy);
    /// `sum_batch` adds a batched product's entries into one matrix (both operands 3-D, or one
    /// 3-D and the other 2-D).
    fn product(&self, other: &Tensor, transpose_a: bool, transpose_b: bool, sum_batch: bool) -> Result<Tensor> {
        self.check_same("matmul", other)?;
        let (a, b) = (self.shape(), other.shape());
        if !(2..=3).contains(&a.len()) || !(2..=3).contains(&b.len()) {
            return Err(Error::shape("matmul", format!("needs 2-D or 3-D operands, got shapes {} and {}", show(a), show(b))));
        }
        let last_two = |s: &[usize], transposed: bool| {
            let (rows, cols) = (s[s.len() - 2], s[s.len() - 1]);
            if transposed {
                (cols, rows)
            } else {
                (rows, cols)
            }
        };
        let ((m, k), (k2, n)) = (last_two(a, transpose_a), last_two(b, transpose_b));
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
            transpose_a,
            transpose_b,
            sum_batch,
            epilogue: Epilogue::None,
        };
        let out_shape = match batch {
            Some(batch) if !sum_batch => vec![batch, m, n],
            _ => vec![m, n],
        };
        let op = Product { a: self.clone(), b: other.clone(), transpose_a, transpose_b };
        // A summed product is only a gradient (`Product::backward`): it records nothing.
        let op = if sum_batch { None } else { record(op) };
        self.run_kernel(&kernel, &[self, other], out_shape, op)
    }

    /// PyTorch's Linear: x @ weightᵀ + bias, weight [out, in], x [..., in] (weight read
    /// transposed in place).
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let y = self.product(weight, false, true, false)?;
        match bias {
            Some(bias) => y.add(bias),
            None => Ok(y),
        }
    }
}
