//! Rust values as the JS values the API hands out: errors that carry their kind, plain objects.

use std::fmt;

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

use crate::Error;

/// A JS `Error` with kiln's message, and `error.kind` saying what kind of failure it is
/// (`ErrorKind::name`: "bad-input", "shape", "out-of-memory", ...), so callers can act on it
/// without reading the message.
pub(super) fn js_error(e: Error) -> JsError {
    let error = JsError::new(e.message());
    let kind = e.kind().name();
    // A JsError is a handle to the JS object: a copy of the handle sets the field on the same object.
    let _ = Reflect::set(&JsValue::from(error.clone()), &"kind".into(), &kind.into());
    error
}

/// A wrong argument given to `op` from JavaScript: "op: detail", with `error.kind` "bad-input".
pub(super) fn bad_input(op: &str, detail: impl fmt::Display) -> JsError {
    js_error(Error::new(op, detail))
}

/// A plain JS object with these fields.
pub(super) fn js_object(fields: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (key, value) in fields {
        let _ = Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}
