//! One price socket's life: governed dial, subscribe (paced), read → decode → ring, keepalive,
//! silence detection, re-dial with backoff. The same loop serves every exchange; venue specifics
//! come from [`Venue`]. Imports crate::{event, exchanges, ring, session, stats, ws}.

use super::backoff::Backoff;
use super::governor::Governor;
use super::pacer::Pacer;
use super::{interval_ms, SocketKey, SocketSpec, StallAction, Topic, Venue};
use crate::event::{now_ms, now_ns, Envelope, Event};
use crate::exchanges::{self, DecodeCtx, FrameKind, Scratch};
use crate::ring::RingTx;
use crate::stats::{bump, Local, SocketState, SocketStatus};
use crate::ws::{self, WsUrl};
use async_tungstenite::tungstenite::Message;
use futures_util::future::{select, Either};
use futures_util::{SinkExt, StreamExt};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// Commands a shard sends to one of its sockets.
#[derive(Debug)]
pub enum SocketCmd {
    AddTopics(Vec<Topic>),
    RemoveTopics(Vec<Topic>),
    /// Once a second: keepalive, silence and lifetime checks, paced sends.
    Tick,
    Close,
}

/// Tunables shared by every socket of a shard.
#[derive(Clone, Debug)]
pub struct SocketTuning {
    pub connect_timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A connection open this long counts as healthy and resets the backoff.
    pub healthy_after: Duration,
    /// Per-exchange keepalive overrides (config `[keepalive.<exchange>]`); the venue's policy
    /// otherwise.
    pub keepalive: Vec<(crate::types::Exchange, KeepaliveOverride)>,
    /// A market silent this long while its socket lives is stalled (candles: at least their
    /// interval, at most 1 h). Zero turns the per-market watchdog off.
    pub market_stall: Duration,
    /// WebSocket read buffer, bytes (see [`crate::ws::connect`]).
    pub read_buffer: usize,
}

/// Optional replacements for a venue's keepalive timings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeepaliveOverride {
    pub client_ping_after: Option<Duration>,
    pub dead_after: Option<Duration>,
}

impl SocketTuning {
    /// The venue's keepalive with the configured overrides applied.
    pub fn keepalive(&self, venue: &Venue) -> super::Keepalive {
        let mut k = venue.keepalive();
        if let Some((_, o)) = self.keepalive.iter().find(|(e, _)| *e == venue.exchange()) {
            if let Some(d) = o.dead_after {
                k.dead_after = d;
            }
            if let (Some(p), Some(_)) = (o.client_ping_after, k.client_ping_after) {
                k.client_ping_after = Some(p);
            }
        }
        k
    }
}

impl Default for SocketTuning {
    fn default() -> Self {
        SocketTuning {
            connect_timeout: Duration::from_secs(15),
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(60),
            healthy_after: Duration::from_secs(30),
            keepalive: Vec::new(),
            market_stall: Duration::from_secs(300),
            read_buffer: 32 << 10,
        }
    }
}

/// What the sockets of one shard share (all single-threaded, on the shard's executor).
pub struct ShardCtx {
    pub shard: u16,
    pub ring: RefCell<RingTx>,
    pub governor: Arc<Governor>,
    pub local: Local,
    pub status: RefCell<HashMap<SocketKey, SocketStatus>>,
    pub tuning: SocketTuning,
    /// Events were pushed since the publisher was last woken.
    pub wake_pending: std::cell::Cell<bool>,
    /// User-stream sessions: their ring, counters and status by room id.
    pub user_ring: RefCell<crate::ring::UserRingTx>,
    pub user_counts: UserCounts,
    pub users: RefCell<HashMap<String, crate::stats::UserStatus>>,
    /// Reports to the control plane (user-stream auth, market stalls).
    pub reports: crossbeam_channel::Sender<super::ShardReport>,
}

/// Shard-local user-stream counters (flushed with the others).
#[derive(Default)]
pub struct UserCounts {
    pub events: std::cell::Cell<u64>,
    pub ring_full_waits: std::cell::Cell<u64>,
}

