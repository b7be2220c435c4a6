//! Binance private protocols: the spot WebSocket API user data stream (`session.logon`,
//! `userDataStream.subscribe`, `userDataStream.subscribe.signature`, ...), the USD-M / COIN-M
//! listen keys (REST `POST/PUT/DELETE .../listenKey` and the listen-key sockets) and the
//! rendering of every Binance user-data event.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocket;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::accounts::{
    binance_payload, redact, AcctId, ConnKind, Family, KeyKind, ListenKey, Order, Push, Registry,
    SpotSub,
};
use super::decimal::Dec;
use super::{ensure_reaper, run_socket, Exit, Handler, Keepalive};
use crate::sim::render::now_ms;
use crate::sim::server::SimState;
use crate::sim::universe::splitmix;

pub const MSG_REJECTED_KEY: &str = "Invalid API-key, IP, or permissions for action.";
pub const MSG_BAD_SIGNATURE: &str = "Signature for this request is not valid.";
/// Measured answer of `userDataStream.subscribe` on a session without `session.logon`
/// (code -1193, status 400).
pub const MSG_NOT_AUTHENTICATED: &str =
    "WebSocket session not authenticated. Recommendation: use session.logon.";
/// Measured answer of `session.logon` with an HMAC key (code -2028).
pub const MSG_HMAC_NOT_SUPPORTED: &str = "HMAC-SHA-256 API key is not supported.";
pub const MSG_NO_LISTEN_KEY: &str = "This listenKey does not exist.";

