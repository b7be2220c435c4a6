//! Error types of the shard runtime. Pure: imports crate::types.

use crate::types::{InvalidDecimal, TooLong};

/// Why one frame could not be decoded. Counted per provider; never fatal to the socket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame is not valid JSON ({0}); the frame was counted and skipped")]
    Json(String),
    #[error("frame lacks the field `{0}` its channel requires; the frame was counted and skipped")]
    MissingField(&'static str),
    #[error("field `{0}` is not a plain decimal number; the frame was counted and skipped")]
    BadDecimal(&'static str),
    #[error("field `{field}` is malformed: {why}; the frame was counted and skipped")]
    BadField {
        field: &'static str,
        why: &'static str,
    },
    #[error("{0}; the frame was counted and skipped")]
    TooLong(#[from] TooLong),
    #[error("frame of an unknown shape or channel; it was counted and skipped")]
    Unknown,
    #[error("corefeed has no decoder for {0} yet; use one of the supported providers")]
    Unsupported(crate::types::Provider),
}

impl From<InvalidDecimal> for DecodeError {
    fn from(_: InvalidDecimal) -> Self {
        DecodeError::BadDecimal("decimal")
    }
}

impl DecodeError {
    /// A short, fixed label for metrics (`decode_errors_total{reason=…}`).
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Json(_) => "json",
            DecodeError::MissingField(_) => "missing_field",
            DecodeError::BadDecimal(_) => "bad_decimal",
            DecodeError::BadField { .. } => "bad_field",
            DecodeError::TooLong(_) => "too_long",
            DecodeError::Unknown => "unknown",
            DecodeError::Unsupported(_) => "unsupported",
        }
    }
}