enum Exit {
    Closed,
    Redial(&'static str),
}

/// Runs a socket until it is told to close.
pub async fn run(
    spec: SocketSpec,
    ctx: Rc<ShardCtx>,
    mut cmds: futures_channel::mpsc::UnboundedReceiver<SocketCmd>,
) {
    let key = spec.key;
    let venue = Venue::new(key.provider);
    let keepalive = ctx.tuning.keepalive(&venue);
    let limits = venue.limits(key.kind);
    let dctx = DecodeCtx {
        provider: key.provider,
    };
    let counts = &ctx.local.per_provider[key.provider as usize];
    let mut topics: Vec<Topic> = Vec::with_capacity(spec.topics.len());
    for t in spec.topics {
        if !topics.contains(&t) {
            topics.push(t);
        }
    }
    let mut backoff = Backoff::new(
        ctx.tuning.backoff_base,
        ctx.tuning.backoff_cap,
        key.stable_hash(),
    );
    let mut scratch = Scratch::default();
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut events: Vec<Event> = Vec::with_capacity(1024);
    let mut next_id: u64 = 0;
    let mut reconnects: u64 = 0;
    let mut markets = Markets::new(&topics, ctx.tuning.market_stall);
    set_status(&ctx, key, |s| {
        s.state = SocketState::Connecting;
        s.topics = topics.len();
    });

    'dial: loop {
        // Pace dials across all shards by the exchange's connection-rate limit.
        let wait = ctx.governor.reserve(venue.exchange());
        if !wait.is_zero() && !sleep_or_cmd(wait, &mut cmds, &mut topics, &ctx, key).await {
            break 'dial;
        }
        let url_text = venue.url(
            &spec.base_url,
            key.kind,
            if venue.topics_in_url() { &topics } else { &[] },
        );
        let url = match WsUrl::parse(&url_text) {
            Ok(u) => u,
            Err(error) => {
                warn!(socket = %key, %error, "Socket URL is invalid; the socket stays down until the config is fixed.");
                set_status(&ctx, key, |s| {
                    s.state = SocketState::Closed;
                    s.last_error = Some(error.to_string());
                });
                // Wait for a close command instead of spinning.
                while let Some(cmd) = cmds.next().await {
                    if matches!(cmd, SocketCmd::Close) {
                        break;
                    }
                }
                break 'dial;
            }
        };
        set_status(&ctx, key, |s| s.state = SocketState::Connecting);
        let mut wsock = match Box::pin(ws::connect(
            &url,
            ctx.tuning.connect_timeout,
            ctx.tuning.read_buffer,
        ))
        .await
        {
            Ok((w, _)) => w,
            Err(error) => {
                let delay = match error.retry_after_s() {
                    // The venue said when to come back (429/418 Retry-After): honour it, for
                    // every socket of this exchange (the governor holds their dials too).
                    Some(s) => {
                        ctx.governor.hold(venue.exchange(), Duration::from_secs(s));
                        Duration::from_secs(s).max(backoff.next_delay())
                    }
                    None => backoff.next_delay(),
                };
                warn!(socket = %key, shard = ctx.shard, %error, retry_in_ms = delay.as_millis() as u64, "Socket connect failed; retrying after backoff.");
                set_status(&ctx, key, |s| {
                    s.state = SocketState::Backoff;
                    s.last_error = Some(error.to_string());
                });
                bump(&counts.connect_failures, 1);
                if !sleep_or_cmd(delay, &mut cmds, &mut topics, &ctx, key).await {
                    break 'dial;
                }
                continue 'dial;
            }
        };
        let opened = Instant::now();
        info!(socket = %key, shard = ctx.shard, path = url.path_for_log(), topics = topics.len(), "Socket open.");
        set_status(&ctx, key, |s| {
            s.state = SocketState::Open;
            s.opened_ms = now_ms();
            s.topics = topics.len();
            s.last_error = None;
        });
        counts.open_delta.set(counts.open_delta.get() + 1);

        let mut outbox: VecDeque<String> = VecDeque::new();
        if !venue.topics_in_url() {
            let mut reqs = Vec::new();
            venue.subscribe(&topics, &mut next_id, &mut reqs);
            outbox.extend(reqs);
        }
        let mut pacer = Pacer::new(limits.requests_burst, limits.requests_per_sec);
        // Every market gets a full stall period after (re)subscribing.
        markets.restart_clocks(now_ns());
        let mut last_rx = Instant::now();
        let mut clock = FrameClock::new();
        let mut ping_sent = false;
        let mut healthy = false;
        let mut last_touch_ns: u64 = 0;

        let exit = 'conn: loop {
            // Send what the pacer allows before waiting again.
            while !outbox.is_empty() && pacer.try_take(Instant::now()) {
                let req = outbox.pop_front().unwrap_or_default();
                if let Err(error) = wsock.send(Message::text(req)).await {
                    warn!(socket = %key, %error, "Subscribe send failed; re-dialling.");
                    break 'conn Exit::Redial("send failed");
                }
            }
            // A busy socket always has a frame ready and would never yield: give the shard's
            // control loop and sibling sockets their turn once the time slice is used up.
            glommio::yield_if_needed().await;
            // Wake the publisher only when this socket has nothing more to read right now: a
            // burst of frames costs one wake-up, a lone frame still wakes it at once.
            let step = {
                let mut fut = select(cmds.next(), wsock.next());
                match futures_util::FutureExt::now_or_never(&mut fut) {
                    Some(step) => step,
                    None => {
                        if ctx.wake_pending.replace(false) {
                            ctx.ring.borrow().wake();
                        }
                        fut.await
                    }
                }
            };
            match step {
                Either::Left((cmd, _)) => match cmd {
                    None | Some(SocketCmd::Close) => {
                        let _ = wsock.close(None).await;
                        break 'conn Exit::Closed;
                    }
                    Some(SocketCmd::AddTopics(new)) => {
                        let new: Vec<Topic> =
                            new.into_iter().filter(|t| !topics.contains(t)).collect();
                        if !new.is_empty() {
                            topics.extend_from_slice(&new);
                            markets.sync(&topics, now_ns());
                            let mut reqs = Vec::new();
                            venue.subscribe(&new, &mut next_id, &mut reqs);
                            outbox.extend(reqs);
                            set_status(&ctx, key, |s| s.topics = topics.len());
                        }
                    }
                    Some(SocketCmd::RemoveTopics(gone)) => {
                        let gone: Vec<Topic> =
                            gone.into_iter().filter(|t| topics.contains(t)).collect();
                        if !gone.is_empty() {
                            topics.retain(|t| !gone.contains(t));
                            markets.sync(&topics, now_ns());
                            let mut reqs = Vec::new();
                            venue.unsubscribe(&gone, &mut next_id, &mut reqs);
                            outbox.extend(reqs);
                            set_status(&ctx, key, |s| s.topics = topics.len());
                        }
                    }
                    Some(SocketCmd::Tick) => {
                        let now = Instant::now();
                        clock.reanchor();
                        let idle = now.saturating_duration_since(last_rx);
                        if idle >= keepalive.dead_after {
                            warn!(socket = %key, shard = ctx.shard, idle_s = idle.as_secs(), "Socket silent past its keepalive limit; re-dialling.");
                            break 'conn Exit::Redial("silent");
                        }
                        if let Some(after) = keepalive.client_ping_after {
                            if idle >= after && !ping_sent {
                                ping_sent = true;
                                if let Err(error) =
                                    wsock.send(Message::text(keepalive.ping_text)).await
                                {
                                    warn!(socket = %key, %error, "Keepalive ping failed; re-dialling.");
                                    break 'conn Exit::Redial("ping failed");
                                }
                            }
                        }
                        if now.saturating_duration_since(opened) >= keepalive.max_lifetime {
                            info!(socket = %key, "Socket reached its planned lifetime; re-dialling.");
                            break 'conn Exit::Redial("lifetime");
                        }
                        if !healthy
                            && now.saturating_duration_since(opened) >= ctx.tuning.healthy_after
                        {
                            healthy = true;
                            backoff.reset();
                        }
                        // Per-market watchdog: heartbeats never count, only decoded events.
                        let mut redial = false;
                        for (i, stale_s, action) in markets.check(now_ns(), &topics) {
                            let t = topics[i];
                            let (market, kind) = describe(&t);
                            match action {
                                StallAction::Resubscribe => {
                                    warn!(socket = %key, shard = ctx.shard, %market, stale_s, "Market stalled while its socket lives; subscribing it again.");
                                    let mut reqs = Vec::new();
                                    venue.unsubscribe(&[t], &mut next_id, &mut reqs);
                                    venue.subscribe(&[t], &mut next_id, &mut reqs);
                                    outbox.extend(reqs);
                                }
                                StallAction::Redial => {
                                    warn!(socket = %key, shard = ctx.shard, %market, stale_s, "Market stalled again after a resubscribe; re-dialling the socket.");
                                    redial = true;
                                }
                                StallAction::GaveUp => {
                                    tracing::error!(socket = %key, shard = ctx.shard, %market, stale_s, "Market still stalled after a new socket; giving up on automatic repair (counted in corefeed_market_stalls_total, action gave_up). Check the venue's status for this market.");
                                }
                            }
                            let _ =
                                ctx.reports
                                    .send(super::ShardReport::Stall(super::StallReport {
                                        socket: key,
                                        market,
                                        kind,
                                        stale_s,
                                        action,
                                    }));
                        }
                        let stalled = markets.stalled();
                        set_status(&ctx, key, |s| s.stalled_markets = stalled);
                        if redial {
                            break 'conn Exit::Redial("market stall");
                        }
                    }
                },
                Either::Right((msg, _)) => {
                    // One clock read per frame: the monotonic instant, and the wall clock
                    // derived from it.
                    let rx = Instant::now();
                    let recv_ns = clock.epoch_ns(rx);
                    match msg {
                        Some(Ok(Message::Text(text))) => {
                            last_rx = rx;
                            ping_sent = false;
                            bump(&counts.frames, 1);
                            bump(&counts.bytes, text.len() as u64);
                            events.clear();
                            // Fast path on the frame as received; `buf` takes a copy only
                            // for frames the simd-json fallback has to parse in place.
                            match exchanges::decode_text(
                                &dctx,
                                text.as_bytes(),
                                &mut buf,
                                &mut scratch,
                                &mut events,
                            ) {
                                Ok(d) => match d.kind {
                                    FrameKind::Data { .. } => {
                                        let n = events.len() as u64;
                                        bump(&counts.events, n);
                                        if n > 0 {
                                            push_events(&ctx, &events, recv_ns, d.sent_ns).await;
                                            markets.saw(&events, recv_ns);
                                            // The status map is for /ready: 100 ms resolution is
                                            // plenty and keeps a hash lookup off every frame.
                                            if recv_ns.saturating_sub(last_touch_ns) >= 100_000_000
                                            {
                                                last_touch_ns = recv_ns;
                                                touch_data(&ctx, key);
                                            }
                                        }
                                    }
                                    FrameKind::SubscribeAck { .. } => bump(&counts.acks, 1),
                                    FrameKind::Pong => bump(&counts.pongs, 1),
                                    FrameKind::VenueError { code } => {
                                        bump(&counts.venue_errors, 1);
                                        warn!(socket = %key, code, "Venue answered a request with an error; check the subscription.");
                                    }
                                    FrameKind::Ignored => bump(&counts.ignored, 1),
                                },
                                Err(error) => {
                                    bump(&counts.decode_errors, 1);
                                    // Rate-limited: at most one line per socket per 10 s.
                                    rate_limited_warn(&ctx, key, &error);
                                }
                            }
                        }
                        Some(Ok(Message::Binary(b))) => {
                            last_rx = Instant::now();
                            bump(&counts.frames, 1);
                            bump(&counts.bytes, b.len() as u64);
                            bump(&counts.decode_errors, 1);
                            debug!(socket = %key, "Binary frame on a text protocol; counted and skipped.");
                        }
                        Some(Ok(Message::Ping(_)))
                        | Some(Ok(Message::Pong(_)))
                        | Some(Ok(Message::Frame(_))) => {
                            // The WebSocket layer queues the pong; flushing sends it now.
                            last_rx = Instant::now();
                            let _ = wsock.flush().await;
                        }
                        Some(Ok(Message::Close(frame))) => {
                            let why = frame
                                .as_ref()
                                .map(|f| f.reason.to_string())
                                .unwrap_or_default();
                            warn!(socket = %key, shard = ctx.shard, reason = %why, "Venue closed the socket; reconnecting.");
                            break 'conn Exit::Redial("closed by venue");
                        }
                        Some(Err(error)) => {
                            warn!(socket = %key, shard = ctx.shard, %error, "Socket error; reconnecting.");
                            break 'conn Exit::Redial("socket error");
                        }
                        None => {
                            warn!(socket = %key, shard = ctx.shard, "Socket ended; reconnecting.");
                            break 'conn Exit::Redial("socket ended");
                        }
                    }
                }
            }
        };
        counts.open_delta.set(counts.open_delta.get() - 1);
        // Drop (and so close) the connection before anything else: never keep a half-dead one.
        drop(wsock);
        match exit {
            Exit::Closed => break 'dial,
            Exit::Redial(why) => {
                reconnects += 1;
                bump(&counts.reconnects, 1);
                let delay = if why == "lifetime" {
                    Duration::ZERO
                } else {
                    backoff.next_delay()
                };
                set_status(&ctx, key, |s| {
                    s.state = SocketState::Backoff;
                    s.reconnects = reconnects;
                    s.last_error = Some(why.to_owned());
                });
                if !delay.is_zero() && !sleep_or_cmd(delay, &mut cmds, &mut topics, &ctx, key).await
                {
                    break 'dial;
                }
            }
        }
    }
    set_status(&ctx, key, |s| s.state = SocketState::Closed);
    ctx.status.borrow_mut().remove(&key);
    info!(socket = %key, shard = ctx.shard, "Socket closed.");
}

