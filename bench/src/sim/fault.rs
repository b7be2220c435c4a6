//! Fault injection (`POST /control/fault`). All fault kinds live here so new ones
//! (issue 5) are added in one place: the request shapes, the standing state, what a connection
//! on a given path is subject to ([`ConnFaults`]), the counters `GET /control/stats` shows.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::json;

use super::server::{CtrlEvent, SimState};

/// A fault request body: `{"kind":"drop_all"}`, `{"kind":"exchange_service","fail":true}`,
/// `{"kind":"silence","path":"/okx/ws/v5/business"}` (`"enabled":false` lifts it),
/// `{"kind":"clear"}` (lifts every standing fault), and the kinds below. `path_prefix` always
/// matches the start of the venue path (`/binance/spot/stream`, `/okx/ws/v5/business`, …);
/// absent = every public socket.
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
    /// Answer the next `count` WebSocket upgrades (all, or those whose path starts with
    /// `path_prefix`) with HTTP `status` (429, 418 or 503) and `Retry-After: retry_after_s`
    /// (default 1 for 429/418, no header for 503). `count` absent = until cleared; `0` lifts
    /// the rule of that prefix.
    RejectConnect {
        status: u16,
        retry_after_s: Option<u64>,
        count: Option<u64>,
        path_prefix: Option<String>,
    },
    /// Accept the next `count` upgrades' TCP connections, then answer an invalid handshake
    /// (101 with a wrong `Sec-WebSocket-Accept`, then junk) so the WebSocket never opens.
    HandshakeError {
        count: Option<u64>,
        path_prefix: Option<String>,
    },
    /// Socket open, nothing at all comes back: no data, no acks, no OKX `pong`, no Binance ping
    /// control frames, and the server never closes the connection (idle cuts are suspended).
    PingSilence {
        path_prefix: Option<String>,
        #[serde(default = "yes")]
        enabled: bool,
    },
    /// Stop every data frame of one symbol (its klines/candles, tickers, book tickers, and its
    /// entries in all-market arrays) on the matching sockets; everything else keeps flowing and
    /// pings keep being answered.
    StallMarket {
        symbol: String,
        path_prefix: Option<String>,
        #[serde(default = "yes")]
        enabled: bool,
    },
    /// Hold every outgoing data frame `ms` milliseconds (order kept); `ms = 0` lifts it and
    /// sends what is held at once. Control replies (acks, pongs) and pings are not delayed.
    Delay {
        ms: u64,
        path_prefix: Option<String>,
    },
    /// Every `every`-th data frame of a connection is cut in half (invalid JSON) instead of
    /// being sent whole; `every = 0` lifts it.
    Truncated {
        every: u64,
        path_prefix: Option<String>,
    },
    /// Every `every`-th data frame of a connection is sent padded to `bytes` bytes: the same
    /// frame with a `"_pad":"xxxx…"` field added last (arrays: trailing spaces), still valid
    /// JSON with the same content; `every = 0` lifts it.
    Oversized {
        every: u64,
        /// Required unless `every` is 0.
        #[serde(default)]
        bytes: usize,
        path_prefix: Option<String>,
    },
    Clear,
}

fn yes() -> bool {
    true
}

/// Largest `oversized.bytes` accepted (the frame is built in memory per injection).
pub const MAX_OVERSIZED_BYTES: usize = 256 << 20;

#[derive(Debug, Clone)]
struct RejectRule {
    status: u16,
    retry_after_s: Option<u64>,
    /// `None` = until cleared.
    remaining: Option<u64>,
    prefix: Option<String>,
}

#[derive(Debug, Clone)]
struct HandshakeRule {
    remaining: Option<u64>,
    prefix: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct Rules {
    reject: Vec<RejectRule>,
    handshake: Vec<HandshakeRule>,
    /// `None` = every socket.
    ping_silence: Vec<Option<String>>,
    stall: Vec<(String, Option<String>)>,
    delay: Vec<(u64, Option<String>)>,
    truncated: Option<(u64, Option<String>)>,
    oversized: Option<(u64, usize, Option<String>)>,
}

fn matches(prefix: &Option<String>, path: &str) -> bool {
    prefix.as_deref().is_none_or(|p| path.starts_with(p))
}

/// An upgrade answered with an HTTP error instead of `101`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub retry_after_s: Option<u64>,
}

/// What one connection on a given path is subject to (recomputed on every fault change).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnFaults {
    /// `silence` or `ping_silence`.
    pub silenced: bool,
    /// Symbols whose data is withheld (compared ASCII-case-insensitively).
    pub stalled: Vec<String>,
    pub delay: Duration,
    pub truncate_every: u64,
    /// `(every, bytes)`.
    pub oversize: Option<(u64, usize)>,
}

