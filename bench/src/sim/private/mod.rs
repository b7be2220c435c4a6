//! The private (user-data) side of the simulator: Binance spot WebSocket API
//! (`session.logon`, `userDataStream.subscribe[.signature]`), Binance USD-M / COIN-M listen keys
//! (REST + listen-key sockets), OKX private sockets (`login`, `orders`/`account`/`positions`),
//! and the `/control/user/...` API that registers accounts and drives their orders, fills,
//! balances and positions. See `bench/README.md` ("Private streams").
//!
//! Module map: `accounts` (credentials, account state, socket registry, delivery), `binance`
//! and `okx` (socket protocols and event rendering), `control` (HTTP control API), `decimal`
//! (exact arithmetic). Every private socket runs [`run_socket`] with a protocol [`Handler`].

pub mod accounts;
pub mod binance;
pub mod control;
pub mod decimal;
pub mod okx;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use futures_util::SinkExt;
use tokio::sync::{broadcast, mpsc, Notify};
use tokio::time::Instant;

use self::accounts::{ConnEntry, ConnKind, Family, Push, Registry};
use super::render::now_ms;
use super::server::{CtrlEvent, SimState};
use super::stats::ConnGuard;

/// Private-side state kept in [`SimState`].
pub struct PrivateState {
    reg: Mutex<Registry>,
    ttl_ms: AtomicU64,
    next_conn: AtomicU64,
    reaper: AtomicBool,
    wake: Arc<Notify>,
}

impl PrivateState {
    pub fn new(listen_key_ttl_ms: u64) -> PrivateState {
        PrivateState {
            reg: Mutex::new(Registry::default()),
            ttl_ms: AtomicU64::new(listen_key_ttl_ms.max(1)),
            next_conn: AtomicU64::new(1),
            reaper: AtomicBool::new(false),
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn ttl_ms(&self) -> u64 {
        self.ttl_ms.load(Ordering::Relaxed)
    }

    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms())
    }

    /// Changes the listen-key validity; active keys now expire `ttl` after their last
    /// create/extend.
    pub fn set_ttl_ms(&self, ms: u64) {
        let ms = ms.max(1);
        self.ttl_ms.store(ms, Ordering::Relaxed);
        let ttl = Duration::from_millis(ms);
        for lk in self.lock().listen_keys.values_mut() {
            lk.expires_at = lk.extended_at + ttl;
        }
        self.wake.notify_one();
    }

    /// Registers a private socket; its pushes arrive on the returned receiver.
    pub fn register(&self, path: &str, kind: ConnKind) -> (u64, mpsc::UnboundedReceiver<Push>) {
        let mut reg = self.lock();
        self.register_in(&mut reg, path, kind)
    }

    /// [`register`](Self::register) inside a critical section the caller already holds.
    pub fn register_in(
        &self,
        reg: &mut Registry,
        path: &str,
        kind: ConnKind,
    ) -> (u64, mpsc::UnboundedReceiver<Push>) {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        reg.conns.insert(
            id,
            ConnEntry {
                path: path.to_string(),
                tx,
                kind,
            },
        );
        (id, rx)
    }

    pub fn unregister(&self, id: u64) {
        self.lock().conns.remove(&id);
    }
}

/// Starts the listen-key expiry task of this simulator once (it ends with the simulator).
pub fn ensure_reaper(st: &Arc<SimState>) {
    if st.private.reaper.swap(true, Ordering::SeqCst) {
        return;
    }
    let weak: Weak<SimState> = Arc::downgrade(st);
    let wake = st.private.wake.clone();
    tokio::spawn(async move {
        loop {
            let next = {
                let Some(st) = weak.upgrade() else { return };
                binance::expire_due(&st)
            };
            // Re-check at least every second so the task notices a stopped simulator.
            let cap = Instant::now() + Duration::from_secs(1);
            let until = next.map(Instant::from_std).unwrap_or(cap).min(cap);
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = wake.notified() => {}
            }
        }
    });
}

// ------------------------------------------------------------------ routing

