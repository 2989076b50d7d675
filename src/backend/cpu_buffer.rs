//! CPU storage that recycles its memory. Training allocates the same large activation sizes at
//! every step; handing freed buffers back out avoids zero-filling and page faults on each op.

use std::cell::{Ref, RefCell, RefMut};
use std::collections::HashMap;

use crate::error::{Error, Result};

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
    /// output, so a recycled buffer need not be cleared. When memory runs out this is an error,
    /// not an abort: in the browser the tab would lose the Learner and every weight with it.
    pub fn for_output(len: usize) -> Result<Self> {
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
        let data = match recycled {
            Some(data) => data,
            None => zeros(len)?,
        };
        Ok(CpuBuffer { data: RefCell::new(data) })
    }

    pub fn from_slice(values: &[f32]) -> Result<Self> {
        let buffer = CpuBuffer::for_output(values.len())?;
        buffer.data.borrow_mut().copy_from_slice(values);
        Ok(buffer)
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

/// `len` zeros, or an out-of-memory error. The pooled buffers are released first and the
/// allocation tried again, since they may be what fills the memory.
fn zeros(len: usize) -> Result<Vec<f32>> {
    try_zeros(len)
        .or_else(|| {
            POOL.with(|p| *p.borrow_mut() = Pool::default());
            try_zeros(len)
        })
        .ok_or_else(|| Error::out_of_memory(len * std::mem::size_of::<f32>()))
}

/// `vec![0.0; len]` (zeroed pages straight from the allocator, which is what makes it cheap),
/// but None instead of an abort when the allocator has no memory to give.
fn try_zeros(len: usize) -> Option<Vec<f32>> {
    if len == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<f32>(len).ok()?;
    // SAFETY: the layout's size is not zero. A non-null result is memory for exactly `len` f32s,
    // all zero (a valid f32), from the global allocator with the layout Vec uses for that capacity.
    unsafe {
        let data = std::alloc::alloc_zeroed(layout).cast::<f32>();
        (!data.is_null()).then(|| Vec::from_raw_parts(data, len, len))
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
