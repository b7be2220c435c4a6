//! The RabbitMQ sink (`contract.md` §4): topology, publishes with publisher confirms (many in
//! flight, bounded), republish on nack or confirm timeout, reconnect with backoff while events
//! wait in a bounded buffer.
//!
//! Overflow policy: at most `amqp.buffer_capacity` messages wait for the broker. When a new
//! message arrives and the buffer is full, the oldest waiting *price* message (candle, ticker,
//! status) is dropped and counted in `corefeed_amqp_dropped_overflow_total` (a newer one
//! supersedes it); user kinds (order, balance, position) are never dropped: when only user
//! messages wait, the buffer grows beyond its capacity and a warning says so.
//!
//! Lanes: `amqp.channels` channels on one connection, a message's lane chosen by its routing
//! key (so one market's messages stay in order). lapin settles a multiple-ack by scanning every
//! unconfirmed publish of the channel, so per-ack work grows with the window; lanes split the
//! window, and the broker runs each channel in its own process.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use hdrhistogram::Histogram;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::protocol::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::{AMQPAuthority, AMQPUri, AMQPUserInfo};
use lapin::{
    Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind, PublisherConfirm,
};

use super::config::{AmqpConfig, QueueConfig};
use super::encode::{delivery_mode, is_user_kind, AmqpMessage};
use super::metrics::{record, PublisherMetrics};

/// Why the broker connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    #[error("cannot connect to RabbitMQ at {host}:{port} vhost {vhost:?} as {user:?}: {source}; check amqp.host/port/user/password (RABBIT_HOST, RABBIT_PORT, RABBIT_USER, RABBIT_PASSWORD) and that the broker is running")]
    Connect {
        host: String,
        port: u16,
        vhost: String,
        user: String,
        source: lapin::Error,
    },
    #[error("RabbitMQ refused to {what}: {source}; check that the existing exchange/queue has the same type, durability and arguments as amqp.* (a mismatch must be fixed on the broker or in config)")]
    Topology { what: String, source: lapin::Error },
}

/// A message waiting for the broker.
#[derive(Debug, Default)]
pub(crate) struct PendingAmqp {
    pub msg: AmqpMessage,
    pub recv_ns: u64,
    pub sent_ns: u64,
    /// How many times it was published already.
    pub attempts: u32,
}

struct InFlight {
    /// Publication order across lanes (a reconnect republishes in this order).
    seq: u64,
    confirm: PublisherConfirm,
    result: Option<lapin::Result<Confirmation>>,
    p: PendingAmqp,
    at: Instant,
}

pub(crate) struct AmqpSink {
    cfg: AmqpConfig,
    conn: Option<(Connection, Vec<Channel>)>,
    exchange: ShortString,
    pending: VecDeque<PendingAmqp>,
    /// Unconfirmed publishes per lane, in publication order.
    lanes: Vec<VecDeque<InFlight>>,
    seq: u64,
    pool: Vec<PendingAmqp>,
    backoff: Duration,
    next_attempt: Instant,
    ever_connected: bool,
    last_overflow_log: Option<Instant>,
    overflow_since_log: u64,
}

fn toml_to_amqp(v: &toml::Value) -> AMQPValue {
    match v {
        toml::Value::String(s) => AMQPValue::LongString(LongString::from(s.as_str())),
        toml::Value::Integer(i) => AMQPValue::LongLongInt(*i),
        toml::Value::Float(f) => AMQPValue::Double(*f),
        toml::Value::Boolean(b) => AMQPValue::Boolean(*b),
        // rejected by validate()
        other => AMQPValue::LongString(LongString::from(other.to_string().as_str())),
    }
}

/// The declare arguments of a queue as an AMQP table.
pub fn queue_arguments(q: &QueueConfig) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in &q.arguments {
        t.insert(ShortString::from(k.as_str()), toml_to_amqp(v));
    }
    t
}

impl AmqpSink {
    pub fn new(cfg: AmqpConfig) -> Self {
        AmqpSink {
            exchange: ShortString::from(cfg.exchange.as_str()),
            lanes: (0..cfg.channels.max(1)).map(|_| VecDeque::new()).collect(),
            cfg,
            conn: None,
            pending: VecDeque::with_capacity(1024),
            seq: 0,
            pool: Vec::new(),
            backoff: Duration::from_millis(100),
            next_attempt: Instant::now(),
            ever_connected: false,
            last_overflow_log: None,
            overflow_since_log: 0,
        }
    }

