//! `Tensor`: an f32 array of any rank on one device, plus what autograd needs (the op that made
//! it, whether it requires a gradient, and its accumulated `.grad`). Cloning a Tensor is cheap: it
//! is a shared handle, like a Python reference to a torch.Tensor.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::backend::{Device, Storage};
use crate::error::{Error, Result};
use crate::rng::Pcg32;
use crate::shape::{numel, show};

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

/// Runs `f` without recording a graph (torch.no_grad): for parameter updates and for backward.
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let previous = GRAD_ENABLED.with(|g| g.replace(false));
    let result = f();
    GRAD_ENABLED.with(|g| g.set(previous));
    result
}

/// Whether ops record the graph now (false inside `no_grad`).
pub(crate) fn grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// The chain rule for one recorded op.
pub trait Derivative {
    /// The tensors the op read, in the order `backward` returns their gradients.
    fn inputs(&self) -> Vec<&Tensor>;
    /// Given the op's output y and g = dL/dy, dL/d(each input): None for an input that gets no
    /// gradient (an index tensor, or an input that does not require grad).
    fn backward(&self, y: &Tensor, g: &Tensor) -> Result<Vec<Option<Tensor>>>;
}

/// How a tensor was made: an edge of the autograd graph.
pub type Op = Rc<dyn Derivative>;

#[derive(Clone)]
pub struct Tensor(Rc<Inner>);

struct Inner {
    /// Identity in the autograd graph.
    id: u64,
    shape: Vec<usize>,
    device: Device,
    /// Swapped (not mutated) by in-place updates; shared with reshaped views until then.
    storage: RefCell<Rc<Storage>>,
    /// The op that produced this tensor; None for leaves and for tensors made without grad.
    op: Option<Op>,
    /// Settable on leaves (freezing a weight); fixed for op outputs.
    requires_grad: Cell<bool>,
    grad: RefCell<Option<Tensor>>,
}

impl Tensor {
    fn build(shape: Vec<usize>, device: Device, storage: Rc<Storage>, op: Option<Op>, requires_grad: bool) -> Tensor {
        let id = NEXT_ID.with(|n| n.replace(n.get() + 1));
        Tensor(Rc::new(Inner {
            id,
            shape,
            device,
            storage: RefCell::new(storage),
            op,
            requires_grad: Cell::new(requires_grad),
            grad: RefCell::new(None),
        }))
    }

    /// A tensor from host numbers laid out row-major.
    pub fn from_slice(data: &[f32], shape: &[usize], device: &Device) -> Result<Tensor> {
        check_creatable("from_array", shape)?;
        if data.len() != numel(shape) {
            return Err(Error::shape(
                "from_array",
                format!("{} numbers cannot fill shape {} ({} elements)", data.len(), show(shape), numel(shape)),
            ));
        }
        Ok(Tensor::build(shape.to_vec(), device.clone(), Rc::new(device.upload(data)?), None, false))
    }

    pub fn full(shape: &[usize], value: f32, device: &Device) -> Result<Tensor> {
        check_creatable("full", shape)?;
        Tensor::from_slice(&vec![value; numel(shape)], shape, device)
    }

    pub fn zeros(shape: &[usize], device: &Device) -> Result<Tensor> {
        Tensor::full(shape, 0.0, device)
    }

    pub fn ones(shape: &[usize], device: &Device) -> Result<Tensor> {
        Tensor::full(shape, 1.0, device)
    }

    /// Uniform in [0, 1), from the crate's seeded generator: the same on every platform.
    pub fn rand(shape: &[usize], seed: u64, device: &Device) -> Result<Tensor> {
        check_creatable("rand", shape)?;
        let mut rng = Pcg32::new(seed);
        Tensor::from_slice(&(0..numel(shape)).map(|_| rng.uniform()).collect::<Vec<_>>(), shape, device)
    }

    /// Standard normal, seeded like `rand`.
    pub fn randn(shape: &[usize], seed: u64, device: &Device) -> Result<Tensor> {
        check_creatable("randn", shape)?;
        let mut rng = Pcg32::new(seed);
        Tensor::from_slice(&(0..numel(shape)).map(|_| rng.normal()).collect::<Vec<_>>(), shape, device)
    }

    /// A leaf sharing this tensor's numbers, cut from the graph, with requires-grad set as asked
    /// (torch's `detach().requires_grad_(flag)`).
    pub fn with_requires_grad(&self, requires_grad: bool) -> Tensor {
        Tensor::build(self.0.shape.clone(), self.0.device.clone(), self.storage(), None, requires_grad)
    }