/// Pushes decoded events into the ring; waits (back-pressure) while it is full.
async fn push_events(ctx: &ShardCtx, events: &[Event], recv_ns: u64, sent_ns: u64) {
    let ring_ns = if sent_ns != 0 { now_ns() } else { 0 };
    for ev in events {
        let mut env = Envelope {
            event: *ev,
            recv_ns,
            sent_ns,
            ring_ns,
            shard: ctx.shard,
        };
        loop {
            let r = ctx.ring.borrow_mut().try_push(env);
            match r {
                Ok(()) => break,
                Err(back) => {
                    env = back;
                    ctx.ring.borrow().wake();
                    bump(
                        &ctx.local.per_provider[ev.provider() as usize].ring_full_waits,
                        1,
                    );
                    wait_for_room(ctx).await;
                }
            }
        }
    }
    ctx.wake_pending.set(true);
}

/// Back-pressure: the ring is full, so wait until the publisher has drained a quarter of it.
/// Hysteresis keeps a shard that outpaces its sinks from waking per freed slot (a 200 µs poll
/// cost a third of a core in timer wake-ups at 14 k events/s); the ring still holds thousands
/// of events, so the publisher never runs dry while the shard sleeps.
async fn wait_for_room(ctx: &ShardCtx) {
    let want = (ctx.ring.borrow().capacity() / 4).max(1);
    loop {
        glommio::timer::sleep(Duration::from_millis(1)).await;
        let ring = ctx.ring.borrow();
        if ring.free_slots() >= want {
            return;
        }
        ring.wake();
    }
}

