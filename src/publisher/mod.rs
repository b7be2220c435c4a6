//! The publisher core: one thread that drains the shards' rings, encodes every event for Redis
//! (the seed's compatible contract) and RabbitMQ (the events exchange), and writes them.
//!
//! Per turn: take up to `publisher.batch_size` envelopes from each ring, encode them into
//! recycled buffers, write one Redis pipeline, publish the AMQP messages (confirms collected
//! asynchronously, at most `amqp.max_in_flight` unconfirmed), then — when every ring is empty —
//! sleep on the shards' [`Notify`] (with `publisher.idle_wait_ms` as a safety net). A sink that
//! is down does not stop the other: its messages wait in its bounded buffer (see
//! [`amqp`] and [`redis`] for the overflow policies) while it reconnects with backoff.
//!
//! Boot: `{"restart":"userStream"}` and (roles candle/all, as the seed)
//! `{"restart":"priceConnector","bootId":…}` on `serviceLog` as soon as Redis answers, then
//! `{"priceConnectorAlive":{"bootId","role"}}` every `publisher.alive_interval_ms`.
//!
//! Shutdown (the `shutdown` flag): drain every ring, flush Redis, publish and collect every
//! confirm, then return a [`PublisherReport`]. A sink still unreachable after
//! `publisher.shutdown_flush_ms` has its leftovers counted as dropped.

pub mod amqp;
pub mod config;
pub mod encode;
pub mod metrics;
pub mod redis;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use corefeed_shards::event::{now_ms, now_ns, Envelope, EventKind, UserEnvelope, UserItem};
use corefeed_shards::exchanges::user::orders_hash_entry;
use tokio::sync::Notify;

pub use config::{
    AmqpConfig, ConfigError, PriceRole, PublisherConfig, PublisherSection, QueueConfig,
    QueuesConfig, RedisConfig, Secret, SinkRoutes, SinksConfig,
};
pub use metrics::PublisherMetrics;

use amqp::AmqpSink;
use encode::{
    amqp_event, amqp_user, amqp_user_subscribed, push_json_escaped, redis_event, user_kind,
};
use metrics::{new_histograms, LatencySeries};
use redis::RedisSink;

/// What the publisher thread consumes.
pub struct PublisherInputs {
    /// One SPSC ring per shard.
    pub rings: Vec<rtrb::Consumer<Envelope>>,
    /// One user-event ring per shard (account events, subscription signals).
    pub user_rings: Vec<rtrb::Consumer<UserEnvelope>>,
    /// Shards call `notify_one()` after pushing.
    pub wake: Arc<Notify>,
    /// Control-plane requests.
    pub commands: crossbeam_channel::Receiver<PublisherCommand>,
    /// Set to stop: the publisher drains the rings, flushes, collects confirms and returns.
    pub shutdown: Arc<AtomicBool>,
}

/// A control-plane request to the publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublisherCommand {
    /// `PUBLISH channel payload` on Redis (e.g. a serviceLog event). Never dropped by the
    /// outage buffer; written in order with the events.
    Publish { channel: String, payload: String },
    /// A room closed: `ZREM stream:lastEventTime <roomId>` (seed §7.1).
    ForgetRoom { room_id: String },
}

