//! The one error type: a message that names the operation and the shapes involved, so a user
//! (in Rust or, through `js`, in JavaScript) can see what went wrong without a debugger.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error raised by `op` (e.g. "matmul"), shown as "op: detail".
    pub fn new(op: &str, detail: impl fmt::Display) -> Self {
        Error { message: format!("{op}: {detail}") }
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