/// HTTP routes of the private side (merged into the main router).
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route(
            "/binance/usdm/fapi/v1/listenKey",
            post(binance::usdm_create)
                .put(binance::usdm_keepalive)
                .delete(binance::usdm_close),
        )
        .route(
            "/binance/coinm/dapi/v1/listenKey",
            post(binance::coinm_create)
                .put(binance::coinm_keepalive)
                .delete(binance::coinm_close),
        )
        .route("/control/user/accounts", post(control::accounts))
        .route("/control/user/reject", post(control::reject))
        .route("/control/user/order", post(control::order))
        .route("/control/user/fill", post(control::fill))
        .route("/control/user/cancel", post(control::cancel))
        .route("/control/user/balance", post(control::balance))
        .route("/control/user/position", post(control::position))
        .route("/control/user/liquidation", post(control::liquidation))
        .route(
            "/control/user/expire_listen_key",
            post(control::expire_listen_key),
        )
        .route("/control/user/drop", post(control::drop))
        .route("/control/user/stats", get(control::stats))
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then_some(v)
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The private WebSocket endpoints. `Ok(response)` when `uri` is one of them; otherwise the
/// upgrade is handed back for the public dispatch.
#[allow(clippy::result_large_err)]
pub fn try_ws(
    st: &Arc<SimState>,
    uri: &Uri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, Result<WebSocketUpgrade, WebSocketUpgradeRejection>> {
    let path = uri.path();
    let query = uri.query();
    enum Target {
        Spot { rate_limits: bool },
        Futures(Family, String, Option<Vec<String>>),
        Okx,
    }
    let target = match path {
        "/binance/spot/ws-api/v3" => Target::Spot {
            rate_limits: query_param(query, "returnRateLimits") != Some("false"),
        },
        "/binance/usdm/private/ws" => {
            let key = query_param(query, "listenKey").map(percent_decode);
            let events = query_param(query, "events").map(|e| {
                percent_decode(e)
                    .split(['/', ','])
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            });
            match key {
                Some(k) if !k.is_empty() => Target::Futures(Family::BinanceUsdm, k, events),
                _ => {
                    let body = serde_json::json!({"code": -1102, "msg": "Mandatory parameter 'listenKey' was not sent, was empty/null, or malformed."});
                    return Ok((StatusCode::BAD_REQUEST, body.to_string()).into_response());
                }
            }
        }
        "/okx/ws/v5/private" | "/okx/eea/ws/v5/private" | "/okx/us/ws/v5/private" => Target::Okx,
        _ => match path.strip_prefix("/binance/coinm/ws/") {
            // A stream name always has `@` (or starts with `!`); a bare alphanumeric segment
            // is a listen key.
            Some(k) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Target::Futures(Family::BinanceCoinm, k.to_string(), None)
            }
            _ => return Err(ws),
        },
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rej) => return Ok(rej.into_response()),
    };
    let st = st.clone();
    let path = path.to_string();
    Ok(match target {
        Target::Spot { rate_limits } => ws
            .on_upgrade(move |socket| binance::run_spot(st, path, rate_limits, socket))
            .into_response(),
        Target::Futures(family, key, events) => {
            if !binance::listen_key_valid(&st, family, &key) {
                tracing::info!(%path, "refusing a user-data socket with an unknown or expired listen key");
                let body =
                    serde_json::json!({"code": -1125, "msg": "This listenKey does not exist."});
                return Ok((StatusCode::BAD_REQUEST, body.to_string()).into_response());
            }
            ws.on_upgrade(move |socket| binance::run_futures(st, path, family, key, events, socket))
                .into_response()
        }
        Target::Okx => ws
            .on_upgrade(move |socket| okx::run(st, path, socket))
            .into_response(),
    })
}

// ------------------------------------------------------------------ the socket loop

/// How a socket ends.
pub enum Exit {
    /// TCP closed without a close frame.
    Drop,
    /// Close frame, then end.
    Close(u16, String),
}

/// Keepalive rules of a private socket.
pub enum Keepalive {
    /// Server control-frame pings every `period`; close 1008 when the oldest unanswered ping
    /// is older than `timeout`. `echo`: the pong must carry the ping payload (spot).
    Ping {
        period: Duration,
        timeout: Duration,
        echo: bool,
    },
    /// OKX: close 4004 after `idle` without anything sent to the client.
    Idle(Duration),
}

impl Keepalive {
    /// Binance keepalive from the simulator flags (spot 20 s / 60 s, futures 180 s / 600 s).
    pub fn binance(st: &SimState, futures: bool) -> Keepalive {
        Keepalive::Ping {
            period: Duration::from_secs_f64(
                st.cfg
                    .binance_ping_secs
                    .unwrap_or(if futures { 180.0 } else { 20.0 })
                    .max(0.01),
            ),
            timeout: Duration::from_secs_f64(
                st.cfg
                    .binance_pong_timeout_secs
                    .unwrap_or(if futures { 600.0 } else { 60.0 })
                    .max(0.01),
            ),
            echo: !futures,
        }
    }
}

/// A private protocol: what to do with client text and registry notices.
pub trait Handler: Send {
    /// One text frame from the client; replies are appended to `out` (sent in order).
    fn on_text(&mut self, text: &str, out: &mut Vec<String>) -> Option<Exit>;
    /// A [`Push::Revoked`] notice.
    fn on_revoked(&mut self) {}
}

