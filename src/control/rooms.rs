//! User-stream rooms (seed-contract §3.1, §7): reference counts, the room id rule, opens paced
//! per exchange family, restarts that never overlap, the auth-rejection breaker (escalating
//! cooldown, strike window, gate lifted by new credentials, cleared by a genuine account event)
//! and the flap detector. Sessions run on the shards; this registry decides which exist.
//! Imports crate::{config, publisher}, corefeed_shards::{event, exchanges::user, session, shard}.
//!
//! Credentials live here (to re-open after a restart or a cooldown) and in the shard's session,
//! nowhere else: never in a log line, a status row, Redis or a metric.

use crate::config::Config;
use crate::publisher::PublisherCommand;
use corefeed_shards::event::{now_ms, RoomTag};
use corefeed_shards::exchanges::user::Credentials;
use corefeed_shards::session::private::{
    has_user_stream, room_shard, ReportKind, UserReport, UserSpec, UserTuning,
};
use corefeed_shards::shard::ShardCommand;
use corefeed_shards::stats::UserStatus;
use corefeed_shards::types::{Exchange, Provider};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// A `usersStreamAction` command, parsed.
#[derive(Debug)]
pub enum RoomCommand {
    Open { room_id: String, creds: Credentials },
    Close { room_id: String },
    Restart { room_id: String },
}

/// Why a room command was refused. Messages never contain credentials.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RoomError {
    #[error("not a room command ({0}); expected {{\"payload\":{{\"event\":\"open stream\"|\"close stream\"|\"force restart stream\",\"uuid\":…,\"data\":{{\"userId\",\"api\":{{\"key\",\"secret\",\"provider\",…}}}}}}}}")]
    Malformed(String),
    #[error("Not enough data: an open needs data.userId and data.api (key, secret, provider)")]
    NotEnoughData,
    #[error(
        "unknown event {0:?}; use \"open stream\", \"close stream\" or \"force restart stream\""
    )]
    UnknownEvent(String),
    #[error("{0:?} is not a provider")]
    UnknownProvider(String),
    #[error("provider {0} has no user stream in this build (binance, binanceUsdm, binanceCoinm, okx, okxLinear, okxInverse do)")]
    Unsupported(Provider),
    #[error("provider {0} is not enabled for user streams (users.providers in config.toml)")]
    Disabled(Provider),
    #[error("{0} needs a passphrase (api.passphrase)")]
    NoPassphrase(Provider),
    #[error("close/restart needs the room id (uuid)")]
    NoRoomId,
}

#[derive(Deserialize)]
struct Envelope {
    payload: RawCommand,
}

#[derive(Deserialize)]
struct RawCommand {
    event: String,
    uuid: Option<String>,
    data: Option<RawData>,
}

#[derive(Deserialize)]
struct RawData {
    #[serde(rename = "userId")]
    user_id: Option<serde_json::Value>,
    api: Option<RawApi>,
}

#[derive(Deserialize)]
struct RawApi {
    key: Option<String>,
    secret: Option<String>,
    passphrase: Option<String>,
    provider: Option<String>,
    #[serde(rename = "keysType")]
    keys_type: Option<String>,
    #[serde(rename = "okxSource")]
    okx_source: Option<String>,
}

impl RoomCommand {
    /// Parses a `usersStreamAction` body `{"payload": CMD}`.
    pub fn parse(body: &[u8]) -> Result<RoomCommand, RoomError> {
        let env: Envelope = serde_json::from_slice(body).map_err(|e| {
            // serde's message may quote a value: keep only where it failed.
            RoomError::Malformed(format!(
                "invalid JSON at line {} column {}",
                e.line(),
                e.column()
            ))
        })?;
        Self::from_raw(env.payload)
    }

    /// Parses the inner command (the admin API takes it without the envelope).
    pub fn parse_inner(body: &[u8]) -> Result<RoomCommand, RoomError> {
        let raw: RawCommand = serde_json::from_slice(body).map_err(|e| {
            RoomError::Malformed(format!(
                "invalid JSON at line {} column {}",
                e.line(),
                e.column()
            ))
        })?;
        Self::from_raw(raw)
    }