    /// The output of an op: records the op for backward only when grad mode is on and an input
    /// needs a gradient.
    pub(crate) fn from_op(shape: Vec<usize>, device: &Device, storage: Storage, op: Option<Op>) -> Tensor {
        let requires_grad = grad_enabled() && op.as_ref().is_some_and(|op| op.inputs().iter().any(|t| t.requires_grad()));
        let op = if requires_grad { op } else { None };
        Tensor::build(shape, device.clone(), Rc::new(storage), op, requires_grad)
    }

    /// The same numbers seen with another shape (the caller has checked the element count).
    pub(crate) fn view(&self, shape: Vec<usize>, op: Op) -> Tensor {
        let requires_grad = grad_enabled() && self.requires_grad();
        Tensor::build(shape, self.0.device.clone(), self.storage(), requires_grad.then_some(op), requires_grad)
    }

    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    pub fn numel(&self) -> usize {
        numel(&self.0.shape)
    }

    pub fn device(&self) -> &Device {
        &self.0.device
    }

    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.get()
    }

    /// Turns gradient tracking of a leaf on or off (torch's `requires_grad_`): frozen weights
    /// get no gradient and cost nothing in backward.
    pub fn set_requires_grad(&self, requires_grad: bool) -> Result<()> {
        if self.0.op.is_some() {
            return Err(Error::new("requires_grad", "only leaf tensors (weights, inputs) can change it"));
        }
        self.0.requires_grad.set(requires_grad);
        Ok(())
    }

    pub(crate) fn id(&self) -> u64 {
        self.0.id
    }

    pub(crate) fn op(&self) -> Option<&Op> {
        self.0.op.as_ref()
    }

    pub(crate) fn storage(&self) -> Rc<Storage> {
        self.0.storage.borrow().clone()
    }

    /// The accumulated gradient, if backward has reached this tensor since the last zero_grad.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.borrow().clone()
    }

    pub(crate) fn set_grad(&self, grad: Option<Tensor>) {
        *self.0.grad.borrow_mut() = grad;
    }

    /// Forgets the gradient (PyTorch's default `zero_grad(set_to_none=True)`).
    pub fn zero_grad(&self) {
        self.set_grad(None);
    }

    /// Replaces this tensor's numbers with `value`'s, outside the graph. Views made earlier keep
    /// the old numbers.
    pub fn assign(&self, value: &Tensor) -> Result<()> {
        self.check_same("assign", value)?;
        if value.shape() != self.shape() {
            return Err(Error::shape("assign", format!("shape {} cannot replace shape {}", show(value.shape()), show(self.shape()))));
        }
        *self.0.storage.borrow_mut() = value.storage();
        Ok(())
    }

    /// In-place `self -= other` outside the graph: the lesson's `a.sub_(lr * a.grad)`.
    pub fn sub_(&self, other: &Tensor) -> Result<()> {
        let updated = no_grad(|| self.sub(other))?;
        self.assign(&updated)
    }

    /// Errors unless `other` lives on the same device; `op` names the caller in the message.
    pub(crate) fn check_same(&self, op: &str, other: &Tensor) -> Result<()> {
        if self.device().same_as(other.device()) {
            return Ok(());
        }
        Err(Error::new(
            op,
            format!(
                "tensors are on different backends ({} with shape {}, {} with shape {})",
                self.device().info().backend,
                show(self.shape()),
                other.device().info().backend,
                show(other.shape())
            ),
        ))
    }

    /// The numbers, row-major. On the GPU this waits for all pending work.
    pub async fn to_vec(&self) -> Result<Vec<f32>> {
        let storage = self.storage();
        let mut data = self.device().download(&storage).await?;
        data.truncate(self.numel());
        Ok(data)
    }

    /// The single number of a one-element tensor (a loss).
    pub async fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::shape("item", format!("needs a single number, got shape {}", show(self.shape()))));
        }
        Ok(self.to_vec().await?[0])
    }
}

fn check_creatable(op: &str, shape: &[usize]) -> Result<()> {
    if numel(shape) == 0 {
        return Err(Error::new(op, format!("shape {} has no elements; empty tensors are not supported", show(shape))));
    }
    Ok(())
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor(shape={}, backend={})", show(self.shape()), self.device().info().backend)
    }
}