/// Sleeps `d` while still obeying commands; returns false when the socket was told to close.
async fn sleep_or_cmd(
    d: Duration,
    cmds: &mut futures_channel::mpsc::UnboundedReceiver<SocketCmd>,
    topics: &mut Vec<Topic>,
    ctx: &ShardCtx,
    key: SocketKey,
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
            Either::Left((None | Some(SocketCmd::Close), _)) => return false,
            Either::Left((Some(SocketCmd::AddTopics(new)), _)) => {
                for t in new {
                    if !topics.contains(&t) {
                        topics.push(t);
                    }
                }
                set_status(ctx, key, |s| s.topics = topics.len());
            }
            Either::Left((Some(SocketCmd::RemoveTopics(gone)), _)) => {
                topics.retain(|t| !gone.contains(t));
                set_status(ctx, key, |s| s.topics = topics.len());
            }
            Either::Left((Some(SocketCmd::Tick), _)) => {}
        }
    }
}

fn set_status(ctx: &ShardCtx, key: SocketKey, f: impl FnOnce(&mut SocketStatus)) {
    let mut map = ctx.status.borrow_mut();
    let s = map.entry(key).or_insert_with(|| SocketStatus {
        key,
        shard: ctx.shard,
        state: SocketState::Connecting,
        topics: 0,
        last_frame_ms: 0,
        last_data_ms: 0,
        opened_ms: 0,
        reconnects: 0,
        last_error: None,
        stalled_markets: 0,
    });
    f(s);
}

