//! okx decode.