    fn from_raw(c: RawCommand) -> Result<RoomCommand, RoomError> {
        let uuid = c.uuid.filter(|u| !u.trim().is_empty());
        match c.event.as_str() {
            "open stream" => {
                let data = c.data.ok_or(RoomError::NotEnoughData)?;
                let user_id = match data.user_id {
                    Some(serde_json::Value::String(s)) if !s.is_empty() => s,
                    Some(serde_json::Value::Number(n)) => n.to_string(),
                    _ => return Err(RoomError::NotEnoughData),
                };
                let api = data.api.ok_or(RoomError::NotEnoughData)?;
                let (Some(key), Some(secret)) = (api.key, api.secret) else {
                    return Err(RoomError::NotEnoughData);
                };
                let provider_text = api.provider.ok_or(RoomError::NotEnoughData)?;
                let provider: Provider = provider_text
                    .parse()
                    .map_err(|_| RoomError::UnknownProvider(provider_text.clone()))?;
                if !has_user_stream(provider) {
                    return Err(RoomError::Unsupported(provider));
                }
                if provider.exchange() == Exchange::Okx
                    && api.passphrase.as_deref().unwrap_or("").trim().is_empty()
                {
                    return Err(RoomError::NoPassphrase(provider));
                }
                let creds = Credentials::new(user_id, provider, key, secret, api.passphrase)
                    .with_keys_type(api.keys_type)
                    .with_okx_source(api.okx_source);
                let room_id = uuid.unwrap_or_else(|| creds.room_id());
                Ok(RoomCommand::Open { room_id, creds })
            }
            "close stream" => Ok(RoomCommand::Close {
                room_id: uuid.ok_or(RoomError::NoRoomId)?,
            }),
            "force restart stream" => Ok(RoomCommand::Restart {
                room_id: uuid.ok_or(RoomError::NoRoomId)?,
            }),
            other => Err(RoomError::UnknownEvent(other.chars().take(40).collect())),
        }
    }
}

/// What a command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// A new room, queued for its (paced) open.
    Opened,
    /// The room existed: its reference count went up.
    Referenced,
    /// Refused by the auth cooldown gate (same credentials as the rejected ones).
    Gated,
    Closed,
    /// The reference count went down; the room stays open.
    Released,
    /// Close of a room with no subscribers.
    NoSubscribers,
    Restarting,
    /// A restart of this room is already under way.
    AlreadyRestarting,
    UnknownRoom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting in its family's pacing queue.
    Queued,
    /// Sent to its shard.
    Running,
    /// Closed for a restart; re-queued at `Instant`.
    Restarting(Instant),
}

struct Room {
    creds: Credentials,
    tag: Arc<RoomTag>,
    refcount: u32,
    shard: usize,
    phase: Phase,
    opened_ms: u64,
}

#[derive(Default)]
struct Breaker {
    strikes: VecDeque<Instant>,
    cooldown_until: Option<Instant>,
    last_trip: Option<Instant>,
    last_cooldown: Duration,
    consecutive: u32,
    /// Fingerprint of the rejected credentials (a different one lifts the gate).
    fingerprint: String,
    gate_logged: bool,
    gated: u64,
    /// Rejected since the last genuine account event: the next one publishes "recovered".
    rejected: bool,
    /// One re-open after the cooldown: credentials and reference count.
    heal: Option<(Instant, Credentials, u32)>,
}

/// Counters of the room registry (read by `/metrics`).
#[derive(Default)]
pub struct RoomMetrics {
    pub commands_ok: AtomicU64,
    pub commands_invalid: AtomicU64,
    pub opens: AtomicU64,
    pub closes: AtomicU64,
    pub restarts: AtomicU64,
    pub auth_strikes: AtomicU64,
    pub auth_trips: AtomicU64,
    pub auth_gated: AtomicU64,
    pub auth_recovered: AtomicU64,
    pub flaps: AtomicU64,
    pub self_heals: AtomicU64,
}

/// One row of `GET /v1/rooms`. Never any credential.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomRow {
    pub room_id: String,
    pub user_id: String,
    pub provider: String,
    pub shard: usize,
    pub refcount: u32,
    pub state: String,
    pub last_event_ms: u64,
    pub events: u64,
    pub reconnects: u64,
    pub opened_ms: u64,
    pub last_error: Option<String>,
    pub cooldown_until_ms: Option<u64>,
}

pub struct Rooms {
    cfg: Arc<Config>,
    shards: Vec<crossbeam_channel::Sender<ShardCommand>>,
    publish: crossbeam_channel::Sender<PublisherCommand>,
    rooms: HashMap<String, Room>,
    breakers: HashMap<String, Breaker>,
    flaps: HashMap<String, VecDeque<Instant>>,
    /// Per exchange family: rooms waiting to open, and when the next open may go.
    queues: HashMap<Exchange, (VecDeque<String>, Instant)>,
    pub metrics: Arc<RoomMetrics>,
}

impl Rooms {
    pub fn new(
        cfg: Arc<Config>,
        shards: Vec<crossbeam_channel::Sender<ShardCommand>>,
        publish: crossbeam_channel::Sender<PublisherCommand>,
    ) -> Self {
        Rooms {
            cfg,
            shards,
            publish,
            rooms: HashMap::new(),
            breakers: HashMap::new(),
            flaps: HashMap::new(),
            queues: HashMap::new(),
            metrics: Arc::new(RoomMetrics::default()),
        }
    }

    fn enabled(&self, p: Provider) -> bool {
        let list = &self.cfg.core.users.providers;
        list.is_empty() || list.iter().any(|x| x == p.as_str())
    }

    /// Applies one command (from RabbitMQ or the admin API).
    pub fn command(&mut self, cmd: RoomCommand) -> Result<Outcome, RoomError> {
        self.command_at(cmd, Instant::now())
    }

