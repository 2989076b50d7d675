//! The wgpu backend. Kernels are not run one by one: `run` records a dispatch into a pending
//! batch and returns at once; the batch is submitted when it is full or when someone downloads a
//! result. Buffers come from a pool (pool.rs) and go back to it when their tensor is dropped.
//!
//! Three rules keep the batching correct and cheap:
//! - A dropped buffer is only "retired" until the batch that may still read it is submitted; only
//!   then can it be handed out again. (`queue.write_buffer` runs before the next submitted batch,
//!   so reusing a buffer inside the batch that reads it would overwrite data still to be read.)
//! - Each dispatch's parameters get their own 256-byte slot in one uniform buffer per batch,
//!   written once just before the batch is submitted.
//! - A batch is kept as a list of dispatches and encoded at submit time into ONE compute pass:
//!   a pass per dispatch costs the driver a begin/end each (WebGPU still orders the dispatches of
//!   a pass that depend on each other).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::num::NonZeroU64;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

#[cfg(not(target_family = "wasm"))]
use super::profile::KernelProfile;
use super::{BackendInfo, Kernel, Shader};
use crate::error::{Error, ErrorKind, Result};
use pool::{BufferPool, Class};

mod pool;
#[cfg(not(target_family = "wasm"))]
mod profile;
#[cfg(all(test, not(target_family = "wasm")))]
mod tests;

/// Dispatches recorded before the batch is submitted. Bounded so parameters fit one uniform
/// buffer and temporaries are recycled regularly.
const MAX_DISPATCHES_PER_BATCH: usize = 256;
/// Bytes per dispatch in the parameter buffer: WebGPU's largest uniform-offset alignment.
const PARAM_SLOT: usize = 256;

const STORAGE_USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);
const PARAMS_CLASS: Class =
    Class { usage: wgpu::BufferUsages::UNIFORM.union(wgpu::BufferUsages::COPY_DST), bytes: (MAX_DISPATCHES_PER_BATCH * PARAM_SLOT) as u64 };

/// Storage and readback buffers are rounded up to a power of two bytes, so that few sizes recur.
fn size_class(usage: wgpu::BufferUsages, bytes: u64) -> Class {
    Class { usage, bytes: bytes.next_power_of_two().max(256) }
}

/// What the backend has done since it was opened: a measure of how much each training step asks
/// of the GPU's driver. Every field but `bytes_pooled` only grows; `since` gives the work between
/// two snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuCounters {
    /// Kernels recorded.
    pub dispatches: u64,
    /// Compute passes encoded: one per submitted batch of dispatches.
    pub passes: u64,
    /// Command buffers handed to the queue.
    pub submits: u64,
    /// Downloads: each waits for the GPU to finish all work before it.
    pub readbacks: u64,
    /// Bytes of every buffer created (storage, parameters, readback staging).
    pub bytes_created: u64,
    /// Bytes of the buffers the pool holds for reuse now (not a running total).
    pub bytes_pooled: u64,
}

impl GpuCounters {
    /// The work done between `earlier` and `self`; `bytes_pooled` stays the current figure.
    pub fn since(&self, earlier: &GpuCounters) -> GpuCounters {
        GpuCounters {
            dispatches: self.dispatches - earlier.dispatches,
            passes: self.passes - earlier.passes,
            submits: self.submits - earlier.submits,
            readbacks: self.readbacks - earlier.readbacks,
            bytes_created: self.bytes_created - earlier.bytes_created,
            bytes_pooled: self.bytes_pooled,
        }
    }
}

/// A pooled storage buffer holding `len` f32s; returns to the pool when dropped.
pub struct GpuBuffer {
    buffer: Option<wgpu::Buffer>,
    len: usize,
    class: Class,
    pool: Rc<RefCell<BufferPool>>,
}

impl GpuBuffer {
    pub fn len(&self) -> usize {
        self.len
    }

    fn raw(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("a live GpuBuffer always holds its buffer")
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.pool.borrow_mut().retire(self.class, buffer);
        }
    }
}

/// One recorded kernel: encoded into the batch's compute pass at submit time.
struct Dispatch {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: [u32; 3],
}

/// Commands recorded but not yet submitted.
#[derive(Default)]
struct Batch {
    dispatches: Vec<Dispatch>,
    params: Vec<u8>,
    params_buffer: Option<wgpu::Buffer>,
}