/// What the publisher did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublisherReport {
    /// The `bootId` announced on serviceLog.
    pub boot_id: String,
    /// Envelopes taken from the rings.
    pub events_in: u64,
    /// Envelopes by kind (`EventKind::as_str`, count), kinds with zero omitted.
    pub events_by_kind: Vec<(&'static str, u64)>,
    /// Redis PUBLISH commands answered by Redis (events, boot and control messages).
    pub redis_messages: u64,
    /// Open candles not published on Redis (closed-only providers).
    pub redis_skipped_open_candles: u64,
    pub amqp_published: u64,
    pub amqp_confirmed: u64,
    pub amqp_nacked: u64,
    pub amqp_republished: u64,
    /// Messages dropped: outage-buffer overflow, retries exhausted, unflushable at shutdown.
    pub dropped: u64,
    /// Connection, I/O and command errors of both sinks.
    pub errors: u64,
    /// recv → Redis latency p50 / p99 / max, µs (0 when nothing was measured).
    pub recv_to_redis_us: [u64; 3],
    /// recv → AMQP latency p50 / p99 / max, µs.
    pub recv_to_amqp_us: [u64; 3],
}

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Starts the publisher on its own thread (pinned to `cpu` when given). The thread validates
/// `cfg`, runs until `inputs.shutdown` is set and everything is drained, and returns the report.
pub fn spawn(
    cfg: PublisherConfig,
    inputs: PublisherInputs,
    metrics: Arc<PublisherMetrics>,
    cpu: Option<usize>,
) -> std::thread::JoinHandle<anyhow::Result<PublisherReport>> {
    std::thread::Builder::new()
        .name("corefeed-publisher".into())
        .spawn(move || {
            if let Some(cpu) = cpu {
                pin_to(cpu);
            }
            cfg.validate().context("invalid publisher configuration")?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot build the publisher's tokio runtime")?;
            rt.block_on(run(cfg, inputs, metrics))
        })
        .expect("the OS refused to start the publisher thread")
}

fn pin_to(cpu: usize) {
    let ids = core_affinity::get_core_ids().unwrap_or_default();
    match ids.into_iter().find(|c| c.id == cpu) {
        Some(id) if core_affinity::set_for_current(id) => {
            tracing::info!(cpu, "Publisher thread pinned to its CPU");
        }
        _ => tracing::warn!(
            cpu,
            "Could not pin the publisher thread to this CPU (not present or not allowed); running unpinned"
        ),
    }
}

fn control(redis: &mut RedisSink, m: &PublisherMetrics, channel: &str, payload: &str) {
    let mut s = redis.slot();
    s.msg.channel.extend_from_slice(channel.as_bytes());
    s.msg.payload.extend_from_slice(payload.as_bytes());
    s.control = true;
    s.recv_ns = 0;
    s.sent_ns = 0;
    redis.push(s, m);
}

/// A Redis command other than PUBLISH, never dropped by the outage buffer.
fn command(redis: &mut RedisSink, m: &PublisherMetrics, args: Vec<Vec<u8>>) {
    let mut s = redis.slot();
    s.args = args;
    s.control = true;
    s.recv_ns = 0;
    s.sent_ns = 0;
    redis.push(s, m);
}

/// One user-ring item → Redis (seed §4: PUBLISH on the room, `stream:lastEventTime`, the
/// `orders` hash; `userStreamInfo` on subscription) and RabbitMQ (contract §4 user kinds).
fn user_event(
    redis: &mut RedisSink,
    amqp: Option<&mut AmqpSink>,
    routes: &SinkRoutes,
    m: &PublisherMetrics,
    env: UserEnvelope,
    orders_written: &mut bool,
) {
    let room = &env.room;
    match &env.item {
        UserItem::Message(msg) => {
            let kind = user_kind(msg.kind);
            m.event_in(kind);
            if routes.redis(kind) {
                let mut s = redis.slot();
                s.msg.channel.extend_from_slice(room.room_id.as_bytes());
                s.msg.payload.extend_from_slice(msg.json.as_bytes());
                s.control = true;
                s.recv_ns = env.recv_ns;
                s.sent_ns = 0;
                redis.push(s, m);
                command(
                    redis,
                    m,
                    vec![
                        b"ZADD".to_vec(),
                        b"stream:lastEventTime".to_vec(),
                        b"GT".to_vec(),
                        now_ms().to_string().into_bytes(),
                        room.room_id.as_bytes().to_vec(),
                    ],
                );
                if let Some((field, ttl)) = orders_hash_entry(msg) {
                    let field = field.key(&uuid_v4()).into_bytes();
                    command(
                        redis,
                        m,
                        vec![
                            b"HSET".to_vec(),
                            b"orders".to_vec(),
                            field.clone(),
                            msg.json.as_bytes().to_vec(),
                        ],
                    );
                    command(
                        redis,
                        m,
                        vec![b"@EXPIRE".to_vec(), field, ttl.to_string().into_bytes()],
                    );
                    *orders_written = true;
                }
            }
            if let Some(a) = amqp.filter(|_| routes.amqp(kind)) {
                let mut s = a.slot();
                amqp_user(room, msg, env.recv_ns, &mut s.msg);
                s.recv_ns = env.recv_ns;
                s.sent_ns = 0;
                a.push(s, m);
            }
        }
        UserItem::Subscribed { reconnect } => {
            m.event_in(EventKind::Status);
            control(
                redis,
                m,
                &format!("userStreamInfo{}", room.room_id),
                &format!("Subscribed to user {}", room.room_id),
            );
            if let Some(a) = amqp.filter(|_| routes.amqp(EventKind::Status)) {
                let mut s = a.slot();
                amqp_user_subscribed(room, *reconnect, env.recv_ns, &mut s.msg);
                s.recv_ns = env.recv_ns;
                s.sent_ns = 0;
                a.push(s, m);
            }
        }
    }
}