    /// [`Rooms::command`] at a given instant (tests drive the clock).
    pub fn command_at(&mut self, cmd: RoomCommand, now: Instant) -> Result<Outcome, RoomError> {
        match cmd {
            RoomCommand::Open { room_id, creds } => {
                if !self.enabled(creds.provider) {
                    return Err(RoomError::Disabled(creds.provider));
                }
                if let Some(b) = self.breakers.get_mut(&room_id) {
                    if b.cooldown_until.is_some_and(|t| t > now) {
                        if creds.fingerprint() != b.fingerprint {
                            info!(room = %room_id, provider = %creds.provider, "New credentials for a room in auth cooldown; lifting the gate.");
                            b.cooldown_until = None;
                            b.heal = None;
                            b.consecutive = 0;
                            b.strikes.clear();
                            b.gate_logged = false;
                        } else {
                            b.gated += 1;
                            self.metrics.auth_gated.fetch_add(1, Relaxed);
                            if !b.gate_logged {
                                b.gate_logged = true;
                                let left = b.cooldown_until.map(|t| t - now).unwrap_or_default();
                                warn!(room = %room_id, provider = %creds.provider, cooldown_left_s = left.as_secs(), "Open refused: these credentials were rejected and the room is cooling down (logged once per cooldown).");
                            }
                            return Ok(Outcome::Gated);
                        }
                    }
                }
                if let Some(r) = self.rooms.get_mut(&room_id) {
                    r.refcount += 1;
                    if r.creds.fingerprint() != creds.fingerprint() {
                        // New credentials for a live room: use them from the next (re)open.
                        r.creds = creds;
                    }
                    info!(room = %room_id, refcount = r.refcount, "User {room_id} already exists; reference added.");
                    return Ok(Outcome::Referenced);
                }
                self.insert_and_queue(room_id, creds, 1, now);
                self.metrics.opens.fetch_add(1, Relaxed);
                Ok(Outcome::Opened)
            }
            RoomCommand::Close { room_id } => {
                self.metrics.closes.fetch_add(1, Relaxed);
                match self.rooms.get_mut(&room_id) {
                    Some(r) if r.refcount > 1 => {
                        r.refcount -= 1;
                        Ok(Outcome::Released)
                    }
                    Some(_) => {
                        self.remove(&room_id);
                        if let Some(b) = self.breakers.get_mut(&room_id) {
                            b.heal = None;
                        }
                        info!(room = %room_id, "Room closed.");
                        Ok(Outcome::Closed)
                    }
                    None => {
                        // Seed §7.1: cancel any self-heal, forget the liveness entry.
                        if let Some(b) = self.breakers.get_mut(&room_id) {
                            b.heal = None;
                        }
                        let _ = self.publish.send(PublisherCommand::ForgetRoom {
                            room_id: room_id.clone(),
                        });
                        info!(room = %room_id, "Room {room_id} has no subscribers.");
                        Ok(Outcome::NoSubscribers)
                    }
                }
            }
            RoomCommand::Restart { room_id } => {
                let pause = Duration::from_millis(self.cfg.core.users.restart_pause_ms);
                let Some(r) = self.rooms.get_mut(&room_id) else {
                    return Ok(Outcome::UnknownRoom);
                };
                if matches!(r.phase, Phase::Restarting(_) | Phase::Queued) {
                    info!(room = %room_id, "Restart requested while one is under way; coalesced.");
                    return Ok(Outcome::AlreadyRestarting);
                }
                let shard = r.shard;
                r.phase = Phase::Restarting(now + pause);
                let _ = self.shards[shard].send(ShardCommand::CloseUser(room_id.clone()));
                self.metrics.restarts.fetch_add(1, Relaxed);
                info!(room = %room_id, "Room restarting.");
                Ok(Outcome::Restarting)
            }
        }
    }

    fn insert_and_queue(
        &mut self,
        room_id: String,
        creds: Credentials,
        refcount: u32,
        now: Instant,
    ) {
        let shard = room_shard(&room_id, self.shards.len());
        let tag = Arc::new(RoomTag {
            room_id: room_id.clone(),
            user_id: creds.user_id.clone(),
            provider: creds.provider,
        });
        let family = creds.provider.exchange();
        self.rooms.insert(
            room_id.clone(),
            Room {
                creds,
                tag,
                refcount,
                shard,
                phase: Phase::Queued,
                opened_ms: 0,
            },
        );
        self.queues
            .entry(family)
            .or_insert_with(|| (VecDeque::new(), now))
            .0
            .push_back(room_id);
    }

    fn remove(&mut self, room_id: &str) -> Option<Room> {
        let r = self.rooms.remove(room_id)?;
        if r.phase == Phase::Running {
            let _ = self.shards[r.shard].send(ShardCommand::CloseUser(room_id.to_owned()));
        }
        let _ = self.publish.send(PublisherCommand::ForgetRoom {
            room_id: room_id.to_owned(),
        });
        self.flaps.remove(room_id);
        Some(r)
    }