/// JSON string literal.
pub fn q(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

// ================================================================== spot WebSocket API

pub async fn run_spot(st: Arc<SimState>, path: String, rate_limits: bool, socket: WebSocket) {
    let (id, rx) = st.private.register(
        &path,
        ConnKind::Spot {
            logon: None,
            subs: Vec::new(),
        },
    );
    let h = SpotApi {
        st: st.clone(),
        conn_id: id,
        connected_since: now_ms(),
        rate_limits,
        authorized_since: None,
        revoked: false,
        next_sub_id: 0,
        weights: VecDeque::new(),
    };
    let ka = Keepalive::binance(&st, false);
    run_socket(st, socket, path, id, rx, h, ka).await;
}

struct SpotApi {
    st: Arc<SimState>,
    conn_id: u64,
    connected_since: i64,
    rate_limits: bool,
    authorized_since: Option<i64>,
    /// The logged-on key was rejected: the next request is answered `-2015` (id null).
    revoked: bool,
    /// Subscription ids count per session from 0.
    next_sub_id: u64,
    /// Request weights of the last minute.
    weights: VecDeque<(Instant, u32)>,
}

type Fail = (u16, i64, String);

impl SpotApi {
    fn rate_limits_json(&mut self) -> Option<String> {
        if !self.rate_limits {
            return None;
        }
        let now = Instant::now();
        while self
            .weights
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= Duration::from_secs(60))
        {
            self.weights.pop_front();
        }
        let count: u32 = self.weights.iter().map(|(_, w)| w).sum();
        Some(format!(
            "[{{\"rateLimitType\":\"REQUEST_WEIGHT\",\"interval\":\"MINUTE\",\"intervalNum\":1,\"limit\":6000,\"count\":{count}}}]"
        ))
    }

    fn ok(&mut self, id: &Value, result: &str) -> String {
        match self.rate_limits_json() {
            Some(rl) => {
                format!("{{\"id\":{id},\"status\":200,\"result\":{result},\"rateLimits\":{rl}}}")
            }
            None => format!("{{\"id\":{id},\"status\":200,\"result\":{result}}}"),
        }
    }

    fn err(&mut self, id: &Value, (status, code, msg): Fail) -> String {
        let e = format!("{{\"code\":{code},\"msg\":{}}}", q(&msg));
        match self.rate_limits_json() {
            Some(rl) => {
                format!("{{\"id\":{id},\"status\":{status},\"error\":{e},\"rateLimits\":{rl}}}")
            }
            None => format!("{{\"id\":{id},\"status\":{status},\"error\":{e}}}"),
        }
    }

    fn with_entry<R>(
        reg: &mut Registry,
        conn_id: u64,
        f: impl FnOnce(&mut Option<AcctId>, &mut Vec<SpotSub>) -> R,
    ) -> Option<R> {
        match reg.conns.get_mut(&conn_id).map(|c| &mut c.kind) {
            Some(ConnKind::Spot { logon, subs }) => Some(f(logon, subs)),
            _ => None,
        }
    }

    fn status_result(&self, reg: &mut Registry) -> String {
        let (logon, active) =
            Self::with_entry(reg, self.conn_id, |l, s| (l.clone(), !s.is_empty()))
                .unwrap_or((None, false));
        let api_key = logon.as_ref().map(|a| q(&a.1)).unwrap_or("null".into());
        let since = match (logon.is_some(), self.authorized_since) {
            (true, Some(t)) => t.to_string(),
            _ => "null".into(),
        };
        format!(
            "{{\"apiKey\":{api_key},\"authorizedSince\":{since},\"connectedSince\":{},\"returnRateLimits\":{},\"serverTime\":{},\"userDataStream\":{active}}}",
            self.connected_since,
            self.rate_limits,
            now_ms()
        )
    }

    /// Checks `apiKey`/`timestamp`/`signature` (+ `recvWindow`) and the signature, counting
    /// the outcome on the account. `logon`: `session.logon` (Ed25519 keys only).
    fn check_signed(
        reg: &mut Registry,
        params: &Map<String, Value>,
        logon: bool,
    ) -> Result<AcctId, Fail> {
        let missing = |p: &str| {
            (
                400,
                -1102,
                format!("Mandatory parameter '{p}' was not sent, was empty/null, or malformed."),
            )
        };
        let api_key = match params.get("apiKey") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(missing("apiKey")),
        };
        let signature = match params.get("signature") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(missing("signature")),
        };
        let ts: i64 = match params.get("timestamp") {
            Some(Value::Number(n)) => n.as_i64().ok_or_else(|| missing("timestamp"))?,
            Some(Value::String(s)) => s.parse().map_err(|_| missing("timestamp"))?,
            _ => return Err(missing("timestamp")),
        };
        // Microsecond timestamps are accepted too.
        let ts_ms = if ts > 100_000_000_000_000 {
            ts / 1000
        } else {
            ts
        };
        let window = match params.get("recvWindow") {
            None => 5000.0,
            Some(v) => {
                let w = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                }
                .ok_or_else(|| missing("recvWindow"))?;
                if w > 60000.0 || w <= 0.0 {
                    return Err((
                        400,
                        -1102,
                        "'recvWindow' contains unexpected value. Cannot be greater than 60000."
                            .into(),
                    ));
                }
                w
            }
        };
        let now = now_ms();
        if ts_ms > now + 1000 {
            return Err((
                400,
                -1021,
                "Timestamp for this request was 1000ms ahead of the server's time.".into(),
            ));
        }
        if (now - ts_ms) as f64 > window {
            return Err((
                400,
                -1021,
                "Timestamp for this request is outside of the recvWindow.".into(),
            ));
        }
        let id: AcctId = (Family::BinanceSpot, api_key);
        let Some(acct) = reg.accounts.get_mut(&id) else {
            reg.unknown_failure(Family::BinanceSpot);
            return Err((401, -2015, MSG_REJECTED_KEY.into()));
        };
        if acct.rejected {
            acct.stats.logons_failed += 1;
            return Err((401, -2015, MSG_REJECTED_KEY.into()));
        }
        if logon && acct.secret.kind() != KeyKind::Ed25519 {
            acct.stats.logons_failed += 1;
            return Err((400, -2028, MSG_HMAC_NOT_SUPPORTED.into()));
        }
        if !acct
            .secret
            .verify_binance(&binance_payload(params), &signature)
        {
            acct.stats.logons_failed += 1;
            return Err((400, -1022, MSG_BAD_SIGNATURE.into()));
        }
        acct.stats.logons_ok += 1;
        *acct
            .stats
            .logons_by_path
            .entry("/binance/spot/ws-api/v3".into())
            .or_default() += 1;
        Ok(id)
    }

    /// Adds a subscription for `acct`; `Err` when this session already has one for it.
    fn subscribe(
        &mut self,
        reg: &mut Registry,
        acct: AcctId,
        via_logon: bool,
    ) -> Result<u64, Fail> {
        let sid = self.next_sub_id;
        let added = Self::with_entry(reg, self.conn_id, |_, subs| {
            if subs.iter().any(|s| s.acct == acct) {
                return false;
            }
            subs.push(SpotSub {
                id: sid,
                acct: acct.clone(),
                via_logon,
            });
            true
        })
        .unwrap_or(false);
        if !added {
            return Err((
                400,
                -1000,
                "Only one active subscription per account per connection is allowed.".into(),
            ));
        }
        self.next_sub_id += 1;
        if let Some(a) = reg.accounts.get_mut(&acct) {
            a.stats.subscribes += 1;
        }
        Ok(sid)
    }

    fn handle(
        &mut self,
        method: &str,
        params: &Map<String, Value>,
        id: &Value,
        out: &mut Vec<String>,
    ) {
        let st = self.st.clone();
        let mut reg = st.private.lock();
        let reg = &mut *reg;
        let weight = if matches!(method, "ping" | "time") {
            1
        } else {
            2
        };
        self.weights.push_back((Instant::now(), weight));
        let reply = match method {
            "ping" => self.ok(id, "{}"),
            "time" => self.ok(id, &format!("{{\"serverTime\":{}}}", now_ms())),
            "session.logon" => match Self::check_signed(reg, params, true) {
                Ok(acct) => {
                    tracing::info!(key = %redact(&acct.1), conn_id = self.conn_id, "session.logon");
                    Self::with_entry(reg, self.conn_id, |logon, _| *logon = Some(acct));
                    self.authorized_since = Some(now_ms());
                    let r = self.status_result(reg);
                    self.ok(id, &r)
                }
                Err(f) => self.err(id, f),
            },
            "session.status" => {
                let r = self.status_result(reg);
                self.ok(id, &r)
            }
            "session.logout" => {
                let ended = Self::with_entry(reg, self.conn_id, |logon, subs| {
                    *logon = None;
                    let (gone, kept): (Vec<SpotSub>, Vec<SpotSub>) =
                        subs.drain(..).partition(|s| s.via_logon);
                    *subs = kept;
                    gone
                })
                .unwrap_or_default();
                self.authorized_since = None;
                let r = self.status_result(reg);
                let reply = self.ok(id, &r);
                out.push(reply);
                for s in ended {
                    out.push(wrap(s.id, &event_stream_terminated(now_ms())));
                }
                return;
            }
            "session.subscriptions" => {
                let ids = Self::with_entry(reg, self.conn_id, |_, subs| {
                    subs.iter()
                        .map(|s| format!("{{\"subscriptionId\":{}}}", s.id))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
                self.ok(id, &format!("[{}]", ids.join(",")))
            }
            "userDataStream.subscribe" => {
                let logon = Self::with_entry(reg, self.conn_id, |l, _| l.clone()).flatten();
                if !params.is_empty() {
                    self.err(
                        id,
                        (
                            400,
                            -1104,
                            format!(
                                "Not all sent parameters were read; read '0' parameter(s) but was sent '{}'.",
                                params.len()
                            ),
                        ),
                    )
                } else {
                    match logon {
                        None => self.err(id, (400, -1193, MSG_NOT_AUTHENTICATED.into())),
                        Some(acct) => {
                            let rejected =
                                reg.accounts.get(&acct).is_none_or(|a| a.rejected);
                            if rejected {
                                self.err(id, (401, -2015, MSG_REJECTED_KEY.into()))
                            } else {
                                match self.subscribe(reg, acct, true) {
                                    Ok(sid) => {
                                        self.ok(id, &format!("{{\"subscriptionId\":{sid}}}"))
                                    }
                                    Err(f) => self.err(id, f),
                                }
                            }
                        }
                    }
                }
            }
            "userDataStream.subscribe.signature" => {
                match Self::check_signed(reg, params, false) {
                    Ok(acct) => match self.subscribe(reg, acct, false) {
                        Ok(sid) => self.ok(id, &format!("{{\"subscriptionId\":{sid}}}")),
                        Err(f) => self.err(id, f),
                    },
                    Err(f) => self.err(id, f),
                }
            }
            "userDataStream.unsubscribe" => {
                let which = match params.get("subscriptionId") {
                    None | Some(Value::Null) => None,
                    Some(v) => match v.as_u64().or_else(|| v.as_str()?.parse().ok()) {
                        Some(n) => Some(n),
                        None => {
                            let e = self.err(
                                id,
                                (
                                    400,
                                    -1102,
                                    "Mandatory parameter 'subscriptionId' was not sent, was empty/null, or malformed.".into(),
                                ),
                            );
                            out.push(e);
                            return;
                        }
                    },
                };
                let ended = Self::with_entry(reg, self.conn_id, |_, subs| {
                    let (gone, kept): (Vec<SpotSub>, Vec<SpotSub>) = subs
                        .drain(..)
                        .partition(|s| which.is_none_or(|w| w == s.id));
                    *subs = kept;
                    gone
                })
                .unwrap_or_default();
                let reply = self.ok(id, "{}");
                out.push(reply);
                for s in ended {
                    out.push(wrap(s.id, &event_stream_terminated(now_ms())));
                }
                return;
            }
            other => self.err(
                id,
                (
                    400,
                    -1000,
                    format!("Unknown method '{other}' (corefeed-sim implements session.*, userDataStream.*, ping and time)."),
                ),
            ),
        };
        out.push(reply);
    }
}

impl Handler for SpotApi {
    fn on_text(&mut self, text: &str, out: &mut Vec<String>) -> Option<Exit> {
        // A frame that is not a JSON object with an `id` is answered by dropping the
        // connection (1006), as measured on the real WS API.
        let Ok(Value::Object(req)) = serde_json::from_str::<Value>(text) else {
            tracing::info!(
                conn_id = self.conn_id,
                "WS API: invalid JSON, dropping the connection"
            );
            return Some(Exit::Drop);
        };
        let id = match req.get("id") {
            Some(v @ (Value::Null | Value::Number(_) | Value::String(_))) => v.clone(),
            _ => {
                tracing::info!(
                    conn_id = self.conn_id,
                    "WS API: request without a valid id, dropping the connection"
                );
                return Some(Exit::Drop);
            }
        };
        if self.revoked {
            // "If during an active session the API key becomes invalid ... after the next
            // request the session will be revoked" (web-socket-api.md).
            self.revoked = false;
            self.authorized_since = None;
            let st = self.st.clone();
            Self::with_entry(&mut st.private.lock(), self.conn_id, |logon, _| {
                *logon = None
            });
            let e = self.err(&Value::Null, (401, -2015, MSG_REJECTED_KEY.into()));
            out.push(e);
        }
        let method = match req.get("method") {
            Some(Value::String(m)) if !m.is_empty() => m.strip_prefix("v3/").unwrap_or(m),
            _ => {
                let e = self.err(
                    &id,
                    (
                        400,
                        -1102,
                        "Mandatory parameter 'method' was not sent, was empty/null, or malformed."
                            .into(),
                    ),
                );
                out.push(e);
                return None;
            }
        };
        let params = match req.get("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                let e = self.err(
                    &id,
                    (400, -1102, "Field 'params' must be an object.".into()),
                );
                out.push(e);
                return None;
            }
        };
        let method = method.to_string();
        self.handle(&method, &params, &id, out);
        None
    }

    fn on_revoked(&mut self) {
        self.revoked = true;
    }
}