/// A random (v4-shaped) UUID for liquidation fields of the `orders` hash (`liq_<uuid>`).
fn uuid_v4() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(corefeed_shards::event::now_ns() as u128);
    let a = h.finish();
    let mut h2 = std::collections::hash_map::RandomState::new().build_hasher();
    h2.write_u64(a);
    let b = h2.finish();
    let x = ((a as u128) << 64) | b as u128;
    let x = (x & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{x:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The `bootId` of the seed: `<role>-<pid>-<ms>-<generation>`.
fn boot_id(role: PriceRole) -> String {
    let gen = GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
    format!(
        "{}-{}-{}-{}",
        role.as_str(),
        std::process::id(),
        now_ms(),
        gen
    )
}

async fn run(
    cfg: PublisherConfig,
    mut inputs: PublisherInputs,
    m: Arc<PublisherMetrics>,
) -> anyhow::Result<PublisherReport> {
    let routes = cfg.sinks.routes()?;
    let endpoint = cfg.redis.endpoint()?;
    let p = cfg.publisher.clone();
    let mut redis = RedisSink::new(cfg.redis.clone(), endpoint);
    let mut amqp = cfg.amqp.enabled.then(|| AmqpSink::new(cfg.amqp.clone()));

    let boot_id = boot_id(p.role);
    let mut esc = Vec::new();
    push_json_escaped(&mut esc, &boot_id);
    let boot_json = String::from_utf8(esc).expect("utf-8");
    control(&mut redis, &m, "serviceLog", r#"{"restart":"userStream"}"#);
    if p.role.announces_restart() {
        control(
            &mut redis,
            &m,
            "serviceLog",
            &format!(r#"{{"restart":"priceConnector","bootId":"{boot_json}"}}"#),
        );
    }
    let alive = format!(
        r#"{{"priceConnectorAlive":{{"bootId":"{boot_json}","role":"{}"}}}}"#,
        p.role.as_str()
    );
    tracing::info!(
        boot_id = %boot_id,
        role = p.role.as_str(),
        rings = inputs.rings.len(),
        amqp = cfg.amqp.enabled,
        exchange = %cfg.amqp.exchange,
        "Publisher started; announcing the boot on serviceLog once Redis answers"
    );
    // Connect both sinks up front so that the boot announce goes out at once.
    redis.try_connect(&m).await;
    if let Some(a) = amqp.as_mut() {
        a.try_connect(&m).await;
    }

    let alive_every = Duration::from_millis(p.alive_interval_ms);
    let idle_wait = Duration::from_millis(p.idle_wait_ms);
    let mut next_alive = Instant::now() + alive_every;
    let mut next_sweep = Instant::now() + Duration::from_secs(1);
    let mut orders_written = false;
    let mut hists = new_histograms();
    let mut next_export = Instant::now() + Duration::from_secs(1);
    let mut stop_deadline: Option<Instant> = None;

    loop {
        let now = Instant::now();
        if stop_deadline.is_none() && inputs.shutdown.load(Ordering::Acquire) {
            stop_deadline = Some(now + Duration::from_millis(p.shutdown_flush_ms));
            tracing::info!(
                redis_buffered = redis.pending(),
                amqp_outstanding = amqp.as_ref().map_or(0, |a| a.outstanding()),
                "Publisher stopping: draining the rings and flushing both sinks"
            );
        }
        while let Ok(cmd) = inputs.commands.try_recv() {
            match cmd {
                PublisherCommand::Publish { channel, payload } => {
                    m.commands.fetch_add(1, Ordering::Relaxed);
                    control(&mut redis, &m, &channel, &payload);
                }
                PublisherCommand::ForgetRoom { room_id } => {
                    m.commands.fetch_add(1, Ordering::Relaxed);
                    command(
                        &mut redis,
                        &m,
                        vec![
                            b"ZREM".to_vec(),
                            b"stream:lastEventTime".to_vec(),
                            room_id.into_bytes(),
                        ],
                    );
                }
            }
        }
        // User events: never held back by back-pressure (they are few and must not wait
        // behind prices), never dropped by an overflow.
        for ring in inputs.user_rings.iter_mut() {
            while let Ok(env) = ring.pop() {
                user_event(
                    &mut redis,
                    amqp.as_mut(),
                    &routes,
                    &m,
                    env,
                    &mut orders_written,
                );
            }
        }
        if now >= next_sweep {
            // Servers without HEXPIRE: drop the `orders` fields whose expiry passed.
            if redis.hexpire() == Some(false) {
                command(
                    &mut redis,
                    &m,
                    vec![
                        b"EVAL".to_vec(),
                        redis::ORDERS_SWEEP_LUA.as_bytes().to_vec(),
                        b"2".to_vec(),
                        b"orders".to_vec(),
                        redis::ORDERS_EXPIRY_KEY.as_bytes().to_vec(),
                        now_ms().to_string().into_bytes(),
                    ],
                );
            }
            next_sweep = now
                + if orders_written {
                    Duration::from_secs(1)
                } else {
                    Duration::from_secs(30)
                };
        }
        if now >= next_alive {
            control(&mut redis, &m, "serviceLog", &alive);
            next_alive = now + alive_every;
        }

        // Back-pressure: while a *connected* sink is behind, leave the rings alone so they fill
        // and the shards wait (counted there), instead of overflowing the outage buffer. The
        // buffer's overflow policy is only for a sink that is away. A connected sink may have
        // a few turns' worth staged, no more: a lagging broker must not grow the process (the
        // shards' rings and the sockets' kernel buffers hold the rest, then the venue waits).
        let turn = p.batch_size * inputs.rings.len();
        let behind = |pending: usize, cap: usize| pending + turn > cap.min(4 * turn);
        let redis_behind = redis.is_connected() && behind(redis.pending(), redis.capacity());
        let amqp_behind = amqp
            .as_ref()
            .is_some_and(|a| a.is_connected() && behind(a.pending(), a.capacity()));
        let hold = (redis_behind || amqp_behind) && stop_deadline.is_none();
        if hold {
            m.backpressure_turns.fetch_add(1, Ordering::Relaxed);
        }

        // Drain the rings.
        for ring in inputs.rings.iter_mut().filter(|_| !hold) {
            let n = ring.slots().min(p.batch_size);
            if n == 0 {
                continue;
            }
            let batch_ms = now_ms();
            let take_ns = now_ns();
            for _ in 0..n {
                let Ok(env) = ring.pop() else { break };
                let kind = env.event.kind();
                m.event_in(kind);
                metrics::record(
                    &mut hists[LatencySeries::SentToRing as usize],
                    env.sent_ns,
                    env.ring_ns,
                );
                metrics::record(
                    &mut hists[LatencySeries::RecvToTake as usize],
                    env.recv_ns,
                    take_ns,
                );
                if routes.redis(kind) {
                    let mut s = redis.slot();
                    if redis_event(&env.event, batch_ms, &mut s.msg) {
                        s.recv_ns = env.recv_ns;
                        s.sent_ns = env.sent_ns;
                        redis.push(s, &m);
                    } else {
                        m.redis_skipped_open_candles.fetch_add(1, Ordering::Relaxed);
                        redis.recycle(s);
                    }
                }
                if let Some(a) = amqp.as_mut().filter(|_| routes.amqp(kind)) {
                    let mut s = a.slot();
                    amqp_event(&env.event, env.recv_ns, &mut s.msg);
                    s.recv_ns = env.recv_ns;
                    s.sent_ns = env.sent_ns;
                    a.push(s, &m);
                }
            }
        }

        // Write both sinks concurrently: neither waits behind the other's round trip.
        {
            let [redis_recv, amqp_recv, redis_sent, amqp_sent, _, _] = &mut hists;
            let m = &*m;
            let redis_write = redis.flush(m, redis_recv, redis_sent);
            let amqp_write = async {
                if let Some(a) = amqp.as_mut() {
                    a.reap(m);
                    a.publish(m, amqp_recv, amqp_sent).await;
                    a.reap(m);
                }
            };
            tokio::join!(redis_write, amqp_write);
        }
        if now >= next_export {
            m.export_latency(&hists);
            next_export = now + Duration::from_secs(1);
        }

        let rings_empty = inputs.rings.iter().all(|r| r.is_empty())
            && inputs.user_rings.iter().all(|r| r.is_empty());
        let amqp_idle = amqp.as_ref().is_none_or(|a| a.outstanding() == 0);
        if let Some(deadline) = stop_deadline {
            if rings_empty && redis.pending() == 0 && amqp_idle {
                break;
            }
            if rings_empty && Instant::now() >= deadline {
                redis.abandon(&m);
                if let Some(a) = amqp.as_mut() {
                    a.reap(&m);
                    a.abandon(&m);
                }
                break;
            }
        }

        let amqp_can_send = amqp
            .as_ref()
            .is_some_and(|a| a.is_connected() && a.pending() > 0 && can_take(a, &cfg));
        let busy = (!rings_empty && !hold)
            || (redis.is_connected() && redis.pending() > 0)
            || amqp_can_send;
        if busy {
            // Let the lapin I/O task and timers run between batches.
            tokio::task::yield_now().await;
            continue;
        }
        let mut wait = idle_wait;
        for due in [
            redis.next_attempt().filter(|_| redis.pending() > 0),
            amqp.as_ref()
                .and_then(|a| a.next_attempt().filter(|_| a.pending() > 0)),
            Some(next_alive),
            Some(next_sweep),
        ]
        .into_iter()
        .flatten()
        {
            wait = wait.min(due.saturating_duration_since(Instant::now()));
        }
        let wake = inputs.wake.clone();
        match amqp.as_mut() {
            Some(a) => {
                // While holding back, wait for the sink (a confirm), not for more events.
                if hold {
                    wait = wait.min(Duration::from_millis(1));
                }
                tokio::select! {
                    _ = wake.notified(), if !hold => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = a.wait_front() => {}
                }
            }
            None => {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }

    if let Some(a) = amqp.as_mut() {
        a.close().await;
    }
    m.export_latency(&hists);
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let q = |s: LatencySeries| {
        let h = &hists[s as usize];
        if h.is_empty() {
            [0; 3]
        } else {
            [h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max()]
        }
    };
    let report = PublisherReport {
        boot_id,
        events_in: m.events_in_total(),
        events_by_kind: EventKind::ALL
            .iter()
            .zip(&m.events_in)
            .map(|(k, a)| (k.as_str(), l(a)))
            .filter(|(_, n)| *n > 0)
            .collect(),
        redis_messages: l(&m.redis_messages),
        redis_skipped_open_candles: l(&m.redis_skipped_open_candles),
        amqp_published: l(&m.amqp_published),
        amqp_confirmed: l(&m.amqp_confirmed),
        amqp_nacked: l(&m.amqp_nacked),
        amqp_republished: l(&m.amqp_republished),
        dropped: l(&m.redis_dropped) + l(&m.amqp_dropped_overflow) + l(&m.amqp_dropped_retries),
        errors: l(&m.redis_errors) + l(&m.amqp_errors),
        recv_to_redis_us: q(LatencySeries::RecvToRedis),
        recv_to_amqp_us: q(LatencySeries::RecvToAmqp),
    };
    tracing::info!(
        events = report.events_in,
        redis_messages = report.redis_messages,
        amqp_confirmed = report.amqp_confirmed,
        dropped = report.dropped,
        errors = report.errors,
        "Publisher stopped after draining the rings"
    );
    Ok(report)
}

fn can_take(a: &AmqpSink, cfg: &PublisherConfig) -> bool {
    a.outstanding() - a.pending() < cfg.amqp.max_in_flight
}