struct Pipeline {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

pub struct GpuContext {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: BackendInfo,
    max_binding_bytes: u64,
    modules: RefCell<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: RefCell<HashMap<&'static str, Pipeline>>,
    pool: Rc<RefCell<BufferPool>>,
    batch: RefCell<Batch>,
    counters: Cell<GpuCounters>,
    /// The first validation error or device loss wgpu reported; every later call fails with it.
    failure: Arc<Mutex<Option<String>>>,
    /// Per-kernel times while profiling (`profile_kernels`); None otherwise.
    #[cfg(not(target_family = "wasm"))]
    profile: RefCell<Option<KernelProfile>>,
}

#[cfg(target_family = "wasm")]
const NO_ADAPTER: &str = "this browser offers no WebGPU adapter (WebGPU may be switched off, or the GPU unsupported)";
#[cfg(not(target_family = "wasm"))]
const NO_ADAPTER: &str = "no GPU adapter was found (on Linux without a GPU, install Mesa's lavapipe: mesa-vulkan-drivers)";

impl GpuContext {
    pub async fn new() -> Result<Self> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|_| Error::of(ErrorKind::NoGpu, "webgpu", NO_ADAPTER))?;
        let adapter_info = adapter.get_info();
        // Ask for the adapter's own limits: the defaults cap storage buffers at 128 MiB.
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("kiln device"),
                required_features: wgpu::Features::empty(),
                required_limits: adapter.limits(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| Error::of(ErrorKind::NoGpu, "webgpu", format!("could not open the GPU device: {e}")))?;
        let failure = Arc::new(Mutex::new(None));
        // wgpu's default handler panics on a validation error; record it and fail the next call.
        let on_error = failure.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            on_error.lock().unwrap().get_or_insert(format!("GPU error: {e}"));
        }));
        let on_lost = failure.clone();
        device.set_device_lost_callback(move |_reason, message| {
            on_lost.lock().unwrap().get_or_insert(format!("the GPU device was lost: {message}"));
        });
        let max_binding_bytes = device.limits().max_storage_buffer_binding_size;
        Ok(GpuContext {
            info: BackendInfo {
                backend: "webgpu",
                adapter: format!("{} ({:?})", adapter_info.name, adapter_info.backend),
                fallback: adapter_info.device_type == wgpu::DeviceType::Cpu,
            },
            device,
            queue,
            max_binding_bytes,
            modules: RefCell::default(),
            pipelines: RefCell::default(),
            pool: Rc::default(),
            batch: RefCell::default(),
            counters: Cell::default(),
            failure,
            #[cfg(not(target_family = "wasm"))]
            profile: RefCell::default(),
        })
    }

    pub fn info(&self) -> BackendInfo {
        self.info.clone()
    }

    /// The counters now; `bytes_pooled` counts free buffers and those retired until the next submit.
    pub fn counters(&self) -> GpuCounters {
        let pool = self.pool.borrow();
        GpuCounters { bytes_created: pool.created_bytes(), bytes_pooled: pool.pooled_bytes(), ..self.counters.get() }
    }

    /// How many bytes of free buffers the pool may keep (256 MiB unless set); the least recently
    /// freed beyond that are destroyed.
    pub fn set_pool_budget(&self, bytes: u64) {
        self.pool.borrow_mut().set_budget(bytes);
    }

    fn count(&self, update: impl FnOnce(&mut GpuCounters)) {
        let mut counters = self.counters.get();
        update(&mut counters);
        self.counters.set(counters);
    }

    fn check_healthy(&self) -> Result<()> {
        match self.failure.lock().unwrap().as_ref() {
            Some(message) => Err(Error::of(ErrorKind::DeviceLost, "webgpu", message)),
            None => Ok(()),
        }
    }

    /// A buffer for `len` f32s, reused from the pool when one of the right size class is free.
    pub fn alloc(&self, len: usize) -> Result<GpuBuffer> {
        let class = size_class(STORAGE_USAGE, (len * 4) as u64);
        if class.bytes > self.max_binding_bytes {
            return Err(Error::of(
                ErrorKind::OutOfMemory,
                "webgpu",
                format!("a tensor of {len} numbers needs {} bytes; this GPU binds at most {}", class.bytes, self.max_binding_bytes),
            ));
        }
        let buffer = self.pool.borrow_mut().take(&self.device, class, "kiln tensor");
        Ok(GpuBuffer { buffer: Some(buffer), len, class, pool: self.pool.clone() })
    }

    pub fn upload(&self, data: &[f32]) -> Result<GpuBuffer> {
        let buffer = self.alloc(data.len())?;
        self.queue.write_buffer(buffer.raw(), 0, &f32_bytes(data));
        Ok(buffer)
    }

    /// Records one kernel into the pending batch.
    pub fn run(&self, kernel: &dyn Kernel, inputs: &[&GpuBuffer], outputs: &[&GpuBuffer]) -> Result<()> {
        self.check_healthy()?;
        let (params, groups, name) = (kernel.params(), kernel.workgroups(), kernel.name());
        self.ensure_pipeline(kernel.shader(), name);
        let pipelines = self.pipelines.borrow();
        let pipeline = &pipelines[name];

        let mut batch = self.batch.borrow_mut();
        let params_buffer = batch
            .params_buffer
            .get_or_insert_with(|| self.pool.borrow_mut().take(&self.device, PARAMS_CLASS, "kiln kernel parameters"))
            .clone();
        let slot = batch.dispatches.len() * PARAM_SLOT;
        batch.params.resize(slot + PARAM_SLOT, 0);
        batch.params[slot..slot + params.len()].copy_from_slice(&params);

        // The binding convention of every WGSL file: 0 is the parameter block, inputs are numbered
        // from 1, outputs follow them from 3 at the earliest (so a one-input kernel also writes 3).
        let params_binding = wgpu::BufferBinding { buffer: &params_buffer, offset: slot as u64, size: NonZeroU64::new(PARAM_SLOT as u64) };
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::Buffer(params_binding) }];
        let first_output = (inputs.len() as u32 + 1).max(3);
        let numbered = inputs.iter().zip(1..).chain(outputs.iter().zip(first_output..));
        for (buffer, binding) in numbered {
            entries.push(wgpu::BindGroupEntry { binding, resource: buffer.raw().as_entire_binding() });
        }
        let bind_group =
            self.device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(name), layout: &pipeline.layout, entries: &entries });
        batch.dispatches.push(Dispatch { pipeline: pipeline.pipeline.clone(), bind_group, groups });
        self.count(|c| c.dispatches += 1);
        let full = batch.dispatches.len() == MAX_DISPATCHES_PER_BATCH;
        drop(batch);
        #[cfg(not(target_family = "wasm"))]
        if self.profile.borrow().is_some() {
            self.time_alone(name);
            return Ok(());
        }
        if full {
            self.submit(None);
        }
        Ok(())
    }

    /// Encodes the pending batch into one compute pass and submits it (plus an optional trailing
    /// copy), then frees the buffers that were retired before it: from now on the queue orders any
    /// reuse after this batch.
    fn submit(&self, copy: Option<(&wgpu::Buffer, &wgpu::Buffer, u64)>) {
        let mut batch = self.batch.borrow_mut();
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("kiln batch") });
        if !batch.dispatches.is_empty() {
            self.count(|c| c.passes += 1);
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("kiln batch"), timestamp_writes: None });
            for dispatch in batch.dispatches.drain(..) {
                pass.set_pipeline(&dispatch.pipeline);
                pass.set_bind_group(0, &dispatch.bind_group, &[]);
                let [x, y, z] = dispatch.groups;
                pass.dispatch_workgroups(x, y, z);
            }
        }
        if let Some((source, destination, bytes)) = copy {
            encoder.copy_buffer_to_buffer(source, 0, destination, 0, bytes);
        }
        let mut pool = self.pool.borrow_mut();
        if let Some(params_buffer) = batch.params_buffer.take() {
            self.queue.write_buffer(&params_buffer, 0, &batch.params);
            pool.retire(PARAMS_CLASS, params_buffer);
        }
        batch.params.clear();
        self.queue.submit([encoder.finish()]);
        self.count(|c| c.submits += 1);
        pool.recycle();
    }

    /// Submits all pending work and reads `buffer` back, waiting without blocking the event loop.
    pub async fn download(&self, buffer: &GpuBuffer) -> Result<Vec<f32>> {
        self.check_healthy()?;
        self.count(|c| c.readbacks += 1);
        let bytes = (buffer.len * 4) as u64;
        let class = size_class(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST, bytes);
        let staging = self.pool.borrow_mut().take(&self.device, class, "kiln readback staging");
        self.submit(Some((buffer.raw(), &staging, bytes)));
        let (sender, receiver) = futures_channel::oneshot::channel();
        staging.slice(..bytes).map_async(wgpu::MapMode::Read, move |result| {
            let _ = sender.send(result);
        });
        #[cfg(not(target_family = "wasm"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::of(ErrorKind::DeviceLost, "webgpu", format!("waiting for the GPU failed: {e}")))?;
        let mapped = receiver.await.map_err(|_| Error::of(ErrorKind::DeviceLost, "webgpu", "the readback was cancelled"));
        self.check_healthy()?;
        mapped?.map_err(|e| Error::of(ErrorKind::DeviceLost, "webgpu", format!("reading results back failed: {e}")))?;
        let data = {
            let view = staging
                .slice(..bytes)
                .get_mapped_range()
                .map_err(|e| Error::of(ErrorKind::DeviceLost, "webgpu", format!("reading results back failed: {e}")))?;
            view.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
        };
        staging.unmap();
        // Unmapped, it is in no pending command: free for the next readback of its size at once.
        self.pool.borrow_mut().release(class, staging);
        Ok(data)
    }

    fn ensure_pipeline(&self, shader: &'static Shader, entry_point: &'static str) {
        if self.pipelines.borrow().contains_key(entry_point) {
            return;
        }
        let mut modules = self.modules.borrow_mut();
        let module = modules.entry(shader.name).or_insert_with(|| {
            self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(shader.name),
                source: wgpu::ShaderSource::Wgsl(shader.source.into()),
            })
        });
        // layout: None lets wgpu derive the bind group layout from what the entry point uses.
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry_point),
            layout: None,
            module,
            entry_point: Some(entry_point),
            compilation_options: Default::default(),
            cache: None,
        });
        let layout = pipeline.get_bind_group_layout(0);
        self.pipelines.borrow_mut().insert(entry_point, Pipeline { pipeline, layout });
    }
}

fn f32_bytes(data: &[f32]) -> Vec<u8> {
    data.iter().flat_map(|v| v.to_le_bytes()).collect()
}