/// `{"subscriptionId":N,"event":…}`
pub fn wrap(sid: u64, event: &str) -> String {
    format!("{{\"subscriptionId\":{sid},\"event\":{event}}}")
}

// ================================================================== listen keys

/// Whether `key` is an active listen key of `family`.
pub fn listen_key_valid(st: &SimState, family: Family, key: &str) -> bool {
    st.private
        .lock()
        .listen_keys
        .get(key)
        .is_some_and(|lk| lk.acct.0 == family)
}

pub async fn run_futures(
    st: Arc<SimState>,
    path: String,
    family: Family,
    key: String,
    events: Option<Vec<String>>,
    socket: WebSocket,
) {
    let registered = {
        let mut reg = st.private.lock();
        match reg.listen_keys.get(&key).map(|lk| lk.acct.clone()) {
            Some(acct) if acct.0 == family => {
                if let Some(a) = reg.accounts.get_mut(&acct) {
                    a.stats.subscribes += 1;
                    *a.stats.logons_by_path.entry(path.clone()).or_default() += 1;
                }
                Some(st.private.register_in(
                    &mut reg,
                    &path,
                    ConnKind::Futures {
                        acct,
                        listen_key: key.clone(),
                        events,
                    },
                ))
            }
            _ => None,
        }
    };
    let Some((id, rx)) = registered else {
        // Expired between the handshake check and now.
        let mut socket = socket;
        let _ = futures_util::SinkExt::send(
            &mut socket,
            axum::extract::ws::Message::Close(Some(axum::extract::ws::CloseFrame {
                code: 1008,
                reason: MSG_NO_LISTEN_KEY.into(),
            })),
        )
        .await;
        return;
    };
    let ka = Keepalive::binance(&st, true);
    run_socket(st, socket, path, id, rx, FuturesSock, ka).await;
}

