//! Fault injection (`POST /control/fault`). All fault kinds live here so new ones
//! (issue 5) are added in one place.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use serde::Deserialize;

use super::server::{CtrlEvent, SimState};

/// A fault request body: `{"kind":"drop_all"}`, `{"kind":"exchange_service","fail":true}`,
/// `{"kind":"silence","path":"/okx/ws/v5/business"}` (`"enabled":false` lifts it),
/// `{"kind":"clear"}` (lifts every standing fault).
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultRequest {
    DropAll,
    ExchangeService {
        #[serde(default = "yes")]
        fail: bool,
    },
    Silence {
        path: String,
        #[serde(default = "yes")]
        enabled: bool,
    },
    /// After every `every`-th data frame, also send one malformed frame (truncated, garbage or
    /// wrong-typed, in turn); `every = 0` lifts it. Good frames are never replaced.
    Malformed {
        every: u64,
    },
    Clear,
}

fn yes() -> bool {
    true
}

/// Standing faults.
#[derive(Debug, Default)]
pub struct Faults {
    exchange_service_fail: AtomicBool,
    silenced: RwLock<Vec<String>>,
    malformed_every: std::sync::atomic::AtomicU64,
    malformed_sent: std::sync::atomic::AtomicU64,
}

impl Faults {
    pub fn exchange_service_fails(&self) -> bool {
        self.exchange_service_fail.load(Ordering::Relaxed)
    }

    /// Whether a connection on `path` (e.g. `/okx/ws/v5/business`) is silenced: any
    /// silenced prefix matches.
    pub fn is_silenced(&self, path: &str) -> bool {
        self.silenced
            .read()
            .unwrap()
            .iter()
            .any(|p| path.starts_with(p.as_str()))
    }

    /// Every how many data frames a malformed one is added (0 = off).
    pub fn malformed_every(&self) -> u64 {
        self.malformed_every.load(Ordering::Relaxed)
    }

    /// A malformed variant of `good` (rotating through three kinds), counted.
    pub fn malformed(&self, good: &[u8]) -> Vec<u8> {
        let n = self.malformed_sent.fetch_add(1, Ordering::Relaxed);
        match n % 3 {
            0 => good[..good.len() / 2].to_vec(),
            1 => b"\x01\x02 not json at all }".to_vec(),
            _ => br#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":"not a number","s":"BTCUSDT","k":42}}"#.to_vec(),
        }
    }

    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "malformed_every": self.malformed_every(),
            "malformed_sent": self.malformed_sent.load(Ordering::Relaxed),
            "exchange_service_fail": self.exchange_service_fails(),
            "silenced": *self.silenced.read().unwrap(),
        })
    }
}

/// Apply a fault; returns the standing faults afterwards.
pub fn apply(state: &SimState, req: FaultRequest) -> serde_json::Value {
    match req {
        FaultRequest::DropAll => {
            tracing::warn!(fault = "drop_all", "dropping every WebSocket connection");
            let _ = state.events.send(CtrlEvent::DropAll);
        }
        FaultRequest::ExchangeService { fail } => {
            tracing::warn!(
                fault = "exchange_service",
                fail,
                "exchange service fault set"
            );
            state
                .faults
                .exchange_service_fail
                .store(fail, Ordering::Relaxed);
        }
        FaultRequest::Silence { path, enabled } => {
            tracing::warn!(fault = "silence", %path, enabled, "silence fault set");
            let mut s = state.faults.silenced.write().unwrap();
            s.retain(|p| p != &path);
            if enabled {
                s.push(path);
            }
            drop(s);
            let _ = state.events.send(CtrlEvent::FaultsChanged);
        }
        FaultRequest::Malformed { every } => {
            tracing::warn!(fault = "malformed", every, "malformed-frame fault set");
            state.faults.malformed_every.store(every, Ordering::Relaxed);
        }
        FaultRequest::Clear => {
            state.faults.malformed_every.store(0, Ordering::Relaxed);
            tracing::warn!(fault = "clear", "all standing faults lifted");
            state
                .faults
                .exchange_service_fail
                .store(false, Ordering::Relaxed);
            state.faults.silenced.write().unwrap().clear();
            let _ = state.events.send(CtrlEvent::FaultsChanged);
        }
    }
    state.faults.snapshot()
}
