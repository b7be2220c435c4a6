//! corefeed's load and latency harness (`make bench`): starts the real `corefeed-sim` and
//! `corefeed` binaries with generated configs, drives them, measures from `/metrics`, `/proc`
//! and real consumers, and writes `bench/results/latest.{json,md}`.
//!
//! One module per scenario (`ingest`, `e2e`, `latency`, `idle`, `sockets`, `production`,
//! `cores`); `proc` (child processes, CPU, RSS), `metrics` (scrapes), `stack` (sim + corefeed
//! set-up and measuring windows), `users` (simulator accounts, rooms, order driver), `broker`
//! (RabbitMQ/Redis side), `peers` (the replaced Node.js stack, `make bench-peers`) and
//! `report` are shared.

pub mod broker;
pub mod cores;
pub mod e2e;
pub mod idle;
pub mod ingest;
pub mod latency;
pub mod metrics;
pub mod peers;
pub mod proc;
pub mod production;
pub mod report;
pub mod sockets;
pub mod stack;
pub mod users;

use std::path::PathBuf;
use std::time::Duration;

/// Symbols per provider in the simulator (and kline streams subscribed: one socket of 200).
pub const SYMBOLS: usize = 200;

/// Shared state of one bench run.
pub struct Ctx {
    /// Workspace root (where `target/` and `bench/results/` are).
    pub root: PathBuf,
    /// Where the binaries are (`target/release`).
    pub bin_dir: PathBuf,
    /// Temporary run directory: generated configs and process logs.
    pub dir: PathBuf,
    /// Unique id of this run (broker object names).
    pub run_id: String,
    pub quick: bool,
    /// Warm-up after the first frames, then the measured window (seconds).
    pub warmup_s: f64,
    pub window_s: f64,
    pub rt: tokio::runtime::Runtime,
}

impl Ctx {
    pub fn new(root: PathBuf, bin_dir: PathBuf, quick: bool) -> anyhow::Result<Ctx> {
        let run_id = format!(
            "{}-{}",
            std::process::id(),
            broker::now_us() / 1_000_000 % 100_000
        );
        let dir = std::env::temp_dir().join(format!("corefeed-bench-{run_id}"));
        std::fs::create_dir_all(&dir)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bench-rt")
            .enable_all()
            .build()?;
        Ok(Ctx {
            root,
            bin_dir,
            dir,
            run_id,
            quick,
            warmup_s: if quick { 1.5 } else { 3.0 },
            window_s: if quick { 4.0 } else { 10.0 },
            rt,
        })
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    pub fn amqp_cleanup(&self, exchanges: &[&str], queues: &[&str]) {
        self.rt.block_on(broker::cleanup(exchanges, queues));
    }

    pub fn warmup(&self) {
        std::thread::sleep(Duration::from_secs_f64(self.warmup_s));
    }
}
