//! One user-stream room's session: obtain the stream (listen key over REST, or WS-API logon, or
//! OKX login), subscribe, read account frames → normalize (`exchanges::<venue>::user`) → the
//! shard's user ring, keep the stream alive, and re-dial with backoff. What the venue says about
//! the credentials is reported to the control plane, which owns the room (reference counts, the
//! auth breaker, the flap detector) and decides whether the session lives on.
//! Imports crate::{event, exchanges, ring, session, stats, ws}.
//!
//! Flows (the same loop; venue specifics come from the exchange modules' builders and parsers):
//! * Binance spot: WebSocket API. Ed25519 keys `session.logon` then `userDataStream.subscribe`;
//!   HMAC keys `userDataStream.subscribe.signature`. Re-done on every (re)connect and after
//!   `eventStreamTerminated` (seed §11 spec 008: a reconnect that does not resubscribe leaves
//!   the account silent).
//! * Binance USDⓈ-M / COIN-M: listen key `POST` → dial → `PUT` every `listen_key_keepalive`;
//!   `-1125` on `PUT` or `listenKeyExpired` ⇒ a new key and a new socket at once.
//! * OKX: `login` (HMAC-SHA256 base64) → `subscribe` account, orders and positions for the
//!   provider's instTypes; text `ping` when idle.
//!
//! Never logged: the key, secret, passphrase, signatures, listen keys, URL queries.

use super::backoff::Backoff;
use super::socket::ShardCtx;
use crate::event::{now_ms, now_ns, RoomTag, UserEnvelope, UserItem};
use crate::exchanges::binance::auth::{self as bauth, ListenKeyOp, Signer};
use crate::exchanges::okx::auth as oauth;
use crate::exchanges::user::{AckOp, AuthSignal, Credentials, FrameInfo, UserMessage};
use crate::exchanges::{binance, okx};
use crate::stats::{UserState, UserStatus};
use crate::types::{Exchange, Provider};
use crate::ws::{self, WsUrl};
use async_tungstenite::tungstenite::Message;
use futures_util::future::{select, Either};
use futures_util::{SinkExt, StreamExt};
use glommio::timer::Timer;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// Everything a shard needs to run one room's session.
#[derive(Clone)]
pub struct UserSpec {
    pub room: Arc<RoomTag>,
    pub creds: Credentials,
    /// The WebSocket to dial: the WS-API URL (Binance spot), the user-stream base
    /// (`wss://fstream.binance.com`, Binance futures), or the private URL chosen by `okxSource`.
    pub ws: String,
    /// REST base for listen keys (Binance futures), e.g. `https://fapi.binance.com`.
    pub rest: String,
    pub tuning: UserTuning,
}

impl std::fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSpec")
            .field("room", &self.room)
            .field("creds", &self.creds)
            .field("ws", &self.ws.split('?').next().unwrap_or(""))
            .field("rest", &self.rest)
            .finish()
    }
}

/// Timings of user-stream sessions (config `[users]`).
#[derive(Clone, Copy, Debug)]
pub struct UserTuning {
    pub connect_timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Subscriptions not accepted within this ⇒ re-dial.
    pub subscribe_timeout: Duration,
    /// Binance futures: `PUT` the listen key this often (the venue's validity is 60 min).
    pub listen_key_keepalive: Duration,
    /// Re-dial before the venue's connection lifetime ends (Binance: 24 h).
    pub max_lifetime: Duration,
    /// OKX `positions` channel for derivatives providers.
    pub okx_positions: bool,
    /// WebSocket read buffer, bytes (see [`crate::ws::connect`]).
    pub read_buffer: usize,
}

impl Default for UserTuning {
    fn default() -> Self {
        UserTuning {
            connect_timeout: Duration::from_secs(15),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            subscribe_timeout: Duration::from_secs(15),
            listen_key_keepalive: Duration::from_secs(30 * 60),
            max_lifetime: Duration::from_secs(23 * 3600 + 55 * 60),
            okx_positions: true,
            read_buffer: 4 << 10,
        }
    }
}

