//! Where numbers live and kernels run. A `Device` is either the plain-Rust CPU backend or a wgpu
//! GPU (WebGPU in the browser; Vulkan, Metal or DX12 natively). Both honour one small contract:
//! upload, allocate, run a `Kernel`, and download asynchronously.
//!
//! Kernels themselves live with their op family in `ops/`: each implements the `Kernel` trait
//! (kernel.rs) with its fast CPU path and its WGSL entry point, so this layer has no list of them.

pub mod cpu;
mod cpu_buffer;
pub mod cpu_parallel;
pub mod gpu;
mod kernel;
#[cfg(not(target_family = "wasm"))]
mod profile;

use std::rc::Rc;

use cpu_buffer::CpuBuffer;

pub use gpu::GpuCounters;
pub use kernel::{linear_groups, Kernel, ParamsLayout, Shader, MAX_GROUPS_PER_DIM, WORKGROUP_SIZE};
#[cfg(not(target_family = "wasm"))]
pub use profile::KernelTime;

use crate::error::{Error, Result};

/// The numbers of one tensor. Shared (`Rc`) between a tensor and its reshaped views.
pub enum Storage {
    Cpu(CpuBuffer),
    Gpu(gpu::GpuBuffer),
}

impl Storage {
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(data) => data.borrow().len(),
            Storage::Gpu(buffer) => buffer.len(),
        }
    }
}

#[derive(Clone)]
pub enum Device {
    Cpu,
    Gpu(Rc<gpu::GpuContext>),
}

/// What a backend reports about itself: shown on the page and returned by `useBackend`.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendInfo {
    pub backend: &'static str,
    pub adapter: String,
    /// True for a software adapter (SwiftShader, lavapipe): correct but slow.
    pub fallback: bool,
}

impl Device {
    /// The first GPU adapter wgpu finds; an error when there is none.
    pub async fn gpu() -> Result<Device> {
        Ok(Device::Gpu(Rc::new(gpu::GpuContext::new().await?)))
    }

    pub fn info(&self) -> BackendInfo {
        match self {
            Device::Cpu => BackendInfo { backend: "cpu", adapter: cpu::describe(), fallback: false },
            Device::Gpu(ctx) => ctx.info(),
        }
    }

    /// What the GPU backend has done so far (see `GpuCounters::since`); None on the CPU.
    pub fn gpu_counters(&self) -> Option<GpuCounters> {
        match self {
            Device::Cpu => None,
            Device::Gpu(ctx) => Some(ctx.counters()),
        }
    }

    /// Times every kernel on its own from now on (`on`), or stops (see backend/profile.rs).
    /// Native only: the browser cannot wait for the GPU.
    #[cfg(not(target_family = "wasm"))]
    pub fn profile_kernels(&self, on: bool) {
        match self {
            Device::Cpu => cpu::profile_kernels(on),
            Device::Gpu(ctx) => ctx.profile_kernels(on),
        }
    }

    /// The kernels timed since `profile_kernels(true)`, slowest first: (entry point, runs and seconds).
    #[cfg(not(target_family = "wasm"))]
    pub fn kernel_profile(&self) -> Vec<(&'static str, KernelTime)> {
        match self {
            Device::Cpu => cpu::kernel_profile(),
            Device::Gpu(ctx) => ctx.kernel_profile(),
        }
    }

    pub fn same_as(&self, other: &Device) -> bool {
        match (self, other) {
            (Device::Cpu, Device::Cpu) => true,
            (Device::Gpu(a), Device::Gpu(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }

    pub fn upload(&self, data: &[f32]) -> Result<Storage> {
        match self {
            Device::Cpu => Ok(Storage::Cpu(CpuBuffer::from_slice(data)?)),
            Device::Gpu(ctx) => Ok(Storage::Gpu(ctx.upload(data)?)),
        }
    }

    /// Storage for `n` numbers whose contents a kernel will overwrite.
    pub fn alloc(&self, n: usize) -> Result<Storage> {
        match self {
            Device::Cpu => Ok(Storage::Cpu(CpuBuffer::for_output(n)?)),
            Device::Gpu(ctx) => Ok(Storage::Gpu(ctx.alloc(n)?)),
        }
    }

    /// Runs (on the GPU: enqueues) one kernel. Inputs are read; outputs are written in place.
    pub fn run(&self, kernel: &dyn Kernel, inputs: &[&Storage], outputs: &[&Storage]) -> Result<()> {
        match self {
            Device::Cpu => {
                let inputs: Vec<_> = inputs.iter().map(|s| cpu_data(s)).collect::<Result<_>>()?;
                let input_refs: Vec<std::cell::Ref<Vec<f32>>> = inputs.iter().map(|c| c.borrow()).collect();
                let input_slices: Vec<&[f32]> = input_refs.iter().map(|r| r.as_slice()).collect();
                let outputs: Vec<_> = outputs.iter().map(|s| cpu_data(s)).collect::<Result<_>>()?;
                let mut output_refs: Vec<std::cell::RefMut<Vec<f32>>> = outputs.iter().map(|c| c.borrow_mut()).collect();
                let mut output_slices: Vec<&mut [f32]> = output_refs.iter_mut().map(|r| r.as_mut_slice()).collect();
                cpu::run_timed(kernel, || kernel.run_cpu(&input_slices, &mut output_slices));
                Ok(())
            }
            Device::Gpu(ctx) => {
                let inputs: Vec<_> = inputs.iter().map(|s| gpu_buffer(s)).collect::<Result<_>>()?;
                let outputs: Vec<_> = outputs.iter().map(|s| gpu_buffer(s)).collect::<Result<_>>()?;
                ctx.run(kernel, &inputs, &outputs)
            }
        }
    }

    /// Copies the numbers back to the host. On the GPU this submits pending work and waits for it
    /// without blocking the browser's event loop.
    pub async fn download(&self, storage: &Storage) -> Result<Vec<f32>> {
        match (self, storage) {
            (Device::Cpu, Storage::Cpu(data)) => Ok(data.borrow().clone()),
            (Device::Gpu(ctx), Storage::Gpu(buffer)) => ctx.download(buffer).await,
            _ => Err(Error::new("download", "storage belongs to another backend")),
        }
    }
}

fn cpu_data(storage: &Storage) -> Result<&CpuBuffer> {
    match storage {
        Storage::Cpu(data) => Ok(data),
        Storage::Gpu(_) => Err(Error::new("cpu backend", "got a tensor stored on the GPU")),
    }
}

fn gpu_buffer(storage: &Storage) -> Result<&gpu::GpuBuffer> {
    match storage {
        Storage::Gpu(buffer) => Ok(buffer),
        Storage::Cpu(_) => Err(Error::new("webgpu backend", "got a tensor stored on the CPU")),
    }
}