impl ConnFaults {
    pub fn is_stalled(&self, sym: &str) -> bool {
        self.stalled.iter().any(|s| s.eq_ignore_ascii_case(sym))
    }
}

/// Standing faults and their counters.
#[derive(Debug, Default)]
pub struct Faults {
    exchange_service_fail: AtomicBool,
    silenced: RwLock<Vec<String>>,
    malformed_every: AtomicU64,
    malformed_sent: AtomicU64,
    rules: RwLock<Rules>,
    pub rejected: AtomicU64,
    pub handshake_injected: AtomicU64,
    /// Half-built connections the client closed (what a good client does).
    pub handshake_closed_by_client: AtomicU64,
    /// Half-built connections the simulator gave up on after 10 s (the client kept them).
    pub handshake_closed_by_sim: AtomicU64,
    pub handshake_open: AtomicI64,
    pub stalled_withheld: AtomicU64,
    pub delayed_frames: AtomicU64,
    pub truncated_sent: AtomicU64,
    pub oversized_sent: AtomicU64,
}

impl Faults {
    pub fn exchange_service_fails(&self) -> bool {
        self.exchange_service_fail.load(Ordering::Relaxed)
    }

    /// Whether a connection on `path` (e.g. `/okx/ws/v5/business`) is silenced (`silence` or
    /// `ping_silence`): any matching prefix.
    pub fn is_silenced(&self, path: &str) -> bool {
        self.silenced
            .read()
            .unwrap()
            .iter()
            .any(|p| path.starts_with(p.as_str()))
            || self
                .rules
                .read()
                .unwrap()
                .ping_silence
                .iter()
                .any(|p| matches(p, path))
    }

    /// The faults a connection on `path` is subject to.
    pub fn for_path(&self, path: &str) -> ConnFaults {
        let silenced = self.is_silenced(path);
        let r = self.rules.read().unwrap();
        let stalled = r
            .stall
            .iter()
            .filter(|(_, p)| matches(p, path))
            .map(|(s, _)| s.clone())
            .collect();
        let delay = r
            .delay
            .iter()
            .filter(|(_, p)| matches(p, path))
            .map(|(ms, _)| *ms)
            .max()
            .unwrap_or(0);
        let truncate_every = match &r.truncated {
            Some((every, p)) if matches(p, path) => *every,
            _ => 0,
        };
        let oversize = match &r.oversized {
            Some((every, bytes, p)) if matches(p, path) => Some((*every, *bytes)),
            _ => None,
        };
        ConnFaults {
            silenced,
            stalled,
            delay: Duration::from_millis(delay),
            truncate_every,
            oversize,
        }
    }

    /// Consumes one use of the first `reject_connect` rule matching `path`, if any.
    pub fn take_reject(&self, path: &str) -> Option<Rejection> {
        let mut r = self.rules.write().unwrap();
        let rule = r
            .reject
            .iter_mut()
            .find(|x| matches(&x.prefix, path) && x.remaining != Some(0))?;
        if let Some(n) = &mut rule.remaining {
            *n -= 1;
        }
        let out = Rejection {
            status: rule.status,
            retry_after_s: rule.retry_after_s,
        };
        r.reject.retain(|x| x.remaining != Some(0));
        self.rejected.fetch_add(1, Ordering::Relaxed);
        Some(out)
    }

    /// Consumes one use of the first `handshake_error` rule matching `path`, if any.
    pub fn take_handshake_error(&self, path: &str) -> bool {
        let mut r = self.rules.write().unwrap();
        let Some(rule) = r
            .handshake
            .iter_mut()
            .find(|x| matches(&x.prefix, path) && x.remaining != Some(0))
        else {
            return false;
        };
        if let Some(n) = &mut rule.remaining {
            *n -= 1;
        }
        r.handshake.retain(|x| x.remaining != Some(0));
        self.handshake_injected.fetch_add(1, Ordering::Relaxed);
        true
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

    /// The first half of `good` (never valid JSON: the closing bracket is gone), counted.
    pub fn truncate(&self, good: Bytes) -> Bytes {
        self.truncated_sent.fetch_add(1, Ordering::Relaxed);
        good.slice(..good.len() / 2)
    }

    /// `good` padded to `bytes` bytes, still valid JSON with the same content, counted.
    pub fn oversize(&self, good: &[u8], bytes: usize) -> Bytes {
        self.oversized_sent.fetch_add(1, Ordering::Relaxed);
        pad_frame(good, bytes)
    }

    /// Names of the standing faults.
    pub fn active(&self) -> Vec<&'static str> {
        let r = self.rules.read().unwrap();
        let mut v = Vec::new();
        let mut add = |on: bool, name| {
            if on {
                v.push(name);
            }
        };
        add(self.exchange_service_fails(), "exchange_service");
        add(!self.silenced.read().unwrap().is_empty(), "silence");
        add(self.malformed_every() > 0, "malformed");
        add(!r.reject.is_empty(), "reject_connect");
        add(!r.handshake.is_empty(), "handshake_error");
        add(!r.ping_silence.is_empty(), "ping_silence");
        add(!r.stall.is_empty(), "stall_market");
        add(!r.delay.is_empty(), "delay");
        add(r.truncated.is_some(), "truncated");
        add(r.oversized.is_some(), "oversized");
        v
    }