fn touch_data(ctx: &ShardCtx, key: SocketKey) {
    if let Some(s) = ctx.status.borrow_mut().get_mut(&key) {
        let now = now_ms();
        s.last_data_ms = now;
        s.last_frame_ms = now;
    }
}

fn rate_limited_warn(ctx: &ShardCtx, key: SocketKey, error: &crate::error::DecodeError) {
    let now = Instant::now();
    let due = LAST_WARN.with(|m| {
        let mut m = m.borrow_mut();
        match m.get(&key) {
            Some(t) if now.saturating_duration_since(*t) < Duration::from_secs(10) => false,
            _ => {
                m.insert(key, now);
                true
            }
        }
    });
    if due {
        warn!(socket = %key, shard = ctx.shard, reason = error.reason(), %error, "Frame could not be decoded; counted and skipped (this line repeats at most every 10 s per socket).");
    }
}

thread_local! {
    static LAST_WARN: RefCell<HashMap<SocketKey, Instant>> = RefCell::new(HashMap::new());
}

/// `BTCUSDT@1m` / `BTC-USDT` / `all tickers`, and the seed's watchdog kind.
fn describe(t: &Topic) -> (String, &'static str) {
    match t {
        Topic::Candle { symbol, interval } => (format!("{symbol}@{interval}"), "candle"),
        Topic::Ticker { symbol } => (symbol.to_string(), "price"),
        Topic::AllTickers => ("all tickers".into(), "price"),
    }
}