/// The futures user-data socket only pushes; client text is ignored.
struct FuturesSock;

impl Handler for FuturesSock {
    fn on_text(&mut self, _text: &str, _out: &mut Vec<String>) -> Option<Exit> {
        None
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LkOp {
    Create,
    KeepAlive,
    Close,
}

fn rest_error(status: StatusCode, code: i64, msg: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({"code": code, "msg": msg}).to_string(),
    )
        .into_response()
}

fn rest_ok(body: String) -> Response {
    (StatusCode::OK, [("content-type", "application/json")], body).into_response()
}

fn new_listen_key() -> String {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = crate::sim::render::now_ns()
        ^ SEQ
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..64)
        .map(|_| {
            x = splitmix(x);
            ALPHA[(x % ALPHA.len() as u64) as usize] as char
        })
        .collect()
}

/// `POST|PUT|DELETE /fapi/v1/listenKey` (USD-M) and `/dapi/v1/listenKey` (COIN-M).
pub fn listen_key_call(
    st: &Arc<SimState>,
    headers: &HeaderMap,
    family: Family,
    op: LkOp,
) -> Response {
    let key = headers
        .get("X-MBX-APIKEY")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() {
        return rest_error(StatusCode::UNAUTHORIZED, -2014, "API-key format invalid.");
    }
    let ttl = st.private.ttl();
    let mut reg = st.private.lock();
    let acct_id: AcctId = (family, key.to_string());
    let Some(acct) = reg.accounts.get_mut(&acct_id) else {
        reg.unknown_failure(family);
        return rest_error(StatusCode::UNAUTHORIZED, -2015, MSG_REJECTED_KEY);
    };
    if acct.rejected {
        acct.stats.logons_failed += 1;
        return rest_error(StatusCode::UNAUTHORIZED, -2015, MSG_REJECTED_KEY);
    }
    let active = acct.listen_key.clone();
    let now = std::time::Instant::now();
    match op {
        LkOp::Create => {
            acct.stats.logons_ok += 1;
            let lk = match active {
                Some(k) => k,
                None => {
                    let k = new_listen_key();
                    acct.listen_key = Some(k.clone());
                    acct.stats.listen_keys_created += 1;
                    tracing::info!(key = %redact(key), provider = family.name(), "listen key created");
                    k
                }
            };
            reg.listen_keys.insert(
                lk.clone(),
                ListenKey {
                    acct: acct_id,
                    extended_at: now,
                    expires_at: now + ttl,
                },
            );
            drop(reg);
            ensure_reaper(st);
            st.private.wake.notify_one();
            rest_ok(json!({ "listenKey": lk }).to_string())
        }
        LkOp::KeepAlive => match active {
            Some(k) => {
                acct.stats.listen_keys_kept_alive += 1;
                if let Some(lk) = reg.listen_keys.get_mut(&k) {
                    lk.extended_at = now;
                    lk.expires_at = now + ttl;
                }
                drop(reg);
                st.private.wake.notify_one();
                rest_ok(json!({ "listenKey": k }).to_string())
            }
            None => rest_error(StatusCode::BAD_REQUEST, -1125, MSG_NO_LISTEN_KEY),
        },
        LkOp::Close => {
            if let Some(k) = active {
                end_listen_key(&mut reg, &k, EndReason::Deleted);
            }
            rest_ok("{}".into())
        }
    }
}