    pub fn snapshot(&self) -> serde_json::Value {
        let active = self.active();
        let r = self.rules.read().unwrap();
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        json!({
            "active": active,
            "malformed_every": self.malformed_every(),
            "malformed_sent": c(&self.malformed_sent),
            "exchange_service_fail": self.exchange_service_fails(),
            "silenced": *self.silenced.read().unwrap(),
            "reject_connect": r.reject.iter().map(|x| json!({
                "status": x.status,
                "retry_after_s": x.retry_after_s,
                "remaining": x.remaining,
                "path_prefix": x.prefix,
            })).collect::<Vec<_>>(),
            "rejected": c(&self.rejected),
            "handshake_error": r.handshake.iter().map(|x| json!({
                "remaining": x.remaining,
                "path_prefix": x.prefix,
            })).collect::<Vec<_>>(),
            "handshake_errors": {
                "injected": c(&self.handshake_injected),
                "closed_by_client": c(&self.handshake_closed_by_client),
                "closed_by_sim": c(&self.handshake_closed_by_sim),
                "open": self.handshake_open.load(Ordering::Relaxed),
            },
            "ping_silence": r.ping_silence.iter().map(|p| json!({"path_prefix": p})).collect::<Vec<_>>(),
            "stall_market": r.stall.iter().map(|(s, p)| json!({"symbol": s, "path_prefix": p})).collect::<Vec<_>>(),
            "stalled_withheld": c(&self.stalled_withheld),
            "delay": r.delay.iter().map(|(ms, p)| json!({"ms": ms, "path_prefix": p})).collect::<Vec<_>>(),
            "delayed_frames": c(&self.delayed_frames),
            "truncated": r.truncated.as_ref().map(|(every, p)| json!({"every": every, "path_prefix": p})),
            "truncated_sent": c(&self.truncated_sent),
            "oversized": r.oversized.as_ref().map(|(every, bytes, p)| json!({"every": every, "bytes": bytes, "path_prefix": p})),
            "oversized_sent": c(&self.oversized_sent),
        })
    }
}

/// `good` padded to `bytes` bytes (never shorter than `good`): an object gets a last field
/// `"_pad":"xxx…"`, anything else trailing spaces (both keep it valid JSON).
pub fn pad_frame(good: &[u8], bytes: usize) -> Bytes {
    const FIELD: &[u8] = b",\"_pad\":\"\"";
    let mut out = BytesMut::with_capacity(bytes.max(good.len() + FIELD.len()));
    if good.last() == Some(&b'}') && good.len() > 2 {
        out.extend_from_slice(&good[..good.len() - 1]);
        out.extend_from_slice(b",\"_pad\":\"");
        // Opening quote written; the closing `"}` is 2 more bytes.
        let fill = bytes.saturating_sub(out.len() + 2);
        out.resize(out.len() + fill, b'x');
        out.extend_from_slice(b"\"}");
    } else {
        out.extend_from_slice(good);
        let fill = bytes.saturating_sub(out.len());
        out.resize(out.len() + fill, b' ');
    }
    out.freeze()
}

/// The answer to a rejected upgrade: the status, `Retry-After` and a Binance-style error body.
pub fn rejection_response(rej: Rejection) -> Response {
    // Bodies: Binance's REST error shape. What the stream endpoints send with a refused
    // upgrade is not documented (UNCONFIRMED); clients act on the status and `Retry-After`.
    let (status, body) = match rej.status {
        429 => (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"code": -1003, "msg": "Too many requests; current limit is 300 connection attempts per 5 minutes. Please slow down."}),
        ),
        418 => (
            StatusCode::IM_A_TEAPOT,
            json!({"code": -1003, "msg": format!(
                "Way too many requests; IP banned until {}. Please use the websocket for live updates to avoid bans.",
                super::render::now_ms() + 1000 * rej.retry_after_s.unwrap_or(0) as i64
            )}),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"code": -1008, "msg": "Service Unavailable."}),
        ),
    };
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(s) = rej.retry_after_s {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}

