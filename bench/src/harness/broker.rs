//! RabbitMQ and Redis from the harness side: cleanup of the bench's broker objects, the bare
//! lapin publisher that gives the broker ceiling, and the latency consumers (AMQP and Redis).

use anyhow::Context;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{info, warn};

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379/";

pub async fn connect() -> anyhow::Result<Connection> {
    Connection::connect(AMQP_URL, ConnectionProperties::default())
        .await
        .context("connecting to RabbitMQ at 127.0.0.1:5672 (guest)")
}

/// Deletes exchanges and queues the bench created (errors ignored: they may not exist).
pub async fn cleanup(exchanges: &[&str], queues: &[&str]) {
    let Ok(conn) = connect().await else { return };
    for q in queues {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .queue_delete((*q).into(), QueueDeleteOptions::default())
                .await;
        }
    }
    for x in exchanges {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .exchange_delete((*x).into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
    let _ = conn.close(200, "bench cleanup".into()).await;
}

/// Queue arguments used for every queue the bench binds: bounded, oldest dropped.
fn bounded_args() -> FieldTable {
    let mut t = FieldTable::default();
    t.insert("x-max-length".into(), AMQPValue::LongLongInt(200_000));
    t
}

/// Declares a non-durable, auto-delete queue bound with `#` to the topic exchange `exchange`
/// (declared durable like corefeed does). Returns the connection and channel.
pub async fn bind_queue(
    exchange: &str,
    queue: &str,
) -> anyhow::Result<(Connection, lapin::Channel)> {
    let conn = connect().await?;
    let ch = conn.create_channel().await?;
    ch.exchange_declare(
        exchange.into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
        bounded_args(),
    )
    .await?;
    ch.queue_bind(
        queue.into(),
        exchange.into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    Ok((conn, ch))
}

/// Result of the bare publisher.
#[derive(Clone, Debug)]
pub struct Ceiling {
    pub messages: u64,
    pub body_bytes: usize,
    pub confirms: bool,
    pub secs: f64,
    /// CPU seconds the bench process (the bare publisher and its lapin I/O thread) used.
    pub cpu_s: f64,
}

impl Ceiling {
    pub fn per_s(&self) -> f64 {
        self.messages as f64 / self.secs
    }
    /// Client CPU per message, µs: what a bare lapin publisher costs, beside corefeed's figure.
    pub fn cpu_us_per_msg(&self) -> f64 {
        self.cpu_s * 1e6 / self.messages.max(1) as f64
    }
}

/// Publishes `n` ~300-byte candle-like messages with corefeed's properties to a throwaway topic
/// exchange with one bounded queue bound, with confirms (at most `max_in_flight` unconfirmed,
/// as corefeed) or without (then a round trip on the channel at the end, so every publish was
/// processed by the broker).
pub async fn ceiling(
    exchange: &str,
    queue: &str,
    n: u64,
    confirms: bool,
    max_in_flight: usize,
) -> anyhow::Result<Ceiling> {
    let (conn, ch) = bind_queue(exchange, queue).await?;
    if confirms {
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
    }
    let body = r#"{"provider":"binance","symbol":"S001USDT","interval":"1m","timestamp":1700000000000,"data":{"start":1700000000000,"open":"0.35280000","high":"0.35290000","low":"0.35270000","close":"0.35280000","volume":"12345.67000000","closed":false,"eventTime":1700000000123}}"#;
    let mut body = body.as_bytes().to_vec();
    body.resize(300.max(body.len()), b' ');
    let mut in_flight = VecDeque::with_capacity(max_in_flight);
    let cpu0 = super::proc::cpu_seconds(std::process::id()).unwrap_or(0.0);
    let t0 = Instant::now();
    for i in 0..n {
        let mut headers = FieldTable::default();
        headers.insert(
            "exchange_time_ms".into(),
            AMQPValue::LongLongInt(1_700_000_000_123),
        );
        headers.insert(
            "received_us".into(),
            AMQPValue::LongLongInt(now_us() as i64),
        );
        let props = BasicProperties::default()
            .with_content_type(ShortString::from("application/json"))
            .with_message_id(ShortString::from(format!(
                "S001USDT1700000000000bench{i}@binance"
            )))
            .with_type(ShortString::from("candle"))
            .with_timestamp(1_700_000_000)
            .with_app_id(ShortString::from("corefeed-bench"))
            .with_delivery_mode(1)
            .with_headers(headers);
        let confirm = ch
            .basic_publish(
                exchange.into(),
                "candle.binance.S001USDT.1m".into(),
                BasicPublishOptions::default(),
                &body,
                props,
            )
            .await?;
        if confirms {
            in_flight.push_back(confirm);
            while in_flight.len() >= max_in_flight {
                in_flight.pop_front().expect("non-empty").await?;
            }
        }
    }
    for c in in_flight {
        c.await?;
    }
    if !confirms {
        // A synchronous method after the publishes: the broker answers it after processing them.
        ch.queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu_s = super::proc::cpu_seconds(std::process::id()).unwrap_or(0.0) - cpu0;
    let _ = ch
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await;
    let _ = ch
        .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
        .await;
    let _ = conn.close(200, "bench ceiling done".into()).await;
    let c = Ceiling {
        messages: n,
        body_bytes: body.len(),
        confirms,
        secs,
        cpu_s,
    };
    info!(
        messages = n,
        confirms,
        per_s = c.per_s() as u64,
        "Bare lapin publisher finished (broker ceiling)."
    );
    Ok(c)
}

pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// µs histogram, 1 µs to 1 h, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

/// A consumer-side latency recorder shared with a consumer task/thread; `reset` starts a window.
#[derive(Clone)]
pub struct Recorder {
    pub hist: Arc<Mutex<Histogram<u64>>>,
    pub messages: Arc<AtomicU64>,
    pub stop: Arc<AtomicBool>,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            hist: Arc::new(Mutex::new(histogram())),
            messages: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }
    pub fn reset(&self) {
        self.hist.lock().unwrap_or_else(|p| p.into_inner()).reset();
        self.messages.store(0, Relaxed);
    }
    fn record(&self, us: u64) {
        let _ = self
            .hist
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(us.max(1));
    }
    pub fn snapshot(&self) -> Histogram<u64> {
        self.hist.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// Consumes (auto-ack) a bounded queue bound with `#` to `exchange` and records, for every
/// message, now − the `received_us` header (corefeed's frame read time) in `rec` and now − the
/// `exchange_time_ms` header (the frame's event time `E`, set by the simulator when it built
/// the frame: the send time at ms resolution) in `e2e`.
pub async fn amqp_latency_consumer(
    exchange: String,
    queue: String,
    rec: Recorder,
    e2e: Recorder,
) -> anyhow::Result<()> {
    let (conn, ch) = bind_queue(&exchange, &queue).await?;
    let mut consumer = ch
        .basic_consume(
            queue.as_str().into(),
            "corefeed-bench-latency".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    info!(%queue, %exchange, "AMQP latency consumer started.");
    while !rec.stop.load(Relaxed) {
        let next = tokio::time::timeout(Duration::from_millis(200), consumer.next()).await;
        let d = match next {
            Err(_) => continue,
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                warn!(error = %e, "AMQP latency consumer failed.");
                break;
            }
            Ok(Some(Ok(d))) => d,
        };
        let now = now_us();
        let header = |name: &str| {
            d.properties
                .headers()
                .as_ref()
                .and_then(|h| h.inner().get(name).cloned())
        };
        if let Some(AMQPValue::LongLongInt(r)) = header("received_us") {
            if r > 0 && now >= r as u64 {
                rec.record(now - r as u64);
            }
        }
        if let Some(AMQPValue::LongLongInt(e)) = header("exchange_time_ms") {
            let e_us = (e.max(0) as u64) * 1000;
            if e > 0 && now >= e_us {
                e2e.record(now - e_us);
            }
        }
        rec.messages.fetch_add(1, Relaxed);
    }
    let _ = ch
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = conn.close(200, "bench consumer done".into()).await;
    Ok(())
}

/// A Redis PSUBSCRIBE consumer on its own thread: for ticker messages (`trade@…`), records
/// now − the payload's `time` (the venue event time, ms — set by the simulator when it built the
/// frame), in µs. Counts every message.
pub fn redis_latency_consumer(patterns: Vec<String>, rec: Recorder) -> anyhow::Result<()> {
    let client = redis::Client::open(REDIS_URL)?;
    let mut conn = client
        .get_connection()
        .context("connecting to Redis 127.0.0.1:6379")?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("bench-redis-sub".into())
        .spawn(move || {
            let mut ps = conn.as_pubsub();
            for p in &patterns {
                if let Err(e) = ps.psubscribe(p) {
                    warn!(error = %e, "Redis PSUBSCRIBE failed.");
                    return;
                }
            }
            let _ = ps.set_read_timeout(Some(Duration::from_millis(200)));
            let _ = ready_tx.send(());
            while !rec.stop.load(Relaxed) {
                match ps.get_message() {
                    Ok(m) => {
                        let now = now_us();
                        rec.messages.fetch_add(1, Relaxed);
                        let payload: Vec<u8> = m.get_payload_bytes().to_vec();
                        if m.get_channel_name().starts_with("trade@") {
                            if let Some(t) = json_u64_field(&payload, b"\"time\":") {
                                let t_us = t * 1000;
                                if now >= t_us {
                                    rec.record(now - t_us);
                                }
                            }
                        }
                    }
                    Err(e) if e.is_timeout() => {}
                    Err(e) => {
                        warn!(error = %e, "Redis latency consumer failed.");
                        return;
                    }
                }
            }
        })?;
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .context("Redis subscriber did not start")?;
    Ok(())
}

/// The unsigned integer after `key` in a JSON text (no full parse on the consumer path).
pub fn json_u64_field(text: &[u8], key: &[u8]) -> Option<u64> {
    let at = text.windows(key.len()).position(|w| w == key)? + key.len();
    let digits: Vec<u8> = text[at..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_integer_fields() {
        let t = br#"{"symbol":"BTCUSDT","time":1700000000123,"price":1}"#;
        assert_eq!(
            super::json_u64_field(t, b"\"time\":"),
            Some(1_700_000_000_123)
        );
        assert_eq!(super::json_u64_field(t, b"\"nope\":"), None);
    }
}