/// Per-market liveness of one socket: when each topic last produced an event, and how far up
/// the stall ladder it is. Index-aligned with the socket's topic list.
struct Markets {
    stall_ns: u64,
    last_ns: Vec<u64>,
    strikes: Vec<u8>,
    /// Candle (symbol, interval) or ticker symbol hash → topic index.
    /// Keys are FNV hashes already: no second hash.
    index: HashMap<u64, usize, BuildHasherDefault<KeyHasher>>,
    all_tickers: Option<usize>,
    /// The last event's key and index: consecutive events of one market skip the lookup.
    last_key: (u64, usize),
}

/// Identity hasher for [`market_key`] values (already FNV-1a).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Wall-clock nanoseconds derived from the monotonic clock, re-anchored on every Tick (1 s) so
/// the stamps follow the system clock: a frame costs one clock read instead of two.
struct FrameClock {
    base: Instant,
    base_ns: u64,
}

impl FrameClock {
    fn new() -> Self {
        FrameClock {
            base: Instant::now(),
            base_ns: now_ns(),
        }
    }

    fn reanchor(&mut self) {
        *self = FrameClock::new();
    }

    #[inline]
    fn epoch_ns(&self, at: Instant) -> u64 {
        self.base_ns + at.saturating_duration_since(self.base).as_nanos() as u64
    }
}

