//! The one error type: a message that names the operation and the shapes involved, so a user
//! (in Rust or, through `js`, in JavaScript) can see what went wrong without a debugger.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// What kind of failure an error is, for callers that act on it (the page offers different
/// advice for each) rather than only show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Anything not listed below: bad arguments, shapes, files.
    Other,
    /// Memory could not be had for a tensor.
    OutOfMemory,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error raised by `op` (e.g. "matmul"), shown as "op: detail".
    pub fn new(op: &str, detail: impl fmt::Display) -> Self {
        Error { kind: ErrorKind::Other, message: format!("{op}: {detail}") }
    }

    /// Memory for `bytes` more could not be had: says how much, and what to do about it.
    pub fn out_of_memory(bytes: usize) -> Self {
        let mb = |b: usize| b.div_ceil(1 << 20);
        let detail = format!(
            "could not get {} MB more memory. Use smaller images or a smaller batch size, or fewer photos, and try again",
            mb(bytes)
        );
        Error { kind: ErrorKind::OutOfMemory, message: format!("out of memory: {detail}") }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