pub async fn usdm_create(State(st): State<Arc<SimState>>, h: HeaderMap) -> Response {
    listen_key_call(&st, &h, Family::BinanceUsdm, LkOp::Create)
}
pub async fn usdm_keepalive(State(st): State<Arc<SimState>>, h: HeaderMap) -> Response {
    listen_key_call(&st, &h, Family::BinanceUsdm, LkOp::KeepAlive)
}
pub async fn usdm_close(State(st): State<Arc<SimState>>, h: HeaderMap) -> Response {
    listen_key_call(&st, &h, Family::BinanceUsdm, LkOp::Close)
}
pub async fn coinm_create(State(st): State<Arc<SimState>>, h: HeaderMap) -> Response {
    listen_key_call(&st, &h, Family::BinanceCoinm, LkOp::Create)
}
pub async fn coinm_keepalive(State(st): State<Arc<SimState>>, h: HeaderMap) -> Response {
    listen_key_call(&st, &h, Family::BinanceCoinm, LkOp::KeepAlive)
}
pub async fn coinm_close(State(st): State<Arc<SimState>>, h: HeaderMap) -> Response {
    listen_key_call(&st, &h, Family::BinanceCoinm, LkOp::Close)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Validity passed without a keepalive.
    Expired,
    /// `POST /control/user/expire_listen_key` or the account was rejected.
    Forced,
    /// `DELETE .../listenKey`.
    Deleted,
}

