//! corefeed's per-core runtime. The data path reads from the modules:
//! socket (`ws`) → shard (`shard`, `session`) → decode (`exchanges::*::decode`) → event (`event`)
//! → ring (`ring`) → the publisher core in the `corefeed` crate.

pub mod error;
pub mod event;
pub mod exchanges;
pub mod ring;
pub mod session;
pub mod shard;
pub mod stats;
pub mod types;
pub mod ws;