/// What a session tells the control plane (over crossbeam; low rate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserReport {
    pub room_id: String,
    pub kind: ReportKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportKind {
    /// Subscriptions accepted; `reconnect` when it is not the session's first.
    Subscribed { reconnect: bool },
    /// A subscribed stream was lost and is being re-dialled (flap detector input).
    Reconnecting { why: &'static str },
    /// An auth error that counts toward the breaker (Binance −2015/−2014/−2008, HTTP 401).
    AuthStrike { code: i64, reason: String },
    /// Rejected at first sight (WS-API "session not authenticated", OKX fatal codes, a key the
    /// venue cannot accept). `legacy_key`: a Binance spot key that cannot open a user stream.
    AuthReject {
        code: i64,
        reason: String,
        legacy_key: bool,
    },
    /// The first genuine account event of a connection (clears the breaker's strikes).
    Genuine,
}

/// Commands from the shard to a session (its timers are its own, see `next_check`).
#[derive(Debug)]
pub enum UserCmd {
    Close,
}

enum Exit {
    Closed,
    /// Re-dial after `delay` (None = backoff).
    Redial(&'static str, Option<Duration>),
    /// Stop trying: the control plane was told and will close or re-open the room.
    Parked,
}

enum Flow {
    /// Binance spot WebSocket API.
    WsApi(Signer),
    /// Binance futures listen key.
    ListenKey,
    Okx,
}

/// Runs one room's session until it is told to close.
pub async fn run(
    spec: UserSpec,
    ctx: Rc<ShardCtx>,
    reports: crossbeam_channel::Sender<super::ShardReport>,
    mut cmds: futures_channel::mpsc::UnboundedReceiver<UserCmd>,
) {
    let room = spec.room.clone();
    let provider = room.provider.real();
    let t = spec.tuning;
    let report = |kind: ReportKind| {
        let _ = reports.send(super::ShardReport::User(UserReport {
            room_id: room.room_id.clone(),
            kind,
        }));
    };
    set_status(&ctx, &room, |s| s.state = UserState::Connecting);
    let flow = match provider.exchange() {
        Exchange::Binance if provider == Provider::Binance => {
            match Signer::from_secret(spec.creds.secret()) {
                Ok(s) => Flow::WsApi(s),
                Err(_) => {
                    // The seed's NEWER line breaks such keys before connecting (`legacyKey`).
                    warn!(room = %room.room_id, provider = %room.provider, "Secret is neither an Ed25519 private key nor an HMAC secret; the room cannot open a Binance spot user stream.");
                    report(ReportKind::AuthReject {
                        code: 0,
                        reason: "key type cannot open a Binance spot user stream (use an Ed25519 or HMAC key)".into(),
                        legacy_key: true,
                    });
                    set_status(&ctx, &room, |s| {
                        s.state = UserState::Rejected;
                        s.last_error = Some("unsupported key type".into());
                    });
                    park(&mut cmds).await;
                    remove_status(&ctx, &room);
                    return;
                }
            }
        }
        Exchange::Binance => Flow::ListenKey,
        Exchange::Okx => Flow::Okx,
        _ => {
            warn!(room = %room.room_id, provider = %room.provider, "No user stream for this provider in this build; the room stays closed.");
            set_status(&ctx, &room, |s| {
                s.state = UserState::Rejected;
                s.last_error = Some("provider not supported".into());
            });
            park(&mut cmds).await;
            remove_status(&ctx, &room);
            return;
        }
    };
    let exchange = provider.exchange();
    let mut backoff = Backoff::new(t.backoff_base, t.backoff_cap, fnv(&room.room_id));
    let mut subscribed_once = false;
    let mut reconnects: u64 = 0;
    let mut msgs: Vec<UserMessage> = Vec::with_capacity(8);
    let mut listen_key: Option<String> = None;

    'dial: loop {
        let wait = ctx.governor.reserve(exchange);
        if !wait.is_zero() && !sleep_or_close(wait, &mut cmds).await {
            break 'dial;
        }
        set_status(&ctx, &room, |s| s.state = UserState::Connecting);
        // 1. The URL (Binance futures: a listen key first).
        let url_text = match &flow {
            Flow::ListenKey => {
                let key = match listen_key.take() {
                    Some(k) => Ok(k),
                    None => listen_key_call(&spec, ListenKeyOp::Create, None).await,
                };
                match key {
                    Ok(k) => {
                        let url = futures_stream_url(&spec.ws, provider, &k);
                        listen_key = Some(k);
                        url
                    }
                    Err(e) => {
                        warn!(room = %room.room_id, provider = %room.provider, error = %e, "Listen key could not be created; retrying after backoff.");
                        set_status(&ctx, &room, |s| {
                            s.state = UserState::Backoff;
                            s.last_error = Some(e.to_string());
                        });
                        if e.is_auth() {
                            report(ReportKind::AuthStrike {
                                code: e.code,
                                reason: e.to_string(),
                            });
                        }
                        if !sleep_or_close(backoff.next_delay(), &mut cmds).await {
                            break 'dial;
                        }
                        continue 'dial;
                    }
                }
            }
            _ => spec.ws.clone(),
        };
        let url = match WsUrl::parse(&url_text) {
            Ok(u) => u.with_log_path(&log_path(&url_text)),
            Err(error) => {
                warn!(room = %room.room_id, provider = %room.provider, %error, "User stream URL is invalid; fix [endpoints] in config.toml. The room stays down.");
                set_status(&ctx, &room, |s| {
                    s.state = UserState::Backoff;
                    s.last_error = Some(error.to_string());
                });
                park(&mut cmds).await;
                break 'dial;
            }
        };
        // 2. Dial. Boxed: the TLS handshake's state (~11 KB) would otherwise sit inside every
        // session's future for its whole life, ~11 KB × 50,000 idle rooms.
        let mut wsock = match Box::pin(ws::connect(&url, t.connect_timeout, t.read_buffer)).await {
            Ok((w, _)) => w,
            Err(error) => {
                let mut delay = backoff.next_delay();
                if let Some(s) = error.retry_after_s() {
                    delay = delay.max(Duration::from_secs(s));
                    ctx.governor.hold(exchange, Duration::from_secs(s));
                }
                // A listen key the venue no longer knows is refused at the upgrade.
                if matches!(flow, Flow::ListenKey) && error.http_status() == Some(400) {
                    listen_key = None;
                }
                warn!(room = %room.room_id, provider = %room.provider, shard = ctx.shard, %error, retry_in_ms = delay.as_millis() as u64, "User stream connect failed; retrying after backoff.");
                set_status(&ctx, &room, |s| {
                    s.state = UserState::Backoff;
                    s.last_error = Some(error.to_string());
                });
                if !sleep_or_close(delay, &mut cmds).await {
                    break 'dial;
                }
                continue 'dial;
            }
        };
        let opened = Instant::now();
        set_status(&ctx, &room, |s| s.opened_ms = now_ms());
        debug!(room = %room.room_id, provider = %room.provider, path = url.path_for_log(), "User stream socket open.");

        // 3. Authenticate and subscribe.
        let mut subscribed = false;
        let mut genuine_seen = false;
        let mut acks_left = 0usize;
        let mut req_seq: u64 = 0;
        let mut first: Vec<String> = Vec::new();
        match &flow {
            Flow::WsApi(signer) => ws_api_start(&spec, signer, &mut req_seq, &mut first),
            Flow::Okx => {
                first.push(oauth::login_request_for(&spec.creds, now_ms() / 1000));
            }
            Flow::ListenKey => {}
        }
        let mut failed_send = false;
        for r in first.drain(..) {
            if wsock.send(Message::text(r)).await.is_err() {
                failed_send = true;
                break;
            }
        }
        if matches!(flow, Flow::ListenKey) && !failed_send {
            // The stream is the subscription: open means accepted.
            subscribed = true;
            on_subscribed(&ctx, &room, &report, &mut subscribed_once).await;
        }
        let mut last_rx = Instant::now();
        let mut ping_sent = false;
        // When the silence limit was first seen passed: a busy shard can poll a session late,
        // its timer and a frame ready together; only a second look at least half a second
        // later (frames drained in between) re-dials.
        let mut silent_since: Option<Instant> = None;
        let mut last_keepalive = Instant::now();
        let keepalive = match exchange {
            Exchange::Okx => okx::keepalive::policy(provider),
            _ => binance::keepalive::policy(provider),
        };
        let exit = if failed_send {
            Exit::Redial("send failed", None)
        } else {
            // The session's own timer, armed for its next deadline (silence, ping, subscribe
            // timeout, listen-key keepalive, lifetime) instead of a shard-wide tick per second:
            // an idle room costs one wake-up per keepalive period, so 50,000 of them stay cheap.
            // Frames move `last_rx` without re-arming it; an early wake-up just re-arms.
            let mut check = Timer::new(Duration::from_secs(1));
            'conn: loop {
                let step = match select(select(cmds.next(), wsock.next()), &mut check).await {
                    Either::Left((Either::Left((cmd, _)), _)) => Step::Cmd(cmd),
                    Either::Left((Either::Right((msg, _)), _)) => Step::Frame(msg),
                    Either::Right((_, _)) => Step::Check,
                };
                match step {
                    Step::Cmd(None | Some(UserCmd::Close)) => {
                        let _ = wsock.close(None).await;
                        break 'conn Exit::Closed;
                    }
                    Step::Check => {
                        let now = Instant::now();
                        check.reset(next_check(CheckInputs {
                            now,
                            last_rx,
                            opened,
                            last_keepalive,
                            silent_since,
                            ping_sent,
                            subscribed,
                            listen_key_flow: matches!(flow, Flow::ListenKey),
                            keepalive: &keepalive,
                            tuning: &t,
                        }));
                        let idle = now.saturating_duration_since(last_rx);
                        if idle >= keepalive.dead_after {
                            match silent_since {
                                Some(first)
                                    if now.saturating_duration_since(first)
                                        >= Duration::from_millis(500) =>
                                {
                                    warn!(room = %room.room_id, provider = %room.provider, idle_s = idle.as_secs(), "User stream silent past its keepalive limit; re-dialling.");
                                    break 'conn Exit::Redial("silent", None);
                                }
                                Some(_) => {}
                                None => silent_since = Some(now),
                            }
                            continue 'conn;
                        }
                        silent_since = None;
                        if let Some(after) = keepalive.client_ping_after {
                            if idle >= after && !ping_sent {
                                ping_sent = true;
                                if wsock
                                    .send(Message::text(keepalive.ping_text))
                                    .await
                                    .is_err()
                                {
                                    break 'conn Exit::Redial("ping failed", None);
                                }
                            }
                        }
                        if !subscribed
                            && now.saturating_duration_since(opened) >= t.subscribe_timeout
                        {
                            warn!(room = %room.room_id, provider = %room.provider, "User stream subscriptions not accepted in time; re-dialling.");
                            break 'conn Exit::Redial("subscribe timeout", None);
                        }
                        if now.saturating_duration_since(opened) >= t.max_lifetime {
                            info!(room = %room.room_id, provider = %room.provider, "User stream reached its planned lifetime; re-dialling.");
                            break 'conn Exit::Redial("lifetime", Some(Duration::ZERO));
                        }
                        if subscribed
                            && now.saturating_duration_since(opened) >= Duration::from_secs(30)
                        {
                            backoff.reset();
                        }
                        if matches!(flow, Flow::ListenKey)
                            && now.saturating_duration_since(last_keepalive)
                                >= t.listen_key_keepalive
                        {
                            last_keepalive = now;
                            let key = listen_key.clone();
                            match listen_key_call(&spec, ListenKeyOp::KeepAlive, key.as_deref())
                                .await
                            {
                                Ok(_) => debug!(room = %room.room_id, "Listen key kept alive."),
                                Err(e) if e.code == -1125 => {
                                    warn!(room = %room.room_id, provider = %room.provider, "Listen key no longer exists; creating a new one and re-dialling.");
                                    listen_key = None;
                                    break 'conn Exit::Redial(
                                        "listen key gone",
                                        Some(Duration::ZERO),
                                    );
                                }
                                Err(e) => {
                                    // Transient: the key is valid for 60 min; the next tick retries.
                                    last_keepalive = now - t.listen_key_keepalive
                                        + Duration::from_secs(5).min(t.listen_key_keepalive);
                                    warn!(room = %room.room_id, provider = %room.provider, error = %e, "Listen key keepalive failed; retrying shortly.");
                                    if e.is_auth() {
                                        report(ReportKind::AuthStrike {
                                            code: e.code,
                                            reason: e.to_string(),
                                        });
                                    }
                                }
                            }
                        }
                    }
                    Step::Frame(msg) => {
                        let recv_ns = now_ns();
                        let text = match msg {
                            Some(Ok(Message::Text(text))) => text,
                            Some(Ok(Message::Ping(_)))
                            | Some(Ok(Message::Pong(_)))
                            | Some(Ok(Message::Frame(_))) => {
                                last_rx = Instant::now();
                                let _ = wsock.flush().await;
                                continue 'conn;
                            }
                            Some(Ok(Message::Binary(_))) => {
                                last_rx = Instant::now();
                                bump_decode_error(&ctx, provider);
                                continue 'conn;
                            }
                            Some(Ok(Message::Close(_))) => {
                                break 'conn Exit::Redial("closed by venue", None)
                            }
                            Some(Err(error)) => {
                                warn!(room = %room.room_id, provider = %room.provider, %error, "User stream socket error; reconnecting.");
                                break 'conn Exit::Redial("socket error", None);
                            }
                            None => break 'conn Exit::Redial("socket ended", None),
                        };
                        last_rx = Instant::now();
                        ping_sent = false;
                        msgs.clear();
                        let info = match exchange {
                            Exchange::Okx => {
                                okx::user::normalize(provider, text.as_str(), now_ms(), &mut msgs)
                            }
                            _ => binance::user::normalize(
                                provider,
                                text.as_str(),
                                now_ms(),
                                &mut msgs,
                            ),
                        };
                        let info = match info {
                            Ok(i) => i,
                            Err(error) => {
                                bump_decode_error(&ctx, provider);
                                warn!(room = %room.room_id, provider = %room.provider, reason = error.reason(), %error, "User frame could not be decoded; counted and skipped.");
                                continue 'conn;
                            }
                        };
                        // Account data first: nothing a frame carries is lost to what follows.
                        if !msgs.is_empty() {
                            if !genuine_seen && msgs.iter().any(|m| m.genuine_account_event) {
                                genuine_seen = true;
                                report(ReportKind::Genuine);
                            }
                            let n = msgs.len() as u64;
                            for m in msgs.drain(..) {
                                push_user(&ctx, &room, UserItem::Message(m), recv_ns).await;
                            }
                            set_status(&ctx, &room, |s| {
                                s.last_event_ms = now_ms();
                                s.events += n;
                            });
                        }
                        match info {
                            FrameInfo::Data { .. } | FrameInfo::Ignored | FrameInfo::Pong => {}
                            FrameInfo::DataWithErrors { bad, reason, .. } => {
                                for _ in 0..bad {
                                    bump_decode_error(&ctx, provider);
                                }
                                warn!(room = %room.room_id, provider = %room.provider, bad, %reason, "Some entries of an account push could not be normalized; counted and skipped, the others were published.");
                            }
                            FrameInfo::Ack {
                                op, id, channel, ..
                            } => match (&flow, op) {
                                (Flow::WsApi(_), AckOp::Response) => match id.as_deref() {
                                    Some(i) if i.starts_with("logon-") => {
                                        req_seq += 1;
                                        let r = bauth::user_data_stream_subscribe(&format!(
                                            "sub-{req_seq}"
                                        ));
                                        if wsock.send(Message::text(r)).await.is_err() {
                                            break 'conn Exit::Redial("send failed", None);
                                        }
                                    }
                                    Some(i) if i.starts_with("sub-") && !subscribed => {
                                        subscribed = true;
                                        on_subscribed(&ctx, &room, &report, &mut subscribed_once)
                                            .await;
                                    }
                                    _ => {}
                                },
                                (Flow::Okx, AckOp::Login) => {
                                    let r = oauth::subscribe_request(provider, t.okx_positions);
                                    acks_left =
                                        oauth::subscribe_channels(provider, t.okx_positions);
                                    if wsock.send(Message::text(r)).await.is_err() {
                                        break 'conn Exit::Redial("send failed", None);
                                    }
                                }
                                (Flow::Okx, AckOp::Subscribe) => {
                                    debug!(room = %room.room_id, channel = channel.as_deref().unwrap_or(""), "OKX channel subscribed.");
                                    acks_left = acks_left.saturating_sub(1);
                                    if acks_left == 0 && !subscribed {
                                        subscribed = true;
                                        on_subscribed(&ctx, &room, &report, &mut subscribed_once)
                                            .await;
                                    }
                                }
                                _ => {}
                            },
                            FrameInfo::Error {
                                code,
                                message,
                                auth,
                                status,
                                ..
                            } => {
                                let reason = safe_reason(code, &message);
                                set_status(&ctx, &room, |s| s.last_error = Some(reason.clone()));
                                match auth {
                                    AuthSignal::Reject => {
                                        warn!(room = %room.room_id, provider = %room.provider, code, %reason, "Venue rejected the credentials; reporting to the room's breaker.");
                                        report(ReportKind::AuthReject {
                                            code,
                                            reason,
                                            legacy_key: false,
                                        });
                                        let _ = wsock.close(None).await;
                                        break 'conn Exit::Parked;
                                    }
                                    AuthSignal::Strike => {
                                        warn!(room = %room.room_id, provider = %room.provider, code, %reason, "Venue refused the credentials; counting a strike and retrying after backoff.");
                                        report(ReportKind::AuthStrike { code, reason });
                                        break 'conn Exit::Redial("auth error", None);
                                    }
                                    AuthSignal::None => {
                                        warn!(room = %room.room_id, provider = %room.provider, code, status = status.unwrap_or(0), %reason, "Venue answered a user-stream request with an error.");
                                        if !subscribed {
                                            // A failed subscribe never leaves a half-built client (seed #433).
                                            break 'conn Exit::Redial("subscribe failed", None);
                                        }
                                    }
                                }
                            }
                            FrameInfo::ListenKeyExpired { .. } => {
                                info!(room = %room.room_id, provider = %room.provider, "Listen key expired; creating a new one and re-dialling at once.");
                                listen_key = None;
                                break 'conn Exit::Redial(
                                    "listen key expired",
                                    Some(Duration::ZERO),
                                );
                            }
                            FrameInfo::EventStreamTerminated { .. } => {
                                // Subscribe again on the same connection (logon again for Ed25519).
                                info!(room = %room.room_id, "User data subscription terminated by the venue; subscribing again.");
                                subscribed = false;
                                if let Flow::WsApi(signer) = &flow {
                                    let mut reqs = Vec::new();
                                    ws_api_start(&spec, signer, &mut req_seq, &mut reqs);
                                    for r in reqs {
                                        if wsock.send(Message::text(r)).await.is_err() {
                                            break 'conn Exit::Redial("send failed", None);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        };
        drop(wsock);
        match exit {
            Exit::Closed => break 'dial,
            Exit::Parked => {
                set_status(&ctx, &room, |s| s.state = UserState::Rejected);
                park(&mut cmds).await;
                break 'dial;
            }
            Exit::Redial(why, delay) => {
                reconnects += 1;
                if subscribed {
                    report(ReportKind::Reconnecting { why });
                }
                let delay = delay.unwrap_or_else(|| backoff.next_delay());
                set_status(&ctx, &room, |s| {
                    s.state = UserState::Backoff;
                    s.reconnects = reconnects;
                    if s.last_error.is_none() || why != "auth error" {
                        s.last_error = Some(why.to_owned());
                    }
                });
                if !delay.is_zero() && !sleep_or_close(delay, &mut cmds).await {
                    break 'dial;
                }
            }
        }
    }
    // Close the listen key we created: the venue frees it at once instead of in 60 min.
    if matches!(flow, Flow::ListenKey) {
        if let Some(k) = listen_key.take() {
            let _ = listen_key_call(&spec, ListenKeyOp::Close, Some(&k)).await;
        }
    }
    remove_status(&ctx, &room);
    info!(room = %room.room_id, provider = %room.provider, shard = ctx.shard, "User stream closed.");
}

/// The first requests of a Binance WS-API connection: logon (Ed25519) or the signed subscribe.
fn ws_api_start(spec: &UserSpec, signer: &Signer, seq: &mut u64, out: &mut Vec<String>) {
    *seq += 1;
    let key = spec.creds.key();
    match signer {
        Signer::Ed25519(ed) => out.push(bauth::session_logon(
            &format!("logon-{seq}"),
            key,
            ed,
            now_ms(),
            None,
        )),
        Signer::Hmac(_) => out.push(bauth::user_data_stream_subscribe_signature(
            &format!("sub-{seq}"),
            key,
            signer,
            now_ms(),
            None,
        )),
    }
}

async fn on_subscribed(
    ctx: &ShardCtx,
    room: &Arc<RoomTag>,
    report: &impl Fn(ReportKind),
    subscribed_once: &mut bool,
) {
    let reconnect = *subscribed_once;
    *subscribed_once = true;
    info!(room = %room.room_id, provider = %room.provider, shard = ctx.shard, reconnect, "User stream subscribed.");
    push_user(ctx, room, UserItem::Subscribed { reconnect }, now_ns()).await;
    report(ReportKind::Subscribed { reconnect });
    set_status(ctx, room, |s| {
        s.state = UserState::Subscribed;
        s.last_error = None;
    });
}

/// Pushes into the shard's user ring; waits while it is full (user events are never dropped).
async fn push_user(ctx: &ShardCtx, room: &Arc<RoomTag>, item: UserItem, recv_ns: u64) {
    let mut env = UserEnvelope {
        room: room.clone(),
        item,
        recv_ns,
    };
    loop {
        let r = ctx.user_ring.borrow_mut().try_push(env);
        match r {
            Ok(()) => break,
            Err(back) => {
                env = back;
                ctx.user_ring.borrow().wake();
                ctx.user_counts
                    .ring_full_waits
                    .set(ctx.user_counts.ring_full_waits.get() + 1);
                glommio::timer::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    ctx.user_counts.events.set(ctx.user_counts.events.get() + 1);
    ctx.user_ring.borrow().wake();
}

/// Why a listen-key call failed. Never carries the key or the listen key.
#[derive(Debug, thiserror::Error)]
#[error("listen key {op} failed: HTTP {status}, code {code}: {message}")]
pub struct RestError {
    pub op: &'static str,
    /// 0 when the request never got an answer.
    pub status: u16,
    pub code: i64,
    pub message: String,
}

impl RestError {
    /// Whether this counts as an authentication refusal (seed §7.3).
    pub fn is_auth(&self) -> bool {
        self.status == 401 || binance::user::AUTH_STRIKE_CODES.contains(&self.code)
    }
}

/// `POST|PUT|DELETE` the listen key (blocking HTTP on glommio's blocking pool).
async fn listen_key_call(
    spec: &UserSpec,
    op: ListenKeyOp,
    listen_key: Option<&str>,
) -> Result<String, RestError> {
    let op_name = match op {
        ListenKeyOp::Create => "create",
        ListenKeyOp::KeepAlive => "keepalive",
        ListenKeyOp::Close => "close",
    };
    let req = bauth::listen_key_request(spec.room.provider, op, spec.creds.key()).map_err(|e| {
        RestError {
            op: op_name,
            status: 0,
            code: 0,
            message: e.to_string(),
        }
    })?;
    let mut url = format!("{}{}", spec.rest.trim_end_matches('/'), req.path);
    if let Some(k) = listen_key {
        url.push_str("?listenKey=");
        url.push_str(k);
    }
    let timeout = spec.tuning.connect_timeout;
    let headers = req.headers.clone();
    let method = req.method;
    let res = glommio::executor()
        .spawn_blocking(move || {
            let agent = ureq::AgentBuilder::new().timeout(timeout).build();
            let mut r = agent.request(method, &url);
            for (k, v) in &headers {
                r = r.set(k, v);
            }
            match r.call() {
                Ok(resp) => Ok(resp.into_string().unwrap_or_default()),
                Err(ureq::Error::Status(status, resp)) => {
                    Err((status, resp.into_string().unwrap_or_default()))
                }
                Err(ureq::Error::Transport(t)) => Err((0, t.kind().to_string())),
            }
        })
        .await;
    match res {
        Ok(body) => match op {
            ListenKeyOp::Create => bauth::parse_listen_key(&body).map_err(|e| RestError {
                op: op_name,
                status: 200,
                code: 0,
                message: format!("unexpected answer ({e})"),
            }),
            _ => Ok(String::new()),
        },
        Err((status, body)) => {
            let (code, msg) = venue_error(&body);
            Err(RestError {
                op: op_name,
                status,
                code,
                message: if status == 0 { body } else { msg },
            })
        }
    }
}

/// `{"code":-1125,"msg":"…"}` → (code, msg); anything else → (0, "").
fn venue_error(body: &str) -> (i64, String) {
    #[derive(serde::Deserialize)]
    struct E {
        code: Option<i64>,
        msg: Option<String>,
    }
    match serde_json::from_str::<E>(body) {
        Ok(e) => (e.code.unwrap_or(0), e.msg.unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

/// The futures user-stream URL: USDⓈ-M `/private/ws?listenKey=` (2026 split), COIN-M
/// `/ws/<listenKey>`.
pub fn futures_stream_url(base: &str, provider: Provider, listen_key: &str) -> String {
    let base = base.trim_end_matches('/');
    match provider.real() {
        Provider::BinanceUsdm => format!("{base}/private/ws?listenKey={listen_key}"),
        _ => format!("{base}/ws/{listen_key}"),
    }
}

/// A URL path safe to log: no query, and a listen key in the path replaced.
fn log_path(url: &str) -> String {
    let path = url
        .split("://")
        .nth(1)
        .and_then(|r| r.find('/').map(|i| &r[i..]))
        .unwrap_or("/");
    let path = path.split('?').next().unwrap_or("/");
    match path.rfind("/ws/") {
        Some(i) if path.len() > i + 4 => format!("{}/ws/[listenKey]", &path[..i]),
        _ => path.to_owned(),
    }
}

/// The venue's error text for logs and status, cut short (it never echoes secrets, but a
/// long text has no place in a log line).
fn safe_reason(code: i64, message: &str) -> String {
    let m: String = message.chars().take(160).collect();
    if m.is_empty() {
        format!("code {code}")
    } else {
        format!("{m} (code {code})")
    }
}

/// What woke a user session.
enum Step<M> {
    Cmd(Option<UserCmd>),
    Frame(Option<M>),
    Check,
}

/// What the next timer check of a session depends on.
struct CheckInputs<'a> {
    now: Instant,
    last_rx: Instant,
    opened: Instant,
    last_keepalive: Instant,
    silent_since: Option<Instant>,
    ping_sent: bool,
    subscribed: bool,
    listen_key_flow: bool,
    keepalive: &'a super::Keepalive,
    tuning: &'a UserTuning,
}

/// When a session must look at its clocks next: the earliest of its deadlines, at least 100 ms
/// and at most 60 s away. Deadlines already passed are handled by the check that computes this.
fn next_check(c: CheckInputs<'_>) -> Duration {
    let t = c.tuning;
    // Once silence was seen, the second look is the deadline (the limit itself has passed).
    let mut at = match c.silent_since {
        Some(first) => first + Duration::from_millis(500),
        None => c.last_rx + c.keepalive.dead_after,
    };
    if let (Some(after), false) = (c.keepalive.client_ping_after, c.ping_sent) {
        at = at.min(c.last_rx + after);
    }
    if !c.subscribed {
        at = at.min(c.opened + t.subscribe_timeout);
    }
    if c.subscribed && c.now < c.opened + Duration::from_secs(30) {
        at = at.min(c.opened + Duration::from_secs(30));
    }
    at = at.min(c.opened + t.max_lifetime);
    if c.listen_key_flow {
        at = at.min(c.last_keepalive + t.listen_key_keepalive);
    }
    at.saturating_duration_since(c.now)
        .clamp(Duration::from_millis(100), Duration::from_secs(60))
}

async fn park(cmds: &mut futures_channel::mpsc::UnboundedReceiver<UserCmd>) {
    while let Some(cmd) = cmds.next().await {
        if matches!(cmd, UserCmd::Close) {
            return;
        }
    }
}

/// Sleeps `d` while obeying commands; false when told to close.
async fn sleep_or_close(
    d: Duration,
    cmds: &mut futures_channel::mpsc::UnboundedReceiver<UserCmd>,
) -> bool {
    let deadline = Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        let sleep = glommio::timer::sleep(left);
        futures_util::pin_mut!(sleep);
        match select(cmds.next(), sleep).await {
            Either::Right(_) => return true,
            Either::Left((None | Some(UserCmd::Close), _)) => return false,
        }
    }
}

fn bump_decode_error(ctx: &ShardCtx, provider: Provider) {
    let c = &ctx.local.per_provider[provider as usize].decode_errors;
    c.set(c.get() + 1);
}

fn set_status(ctx: &ShardCtx, room: &RoomTag, f: impl FnOnce(&mut UserStatus)) {
    let mut map = ctx.users.borrow_mut();
    let s = map
        .entry(room.room_id.clone())
        .or_insert_with(|| UserStatus {
            room_id: room.room_id.clone(),
            user_id: room.user_id.clone(),
            provider: room.provider,
            shard: ctx.shard,
            state: UserState::Connecting,
            last_event_ms: 0,
            events: 0,
            opened_ms: 0,
            reconnects: 0,
            last_error: None,
        });
    f(s);
}

fn remove_status(ctx: &ShardCtx, room: &RoomTag) {
    ctx.users.borrow_mut().remove(&room.room_id);
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in s.as_bytes() {
        h ^= c as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Whether this build runs user streams for the provider (paper accounts live in the paper
/// trading service's Socket.IO stream, not built yet).
pub fn has_user_stream(p: Provider) -> bool {
    p == p.real() && matches!(p.exchange(), Exchange::Binance | Exchange::Okx)
}

/// The shard a room lives on: a stable hash of its id.
pub fn room_shard(room_id: &str, shards: usize) -> usize {
    (fnv(room_id) % shards.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_check_is_the_earliest_deadline_within_bounds() {
        let ka = super::super::Keepalive {
            client_ping_after: Some(Duration::from_secs(20)),
            ping_text: "ping",
            dead_after: Duration::from_secs(30),
            max_lifetime: Duration::from_secs(86_400),
        };
        let t = UserTuning::default();
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        struct TestCase {
            name: &'static str,
            input: CheckInputs<'static>,
            expected: Duration,
        }
        let ka: &'static super::super::Keepalive = Box::leak(Box::new(ka));
        let t: &'static UserTuning = Box::leak(Box::new(t));
        let base = |now: Instant| CheckInputs {
            now,
            last_rx: t0,
            opened: t0,
            last_keepalive: t0,
            silent_since: None,
            ping_sent: false,
            subscribed: true,
            listen_key_flow: false,
            keepalive: ka,
            tuning: t,
        };
        let cases = [
            TestCase {
                name: "ping due at 20 s after the last frame",
                input: CheckInputs {
                    now: at(40),
                    ..base(at(40))
                },
                expected: Duration::from_millis(100),
            },
            TestCase {
                name: "an idle but healthy stream sleeps until its ping",
                input: CheckInputs {
                    last_rx: at(35),
                    opened: at(0),
                    ..base(at(40))
                },
                expected: Duration::from_secs(15),
            },
            TestCase {
                name: "after the ping, the silence limit",
                input: CheckInputs {
                    last_rx: at(35),
                    ping_sent: true,
                    ..base(at(40))
                },
                expected: Duration::from_secs(25),
            },
            TestCase {
                name: "a second look half a second after silence was first seen",
                input: CheckInputs {
                    silent_since: Some(at(40)),
                    ping_sent: true,
                    ..base(at(40))
                },
                expected: Duration::from_millis(500),
            },
            TestCase {
                name: "not subscribed: the subscribe timeout (15 s)",
                input: CheckInputs {
                    subscribed: false,
                    last_rx: at(9),
                    opened: at(0),
                    ..base(at(10))
                },
                expected: Duration::from_secs(5),
            },
            TestCase {
                name: "never more than a minute",
                input: CheckInputs {
                    last_rx: at(1000),
                    opened: at(0),
                    ping_sent: true,
                    keepalive: Box::leak(Box::new(super::super::Keepalive {
                        client_ping_after: None,
                        dead_after: Duration::from_secs(600),
                        ..*ka
                    })),
                    ..base(at(1000))
                },
                expected: Duration::from_secs(60),
            },
        ];
        for c in cases {
            assert_eq!(next_check(c.input), c.expected, "{}", c.name);
        }
    }

    #[test]
    fn listen_keys_never_reach_a_log_path() {
        let k = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1";
        let usdm = futures_stream_url("wss://fstream.binance.com", Provider::BinanceUsdm, k);
        assert_eq!(
            usdm,
            format!("wss://fstream.binance.com/private/ws?listenKey={k}")
        );
        assert_eq!(log_path(&usdm), "/private/ws");
        let coinm = futures_stream_url(
            "ws://127.0.0.1:9300/binance/coinm/",
            Provider::BinanceCoinm,
            k,
        );
        assert_eq!(coinm, format!("ws://127.0.0.1:9300/binance/coinm/ws/{k}"));
        assert_eq!(log_path(&coinm), "/binance/coinm/ws/[listenKey]");
        assert!(!log_path(&coinm).contains(k));
    }

    #[test]
    fn rooms_spread_over_shards_stably() {
        assert_eq!(room_shard("abc", 4), room_shard("abc", 4));
        assert_eq!(room_shard("abc", 1), 0);
        let mut per = [0usize; 4];
        for i in 0..400 {
            per[room_shard(&format!("room-{i}"), 4)] += 1;
        }
        assert!(per.iter().all(|&n| n > 60), "{per:?}");
    }
}