/// Ends a listen key: `listenKeyExpired` on each of its sockets (subject to their `events=`
/// filter), then a close frame; the key is gone (PUT → -1125). Returns the sockets closed.
pub fn end_listen_key(reg: &mut Registry, key: &str, reason: EndReason) -> usize {
    let Some(lk) = reg.listen_keys.remove(key) else {
        return 0;
    };
    if let Some(a) = reg.accounts.get_mut(&lk.acct) {
        if a.listen_key.as_deref() == Some(key) {
            a.listen_key = None;
        }
        if reason == EndReason::Deleted {
            a.stats.listen_keys_deleted += 1;
        } else {
            a.stats.listen_keys_expired += 1;
        }
    }
    tracing::info!(key = %redact(&lk.acct.1), provider = lk.acct.0.name(), ?reason, "listen key ended");
    let body = listen_key_expired(lk.acct.0, key, now_ms());
    let mut closed = 0;
    for c in reg.conns.values() {
        if let ConnKind::Futures {
            listen_key, events, ..
        } = &c.kind
        {
            if listen_key == key {
                if events
                    .as_ref()
                    .is_none_or(|ev| ev.iter().any(|e| e == "listenKeyExpired"))
                {
                    let _ = c.tx.send(Push::Frame(body.clone()));
                }
                let _ = c.tx.send(Push::Close(1000, "listenKey expired"));
                closed += 1;
            }
        }
    }
    closed
}

/// Ends every listen key past its validity; returns the next expiry.
pub fn expire_due(st: &SimState) -> Option<std::time::Instant> {
    let mut reg = st.private.lock();
    let now = std::time::Instant::now();
    let due: Vec<String> = reg
        .listen_keys
        .iter()
        .filter(|(_, lk)| lk.expires_at <= now)
        .map(|(k, _)| k.clone())
        .collect();
    for k in due {
        end_listen_key(&mut reg, &k, EndReason::Expired);
    }
    reg.listen_keys.values().map(|lk| lk.expires_at).min()
}

// ================================================================== event rendering

/// What happened to an order in this event.
pub struct Exec<'a> {
    /// Execution type: `NEW`, `TRADE`, `CANCELED`, `CALCULATED` (liquidation fill).
    pub x: &'static str,
    /// Last fill (`qty`, `price`), for `TRADE`/`CALCULATED`.
    pub fill: Option<(Dec, Dec)>,
    /// Commission of this fill and its asset.
    pub fee: Option<(Dec, String)>,
    pub trade_id: Option<u64>,
    pub exec_id: u64,
    pub now: i64,
    /// Client id of the cancel request (`c` of a `CANCELED` report; `C` = the original).
    pub cancel_client_id: Option<&'a str>,
}

fn f8(d: Dec) -> String {
    d.fmt_min(8)
}

/// Spot `executionReport`, fields in the order of `user-data-stream.md` (`v` and the other
/// STP-only fields are omitted: no self-trade prevention is simulated).
pub fn execution_report(o: &Order, e: &Exec) -> String {
    let zero8 = "0.00000000";
    let (c, orig) = match e.cancel_client_id {
        Some(cc) => (cc.to_string(), o.client_id.clone()),
        None => (o.client_id.clone(), String::new()),
    };
    let (l, lp, y) = match e.fill {
        Some((q_, p)) => (f8(q_), f8(p), f8(q_.checked_mul(p).unwrap_or_default())),
        None => (zero8.into(), zero8.into(), zero8.into()),
    };
    let (n, nn) = match &e.fee {
        Some((f, a)) if e.fill.is_some() => (f8(*f), q(a)),
        _ => ("0".into(), "null".into()),
    };
    let trade = e.fill.is_some();
    let mut s = format!(
        "{{\"e\":\"executionReport\",\"E\":{now},\"s\":{sym},\"c\":{c},\"S\":\"{side}\",\"o\":\"{ot}\",\"f\":\"GTC\",\"q\":\"{qty}\",\"p\":\"{px}\",\"P\":\"{zero8}\",\"F\":\"{zero8}\",\"g\":-1,\"C\":{orig},\"x\":\"{x}\",\"X\":\"{st}\",\"r\":\"NONE\",\"i\":{id},\"l\":\"{l}\",\"z\":\"{z}\",\"L\":\"{lp}\",\"n\":\"{n}\",\"N\":{nn},\"T\":{now},\"t\":{t},\"I\":{ei},\"w\":{w},\"m\":{m},\"M\":{mm},\"O\":{created},\"Z\":\"{zq}\",\"Y\":\"{y}\",\"Q\":\"{zero8}\"",
        now = e.now,
        sym = q(&o.inst.symbol),
        c = q(&c),
        side = o.side(),
        ot = if o.limit { "LIMIT" } else { "MARKET" },
        qty = f8(o.qty),
        px = o.price.map(f8).unwrap_or(zero8.into()),
        orig = q(&orig),
        x = e.x,
        st = o.status.binance(),
        id = o.id,
        z = f8(o.filled),
        t = e.trade_id.map(|t| t as i64).unwrap_or(-1),
        ei = e.exec_id,
        w = o.limit && o.status.is_open(),
        m = trade && o.limit,
        mm = trade,
        created = o.created_ms,
        zq = f8(o.quote),
    );
    if o.limit {
        // Working time: only for orders placed on the book.
        s.push_str(&format!(",\"W\":{}", o.created_ms));
    }
    s.push_str(",\"V\":\"NONE\"}");
    s
}