/// How long a half-built connection is kept waiting for the client to hang up.
pub const HALF_OPEN_WAIT: Duration = Duration::from_secs(10);

/// The `handshake_error` answer: `101 Switching Protocols` with a wrong `Sec-WebSocket-Accept`
/// (a client must refuse it), then a frame of junk; the simulator then waits up to
/// [`HALF_OPEN_WAIT`] for the client to close the TCP connection, and counts who closed it.
pub fn broken_handshake(st: Arc<SimState>, upgrade: WebSocketUpgrade) -> Response {
    struct Open(Arc<SimState>);
    impl Drop for Open {
        fn drop(&mut self) {
            self.0.faults.handshake_open.fetch_sub(1, Ordering::Relaxed);
        }
    }
    st.faults.handshake_open.fetch_add(1, Ordering::Relaxed);
    let open = Open(st);
    let mut resp = upgrade.on_upgrade(move |mut socket| async move {
        let open = open;
        let _ = socket
            .send(Message::Binary(Bytes::from_static(
                b"\x00\xffHTTP/1.1 200 garbage \x13\x37",
            )))
            .await;
        let closed = tokio::time::timeout(HALF_OPEN_WAIT, async {
            while let Some(Ok(_)) = socket.recv().await {}
        })
        .await
        .is_ok();
        let f = &open.0.faults;
        if closed {
            f.handshake_closed_by_client.fetch_add(1, Ordering::Relaxed);
        } else {
            f.handshake_closed_by_sim.fetch_add(1, Ordering::Relaxed);
        }
    });
    // base64 of "not the right key!" — never what RFC 6455 computes from the client's key.
    resp.headers_mut().insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_static("bm90IHRoZSByaWdodCBrZXkh"),
    );
    resp
}

fn some_prefix(p: Option<String>) -> Option<String> {
    p.filter(|p| !p.is_empty())
}

