//! `corefeed-sim`: a faithful simulator of the Binance (spot, USD-M, COIN-M) and OKX public
//! WebSocket protocols plus the REST calls the streams need, with load modes (paced,
//! firehose), latency stamps, a control API and fault injection; and of their private
//! (user-data) protocols with an account-scenario control API (`private`). See
//! `bench/README.md`.

pub mod config;
pub mod conn;
pub mod control;
pub mod fault;
pub mod market;
pub mod private;
pub mod render;
pub mod rest;
pub mod server;
pub mod stats;
pub mod streams;
pub mod universe;

pub use config::SimConfig;
pub use server::{spawn, SimHandle, SimState};