/// Runs one private socket until it ends; unregisters it from the registry afterwards.
#[allow(clippy::too_many_arguments)]
pub async fn run_socket<H: Handler>(
    st: Arc<SimState>,
    mut ws: WebSocket,
    path: String,
    conn_id: u64,
    mut rx: mpsc::UnboundedReceiver<Push>,
    mut handler: H,
    keepalive: Keepalive,
) {
    let _guard = ConnGuard::new(st.clone(), &path);
    let mut events = st.events.subscribe();
    let started = Instant::now();
    let end_of_life = started + Duration::from_secs_f64(st.cfg.max_conn_secs.max(0.001));
    let mut next_ping = match &keepalive {
        Keepalive::Ping { period, .. } => Some(started + *period),
        Keepalive::Idle(_) => None,
    };
    let mut unanswered_since: Option<Instant> = None;
    let mut last_ping = Bytes::new();
    let mut last_activity = started;
    let (mut frames, mut bytes) = (0u64, 0u64);
    let mut out: Vec<String> = Vec::new();
    tracing::debug!(%path, conn_id, "private socket opened");

    let exit = loop {
        let mut deadline = end_of_life;
        match &keepalive {
            Keepalive::Ping { timeout, .. } => {
                if let Some(p) = next_ping {
                    deadline = deadline.min(p);
                }
                if let Some(t) = unanswered_since {
                    deadline = deadline.min(t + *timeout);
                }
            }
            Keepalive::Idle(idle) => deadline = deadline.min(last_activity + *idle),
        }
        let mut exit: Option<Exit> = None;
        tokio::select! {
            biased;
            ev = events.recv() => match ev {
                Ok(CtrlEvent::DropAll) => exit = Some(Exit::Drop),
                Err(broadcast::error::RecvError::Closed) => exit = Some(Exit::Close(1001, "server shutting down".into())),
                _ => {}
            },
            push = rx.recv() => match push {
                Some(Push::Frame(f)) => out.push(f),
                Some(Push::Close(code, reason)) => exit = Some(Exit::Close(code, reason.to_string())),
                Some(Push::Drop) | None => exit = Some(Exit::Drop),
                Some(Push::Revoked) => handler.on_revoked(),
            },
            msg = ws.recv() => match msg {
                Some(Ok(Message::Text(t))) => exit = handler.on_text(t.as_str(), &mut out),
                Some(Ok(Message::Binary(b))) => {
                    if let Ok(t) = std::str::from_utf8(&b) {
                        exit = handler.on_text(t, &mut out);
                    }
                }
                Some(Ok(Message::Pong(p))) => {
                    if let Keepalive::Ping { echo, .. } = &keepalive {
                        if !*echo || p == last_ping {
                            unanswered_since = None;
                        }
                    }
                }
                Some(Ok(Message::Ping(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => exit = Some(Exit::Drop),
            },
            _ = tokio::time::sleep_until(deadline) => {
                let now = Instant::now();
                if now >= end_of_life {
                    exit = Some(Exit::Close(1000, "connection lifetime reached".into()));
                } else {
                    match &keepalive {
                        Keepalive::Ping { period, timeout, .. } => {
                            if unanswered_since.is_some_and(|t| now >= t + *timeout) {
                                exit = Some(Exit::Close(1008, "pong timeout".into()));
                            } else if next_ping.is_some_and(|p| now >= p) {
                                next_ping = Some(now + *period);
                                let mut b = itoa::Buffer::new();
                                last_ping = Bytes::copy_from_slice(b.format(now_ms()).as_bytes());
                                if unanswered_since.is_none() {
                                    unanswered_since = Some(now);
                                }
                                if ws.send(Message::Ping(last_ping.clone())).await.is_err() {
                                    exit = Some(Exit::Drop);
                                }
                            }
                        }
                        Keepalive::Idle(idle) => {
                            if now >= last_activity + *idle {
                                exit = Some(Exit::Close(4004, "No data received in 30s.".into()));
                            }
                        }
                    }
                }
            }
        }
        // Drain whatever else is already queued (keeps event bursts in one flush).
        if exit.is_none() {
            while let Ok(p) = rx.try_recv() {
                match p {
                    Push::Frame(f) => out.push(f),
                    Push::Close(code, reason) => {
                        exit = Some(Exit::Close(code, reason.to_string()));
                        break;
                    }
                    Push::Drop => {
                        exit = Some(Exit::Drop);
                        break;
                    }
                    Push::Revoked => handler.on_revoked(),
                }
            }
        }
        if !out.is_empty() && !matches!(exit, Some(Exit::Drop)) {
            let mut failed = false;
            for f in out.drain(..) {
                frames += 1;
                bytes += f.len() as u64;
                if ws.feed(Message::Text(Utf8Bytes::from(f))).await.is_err() {
                    failed = true;
                    break;
                }
            }
            if failed || ws.flush().await.is_err() {
                exit = Some(Exit::Drop);
            }
            last_activity = Instant::now();
        }
        out.clear();
        if let Some(e) = exit {
            break e;
        }
    };
    st.private.unregister(conn_id);
    st.stats.add_sent(frames, bytes);
    match exit {
        Exit::Drop => tracing::debug!(%path, conn_id, "private socket dropped"),
        Exit::Close(code, reason) => {
            tracing::info!(%path, conn_id, code, %reason, "closing private socket");
            let _ = ws
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: Utf8Bytes::from(reason),
                })))
                .await;
        }
    }
}
