//! Server-wide counters exposed by `GET /control/stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
pub struct Stats {
    pub frames_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub subscriptions: AtomicI64,
    pub connections_accepted: AtomicU64,
    connections: Mutex<BTreeMap<String, i64>>,
}

impl Stats {
    pub fn add_sent(&self, frames: u64, bytes: u64) {
        if frames > 0 {
            self.frames_sent.fetch_add(frames, Ordering::Relaxed);
            self.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Open connections per venue path (paths with zero connections are omitted).
    pub fn connections(&self) -> BTreeMap<String, i64> {
        self.connections
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub fn snapshot(&self) -> serde_json::Value {
        let conns = self.connections();
        serde_json::json!({
            "connections": conns,
            "connections_open": conns.values().sum::<i64>(),
            "connections_accepted": self.connections_accepted.load(Ordering::Relaxed),
            "frames_sent": self.frames_sent.load(Ordering::Relaxed),
            "bytes_sent": self.bytes_sent.load(Ordering::Relaxed),
            "subscriptions": self.subscriptions.load(Ordering::Relaxed),
        })
    }
}

/// Registers one open connection under its venue path; unregisters (and drops its
/// subscription count) on drop.
pub struct ConnGuard {
    stats: Arc<super::server::SimState>,
    path: String,
    pub subs: i64,
}

impl ConnGuard {
    pub fn new(state: Arc<super::server::SimState>, path: &str) -> ConnGuard {
        state
            .stats
            .connections_accepted
            .fetch_add(1, Ordering::Relaxed);
        *state
            .stats
            .connections
            .lock()
            .unwrap()
            .entry(path.to_string())
            .or_default() += 1;
        ConnGuard {
            stats: state,
            path: path.to_string(),
            subs: 0,
        }
    }

    pub fn set_subs(&mut self, n: usize) {
        let n = n as i64;
        self.stats
            .stats
            .subscriptions
            .fetch_add(n - self.subs, Ordering::Relaxed);
        self.subs = n;
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.set_subs(0);
        if let Some(v) = self
            .stats
            .stats
            .connections
            .lock()
            .unwrap()
            .get_mut(&self.path)
        {
            *v -= 1;
        }
    }
}
