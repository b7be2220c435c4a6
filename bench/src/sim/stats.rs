//! Server-wide counters exposed by `GET /control/stats`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many WebSocket upgrade attempts `GET /control/stats` lists (the newest).
pub const UPGRADES_KEPT: usize = 512;

#[derive(Debug, Default)]
pub struct Stats {
    pub frames_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub subscriptions: AtomicI64,
    pub connections_accepted: AtomicU64,
    connections: Mutex<BTreeMap<String, i64>>,
    upgrades_total: AtomicU64,
    upgrades: Mutex<VecDeque<Upgrade>>,
    closed_candles: Mutex<BTreeMap<String, ClosedCandles>>,
}

/// One WebSocket upgrade request as it reached the simulator.
#[derive(Debug, Clone)]
struct Upgrade {
    at_ms: i64,
    path: String,
    /// The query of public paths (their `streams=`); private ones carry keys and are omitted.
    query: Option<String>,
    outcome: String,
}

/// Closed candles (`x:true` / `confirm:"1"`) written to sockets, per stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClosedCandles {
    /// Sent with their content intact (padded by `oversized` included).
    pub sent: u64,
    /// Cut in half by the `truncated` fault (lost to the client).
    pub truncated: u64,
}

impl Stats {
    /// Records a WebSocket upgrade attempt: `outcome` is `passed` (handed to the endpoint, which may still refuse it), `rejected <status>` or
    /// `handshake_error`.
    pub fn add_upgrade(&self, path: &str, query: Option<&str>, outcome: String) {
        self.upgrades_total.fetch_add(1, Ordering::Relaxed);
        let mut u = self.upgrades.lock().unwrap();
        if u.len() >= UPGRADES_KEPT {
            u.pop_front();
        }
        u.push_back(Upgrade {
            at_ms: super::render::now_ms(),
            path: path.to_string(),
            query: query.map(str::to_string),
            outcome,
        });
    }

    /// Counts one closed candle of `key` (`"<venue path> <symbol> <interval>"`).
    pub fn add_closed_candle(&self, key: &str, truncated: bool) {
        let mut m = self.closed_candles.lock().unwrap();
        let e = match m.get_mut(key) {
            Some(e) => e,
            None => m.entry(key.to_string()).or_default(),
        };
        if truncated {
            e.truncated += 1;
        } else {
            e.sent += 1;
        }
    }

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
            "upgrades": {
                "total": self.upgrades_total.load(Ordering::Relaxed),
                "recent": self.upgrades.lock().unwrap().iter().map(|u| serde_json::json!({
                    "at_ms": u.at_ms,
                    "path": u.path,
                    "query": u.query,
                    "outcome": u.outcome,
                })).collect::<Vec<_>>(),
            },
            "closed_candles": self.closed_candles.lock().unwrap().iter().map(|(k, c)| {
                (k.clone(), serde_json::json!({"sent": c.sent, "truncated": c.truncated}))
            }).collect::<serde_json::Map<_, _>>(),
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