    fn pace(&self, family: Exchange) -> Duration {
        let u = &self.cfg.core.users;
        Duration::from_millis(match family {
            Exchange::Binance => u.pace_binance_ms,
            Exchange::Okx => u.pace_okx_ms,
            _ => 0,
        })
    }

    fn spec(&self, r: &Room) -> UserSpec {
        let u = &self.cfg.core.users;
        let p = r.creds.provider;
        UserSpec {
            room: r.tag.clone(),
            creds: r.creds.clone(),
            ws: self.cfg.user_ws(p, r.creds.okx_source.as_deref()),
            rest: self.cfg.rest_base(p),
            tuning: UserTuning {
                connect_timeout: Duration::from_millis(self.cfg.core.socket.connect_timeout_ms),
                backoff_base: Duration::from_millis(u.backoff_base_ms),
                backoff_cap: Duration::from_millis(u.backoff_cap_ms.max(u.backoff_base_ms)),
                subscribe_timeout: Duration::from_millis(u.subscribe_timeout_ms),
                listen_key_keepalive: Duration::from_secs(u.listen_key_keepalive_s),
                okx_positions: u.okx_positions,
                read_buffer: self.cfg.core.socket.user_read_buffer_kib << 10,
                ..UserTuning::default()
            },
        }
    }

    /// Timers: paced opens, restarts, self-heals. Call every few tens of ms.
    pub fn tick(&mut self) {
        self.tick_at(Instant::now())
    }

    /// Whether a timer of the registry is due soon: opens waiting for their pace or restarts
    /// in their pause. The control loop ticks fast only then (an idle registry with 50,000
    /// rooms is not scanned 50 times a second).
    pub fn busy(&self) -> bool {
        self.queues.values().any(|(q, _)| !q.is_empty())
            || self
                .rooms
                .values()
                .any(|r| matches!(r.phase, Phase::Restarting(_)))
    }