/// Spot `outboundAccountPosition` with `assets` (in that order).
pub fn outbound_account_position(balances: &[(String, Dec, Dec)], now: i64) -> String {
    let b: Vec<String> = balances
        .iter()
        .map(|(a, f, l)| {
            format!(
                "{{\"a\":{},\"f\":\"{}\",\"l\":\"{}\"}}",
                q(a),
                f8(*f),
                f8(*l)
            )
        })
        .collect();
    format!(
        "{{\"e\":\"outboundAccountPosition\",\"E\":{now},\"u\":{now},\"B\":[{}]}}",
        b.join(",")
    )
}

/// Spot `balanceUpdate`.
pub fn balance_update(asset: &str, delta: Dec, now: i64) -> String {
    format!(
        "{{\"e\":\"balanceUpdate\",\"E\":{now},\"a\":{},\"d\":\"{}\",\"T\":{now}}}",
        q(asset),
        f8(delta)
    )
}

pub fn event_stream_terminated(now: i64) -> String {
    format!("{{\"e\":\"eventStreamTerminated\",\"E\":{now}}}")
}

/// `listenKeyExpired` (USD-M carries the key; COIN-M as in its docs example without).
pub fn listen_key_expired(family: Family, key: &str, now: i64) -> String {
    match family {
        Family::BinanceUsdm => format!(
            "{{\"e\":\"listenKeyExpired\",\"E\":{now},\"listenKey\":{}}}",
            q(key)
        ),
        _ => format!("{{\"e\":\"listenKeyExpired\",\"E\":{now}}}"),
    }
}

/// Open notional of a futures order's remaining quantity (`b` for buys, `a` for sells).
fn open_notional(o: &Order) -> String {
    let Some(p) = o.price else {
        return "0".into();
    };
    if !o.status.is_open() || p.is_zero() {
        return "0".into();
    }
    let rem = o.remaining();
    let v = match o.inst.kind {
        super::accounts::InstKind::Inverse => rem
            .checked_mul(o.inst.contract)
            .and_then(|x| x.checked_div(p, 8)),
        _ => rem.checked_mul(p),
    };
    v.map(|d| d.trimmed().to_string()).unwrap_or("0".into())
}

