//! corefeed: thread-per-core crypto exchange connector. The data path by folder:
//! `shards/` (socket → shard → decode → event → ring) → `src/publisher` (ring → Redis and
//! RabbitMQ). `src/control` is the control plane (commands, registry, HTTP); `src/runtime.rs`
//! wires it together; `src/config.rs` is `config.toml`.

pub mod config;
pub mod control;
pub mod decode_cmd;
pub mod publisher;
pub mod runtime;
