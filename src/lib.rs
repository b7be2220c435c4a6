//! corefeed library.

pub mod decode_cmd;
pub mod publisher;