/// Futures `ORDER_TRADE_UPDATE` (USD-M field order of the docs example; COIN-M with `ma` and
/// `rp` where its docs put them, without `V`/`pm`/`gtd`).
pub fn order_trade_update(family: Family, o: &Order, e: &Exec) -> String {
    let coinm = family == Family::BinanceCoinm;
    let price_scale = o.price.map(|p| p.scale()).unwrap_or(0);
    let ap = o
        .avg_price(price_scale)
        .map(|d| d.to_string())
        .unwrap_or("0".into());
    let (l, lp) = match e.fill {
        Some((qq, p)) => (qq.to_string(), p.to_string()),
        None => ("0".into(), "0".into()),
    };
    let fee_part = match &e.fee {
        Some((f, a)) if e.fill.is_some() => format!("\"N\":{},\"n\":\"{}\"", q(a), f),
        _ => "\"n\":\"0\"".to_string(),
    };
    let (b, a) = if o.buy {
        (open_notional(o), "0".to_string())
    } else {
        ("0".to_string(), open_notional(o))
    };
    let ot = if o.liquidation {
        "LIQUIDATION"
    } else if o.limit {
        "LIMIT"
    } else {
        "MARKET"
    };
    let tif = if o.liquidation { "IOC" } else { "GTC" };
    let px = o.price.map(|p| p.to_string()).unwrap_or("0".into());
    let rp = o.last_realized.to_string();
    let head = format!(
        "{{\"e\":\"ORDER_TRADE_UPDATE\",\"T\":{now},\"E\":{now},\"o\":{{\"s\":{sym},\"c\":{c},\"S\":\"{side}\",\"o\":\"{ot}\",\"f\":\"{tif}\",\"q\":\"{qty}\",\"p\":\"{px}\",\"ap\":\"{ap}\",\"sp\":\"0\",\"x\":\"{x}\",\"X\":\"{st}\",\"i\":{id},\"l\":\"{l}\",\"z\":\"{z}\",\"L\":\"{lp}\"",
        now = e.now,
        sym = q(&o.inst.symbol),
        c = q(&o.client_id),
        side = o.side(),
        qty = o.qty,
        x = e.x,
        st = o.status.binance(),
        id = o.id,
        z = o.filled,
    );
    let t = e.trade_id.unwrap_or(0);
    let maker = e.fill.is_some() && o.limit && !o.liquidation;
    if coinm {
        format!(
            "{head},\"ma\":{ma},{fee_part},\"T\":{now},\"t\":{t},\"rp\":\"{rp}\",\"b\":\"{b}\",\"a\":\"{a}\",\"m\":{maker},\"R\":false,\"wt\":\"CONTRACT_PRICE\",\"ot\":\"{ot}\",\"ps\":\"BOTH\",\"cp\":false,\"pP\":false,\"si\":0,\"ss\":0}}}}",
            ma = q(&o.inst.settle),
            now = e.now,
        )
    } else {
        format!(
            "{head},{fee_part},\"T\":{now},\"t\":{t},\"b\":\"{b}\",\"a\":\"{a}\",\"m\":{maker},\"R\":false,\"wt\":\"CONTRACT_PRICE\",\"ot\":\"{ot}\",\"ps\":\"BOTH\",\"cp\":false,\"rp\":\"{rp}\",\"pP\":false,\"si\":0,\"ss\":0,\"V\":\"EXPIRE_TAKER\",\"pm\":\"NONE\",\"gtd\":0}}}}",
            now = e.now,
        )
    }
}

/// A futures `ACCOUNT_UPDATE` position row.
pub struct PosRow {
    pub symbol: String,
    pub amount: Dec,
    pub entry: Dec,
    pub realized: Dec,
    pub unrealized: String,
    pub margin_type: String,
    pub side: String,
}

/// Futures `ACCOUNT_UPDATE`: balances `(asset, wallet, change)` and positions.
pub fn account_update(
    family: Family,
    reason: &str,
    balances: &[(String, Dec, Dec)],
    positions: &[PosRow],
    now: i64,
) -> String {
    let b: Vec<String> = balances
        .iter()
        .map(|(a, wb, bc)| {
            format!(
                "{{\"a\":{},\"wb\":\"{}\",\"cw\":\"{}\",\"bc\":\"{}\"}}",
                q(a),
                f8(*wb),
                f8(*wb),
                bc.trimmed()
            )
        })
        .collect();
    let p: Vec<String> = positions
        .iter()
        .map(|r| {
            let ep = r.entry.trimmed().to_string();
            let bep = if family == Family::BinanceUsdm {
                format!(",\"bep\":\"{ep}\"")
            } else {
                String::new()
            };
            format!(
                "{{\"s\":{},\"pa\":\"{}\",\"ep\":\"{ep}\"{bep},\"cr\":\"{}\",\"up\":\"{}\",\"mt\":{},\"iw\":\"0\",\"ps\":{}}}",
                q(&r.symbol),
                r.amount,
                r.realized.trimmed(),
                r.unrealized,
                q(&r.margin_type),
                q(&r.side)
            )
        })
        .collect();
    format!(
        "{{\"e\":\"ACCOUNT_UPDATE\",\"E\":{now},\"T\":{now},\"a\":{{\"m\":{},\"B\":[{}],\"P\":[{}]}}}}",
        q(reason),
        b.join(","),
        p.join(",")
    )
}
