//! The wgpu backend. Kernels are not run one by one: `run` records a compute pass into a pending
//! command encoder and returns at once; the batch is submitted when it is full or when someone
//! downloads a result. Buffers come from a pool and go back to it when their tensor is dropped.
//!
//! Two rules keep the batching correct:
//! - A dropped buffer is only "retired" until the batch that may still read it is submitted; only
//!   then can it be handed out again. (`queue.write_buffer` runs before the next submitted batch,
//!   so reusing a buffer inside the batch that reads it would overwrite data still to be read.)
//! - Each dispatch's parameters get their own 256-byte slot in one uniform buffer per batch,
//!   written once just before the batch is submitted.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::num::NonZeroU64;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use super::{BackendInfo, Kernel, Shader};
use crate::error::{Error, ErrorKind, Result};

/// Dispatches recorded before the batch is submitted. Bounded so parameters fit one uniform
/// buffer and temporaries are recycled regularly.
const MAX_DISPATCHES_PER_BATCH: usize = 256;
/// Bytes per dispatch in the parameter buffer: WebGPU's largest uniform-offset alignment.
const PARAM_SLOT: usize = 256;

const STORAGE_USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);

/// What the backend has done since it was opened: a measure of how much each training step asks
/// of the GPU's driver. Every field but `bytes_pooled` only grows; `since` gives the work between
/// two snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuCounters {
    /// Kernels recorded.
    pub dispatches: u64,
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
            submits: self.submits - earlier.submits,
            readbacks: self.readbacks - earlier.readbacks,
            bytes_created: self.bytes_created - earlier.bytes_created,
            bytes_pooled: self.bytes_pooled,
        }
    }
}

/// Buffers not in use, by size class (a power of two number of bytes), plus those retired since
/// the last submit. Parameter (uniform) buffers are pooled the same way under their own key.
#[derive(Default)]
struct BufferPool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
    retired: Vec<(u64, wgpu::Buffer)>,
}

/// A pooled storage buffer holding `len` f32s; returns to the pool when dropped.
pub struct GpuBuffer {
    buffer: Option<wgpu::Buffer>,
    len: usize,
    size_class: u64,
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
            self.pool.borrow_mut().retired.push((self.size_class, buffer));
        }
    }
}

/// Commands recorded but not yet submitted.
#[derive(Default)]
struct Batch {
    encoder: Option<wgpu::CommandEncoder>,
    params: Vec<u8>,
    params_buffer: Option<wgpu::Buffer>,
    dispatches: usize,
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
}

#[cfg(target_family = "wasm")]
const NO_ADAPTER: &str = "this browser offers no WebGPU adapter (WebGPU may be switched off, or the GPU unsupported)";
#[cfg(not(target_family = "wasm"))]
const NO_ADAPTER: &str = "no GPU adapter was found (on Linux without a GPU, install Mesa's lavapipe: mesa-vulkan-drivers)";