    pub fn tick_at(&mut self, now: Instant) {
        // Restarts whose pause ended go back to their family's queue.
        let due: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, r)| matches!(r.phase, Phase::Restarting(t) if t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let r = self.rooms.get_mut(&id).expect("listed above");
            r.phase = Phase::Queued;
            let family = r.creds.provider.exchange();
            self.queues
                .entry(family)
                .or_insert_with(|| (VecDeque::new(), now))
                .0
                .push_back(id);
        }
        // Self-heal: one re-open after the cooldown.
        let heal: Vec<(String, Credentials, u32)> = self
            .breakers
            .iter_mut()
            .filter_map(|(id, b)| match &b.heal {
                Some((t, _, _)) if *t <= now => b.heal.take().map(|(_, c, n)| (id.clone(), c, n)),
                _ => None,
            })
            .collect();
        for (id, creds, n) in heal {
            if !self.rooms.contains_key(&id) {
                info!(room = %id, provider = %creds.provider, "Auth cooldown over; re-opening the room once.");
                self.metrics.self_heals.fetch_add(1, Relaxed);
                if let Some(b) = self.breakers.get_mut(&id) {
                    b.gate_logged = false;
                }
                self.insert_and_queue(id, creds, n.max(1), now);
            }
        }
        // Paced opens, serialized per family.
        let families: Vec<Exchange> = self.queues.keys().copied().collect();
        for f in families {
            let pace = self.pace(f);
            loop {
                let (q, next) = self.queues.get_mut(&f).expect("key listed");
                if *next > now {
                    break;
                }
                let Some(id) = q.pop_front() else { break };
                let Some(r) = self.rooms.get(&id) else {
                    continue;
                };
                if r.phase != Phase::Queued {
                    continue;
                }
                *next = now + pace;
                let spec = self.spec(r);
                let shard = r.shard;
                let r = self.rooms.get_mut(&id).expect("present");
                r.phase = Phase::Running;
                r.opened_ms = now_ms();
                let _ = self.shards[shard].send(ShardCommand::OpenUser(Box::new(spec)));
            }
        }
    }

    /// A session's report.
    pub fn report(&mut self, rep: UserReport) {
        self.report_at(rep, Instant::now())
    }

    pub fn report_at(&mut self, rep: UserReport, now: Instant) {
        let id = rep.room_id;
        let Some(room) = self.rooms.get(&id) else {
            return; // a late report of a closed room
        };
        let tag = room.tag.clone();
        let u = self.cfg.core.users.clone();
        match rep.kind {
            ReportKind::Subscribed { .. } => {}
            ReportKind::Genuine => {
                let b = self.breakers.entry(id.clone()).or_default();
                b.strikes.clear();
                b.consecutive = 0;
                if b.rejected {
                    b.rejected = false;
                    self.metrics.auth_recovered.fetch_add(1, Relaxed);
                    info!(room = %id, provider = %tag.provider, "Account events flow again after an auth rejection.");
                    self.service_log(serde_json::json!({
                        "userStreamAuthRecovered": {"exchangeUUID": id}
                    }));
                }
            }
            ReportKind::Reconnecting { .. } => {
                let suppressed = self
                    .breakers
                    .get(&id)
                    .is_some_and(|b| !b.strikes.is_empty() || b.rejected);
                let window = Duration::from_millis(u.flap_window_ms);
                let f = self.flaps.entry(id.clone()).or_default();
                f.push_back(now);
                while f.front().is_some_and(|t| now.duration_since(*t) > window) {
                    f.pop_front();
                }
                if f.len() as u32 >= u.flap_threshold {
                    let n = f.len();
                    f.clear();
                    if !suppressed {
                        self.metrics.flaps.fetch_add(1, Relaxed);
                        warn!(room = %id, provider = %tag.provider, reconnects = n, "User stream is flapping.");
                        self.service_log(serde_json::json!({
                            "userStreamFlap": {"exchange": tag.provider.as_str(), "userId": id,
                                "reconnects": n, "windowSec": u.flap_window_ms / 1000}
                        }));
                    }
                }
            }
            ReportKind::AuthStrike { reason, .. } => {
                self.metrics.auth_strikes.fetch_add(1, Relaxed);
                let window = Duration::from_millis(u.auth_window_ms);
                let b = self.breakers.entry(id.clone()).or_default();
                b.strikes.push_back(now);
                while b
                    .strikes
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > window)
                {
                    b.strikes.pop_front();
                }
                if b.strikes.len() as u32 >= u.auth_strikes {
                    self.trip(&id, &reason, false, now);
                }
            }
            ReportKind::AuthReject {
                reason, legacy_key, ..
            } => {
                self.metrics.auth_strikes.fetch_add(1, Relaxed);
                self.trip(&id, &reason, legacy_key, now);
            }
        }
    }

    /// The breaker trips: close the room, cool down (escalating), report once, heal later.
    fn trip(&mut self, id: &str, reason: &str, legacy_key: bool, now: Instant) {
        let Some(room) = self.remove(id) else { return };
        let u = &self.cfg.core.users;
        let b = self.breakers.entry(id.to_owned()).or_default();
        // Consecutive only if within 2× the previous cooldown of the previous trip.
        b.consecutive = match b.last_trip {
            Some(t) if now.duration_since(t) <= b.last_cooldown * 2 => b.consecutive + 1,
            _ => 0,
        };
        let base = Duration::from_millis(u.auth_cooldown_ms);
        let cap = Duration::from_millis(u.auth_cooldown_max_ms);
        let cooldown = base
            .checked_mul(1u32 << b.consecutive.min(16))
            .unwrap_or(cap)
            .min(cap);
        b.last_trip = Some(now);
        b.last_cooldown = cooldown;
        b.cooldown_until = Some(now + cooldown);
        b.fingerprint = room.creds.fingerprint();
        b.strikes.clear();
        b.rejected = true;
        b.gate_logged = false;
        b.heal = Some((now + cooldown, room.creds.clone(), room.refcount));
        self.metrics.auth_trips.fetch_add(1, Relaxed);
        warn!(room = %id, provider = %room.tag.provider, cooldown_s = cooldown.as_secs(), consecutive = b.consecutive, %reason,
            "Credentials rejected; room closed and cooling down (one re-open after the cooldown, or at once with new credentials).");
        self.service_log(serde_json::json!({
            "userStreamAuthReject": {
                "exchange": room.tag.provider.as_str(),
                "userId": room.tag.user_id,
                "reason": reason,
                "exchangeUUID": id,
                "kind": if legacy_key { "legacyKey" } else { "authReject" },
            }
        }));
    }

    fn service_log(&self, v: serde_json::Value) {
        let _ = self.publish.send(PublisherCommand::Publish {
            channel: "serviceLog".into(),
            payload: v.to_string(),
        });
    }

    /// Rows for the admin API, merged with the shards' session status.
    pub fn rows(&self, sessions: &[UserStatus]) -> Vec<RoomRow> {
        let by_id: HashMap<&str, &UserStatus> =
            sessions.iter().map(|s| (s.room_id.as_str(), s)).collect();
        let now = Instant::now();
        let wall = now_ms();
        let mut rows: Vec<RoomRow> = self
            .rooms
            .iter()
            .map(|(id, r)| {
                let s = by_id.get(id.as_str());
                let state = match r.phase {
                    Phase::Queued => "queued".to_owned(),
                    Phase::Restarting(_) => "restarting".to_owned(),
                    Phase::Running => s
                        .map(|s| s.state.as_str().to_owned())
                        .unwrap_or_else(|| "starting".into()),
                };
                RoomRow {
                    room_id: id.clone(),
                    user_id: r.tag.user_id.clone(),
                    provider: r.tag.provider.as_str().into(),
                    shard: r.shard,
                    refcount: r.refcount,
                    state,
                    last_event_ms: s.map_or(0, |s| s.last_event_ms),
                    events: s.map_or(0, |s| s.events),
                    reconnects: s.map_or(0, |s| s.reconnects),
                    opened_ms: r.opened_ms,
                    last_error: s.and_then(|s| s.last_error.clone()),
                    cooldown_until_ms: None,
                }
            })
            .collect();
        // Rooms closed by the breaker stay visible while they cool down.
        for (id, b) in &self.breakers {
            if let (Some(t), false) = (b.cooldown_until, self.rooms.contains_key(id)) {
                if t > now {
                    let (provider, user_id) = b
                        .heal
                        .as_ref()
                        .map(|(_, c, _)| (c.provider.as_str().to_owned(), c.user_id.clone()))
                        .unwrap_or_default();
                    rows.push(RoomRow {
                        room_id: id.clone(),
                        user_id,
                        provider,
                        shard: room_shard(id, self.shards.len()),
                        refcount: 0,
                        state: "authCooldown".into(),
                        last_event_ms: 0,
                        events: 0,
                        reconnects: 0,
                        opened_ms: 0,
                        last_error: Some("credentials rejected".into()),
                        cooldown_until_ms: Some(wall + (t - now).as_millis() as u64),
                    });
                }
            }
        }
        rows.sort_by(|a, b| a.room_id.cmp(&b.room_id));
        rows
    }

    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_parse_table() {
        struct TestCase {
            input: &'static str,
            expected: Result<&'static str, RoomError>,
        }
        let cases = [
            TestCase {
                input: r#"{"payload":{"event":"open stream","uuid":"r1","data":{"userId":"u1","api":{"key":"k","secret":"s","provider":"binanceUsdm"}}}}"#,
                expected: Ok("open r1 binanceUsdm"),
            },
            TestCase {
                input: r#"{"payload":{"event":"open stream","data":{"userId":"u1","api":{"key":"k","secret":"s","provider":"okx","passphrase":"p"}}}}"#,
                expected: Ok("open sha1 okx"),
            },
            TestCase {
                input: r#"{"payload":{"event":"open stream","uuid":"r1","data":{"api":{"key":"k","secret":"s","provider":"okx"}}}}"#,
                expected: Err(RoomError::NotEnoughData),
            },
            TestCase {
                input: r#"{"payload":{"event":"open stream","uuid":"r1","data":{"userId":"u","api":{"key":"k","secret":"s","provider":"okx"}}}}"#,
                expected: Err(RoomError::NoPassphrase(Provider::Okx)),
            },
            TestCase {
                input: r#"{"payload":{"event":"open stream","uuid":"r1","data":{"userId":"u","api":{"key":"k","secret":"s","provider":"nope"}}}}"#,
                expected: Err(RoomError::UnknownProvider("nope".into())),
            },
            TestCase {
                input: r#"{"payload":{"event":"open stream","uuid":"r1","data":{"userId":"u","api":{"key":"k","secret":"s","provider":"bybit"}}}}"#,
                expected: Err(RoomError::Unsupported(Provider::Bybit)),
            },
            TestCase {
                input: r#"{"payload":{"event":"close stream","uuid":"r9"}}"#,
                expected: Ok("close r9"),
            },
            TestCase {
                input: r#"{"payload":{"event":"force restart stream","uuid":"r9"}}"#,
                expected: Ok("restart r9"),
            },
            TestCase {
                input: r#"{"payload":{"event":"close stream"}}"#,
                expected: Err(RoomError::NoRoomId),
            },
            TestCase {
                input: r#"{"payload":{"event":"dance","uuid":"r9"}}"#,
                expected: Err(RoomError::UnknownEvent("dance".into())),
            },
        ];
        for c in cases {
            let got = RoomCommand::parse(c.input.as_bytes()).map(|cmd| match cmd {
                RoomCommand::Open { room_id, creds } => format!(
                    "open {} {}",
                    if room_id.len() == 40 {
                        "sha1"
                    } else {
                        &room_id
                    },
                    creds.provider
                ),
                RoomCommand::Close { room_id } => format!("close {room_id}"),
                RoomCommand::Restart { room_id } => format!("restart {room_id}"),
            });
            assert_eq!(
                got.as_deref().map_err(|e| e.clone()),
                c.expected.clone(),
                "{}",
                c.input
            );
        }
        assert!(matches!(
            RoomCommand::parse(b"{not json"),
            Err(RoomError::Malformed(_))
        ));
    }

    struct World {
        rooms: Rooms,
        shard: crossbeam_channel::Receiver<ShardCommand>,
        publish: crossbeam_channel::Receiver<PublisherCommand>,
    }

    fn world(extra: &str) -> World {
        let cfg = crate::config::Config::from_toml(extra, "test.toml", |_| None).unwrap();
        let (stx, srx) = crossbeam_channel::unbounded();
        let (ptx, prx) = crossbeam_channel::unbounded();
        World {
            rooms: Rooms::new(Arc::new(cfg), vec![stx], ptx),
            shard: srx,
            publish: prx,
        }
    }

    fn open(room: &str, secret: &str) -> RoomCommand {
        RoomCommand::Open {
            room_id: room.into(),
            creds: Credentials::new("u1", Provider::BinanceUsdm, "key", secret, None),
        }
    }

    fn shard_cmds(w: &World) -> Vec<String> {
        w.shard
            .try_iter()
            .map(|c| match c {
                ShardCommand::OpenUser(s) => format!("open {}", s.room.room_id),
                ShardCommand::CloseUser(r) => format!("close {r}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn notices(w: &World) -> Vec<serde_json::Value> {
        w.publish
            .try_iter()
            .filter_map(|c| match c {
                PublisherCommand::Publish { payload, .. } => serde_json::from_str(&payload).ok(),
                _ => None,
            })
            .collect()
    }

    fn strike(w: &mut World, room: &str, at: Instant) {
        w.rooms.report_at(
            UserReport {
                room_id: room.into(),
                kind: ReportKind::AuthStrike {
                    code: -2015,
                    reason: "Invalid API-key".into(),
                },
            },
            at,
        );
    }

    #[test]
    fn refcounts_paced_opens_and_non_overlapping_restarts() {
        let mut w = world("[users]\npace_binance_ms = 1000\nrestart_pause_ms = 250\n");
        let t0 = Instant::now();
        assert_eq!(w.rooms.command_at(open("a", "s"), t0), Ok(Outcome::Opened));
        assert_eq!(
            w.rooms.command_at(open("a", "s"), t0),
            Ok(Outcome::Referenced)
        );
        assert_eq!(w.rooms.command_at(open("b", "s"), t0), Ok(Outcome::Opened));
        w.rooms.tick_at(t0);
        // One open per family per pace interval.
        assert_eq!(shard_cmds(&w), vec!["open a"]);
        w.rooms.tick_at(t0 + Duration::from_millis(999));
        assert!(shard_cmds(&w).is_empty());
        w.rooms.tick_at(t0 + Duration::from_millis(1000));
        assert_eq!(shard_cmds(&w), vec!["open b"]);
        // Restart: close, pause, paced re-open; a second restart meanwhile is coalesced.
        let t1 = t0 + Duration::from_secs(5);
        let restart = || RoomCommand::Restart {
            room_id: "a".into(),
        };
        assert_eq!(w.rooms.command_at(restart(), t1), Ok(Outcome::Restarting));
        assert_eq!(
            w.rooms.command_at(restart(), t1),
            Ok(Outcome::AlreadyRestarting)
        );
        assert_eq!(shard_cmds(&w), vec!["close a"]);
        w.rooms.tick_at(t1 + Duration::from_millis(100));
        assert!(
            shard_cmds(&w).is_empty(),
            "no re-open before the pause ends"
        );
        w.rooms.tick_at(t1 + Duration::from_millis(250));
        assert_eq!(shard_cmds(&w), vec!["open a"]);
        // Two references: the first close releases, the second closes.
        let close = || RoomCommand::Close {
            room_id: "a".into(),
        };
        assert_eq!(w.rooms.command_at(close(), t1), Ok(Outcome::Released));
        assert_eq!(w.rooms.command_at(close(), t1), Ok(Outcome::Closed));
        assert_eq!(shard_cmds(&w), vec!["close a"]);
        assert_eq!(w.rooms.command_at(close(), t1), Ok(Outcome::NoSubscribers));
        assert!(w
            .publish
            .try_iter()
            .any(|c| matches!(c, PublisherCommand::ForgetRoom { room_id } if room_id == "a")));
    }

    #[test]
    fn breaker_ladder_gate_new_key_and_recovery() {
        let mut w = world("[users]\npace_binance_ms = 0\n");
        let min = Duration::from_secs(60);
        let t0 = Instant::now();
        w.rooms.command_at(open("r", "bad"), t0).unwrap();
        w.rooms.tick_at(t0);
        shard_cmds(&w);
        // Two strikes do not trip; strikes older than the window do not count.
        strike(&mut w, "r", t0);
        strike(&mut w, "r", t0 + 11 * min);
        strike(&mut w, "r", t0 + 12 * min);
        assert!(
            shard_cmds(&w).is_empty(),
            "2 strikes in the window: still open"
        );
        strike(&mut w, "r", t0 + 13 * min);
        assert_eq!(shard_cmds(&w), vec!["close r"]);
        let n = notices(&w);
        assert_eq!(n.len(), 1, "reported once: {n:?}");
        assert_eq!(n[0]["userStreamAuthReject"]["exchangeUUID"], "r");
        assert_eq!(n[0]["userStreamAuthReject"]["kind"], "authReject");
        // Gated with the same credentials, once logged; not with new ones.
        let t1 = t0 + 14 * min;
        assert_eq!(w.rooms.command_at(open("r", "bad"), t1), Ok(Outcome::Gated));
        assert_eq!(
            w.rooms.command_at(open("r", " b a d "), t1),
            Ok(Outcome::Gated),
            "whitespace does not change the fingerprint"
        );
        // The cooldown ends after 30 min: one self-heal re-open.
        w.rooms.tick_at(t0 + 13 * min + 29 * min);
        assert!(shard_cmds(&w).is_empty());
        let heal = t0 + 13 * min + 30 * min;
        w.rooms.tick_at(heal);
        assert_eq!(shard_cmds(&w), vec!["open r"]);
        // Rejected again within 2× the cooldown: consecutive, 60 min.
        let t2 = heal + min;
        w.rooms.report_at(
            UserReport {
                room_id: "r".into(),
                kind: ReportKind::AuthReject {
                    code: 0,
                    reason: "x".into(),
                    legacy_key: false,
                },
            },
            t2,
        );
        assert_eq!(shard_cmds(&w), vec!["close r"]);
        w.rooms.tick_at(t2 + 59 * min);
        assert!(shard_cmds(&w).is_empty(), "second cooldown is 60 min");
        w.rooms.tick_at(t2 + 60 * min);
        assert_eq!(shard_cmds(&w), vec!["open r"]);
        // The ladder is capped at 24 h.
        let mut t = t2 + 60 * min;
        for _ in 0..8 {
            t += min;
            w.rooms.report_at(
                UserReport {
                    room_id: "r".into(),
                    kind: ReportKind::AuthReject {
                        code: 0,
                        reason: "x".into(),
                        legacy_key: false,
                    },
                },
                t,
            );
            let b = &w.rooms.breakers["r"];
            assert!(b.last_cooldown <= Duration::from_secs(86_400));
            t += b.last_cooldown;
            w.rooms.tick_at(t);
        }
        assert_eq!(
            w.rooms.breakers["r"].last_cooldown,
            Duration::from_secs(86_400)
        );
        shard_cmds(&w);
        notices(&w);
        // A close cancels the pending self-heal (no orphan timer re-opens deleted credentials).
        w.rooms.report_at(
            UserReport {
                room_id: "r".into(),
                kind: ReportKind::AuthReject {
                    code: 0,
                    reason: "x".into(),
                    legacy_key: false,
                },
            },
            t,
        );
        w.rooms
            .command_at(
                RoomCommand::Close {
                    room_id: "r".into(),
                },
                t,
            )
            .unwrap();
        w.rooms.tick_at(t + Duration::from_secs(2 * 86_400));
        assert_eq!(
            shard_cmds(&w),
            vec!["close r"],
            "no re-open after the close"
        );
        // New credentials lift the gate at once; a genuine event reports the recovery and
        // resets the ladder.
        notices(&w);
        let t3 = t + Duration::from_secs(10);
        assert_eq!(
            w.rooms.command_at(open("r", "good"), t3),
            Ok(Outcome::Opened)
        );
        w.rooms.tick_at(t3);
        assert_eq!(shard_cmds(&w), vec!["open r"]);
        w.rooms.report_at(
            UserReport {
                room_id: "r".into(),
                kind: ReportKind::Genuine,
            },
            t3,
        );
        let n = notices(&w);
        assert_eq!(
            n,
            vec![serde_json::json!({"userStreamAuthRecovered": {"exchangeUUID": "r"}})]
        );
        assert_eq!(w.rooms.breakers["r"].consecutive, 0);
    }

    #[test]
    fn flaps_are_reported_once_per_threshold_and_not_while_auth_fails() {
        let mut w = world("[users]\npace_binance_ms = 0\n");
        let t0 = Instant::now();
        w.rooms.command_at(open("f", "s"), t0).unwrap();
        w.rooms.tick_at(t0);
        let rec = |w: &mut World, at: Instant| {
            w.rooms.report_at(
                UserReport {
                    room_id: "f".into(),
                    kind: ReportKind::Reconnecting { why: "x" },
                },
                at,
            )
        };
        for i in 0..3 {
            rec(&mut w, t0 + Duration::from_secs(i));
        }
        assert!(notices(&w).is_empty());
        rec(&mut w, t0 + Duration::from_secs(4));
        let n = notices(&w);
        assert_eq!(n.len(), 1);
        assert_eq!(
            n[0]["userStreamFlap"],
            serde_json::json!({"exchange":"binanceUsdm","userId":"f","reconnects":4,"windowSec":600})
        );
        // With a pending auth strike, flaps are not reported.
        strike(&mut w, "f", t0 + Duration::from_secs(5));
        for i in 0..4 {
            rec(&mut w, t0 + Duration::from_secs(6 + i));
        }
        assert!(notices(&w).is_empty());
    }

    #[test]
    fn errors_never_echo_secrets() {
        let body = br#"{"payload":{"event":"open stream","uuid":"r1","data":{"userId":"u","api":{"key":"SECRETKEY123","secret":"SECRETSECRET","provider":42}}}}"#;
        let e = RoomCommand::parse(body).unwrap_err().to_string();
        assert!(!e.contains("SECRET"), "{e}");
    }
}