/// Apply a fault; returns the standing faults afterwards, or why the request is invalid.
pub fn apply(state: &SimState, req: FaultRequest) -> Result<serde_json::Value, String> {
    let faults = &state.faults;
    let mut changed = false;
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
            faults.exchange_service_fail.store(fail, Ordering::Relaxed);
        }
        FaultRequest::Silence { path, enabled } => {
            tracing::warn!(fault = "silence", %path, enabled, "silence fault set");
            let mut s = faults.silenced.write().unwrap();
            s.retain(|p| p != &path);
            if enabled {
                s.push(path);
            }
            changed = true;
        }
        FaultRequest::Malformed { every } => {
            tracing::warn!(fault = "malformed", every, "malformed-frame fault set");
            faults.malformed_every.store(every, Ordering::Relaxed);
        }
        FaultRequest::RejectConnect {
            status,
            retry_after_s,
            count,
            path_prefix,
        } => {
            if !matches!(status, 429 | 418 | 503) {
                return Err(format!("status must be 429, 418 or 503, not {status}"));
            }
            let prefix = some_prefix(path_prefix);
            let retry_after_s = retry_after_s.or(match status {
                429 | 418 => Some(1),
                _ => None,
            });
            tracing::warn!(
                fault = "reject_connect",
                status,
                ?retry_after_s,
                ?count,
                ?prefix,
                "upgrade rejection set"
            );
            let mut r = faults.rules.write().unwrap();
            r.reject.retain(|x| x.prefix != prefix);
            if count != Some(0) {
                r.reject.push(RejectRule {
                    status,
                    retry_after_s,
                    remaining: count,
                    prefix,
                });
            }
        }
        FaultRequest::HandshakeError { count, path_prefix } => {
            let prefix = some_prefix(path_prefix);
            tracing::warn!(
                fault = "handshake_error",
                ?count,
                ?prefix,
                "handshake error set"
            );
            let mut r = faults.rules.write().unwrap();
            r.handshake.retain(|x| x.prefix != prefix);
            if count != Some(0) {
                r.handshake.push(HandshakeRule {
                    remaining: count,
                    prefix,
                });
            }
        }
        FaultRequest::PingSilence {
            path_prefix,
            enabled,
        } => {
            let prefix = some_prefix(path_prefix);
            tracing::warn!(fault = "ping_silence", ?prefix, enabled, "ping silence set");
            let mut r = faults.rules.write().unwrap();
            r.ping_silence.retain(|p| p != &prefix);
            if enabled {
                r.ping_silence.push(prefix);
            }
            changed = true;
        }
        FaultRequest::StallMarket {
            symbol,
            path_prefix,
            enabled,
        } => {
            if symbol.is_empty() {
                return Err("symbol must not be empty".into());
            }
            let prefix = some_prefix(path_prefix);
            tracing::warn!(fault = "stall_market", %symbol, ?prefix, enabled, "market stall set");
            let mut r = faults.rules.write().unwrap();
            r.stall
                .retain(|(s, p)| !(s.eq_ignore_ascii_case(&symbol) && p == &prefix));
            if enabled {
                r.stall.push((symbol, prefix));
            }
            changed = true;
        }
        FaultRequest::Delay { ms, path_prefix } => {
            if ms > 600_000 {
                return Err("ms must be at most 600000".into());
            }
            let prefix = some_prefix(path_prefix);
            tracing::warn!(fault = "delay", ms, ?prefix, "data delay set");
            let mut r = faults.rules.write().unwrap();
            r.delay.retain(|(_, p)| p != &prefix);
            if ms > 0 {
                r.delay.push((ms, prefix));
            }
            changed = true;
        }
        FaultRequest::Truncated { every, path_prefix } => {
            let prefix = some_prefix(path_prefix);
            tracing::warn!(
                fault = "truncated",
                every,
                ?prefix,
                "truncated-frame fault set"
            );
            faults.rules.write().unwrap().truncated = (every > 0).then_some((every, prefix));
            changed = true;
        }
        FaultRequest::Oversized {
            every,
            bytes,
            path_prefix,
        } => {
            if every > 0 && (bytes == 0 || bytes > MAX_OVERSIZED_BYTES) {
                return Err(format!("bytes must be 1..={MAX_OVERSIZED_BYTES}"));
            }
            let prefix = some_prefix(path_prefix);
            tracing::warn!(
                fault = "oversized",
                every,
                bytes,
                ?prefix,
                "oversized-frame fault set"
            );
            faults.rules.write().unwrap().oversized = (every > 0).then_some((every, bytes, prefix));
            changed = true;
        }
        FaultRequest::Clear => {
            tracing::warn!(fault = "clear", "all standing faults lifted");
            faults.malformed_every.store(0, Ordering::Relaxed);
            faults.exchange_service_fail.store(false, Ordering::Relaxed);
            faults.silenced.write().unwrap().clear();
            *faults.rules.write().unwrap() = Rules::default();
            changed = true;
        }
    }
    if changed {
        let _ = state.events.send(CtrlEvent::FaultsChanged);
    }
    Ok(faults.snapshot())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_frames_stay_valid_json_of_the_requested_size() {
        let good = br#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","k":{"x":true}}}"#;
        let p = pad_frame(good, 4096);
        assert_eq!(p.len(), 4096);
        let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
        assert_eq!(v["data"]["k"]["x"], true);
        assert!(v["_pad"].as_str().unwrap().len() > 4000);
        let arr = br#"[{"e":"24hrMiniTicker"}]"#;
        let p = pad_frame(arr, 100);
        assert_eq!(p.len(), 100);
        let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
        assert!(v.is_array());
        // Smaller than the frame: the frame plus an empty pad.
        let p = pad_frame(good, 10);
        assert!(serde_json::from_slice::<serde_json::Value>(&p).is_ok());
    }

    #[test]
    fn rules_match_by_prefix_and_count_down() {
        let f = Faults::default();
        {
            let mut r = f.rules.write().unwrap();
            r.reject.push(RejectRule {
                status: 429,
                retry_after_s: Some(2),
                remaining: Some(2),
                prefix: Some("/binance/spot".into()),
            });
            r.stall.push(("BTCUSDT".into(), Some("/binance".into())));
            r.delay.push((300, None));
        }
        assert_eq!(f.take_reject("/okx/ws/v5/public"), None);
        let rej = f.take_reject("/binance/spot/stream").unwrap();
        assert_eq!((rej.status, rej.retry_after_s), (429, Some(2)));
        assert!(f.take_reject("/binance/spot/stream").is_some());
        assert_eq!(f.take_reject("/binance/spot/stream"), None);
        assert!(f.active().iter().all(|a| *a != "reject_connect"));
        let cf = f.for_path("/binance/usdm/market/stream");
        assert!(cf.is_stalled("btcusdt") && !cf.is_stalled("ETHUSDT"));
        assert_eq!(cf.delay, Duration::from_millis(300));
        assert!(!f.for_path("/okx/ws/v5/public").is_stalled("BTCUSDT"));
    }
}