/// The size class of the parameter buffer in the pool (no storage buffer is this small).
const PARAMS_CLASS: u64 = 1;

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
        })
    }

    pub fn info(&self) -> BackendInfo {
        self.info.clone()
    }

    /// The counters now; `bytes_pooled` counts free buffers and those retired until the next submit.
    pub fn counters(&self) -> GpuCounters {
        let pool = self.pool.borrow();
        let free = pool.free.values().flatten().map(wgpu::Buffer::size).sum::<u64>();
        let retired = pool.retired.iter().map(|(_, b)| b.size()).sum::<u64>();
        GpuCounters { bytes_pooled: free + retired, ..self.counters.get() }
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
        let bytes = (len * 4).next_power_of_two().max(256) as u64;
        if bytes > self.max_binding_bytes {
            return Err(Error::of(
                ErrorKind::OutOfMemory,
                "webgpu",
                format!("a tensor of {len} numbers needs {bytes} bytes; this GPU binds at most {}", self.max_binding_bytes),
            ));
        }
        let reused = self.pool.borrow_mut().free.get_mut(&bytes).and_then(Vec::pop);
        let buffer = reused.unwrap_or_else(|| {
            self.count(|c| c.bytes_created += bytes);
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("kiln tensor"),
                size: bytes,
                usage: STORAGE_USAGE,
                mapped_at_creation: false,
            })
        });
        Ok(GpuBuffer { buffer: Some(buffer), len, size_class: bytes, pool: self.pool.clone() })
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
        if batch.encoder.is_none() {
            batch.encoder = Some(self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("kiln batch") }));
            let reused = self.pool.borrow_mut().free.get_mut(&PARAMS_CLASS).and_then(Vec::pop);
            batch.params_buffer = Some(reused.unwrap_or_else(|| {
                self.count(|c| c.bytes_created += (MAX_DISPATCHES_PER_BATCH * PARAM_SLOT) as u64);
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("kiln kernel parameters"),
                    size: (MAX_DISPATCHES_PER_BATCH * PARAM_SLOT) as u64,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            }));
        }
        let slot = batch.dispatches * PARAM_SLOT;
        batch.params.resize(slot + PARAM_SLOT, 0);
        batch.params[slot..slot + params.len()].copy_from_slice(&params);

        // The binding convention of every WGSL file: 0 is the parameter block, inputs are numbered
        // from 1, outputs follow them from 3 at the earliest (so a one-input kernel also writes 3).
        let params_binding = wgpu::BufferBinding {
            buffer: batch.params_buffer.as_ref().unwrap(),
            offset: slot as u64,
            size: NonZeroU64::new(PARAM_SLOT as u64),
        };
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::Buffer(params_binding) }];
        let first_output = (inputs.len() as u32 + 1).max(3);
        let numbered = inputs.iter().zip(1..).chain(outputs.iter().zip(first_output..));
        for (buffer, binding) in numbered {
            entries.push(wgpu::BindGroupEntry { binding, resource: buffer.raw().as_entire_binding() });
        }
        let bind_group =
            self.device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(name), layout: &pipeline.layout, entries: &entries });
        {
            let encoder = batch.encoder.as_mut().unwrap();
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(name), timestamp_writes: None });
            pass.set_pipeline(&pipeline.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        }
        batch.dispatches += 1;
        self.count(|c| c.dispatches += 1);
        let full = batch.dispatches == MAX_DISPATCHES_PER_BATCH;
        drop(batch);
        if full {
            self.submit(None);
        }
        Ok(())
    }

    /// Submits the pending batch (plus an optional trailing copy), then frees the buffers that
    /// were retired before it: from now on the queue orders any reuse after this batch.
    fn submit(&self, copy: Option<(&wgpu::Buffer, &wgpu::Buffer, u64)>) {
        let mut batch = self.batch.borrow_mut();
        let mut encoder = batch
            .encoder
            .take()
            .unwrap_or_else(|| self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("kiln readback") }));
        if let Some((source, destination, bytes)) = copy {
            encoder.copy_buffer_to_buffer(source, 0, destination, 0, bytes);
        }
        if let Some(params_buffer) = batch.params_buffer.take() {
            self.queue.write_buffer(&params_buffer, 0, &batch.params);
            self.pool.borrow_mut().retired.push((PARAMS_CLASS, params_buffer));
        }
        batch.params.clear();
        batch.dispatches = 0;
        self.queue.submit([encoder.finish()]);
        self.count(|c| c.submits += 1);
        let mut pool = self.pool.borrow_mut();
        let retired = std::mem::take(&mut pool.retired);
        for (class, buffer) in retired {
            pool.free.entry(class).or_default().push(buffer);
        }
    }

    /// Submits all pending work and reads `buffer` back, waiting without blocking the event loop.
    pub async fn download(&self, buffer: &GpuBuffer) -> Result<Vec<f32>> {
        self.check_healthy()?;
        let bytes = (buffer.len * 4) as u64;
        self.count(|c| {
            c.readbacks += 1;
            c.bytes_created += bytes;
        });
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kiln readback staging"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.submit(Some((buffer.raw(), &staging, bytes)));
        let (sender, receiver) = futures_channel::oneshot::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |result| {
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
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::of(ErrorKind::DeviceLost, "webgpu", format!("reading results back failed: {e}")))?;
            view.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
        };
        staging.unmap();
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
