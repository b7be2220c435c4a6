//! Shard statistics: per-frame counts kept in shard-local cells and flushed on a timer into
//! shared atomics that `/metrics` reads, plus a per-socket status snapshot for `/ready` and the
//! admin API. Imports crate::{types, session}.

use crate::session::SocketKey;
use crate::types::Provider;
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

const P: usize = Provider::ALL.len();

/// Counters per provider.
#[derive(Default)]
pub struct PerProvider {
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    pub events: AtomicU64,
    pub ignored: AtomicU64,
    pub acks: AtomicU64,
    pub pongs: AtomicU64,
    pub venue_errors: AtomicU64,
    pub decode_errors: AtomicU64,
    pub reconnects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub open_sockets: AtomicI64,
}

/// Shared, read by the control plane; written by one shard.
pub struct ShardStats {
    pub shard: u16,
    pub per_provider: [PerProvider; P],
    pub ring_full_waits: AtomicU64,
    pub ring_capacity: AtomicU64,
    pub ring_free: AtomicU64,
    /// Wall-clock ms of the shard loop's last turn (for `/health`).
    pub heartbeat_ms: AtomicU64,
    pub sockets: Mutex<Vec<SocketStatus>>,
    /// User-stream sessions of this shard (snapshot, flushed with the counters).
    pub users: Mutex<Vec<UserStatus>>,
    /// User events handed to the publisher, and waits on a full user ring.
    pub user_events: AtomicU64,
    pub user_ring_full_waits: AtomicU64,
}

impl ShardStats {
    pub fn new(shard: u16) -> Self {
        ShardStats {
            shard,
            per_provider: std::array::from_fn(|_| PerProvider::default()),
            ring_full_waits: AtomicU64::new(0),
            ring_capacity: AtomicU64::new(0),
            ring_free: AtomicU64::new(0),
            heartbeat_ms: AtomicU64::new(crate::event::now_ms()),
            sockets: Mutex::new(Vec::new()),
            users: Mutex::new(Vec::new()),
            user_events: AtomicU64::new(0),
            user_ring_full_waits: AtomicU64::new(0),
        }
    }

    pub fn provider(&self, p: Provider) -> &PerProvider {
        &self.per_provider[p as usize]
    }

    /// Sum of a counter over providers.
    pub fn total(&self, f: impl Fn(&PerProvider) -> &AtomicU64) -> u64 {
        self.per_provider
            .iter()
            .map(|p| f(p).load(Ordering::Relaxed))
            .sum()
    }
}

/// Shard-local counters for one provider (no atomics on the per-frame path).
#[derive(Default)]
pub struct LocalCounts {
    pub frames: Cell<u64>,
    pub bytes: Cell<u64>,
    pub events: Cell<u64>,
    pub ignored: Cell<u64>,
    pub acks: Cell<u64>,
    pub pongs: Cell<u64>,
    pub venue_errors: Cell<u64>,
    pub decode_errors: Cell<u64>,
    pub ring_full_waits: Cell<u64>,
    pub reconnects: Cell<u64>,
    pub connect_failures: Cell<u64>,
    pub open_delta: Cell<i64>,
}

#[inline]
pub fn bump(c: &Cell<u64>, by: u64) {
    c.set(c.get() + by);
}

/// All local counters of a shard, flushed every few hundred ms.
pub struct Local {
    pub per_provider: [LocalCounts; P],
}

impl Default for Local {
    fn default() -> Self {
        Local {
            per_provider: std::array::from_fn(|_| LocalCounts::default()),
        }
    }
}

impl Local {
    pub fn flush(&self, into: &ShardStats) {
        for (l, s) in self.per_provider.iter().zip(into.per_provider.iter()) {
            s.frames.fetch_add(l.frames.take(), Ordering::Relaxed);
            s.bytes.fetch_add(l.bytes.take(), Ordering::Relaxed);
            s.events.fetch_add(l.events.take(), Ordering::Relaxed);
            s.ignored.fetch_add(l.ignored.take(), Ordering::Relaxed);
            s.acks.fetch_add(l.acks.take(), Ordering::Relaxed);
            s.pongs.fetch_add(l.pongs.take(), Ordering::Relaxed);
            s.venue_errors
                .fetch_add(l.venue_errors.take(), Ordering::Relaxed);
            s.decode_errors
                .fetch_add(l.decode_errors.take(), Ordering::Relaxed);
            into.ring_full_waits
                .fetch_add(l.ring_full_waits.take(), Ordering::Relaxed);
            s.reconnects
                .fetch_add(l.reconnects.take(), Ordering::Relaxed);
            s.connect_failures
                .fetch_add(l.connect_failures.take(), Ordering::Relaxed);
            s.open_sockets
                .fetch_add(l.open_delta.take(), Ordering::Relaxed);
        }
    }
}

/// Where a socket is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketState {
    Connecting,
    Open,
    Backoff,
    Closed,
}

impl SocketState {
    pub fn as_str(self) -> &'static str {
        match self {
            SocketState::Connecting => "connecting",
            SocketState::Open => "open",
            SocketState::Backoff => "backoff",
            SocketState::Closed => "closed",
        }
    }
}

/// A socket's status as `/ready` and the admin API show it. Never holds secrets.
#[derive(Clone, Debug)]
pub struct SocketStatus {
    pub key: SocketKey,
    pub shard: u16,
    pub state: SocketState,
    pub topics: usize,
    /// Wall-clock ms of the last frame of any kind, and of the last data frame (0 = never).
    pub last_frame_ms: u64,
    pub last_data_ms: u64,
    pub opened_ms: u64,
    pub reconnects: u64,
    pub last_error: Option<String>,
    /// Markets of this socket whose data stopped while the socket lives.
    pub stalled_markets: u32,
}

/// Where a user-stream session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserState {
    /// Creating a listen key / dialling / logging in / waiting for the subscription acks.
    Connecting,
    /// Subscriptions accepted: account events flow.
    Subscribed,
    /// Waiting before the next attempt.
    Backoff,
    /// The venue rejected the credentials; waiting for the control plane's decision.
    Rejected,
}

impl UserState {
    pub fn as_str(self) -> &'static str {
        match self {
            UserState::Connecting => "connecting",
            UserState::Subscribed => "subscribed",
            UserState::Backoff => "backoff",
            UserState::Rejected => "rejected",
        }
    }
}

/// A user-stream session's status for the admin API. Never holds secrets (no key, no listen
/// key, no URL query).
#[derive(Clone, Debug)]
pub struct UserStatus {
    pub room_id: String,
    pub user_id: String,
    pub provider: Provider,
    pub shard: u16,
    pub state: UserState,
    /// Wall-clock ms of the last account event (0 = none yet).
    pub last_event_ms: u64,
    pub events: u64,
    pub opened_ms: u64,
    pub reconnects: u64,
    pub last_error: Option<String>,
}
