//! SIGTERM under load (issue 5): while ~5,000 candle frames/s flow and user events arrive,
//! corefeed is stopped; everything the shards had handed over is published and confirmed
//! before the process exits 0, and a real consumer receives it all.
//!
//! Needs `cargo build --bins` first (`make test` does it) and Redis/RabbitMQ on localhost.

use futures_util::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
mod common;
use common::users::*;
use common::*;

/// The `key=value` field of the "Publisher drained" log line (ANSI colours stripped).
fn drained_field(log: &str, key: &str) -> u64 {
    let line = log
        .lines()
        .find(|l| l.contains("Publisher drained"))
        .unwrap_or_else(|| panic!("no drain line in:\n{log}"));
    let mut plain = String::new();
    let mut esc = false;
    for c in line.chars() {
        match (esc, c) {
            (false, '\u{1b}') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, c) => plain.push(c),
        }
    }
    plain
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {plain:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_publishes_everything_received() {
    // 40 symbols × 120 frames/s of klines (~4,800 frames/s), every update to RabbitMQ.
    let h = Harness::start(
        "shutdown",
        &["--symbols", "40", "--kline-rate", "120"],
        "[prices]\nproviders = [\"binance\"]\ncandles = true\n",
        &[],
    )
    .await;
    // A consumer of every candle message on this run's events exchange.
    let conn = Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let q = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    ch.exchange_declare(
        h.names.events_exchange.as_str().into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_bind(
        q.name().clone(),
        h.names.events_exchange.as_str().into(),
        "candle.#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut consumer = ch
        .basic_consume(
            q.name().clone(),
            "shutdown".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let candles = Arc::new(AtomicU64::new(0));
    let c2 = candles.clone();
    tokio::spawn(async move {
        while let Some(Ok(_)) = consumer.next().await {
            c2.fetch_add(1, Ordering::Relaxed);
        }
    });
    let pairs: serde_json::Value =
        ureq::get(&format!("http://{}/exchange/all?exchange=binance", h.sim))
            .call()
            .unwrap()
            .into_json()
            .unwrap();
    let text = pairs.to_string();
    let mut n = 0;
    for sym in text
        .split("\"pair\":\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .take(40)
    {
        let body = json!({"exchange": "binance", "symbol": sym, "interval": "1m"}).to_string();
        let r = http_post(h.http_port, "/v1/candles", Some("e2e-token"), &body).unwrap();
        assert!(r.0 == 200 || r.0 == 201, "{r:?}");
        n += 1;
    }
    assert!(n >= 4, "the simulator lists symbols: {text}");
    // A user stream too: its events must survive the stop as well.
    h.sim(
        "/control/user/accounts",
        json!({"provider": "binanceUsdm", "key": "sd-key", "secret": "s"}),
    );
    let room = format!("room-shutdown-{}", std::process::id());
    h.open(&room, "u-sd", "binanceUsdm", "sd-key", "s", None)
        .await;
    h.wait_subscribed(&room, 1).await;
    // Let it run under load, inject user events, then stop at once.
    let t0 = Instant::now();
    while candles.load(Ordering::Relaxed) < 5_000 || t0.elapsed() < Duration::from_secs(3) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "candles never flowed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0..20 {
        h.sim(
            "/control/user/order",
            json!({"provider": "binanceUsdm", "key": "sd-key", "symbol": "BTCUSDT", "side": "BUY",
                "type": "LIMIT", "qty": "1", "price": "10", "clientOrderId": format!("sd-{i}")}),
        );
    }
    let m = h.metrics();
    let before_stop = metric_sum(&m, "corefeed_events_total");
    let amqp = h.amqp.clone();
    let log = h.stop();
    let events_in = drained_field(&log, "events");
    let confirmed = drained_field(&log, "amqp_confirmed");
    let dropped = drained_field(&log, "dropped");
    assert_eq!(dropped, 0, "nothing dropped at shutdown");
    assert!(
        events_in as f64 >= before_stop,
        "{events_in} < {before_stop}"
    );
    // Every event taken from the rings was confirmed by the broker (user events, candles and
    // the status messages all go to RabbitMQ in this configuration).
    assert_eq!(confirmed, events_in, "published and confirmed before exit");
    // And a real consumer receives every candle message.
    let t0 = Instant::now();
    let order_msgs = || h_amqp_count(&amqp, "order.binanceUsdm.");
    while order_msgs() < 20 && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(order_msgs(), 20, "every user event reached RabbitMQ");
    // Every confirmed message reaches the consumer: the candles are all but the 20 orders and
    // the room's one `status` message.
    let want = confirmed - 20 - 1;
    let t0 = Instant::now();
    while candles.load(Ordering::Relaxed) < want && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = candles.load(Ordering::Relaxed);
    assert_eq!(got, want, "the consumer got every confirmed candle message");
    println!(
        "SIGTERM under load: events read {events_in}, confirmed {confirmed}, candle messages consumed {got}, dropped {dropped}"
    );
    assert!(got > 5_000);
}

fn h_amqp_count(log: &Log<AmqpMsg>, prefix: &str) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|m| m.routing_key.starts_with(prefix))
        .count()
}
