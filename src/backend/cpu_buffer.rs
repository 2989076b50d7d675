//! CPU storage that recycles its memory. Training allocates the same large activation sizes at
//! every step; handing freed buffers back out avoids zero-filling and page faults on each op.

use std::cell::{Ref, RefCell, RefMut};
use std::collections::HashMap;

/// Buffers smaller than this are cheap to allocate and not pooled.
const MIN_POOLED_LEN: usize = 4096;
/// At most this many f32s wait in the pool (1 GiB); beyond it freed buffers are released.
const MAX_POOLED_FLOATS: usize = 256 << 20;

#[derive(Default)]
struct Pool {
    free: HashMap<usize, Vec<Vec<f32>>>,
    floats: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::default();
}

pub struct CpuBuffer {
    data: RefCell<Vec<f32>>,
}

impl CpuBuffer {
    /// A buffer of `len` numbers whose contents are unspecified: every kernel writes all of its
    /// output, so a recycled buffer need not be cleared.
    pub fn for_output(len: usize) -> Self {
        let recycled = if len >= MIN_POOLED_LEN {
            POOL.with(|p| {
                let mut pool = p.borrow_mut();
                let found = pool.free.get_mut(&len).and_then(Vec::pop);
                if found.is_some() {
                    pool.floats -= len;
                }
                found
            })
        } else {
            None
        };
        CpuBuffer { data: RefCell::new(recycled.unwrap_or_else(|| vec![0.0; len])) }
    }

    pub fn from_slice(values: &[f32]) -> Self {
        let buffer = CpuBuffer::for_output(values.len());
        buffer.data.borrow_mut().copy_from_slice(values);
        buffer
    }

    pub fn len(&self) -> usize {
        self.data.borrow().len()
    }

    pub fn borrow(&self) -> Ref<'_, Vec<f32>> {
        self.data.borrow()
    }

    pub fn borrow_mut(&self) -> RefMut<'_, Vec<f32>> {
        self.data.borrow_mut()
    }
}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        let data = std::mem::take(self.data.get_mut());
        if data.len() < MIN_POOLED_LEN {
            return;
        }
        // try_with: during thread shutdown the pool may already be gone; then just free.
        let _ = POOL.try_with(|p| {
            let mut pool = p.borrow_mut();
            if pool.floats + data.len() <= MAX_POOLED_FLOATS {
                pool.floats += data.len();
                pool.free.entry(data.len()).or_default().push(data);
            }
        });
    }
}
