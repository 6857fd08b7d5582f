//! One invalid field of a request: where (a JSON pointer) and what is wrong.

use serde::Serialize;

/// One invalid field, located by a JSON pointer into the request body (RFC 6901).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FieldError {
    pub pointer: String,
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// Places an error found inside a nested value under that value's pointer.
    pub fn under(mut self, prefix: &str) -> Self {
        self.pointer = format!("{prefix}{}", self.pointer);
        self
    }
}
