//! The one error type: a kind (what sort of failure, for callers that act on it) and a message
//! that names the operation and the shapes involved, so a user (in Rust or, through `js`, in
//! JavaScript as `error.kind` and `error.message`) can see what went wrong without a debugger.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// What kind of failure an error is. The page offers different advice for each, so it reads the
/// kind, never the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// An argument or option out of range, or a call made at the wrong time.
    BadInput,
    /// Tensor shapes that do not fit together (or do not fit the model).
    Shape,
    /// A file that could not be read: not an image, a corrupt image, a bad weights file.
    Decode,
    /// Memory for a tensor could not be had.
    OutOfMemory,
    /// No usable GPU: no WebGPU adapter, or the device could not be opened.
    NoGpu,
    /// The GPU device was lost or reported an error; work since then is unreliable.
    DeviceLost,
    /// Training produced a loss that is not a finite number.
    Diverged,
}

impl ErrorKind {
    /// The name JavaScript sees as `error.kind`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::BadInput => "bad-input",
            ErrorKind::Shape => "shape",
            ErrorKind::Decode => "decode",
            ErrorKind::OutOfMemory => "out-of-memory",
            ErrorKind::NoGpu => "no-gpu",
            ErrorKind::DeviceLost => "device-lost",
            ErrorKind::Diverged => "diverged",
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A bad-input error raised by `op` (e.g. "clamp"), shown as "op: detail".
    pub fn new(op: &str, detail: impl fmt::Display) -> Self {
        Error::of(ErrorKind::BadInput, op, detail)
    }

    /// An error of the given kind raised by `op`, shown as "op: detail".
    pub fn of(kind: ErrorKind, op: &str, detail: impl fmt::Display) -> Self {
        Error { kind, message: format!("{op}: {detail}") }
    }

    /// Shapes that do not fit together.
    pub fn shape(op: &str, detail: impl fmt::Display) -> Self {
        Error::of(ErrorKind::Shape, op, detail)
    }

    /// Memory for `bytes` more could not be had: says how much, and what to do about it.
    pub fn out_of_memory(bytes: usize) -> Self {
        let mb = bytes.div_ceil(1 << 20);
        let detail =
            format!("could not get {mb} MB more memory. Use smaller images or a smaller batch size, or fewer photos, and try again");
        Error::of(ErrorKind::OutOfMemory, "out of memory", detail)
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