    pub fn slot(&mut self) -> PendingAmqp {
        self.pool.pop().unwrap_or_default()
    }

    fn recycle(&mut self, mut p: PendingAmqp) {
        p.attempts = 0;
        self.pool.push(p);
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Messages buffered or awaiting a confirm.
    pub fn outstanding(&self) -> usize {
        self.pending.len() + self.in_flight()
    }

    /// Messages awaiting a confirm, all lanes.
    pub fn in_flight(&self) -> usize {
        self.lanes.iter().map(VecDeque::len).sum()
    }

    pub fn capacity(&self) -> usize {
        self.cfg.buffer_capacity
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    pub fn next_attempt(&self) -> Option<Instant> {
        self.conn.is_none().then_some(self.next_attempt)
    }

    /// Queues a message, applying the overflow policy of the module doc.
    pub fn push(&mut self, p: PendingAmqp, m: &PublisherMetrics) {
        if self.pending.len() >= self.cfg.buffer_capacity {
            let now = Instant::now();
            let log_due = self
                .last_overflow_log
                .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(10));
            match self.pending.iter().position(|x| !is_user_kind(x.msg.kind)) {
                Some(i) => {
                    let old = self.pending.remove(i).expect("index in range");
                    self.recycle(old);
                    m.amqp_dropped_overflow.fetch_add(1, Relaxed);
                    self.overflow_since_log += 1;
                    if log_due {
                        tracing::warn!(
                            dropped = self.overflow_since_log,
                            capacity = self.cfg.buffer_capacity,
                            connected = self.conn.is_some(),
                            "RabbitMQ outage buffer is full; dropping the oldest price messages (see corefeed_amqp_dropped_overflow_total)"
                        );
                        self.last_overflow_log = Some(now);
                        self.overflow_since_log = 0;
                    }
                }
                None if log_due => {
                    tracing::warn!(
                        buffered = self.pending.len() + 1,
                        capacity = self.cfg.buffer_capacity,
                        "RabbitMQ outage buffer holds only user events and grows beyond its capacity; user events are never dropped"
                    );
                    self.last_overflow_log = Some(now);
                }
                None => {}
            }
        }
        self.pending.push_back(p);
        m.amqp_buffered.store(self.pending.len() as u64, Relaxed);
    }

    async fn connect(&self) -> Result<(Connection, Vec<Channel>), AmqpError> {
        let c = &self.cfg;
        let uri = AMQPUri {
            authority: AMQPAuthority {
                userinfo: AMQPUserInfo {
                    username: c.user.clone(),
                    password: c.password.expose().to_owned(),
                },
                host: c.host.clone(),
                port: c.port,
            },
            vhost: c.vhost.clone(),
            ..AMQPUri::default()
        };
        let conn = Connection::connect_uri(
            uri,
            ConnectionProperties::default()
                .with_connection_name(LongString::from("corefeed-publisher")),
        )
        .await
        .map_err(|source| AmqpError::Connect {
            host: c.host.clone(),
            port: c.port,
            vhost: c.vhost.clone(),
            user: c.user.clone(),
            source,
        })?;
        let topo = |what: String| move |source| AmqpError::Topology { what, source };
        let mut lanes = Vec::with_capacity(self.lanes.len());
        for _ in 0..self.lanes.len() {
            let ch = conn
                .create_channel()
                .await
                .map_err(topo("open a channel".into()))?;
            if c.confirms {
                ch.confirm_select(ConfirmSelectOptions::default())
                    .await
                    .map_err(topo("enable publisher confirms".into()))?;
            }
            lanes.push(ch);
        }
        let ch = &lanes[0];
        ch.exchange_declare(
            self.exchange.clone(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(topo(format!("declare the topic exchange {:?}", c.exchange)))?;
        for (name, key, q) in c.queues.all() {
            if !q.enabled {
                continue;
            }
            ch.queue_declare(
                ShortString::from(name),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                queue_arguments(q),
            )
            .await
            .map_err(topo(format!("declare the queue {name:?}")))?;
            ch.queue_bind(
                ShortString::from(name),
                self.exchange.clone(),
                ShortString::from(key),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(topo(format!("bind the queue {name:?} to {key:?}")))?;
        }
        Ok((conn, lanes))
    }

    pub async fn try_connect(&mut self, m: &PublisherMetrics) -> bool {
        if self.conn.is_some() {
            return true;
        }
        if Instant::now() < self.next_attempt {
            return false;
        }
        match self.connect().await {
            Ok(c) => {
                self.conn = Some(c);
                m.amqp_connected.store(1, Relaxed);
                if self.ever_connected {
                    m.amqp_reconnects.fetch_add(1, Relaxed);
                }
                tracing::info!(
                    host = %self.cfg.host,
                    port = self.cfg.port,
                    exchange = %self.cfg.exchange,
                    buffered = self.pending.len(),
                    "Connected to RabbitMQ and declared the events topology; publishing"
                );
                self.ever_connected = true;
                self.backoff = Duration::from_millis(100);
                true
            }
            Err(e) => {
                m.amqp_errors.fetch_add(1, Relaxed);
                tracing::warn!(
                    error = %e,
                    retry_in_ms = self.backoff.as_millis() as u64,
                    buffered = self.pending.len(),
                    "RabbitMQ connect failed; will retry"
                );
                self.next_attempt = Instant::now() + self.backoff;
                self.backoff =
                    (self.backoff * 2).min(Duration::from_millis(self.cfg.reconnect_max_ms));
                false
            }
        }
    }

    /// Drops the connection; everything in flight goes back to the front of the buffer, in
    /// order, to be published again after the reconnect.
    fn disconnect(&mut self, m: &PublisherMetrics, why: &dyn std::fmt::Display) {
        m.amqp_errors.fetch_add(1, Relaxed);
        m.amqp_connected.store(0, Relaxed);
        let mut back: Vec<InFlight> = self.lanes.iter_mut().flat_map(|l| l.drain(..)).collect();
        back.sort_unstable_by_key(|f| f.seq);
        let back_n = back.len();
        for f in back.into_iter().rev() {
            self.pending.push_front(f.p);
        }
        m.amqp_in_flight.store(0, Relaxed);
        m.amqp_buffered.store(self.pending.len() as u64, Relaxed);
        tracing::warn!(
            error = %why,
            unconfirmed = back_n,
            buffered = self.pending.len(),
            "RabbitMQ connection lost; unconfirmed messages will be published again after reconnecting"
        );
        if let Some((conn, _)) = self.conn.take() {
            // Best effort; the socket may already be gone.
            drop(conn);
        }
        self.backoff = Duration::from_millis(100);
        self.next_attempt = Instant::now();
    }

    /// Publishes up to `batch_size` buffered messages while fewer than `max_in_flight` await a
    /// confirm. Returns how many were written.
    pub async fn publish(
        &mut self,
        m: &PublisherMetrics,
        recv_h: &mut Histogram<u64>,
        sent_h: &mut Histogram<u64>,
    ) -> usize {
        if self.pending.is_empty() {
            return 0;
        }
        if self.conn.is_none() && !self.try_connect(m).await {
            return 0;
        }
        // Take the whole batch, start every publish, then await them together: lapin queues
        // the frames in call order (delivery tags in order) and its I/O task writes them in
        // few syscalls, instead of one round through the runtime per message.
        let room = self.cfg.max_in_flight.saturating_sub(self.in_flight());
        let take = self.cfg.batch_size.min(room).min(self.pending.len());
        if take == 0 {
            return 0;
        }
        let batch: Vec<PendingAmqp> = self.pending.drain(..take).collect();
        let n_lanes = self.lanes.len();
        let lane_of = |p: &PendingAmqp| lane(&p.msg.routing_key, n_lanes);
        let results = {
            let chans = &self.conn.as_ref().expect("connected").1;
            let futs: Vec<_> = batch
                .iter()
                .map(|p| {
                    let ch = &chans[lane_of(p)];
                    let msg = &p.msg;
                    let mut headers = FieldTable::default();
                    headers.insert(
                        ShortString::from("exchange_time_ms"),
                        AMQPValue::LongLongInt(msg.exchange_time_ms as i64),
                    );
                    headers.insert(
                        ShortString::from("received_us"),
                        AMQPValue::LongLongInt(msg.received_us as i64),
                    );
                    let props = BasicProperties::default()
                        .with_content_type(ShortString::from("application/json"))
                        .with_message_id(ShortString::from(msg.message_id.as_str()))
                        .with_type(ShortString::from(msg.kind.as_str()))
                        .with_timestamp(msg.timestamp_s)
                        .with_app_id(ShortString::from("corefeed"))
                        .with_delivery_mode(delivery_mode(msg.kind))
                        .with_headers(headers);
                    ch.basic_publish(
                        self.exchange.clone(),
                        ShortString::from(msg.routing_key.as_str()),
                        BasicPublishOptions::default(),
                        &msg.body,
                        props,
                    )
                })
                .collect();
            futures_util::future::join_all(futs).await
        };
        let now = corefeed_shards::event::now_ns();
        let mut n = 0;
        let mut failed: Option<lapin::Error> = None;
        let mut back: Vec<PendingAmqp> = Vec::new();
        for (mut p, res) in batch.into_iter().zip(results) {
            match res {
                Ok(confirm) if failed.is_none() => {
                    m.amqp_published.fetch_add(1, Relaxed);
                    if p.attempts == 0 {
                        record(recv_h, p.recv_ns, now);
                        record(sent_h, p.sent_ns, now);
                    } else {
                        m.amqp_republished.fetch_add(1, Relaxed);
                    }
                    p.attempts += 1;
                    self.seq += 1;
                    let l = lane_of(&p);
                    self.lanes[l].push_back(InFlight {
                        seq: self.seq,
                        confirm,
                        result: None,
                        p,
                        at: Instant::now(),
                    });
                    n += 1;
                }
                Ok(_) => back.push(p),
                Err(e) => {
                    failed.get_or_insert(e);
                    back.push(p);
                }
            }
        }
        if let Some(e) = failed {
            // Everything after the first failure goes back, in order, before the rest.
            for p in back.into_iter().rev() {
                self.pending.push_front(p);
            }
            self.disconnect(m, &e);
        }
        m.amqp_in_flight.store(self.in_flight() as u64, Relaxed);
        m.amqp_buffered.store(self.pending.len() as u64, Relaxed);
        n
    }

    /// Settles every confirm that has arrived (from the front, in publish order): acks are
    /// done, nacks and timeouts go back to the buffer (up to `max_republish`), an error drops
    /// the connection. Returns how many were settled.
    pub fn reap(&mut self, m: &PublisherMetrics) -> usize {
        let timeout = Duration::from_millis(self.cfg.confirm_timeout_ms);
        let mut settled = 0;
        let mut l = 0;
        'lanes: while l < self.lanes.len() {
            while let Some(front) = self.lanes[l].front_mut() {
                if front.result.is_none() {
                    front.result = (&mut front.confirm).now_or_never();
                }
                let result = match front.result.take() {
                    Some(r) => r,
                    None if front.at.elapsed() >= timeout => {
                        let f = self.lanes[l].pop_front().expect("front");
                        tracing::warn!(
                            message_id = %f.p.msg.message_id,
                            timeout_ms = self.cfg.confirm_timeout_ms,
                            "RabbitMQ did not confirm a publish in time; publishing it again"
                        );
                        self.retry(f.p, m, "confirm timeout");
                        settled += 1;
                        continue;
                    }
                    None => break,
                };
                let f = self.lanes[l].pop_front().expect("front");
                settled += 1;
                match result {
                    Ok(Confirmation::Ack(_)) | Ok(Confirmation::NotRequested) => {
                        m.amqp_confirmed.fetch_add(1, Relaxed);
                        self.recycle(f.p);
                    }
                    Ok(Confirmation::Nack(_)) => {
                        m.amqp_nacked.fetch_add(1, Relaxed);
                        self.retry(f.p, m, "nack");
                    }
                    Err(e) => {
                        self.pending.push_front(f.p);
                        self.disconnect(m, &e);
                        break 'lanes;
                    }
                }
            }
            l += 1;
        }
        m.amqp_in_flight.store(self.in_flight() as u64, Relaxed);
        m.amqp_buffered.store(self.pending.len() as u64, Relaxed);
        settled
    }

    fn retry(&mut self, p: PendingAmqp, m: &PublisherMetrics, why: &'static str) {
        if p.attempts > self.cfg.max_republish {
            m.amqp_dropped_retries.fetch_add(1, Relaxed);
            tracing::error!(
                message_id = %p.msg.message_id,
                routing_key = %p.msg.routing_key,
                attempts = p.attempts,
                reason = why,
                "Giving up on a RabbitMQ message after max_republish attempts (counted in corefeed_amqp_dropped_retries_total)"
            );
            self.recycle(p);
        } else {
            self.pending.push_front(p);
        }
    }

    /// Waits until the oldest in-flight confirm of any lane arrives (stored for
    /// [`reap`](Self::reap)). Cancel-safe; pends forever when nothing is in flight.
    pub async fn wait_front(&mut self) {
        let lanes = &mut self.lanes;
        std::future::poll_fn(|cx| {
            for lane in lanes.iter_mut() {
                match lane.front_mut() {
                    Some(f) if f.result.is_none() => {
                        if let std::task::Poll::Ready(r) =
                            std::future::Future::poll(std::pin::Pin::new(&mut f.confirm), cx)
                        {
                            f.result = Some(r);
                            return std::task::Poll::Ready(());
                        }
                    }
                    Some(_) => return std::task::Poll::Ready(()),
                    None => {}
                }
            }
            std::task::Poll::Pending
        })
        .await
    }

    /// Shutdown: what is still buffered or unconfirmed is counted as given up.
    pub fn abandon(&mut self, m: &PublisherMetrics) -> u64 {
        let n = (self.pending.len() + self.in_flight()) as u64;
        if n > 0 {
            m.amqp_dropped_retries.fetch_add(n, Relaxed);
            tracing::error!(
                lost = n,
                "Shutting down with RabbitMQ messages unpublished or unconfirmed; they were given up"
            );
        }
        self.pending.clear();
        self.lanes.iter_mut().for_each(VecDeque::clear);
        m.amqp_buffered.store(0, Relaxed);
        m.amqp_in_flight.store(0, Relaxed);
        n
    }

    /// Closes the connection politely.
    pub async fn close(&mut self) {
        if let Some((conn, chans)) = self.conn.take() {
            for ch in chans {
                let _ = ch.close(200, ShortString::from("corefeed shutdown")).await;
            }
            let _ = conn
                .close(200, ShortString::from("corefeed shutdown"))
                .await;
        }
    }
}

/// The lane of a routing key (FNV-1a): one market's messages always take the same channel.
fn lane(routing_key: &str, lanes: usize) -> usize {
    if lanes <= 1 {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in routing_key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % lanes as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_follows_the_routing_key_and_spreads_markets() {
        assert_eq!(lane("candle.binance.BTCUSDT.1m", 1), 0);
        let keys: Vec<String> = (0..64)
            .map(|i| format!("candle.binance.S{i}USDT.1m"))
            .collect();
        for k in &keys {
            assert_eq!(lane(k, 3), lane(k, 3), "stable");
            assert!(lane(k, 3) < 3);
        }
        let used: std::collections::HashSet<usize> = keys.iter().map(|k| lane(k, 3)).collect();
        assert_eq!(used.len(), 3, "64 markets use every lane");
    }

    #[test]
    fn queue_arguments_table() {
        struct TestCase {
            input: (&'static str, toml::Value),
            expected: AMQPValue,
        }
        let cases = [
            TestCase {
                input: ("x-queue-type", toml::Value::String("quorum".into())),
                expected: AMQPValue::LongString(LongString::from("quorum")),
            },
            TestCase {
                input: ("x-max-length", toml::Value::Integer(1_000_000)),
                expected: AMQPValue::LongLongInt(1_000_000),
            },
            TestCase {
                input: ("x-single-active-consumer", toml::Value::Boolean(true)),
                expected: AMQPValue::Boolean(true),
            },
        ];
        for c in cases {
            let mut q = QueueConfig::default();
            q.arguments.insert(c.input.0.into(), c.input.1);
            let t = queue_arguments(&q);
            assert_eq!(t.inner().get(c.input.0), Some(&c.expected));
        }
    }
}