fn market_key(symbol: &str, interval: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in symbol
        .as_bytes()
        .iter()
        .chain(b"@")
        .chain(interval.as_bytes())
    {
        h ^= c as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Markets {
    fn new(topics: &[Topic], stall: Duration) -> Markets {
        let mut m = Markets {
            stall_ns: stall.as_nanos() as u64,
            last_ns: Vec::new(),
            strikes: Vec::new(),
            index: HashMap::default(),
            all_tickers: None,
            last_key: (0, usize::MAX),
        };
        m.sync(topics, now_ns());
        m
    }

    /// Rebuilds the index after the topic list changed (kept markets keep their state).
    fn sync(&mut self, topics: &[Topic], now: u64) {
        let old: HashMap<u64, (u64, u8)> = self
            .index
            .iter()
            .map(|(k, &i)| (*k, (self.last_ns[i], self.strikes[i])))
            .collect();
        self.index.clear();
        self.all_tickers = None;
        self.last_ns = vec![now; topics.len()];
        self.strikes = vec![0; topics.len()];
        self.last_key = (0, usize::MAX);
        for (i, t) in topics.iter().enumerate() {
            let k = match t {
                Topic::Candle { symbol, interval } => {
                    market_key(symbol.as_str(), interval.as_str())
                }
                Topic::Ticker { symbol } => market_key(symbol.as_str(), ""),
                Topic::AllTickers => {
                    self.all_tickers = Some(i);
                    continue;
                }
            };
            if let Some(&(l, s)) = old.get(&k) {
                self.last_ns[i] = l;
                self.strikes[i] = s;
            }
            self.index.insert(k, i);
        }
    }

    fn restart_clocks(&mut self, now: u64) {
        self.last_ns.iter_mut().for_each(|l| *l = now);
    }

    #[inline]
    fn saw(&mut self, events: &[Event], recv_ns: u64) {
        if self.stall_ns == 0 {
            return;
        }
        for ev in events {
            let i = match ev {
                Event::Candle(c) => self.lookup(market_key(c.symbol.as_str(), c.interval.as_str())),
                Event::Ticker(t) => match self.all_tickers {
                    Some(i) => Some(i),
                    None => self.lookup(market_key(t.symbol.as_str(), "")),
                },
            };
            if let Some(i) = i {
                self.last_ns[i] = recv_ns;
                self.strikes[i] = 0;
            }
        }
    }

    #[inline]
    fn lookup(&mut self, k: u64) -> Option<usize> {
        if self.last_key.0 == k && self.last_key.1 != usize::MAX {
            return Some(self.last_key.1);
        }
        let i = *self.index.get(&k)?;
        self.last_key = (k, i);
        Some(i)
    }

    /// Markets stalled now: (topic index, seconds silent, what to do). A stalled market's clock
    /// restarts, so the next step of its ladder comes one stall period later.
    fn check(&mut self, now: u64, topics: &[Topic]) -> Vec<(usize, u64, StallAction)> {
        let mut out = Vec::new();
        if self.stall_ns == 0 {
            return out;
        }
        for (i, t) in topics.iter().enumerate() {
            let limit = match t {
                Topic::Candle { interval, .. } => interval_ms(interval.as_str())
                    .map(|ms| (ms.min(3_600_000) * 1_000_000).max(self.stall_ns))
                    .unwrap_or(self.stall_ns),
                _ => self.stall_ns,
            };
            let silent = now.saturating_sub(self.last_ns[i]);
            if silent < limit || self.strikes[i] >= 3 {
                continue;
            }
            self.strikes[i] += 1;
            self.last_ns[i] = now;
            let action = match self.strikes[i] {
                1 => StallAction::Resubscribe,
                2 => StallAction::Redial,
                _ => StallAction::GaveUp,
            };
            out.push((i, silent / 1_000_000_000, action));
        }
        out
    }

    fn stalled(&self) -> u32 {
        self.strikes.iter().filter(|&&s| s > 0).count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Candle;
    use crate::types::{Decimal, Interval, Provider, Symbol};

    fn candle(sym: &str) -> Event {
        let d = Decimal::new("1").unwrap();
        Event::Candle(Candle {
            provider: Provider::Binance,
            symbol: Symbol::new(sym).unwrap(),
            interval: Interval::new("1m").unwrap(),
            start_ms: 0,
            open: d,
            high: d,
            low: d,
            close: d,
            volume: d,
            closed: false,
            event_time_ms: 0,
        })
    }

    fn topic(sym: &str) -> Topic {
        Topic::Candle {
            symbol: Symbol::new(sym).unwrap(),
            interval: Interval::new("1m").unwrap(),
        }
    }

    #[test]
    fn a_silent_market_climbs_the_ladder_while_its_siblings_flow() {
        const S: u64 = 1_000_000_000;
        let topics = [topic("AAA"), topic("BBB")];
        let mut m = Markets::new(&topics, Duration::from_secs(120));
        let t0 = 1_000 * S;
        m.restart_clocks(t0);
        let mut t = t0;
        let mut actions = Vec::new();
        // BBB keeps flowing every second; AAA never sends. Candles of 1m: limit max(120 s, 60 s).
        for _ in 0..600 {
            t += S;
            m.saw(&[candle("BBB")], t);
            for (i, stale, a) in m.check(t, &topics) {
                actions.push((i, stale, a, (t - t0) / S));
            }
        }
        assert_eq!(
            actions,
            vec![
                (0, 120, StallAction::Resubscribe, 120),
                (0, 120, StallAction::Redial, 240),
                (0, 120, StallAction::GaveUp, 360),
            ],
            "sibling data never hides the dead market; reported once per step, then quiet"
        );
        assert_eq!(m.stalled(), 1);
        // Data returns: the market is live again and its ladder starts over.
        m.saw(&[candle("AAA")], t);
        assert_eq!(m.stalled(), 0);
        // Unknown markets (another socket's) are ignored; an off watchdog never reports.
        m.saw(&[candle("ZZZ")], t);
        let mut off = Markets::new(&topics, Duration::ZERO);
        assert!(off.check(t + 10_000 * S, &topics).is_empty());
    }
}
