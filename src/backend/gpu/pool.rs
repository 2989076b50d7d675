//! The buffer pool. Creating a GPU buffer is costly (WebGPU also zero-fills it), so a buffer no
//! longer needed waits here, keyed by its usage and size, for the next request of the same kind.
//! Free bytes above a budget go back to the driver, least recently freed first: a pool that only
//! grows would keep every size a model ever used (a change of image size, inference after training).
//! The budget is never below the most bytes ever in use at once, so that the temporaries of a
//! training step (about 1 GB at 224 px, batch 16) wait for the next step instead of being
//! destroyed and created again each time.

use std::collections::{HashMap, VecDeque};

/// What a buffer is for: a pooled buffer is only handed out for the same usage and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Class {
    pub usage: wgpu::BufferUsages,
    pub bytes: u64,
}

/// The free bytes a pool keeps at least, unless told otherwise (`BufferPool::set_budget`).
pub(super) const DEFAULT_BUDGET: u64 = 256 << 20;

pub(super) struct BufferPool {
    /// Free buffers by class, in the order they were freed (with that time), newest last.
    free: HashMap<Class, VecDeque<(u64, wgpu::Buffer)>>,
    /// Buffers that the batch not yet submitted may still use (see `retire`).
    retired: Vec<(Class, wgpu::Buffer)>,
    free_bytes: u64,
    retired_bytes: u64,
    /// Bytes handed out and not yet given back, and the most there ever were.
    in_use_bytes: u64,
    peak_in_use_bytes: u64,
    /// Counts releases: the "time" that orders free buffers from least to most recently freed.
    clock: u64,
    budget: u64,
    created_bytes: u64,
}

impl Default for BufferPool {
    fn default() -> Self {
        BufferPool {
            free: HashMap::new(),
            retired: Vec::new(),
            free_bytes: 0,
            retired_bytes: 0,
            in_use_bytes: 0,
            peak_in_use_bytes: 0,
            clock: 0,
            budget: DEFAULT_BUDGET,
            created_bytes: 0,
        }
    }
}

impl BufferPool {
    /// The most recently freed buffer of `class` (the likeliest to be in a cache), or a new one.
    pub fn take(&mut self, device: &wgpu::Device, class: Class, label: &str) -> wgpu::Buffer {
        self.in_use_bytes += class.bytes;
        self.peak_in_use_bytes = self.peak_in_use_bytes.max(self.in_use_bytes);
        if let Some((_, buffer)) = self.free.get_mut(&class).and_then(VecDeque::pop_back) {
            self.free_bytes -= class.bytes;
            return buffer;
        }
        self.created_bytes += class.bytes;
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: class.bytes,
            usage: class.usage,
            mapped_at_creation: false,
        })
    }

    /// Holds `buffer` back until `recycle`: the batch not yet submitted may read it, and reusing it
    /// now would let a `queue.write_buffer` (which runs before that batch) overwrite it.
    pub fn retire(&mut self, class: Class, buffer: wgpu::Buffer) {
        self.in_use_bytes -= class.bytes;
        self.retired_bytes += class.bytes;
        self.retired.push((class, buffer));
    }

    /// Makes `buffer` free for reuse at once (no pending command refers to it).
    pub fn release(&mut self, class: Class, buffer: wgpu::Buffer) {
        self.in_use_bytes -= class.bytes;
        self.make_free(class, buffer);
    }

    fn make_free(&mut self, class: Class, buffer: wgpu::Buffer) {
        self.clock += 1;
        self.free_bytes += class.bytes;
        self.free.entry(class).or_default().push_back((self.clock, buffer));
        self.trim();
    }

    /// Called after a submit: the queue now orders any reuse of the retired buffers after it.
    pub fn recycle(&mut self) {
        for (class, buffer) in std::mem::take(&mut self.retired) {
            self.make_free(class, buffer);
        }
        self.retired_bytes = 0;
    }

    pub fn set_budget(&mut self, bytes: u64) {
        self.budget = bytes;
        self.trim();
    }

    /// Bytes the pool holds that no tensor uses: free and retired.
    pub fn pooled_bytes(&self) -> u64 {
        self.free_bytes + self.retired_bytes
    }

    pub fn created_bytes(&self) -> u64 {
        self.created_bytes
    }

    /// The most free bytes kept: the budget, or the most bytes ever in use at once if more.
    fn limit(&self) -> u64 {
        self.budget.max(self.peak_in_use_bytes)
    }

    /// Destroys the least recently freed buffers until the free bytes fit the limit.
    fn trim(&mut self) {
        while self.free_bytes > self.limit() {
            // Each class's queue is in freeing order, so the oldest free buffer heads one of them.
            let oldest = self.free.iter().filter_map(|(class, queue)| Some((queue.front()?.0, *class))).min_by_key(|(time, _)| *time);
            let Some((_, class)) = oldest else { break };
            let (_, buffer) = self.free.get_mut(&class).and_then(VecDeque::pop_front).expect("the class has a free buffer");
            self.free_bytes -= class.bytes;
            // destroy() frees the memory now rather than when the last handle goes (in the browser,
            // at garbage collection); WebGPU waits for submitted work that uses it. Free buffers
            // are in no unsubmitted command: those are retired, not free.
            buffer.destroy();
        }
    }
}
