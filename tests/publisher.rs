//! The publisher against the real local services (Redis 127.0.0.1:6379, RabbitMQ
//! 127.0.0.1:5672 guest/guest). Each run uses its own exchange and symbols, so parallel runs
//! do not see each other's messages (serviceLog is shared: boot messages are matched by bootId).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corefeed::publisher::{
    spawn, PriceRole, PublisherCommand, PublisherConfig, PublisherInputs, PublisherMetrics,
};
use corefeed_shards::event::{now_ns, Candle, Envelope, Event, SeedQuantity, Ticker};
use corefeed_shards::types::{Decimal, Interval, Provider, Symbol};
use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use serde_json::{json, Value};

fn uniq() -> String {
    format!("{}{}", std::process::id(), now_ns() % 1_000_000_000)
}

fn d(s: &str) -> Decimal {
    Decimal::new(s).unwrap()
}

fn candle(p: Provider, sym: &str, iv: &str, start: u64, closed: bool) -> Candle {
    Candle {
        provider: p,
        symbol: Symbol::new(sym).unwrap(),
        interval: Interval::new(iv).unwrap(),
        start_ms: start,
        open: d("64000.10"),
        high: d("64010.00"),
        low: d("63990.5"),
        close: d("64005.00"),
        volume: d("12.30000000"),
        closed,
        event_time_ms: start + 59_999,
    }
}

fn ticker(p: Provider, sym: &str, time: u64, q: SeedQuantity) -> Ticker {
    Ticker {
        provider: p,
        symbol: Symbol::new(sym).unwrap(),
        event_time_ms: time,
        last: d("64000.10000000"),
        volume: d("1234.50000000"),
        quote_volume: d("79008000.12300000"),
        bid: d("64000.00"),
        bid_size: d("0.500"),
        ask: d("64000.20"),
        ask_size: if q == SeedQuantity::BookSizes {
            Decimal::EMPTY
        } else {
            d("1.25")
        },
        seed_quantity: q,
    }
}

fn env(event: Event, sent: bool) -> Envelope {
    let now = now_ns();
    Envelope {
        event,
        recv_ns: now,
        sent_ns: if sent { now - 1_000_000 } else { 0 },
        ring_ns: if sent { now - 999_000 } else { 0 },
        shard: 0,
    }
}

/// A Redis subscriber on its own thread collecting (channel, payload) until told to stop.
struct Sub {
    got: Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl Sub {
    fn start(channels: Vec<String>) -> Sub {
        let got = Arc::new(std::sync::Mutex::new(Vec::new()));
        let g = got.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let client = redis::Client::open("redis://127.0.0.1:6379/").unwrap();
            let mut conn = client.get_connection().unwrap();
            let mut ps = conn.as_pubsub();
            for c in &channels {
                ps.subscribe(c).unwrap();
            }
            ps.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            ready_tx.send(()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                match ps.get_message() {
                    Ok(m) => {
                        let ch = m.get_channel_name().to_owned();
                        let p: String = m.get_payload().unwrap();
                        g.lock().unwrap().push((ch, p));
                    }
                    Err(e) if e.is_timeout() => {
                        if Arc::strong_count(&g) == 1 {
                            return;
                        }
                    }
                    Err(e) => panic!("redis subscriber: {e}"),
                }
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        Sub { got }
    }

    fn wait_for(
        &self,
        n: usize,
        pred: impl Fn(&(String, String)) -> bool,
    ) -> Vec<(String, String)> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v: Vec<_> = self
                .got
                .lock()
                .unwrap()
                .iter()
                .filter(|m| pred(m))
                .cloned()
                .collect();
            if v.len() >= n || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn test_config(exchange: &str) -> PublisherConfig {
    let cfg: PublisherConfig = toml::from_str(&format!(
        r#"
        [redis]
        host = "127.0.0.1"
        [amqp]
        host = "127.0.0.1"
        exchange = "{exchange}"
        max_in_flight = 256
        batch_size = 64
        [amqp.queues.user_orders]
        enabled = false
        [amqp.queues.user_balances]
        enabled = false
        [amqp.queues.user_positions]
        enabled = false
        [amqp.queues.price_candles]
        enabled = false
        [amqp.queues.price_tickers]
        enabled = false
        [publisher]
        role = "all"
        batch_size = 100
        alive_interval_ms = 1000
        "#
    ))
    .unwrap();
    cfg.validate().unwrap();
    cfg
}

async fn amqp_queue(exchange: &str, queue: &str) -> (Connection, lapin::Channel) {
    let conn = Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        exchange.into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_bind(
        queue.into(),
        exchange.into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    (conn, ch)
}

#[test]
fn publishes_every_field_filters_open_candles_and_drains_on_shutdown() {
    let id = uniq();
    let exchange = format!("corefeed.test.{id}");
    let bsym = format!("T{id}USDT");
    let osym = format!("T{id}-USDT");
    let ksym = format!("K{id}-USDT");
    let ctl = format!("corefeed-test-{id}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (conn, ch) = rt.block_on(amqp_queue(&exchange, &format!("q.{id}")));

    let sub = Sub::start(vec![
        "serviceLog".into(),
        format!("trade@{bsym}@binance"),
        format!("trade@{osym}@okx"),
        format!("{bsym}@binance@1mCandle"),
        format!("{ksym}@kucoin@1minCandle"),
        ctl.clone(),
    ]);

    let (mut p0, c0) = rtrb::RingBuffer::<Envelope>::new(4096);
    let (mut p1, c1) = rtrb::RingBuffer::<Envelope>::new(4096);
    let wake = Arc::new(tokio::sync::Notify::new());
    let shutdown = Arc::new(AtomicBool::new(false));
    let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
    let metrics = Arc::new(PublisherMetrics::new());

    // First wave: the shapes to check field by field.
    let t0 = 1_786_091_700_000;
    let first = [
        Event::Candle(candle(Provider::Binance, &bsym, "1m", t0, false)), // no Redis
        Event::Candle(candle(Provider::Binance, &bsym, "1m", t0, true)),
        Event::Candle(candle(Provider::Kucoin, &ksym, "1min", t0, false)), // Redis: every update
        Event::Ticker(ticker(
            Provider::Binance,
            &bsym,
            t0 + 1,
            SeedQuantity::QuoteVolume,
        )),
        Event::Ticker(ticker(
            Provider::Okx,
            &osym,
            t0 + 2,
            SeedQuantity::BookSizes,
        )),
    ];
    for e in first {
        p0.push(env(e, true)).unwrap();
    }
    let handle = spawn(
        test_config(&exchange),
        PublisherInputs {
            rings: vec![c0, c1],
            user_rings: vec![],
            wake: wake.clone(),
            commands: cmd_rx,
            shutdown: shutdown.clone(),
        },
        metrics.clone(),
        Some(0),
    );
    // Let it boot, go idle and emit one alive beacon.
    std::thread::sleep(Duration::from_millis(1300));
    cmd_tx
        .send(PublisherCommand::Publish {
            channel: ctl.clone(),
            payload: "hello".into(),
        })
        .unwrap();
    // Second wave: bulk tickers on both rings, then shutdown at once: all must be drained.
    const BULK: u64 = 1500;
    for i in 0..BULK {
        let t = Event::Ticker(ticker(
            Provider::Binance,
            &bsym,
            t0 + 1000 + i,
            SeedQuantity::QuoteVolume,
        ));
        let r = if i % 2 == 0 { &mut p0 } else { &mut p1 };
        while r.push(env(t, false)).is_err() {
            wake.notify_one();
            std::thread::yield_now();
        }
    }
    wake.notify_one();
    shutdown.store(true, Ordering::Release);
    wake.notify_one();
    let report = handle.join().unwrap().unwrap();
    let total = 5 + BULK;
    assert_eq!(report.events_in, total, "{report:?}");
    assert_eq!(report.redis_skipped_open_candles, 1);
    assert_eq!(report.amqp_published, total, "{report:?}");
    assert_eq!(report.amqp_confirmed, total, "{report:?}");
    assert_eq!(report.dropped, 0, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
    // boot (2) + alive (>=1) + command (1) + 4 first-wave + BULK
    assert!(report.redis_messages >= 4 + 4 + BULK, "{report:?}");
    assert!(report.recv_to_redis_us[2] > 0 && report.recv_to_amqp_us[2] > 0);

    // ---- Redis
    let boot = &report.boot_id;
    assert!(
        boot.starts_with(&format!("all-{}-", std::process::id())),
        "{boot}"
    );
    let service = sub.wait_for(2, |(c, p)| c == "serviceLog" && p.contains(boot.as_str()));
    let service: Vec<Value> = service
        .iter()
        .map(|(_, p)| serde_json::from_str(p).unwrap())
        .collect();
    assert!(
        service.contains(&json!({"restart":"priceConnector","bootId":boot})),
        "{service:?}"
    );
    assert!(
        service.contains(&json!({"priceConnectorAlive":{"bootId":boot,"role":"all"}})),
        "{service:?}"
    );
    let user_restart = sub.wait_for(1, |(c, p)| {
        c == "serviceLog" && p == r#"{"restart":"userStream"}"#
    });
    assert!(!user_restart.is_empty());
    let ctl_msgs = sub.wait_for(1, |(c, _)| *c == ctl);
    assert_eq!(ctl_msgs, vec![(ctl.clone(), "hello".to_owned())]);

    let candles = sub.wait_for(1, |(c, _)| c.ends_with("Candle"));
    let by_ch: HashMap<_, _> = candles.iter().cloned().collect();
    assert_eq!(
        candles.len(),
        2,
        "open Binance candle must not be published: {candles:?}"
    );
    assert_eq!(
        by_ch[&format!("{bsym}@binance@1mCandle")],
        format!(
            r#"{{"start":{t0},"open":"64000.10","high":"64010.00","low":"63990.5","close":"64005.00","volume":"12.30000000","uniqueMessageId":"{bsym}{t0}64000.1064010.0063990.564005.0012.300000001m@binance"}}"#
        )
    );
    assert_eq!(
        by_ch[&format!("{ksym}@kucoin@1minCandle")],
        format!(
            r#"{{"start":{t0},"open":"64000.10","high":"64010.00","low":"63990.5","close":"64005.00","volume":"12.30000000","uniqueMessageId":"{ksym}{t0}64000.1064010.0063990.564005.0012.300000001min@kucoin"}}"#
        )
    );
    let okx = sub.wait_for(1, |(c, _)| *c == format!("trade@{osym}@okx"));
    let v: Value = serde_json::from_str(&okx[0].1).unwrap();
    let event_time = v["eventTime"].as_u64().unwrap();
    assert!(event_time > t0);
    // Exact text, with the ticker's eventTime (local now) taken from the message itself.
    assert_eq!(
        okx[0].1,
        format!(
            r#"{{"symbol":"{osym}","time":{},"price":64000.1,"volume":1234.5,"bestAsk":64000.1,"bestBid":64000.1,"bestAskQnt":0,"bestBidQnt":0.5,"uniqueMessageId":"{osym}@{}@okx64000.11234.564000.164000.100.5","eventTime":{event_time},"exchange":"okx"}}"#,
            t0 + 2,
            t0 + 2
        )
    );
    let btick = sub.wait_for(1 + BULK as usize, |(c, _)| {
        *c == format!("trade@{bsym}@binance")
    });
    assert_eq!(btick.len(), 1 + BULK as usize, "every ticker reaches Redis");
    let v: Value = serde_json::from_str(&btick[0].1).unwrap();
    assert_eq!(v["bestAskQnt"], json!(79008000.123));
    assert_eq!(v["bestBidQnt"], json!(79008000.123));
    assert_eq!(v["bestAsk"], v["price"]);
    assert_eq!(v["exchange"], json!("binance"));
    assert_eq!(
        v["uniqueMessageId"],
        json!(format!(
            "{bsym}@{}@binance64000.11234.564000.164000.179008000.12379008000.123",
            t0 + 1
        ))
    );
    // Order within one ring is kept.
    let times: Vec<u64> = btick
        .iter()
        .map(|(_, p)| {
            serde_json::from_str::<Value>(p).unwrap()["time"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let evens: Vec<u64> = times
        .iter()
        .copied()
        .filter(|t| (t - t0) >= 1000 && (t - t0) % 2 == 0)
        .collect();
    assert!(evens.windows(2).all(|w| w[0] < w[1]));

    // ---- RabbitMQ
    let msgs = rt.block_on(async {
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while out.len() < total as usize && Instant::now() < deadline {
            match ch
                .basic_get(
                    format!("q.{id}").as_str().into(),
                    BasicGetOptions { no_ack: true },
                )
                .await
                .unwrap()
            {
                Some(m) => out.push(m.delivery),
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        out
    });
    assert_eq!(msgs.len(), total as usize);
    let first_candle = &msgs[0];
    assert_eq!(
        first_candle.routing_key.as_str(),
        format!("candle.binance.{bsym}.1m")
    );
    let body: Value = serde_json::from_slice(&first_candle.data).unwrap();
    let ts = body["timestamp"].as_u64().unwrap();
    assert_eq!(
        body,
        json!({"provider":"binance","symbol":bsym,"interval":"1m","timestamp":ts,
               "data":{"start":t0,"open":"64000.10","high":"64010.00","low":"63990.5","close":"64005.00",
                       "volume":"12.30000000","closed":false,"eventTime":t0 + 59_999}})
    );
    let pr = &first_candle.properties;
    assert_eq!(
        pr.content_type().as_ref().unwrap().as_str(),
        "application/json"
    );
    assert_eq!(pr.kind().as_ref().unwrap().as_str(), "candle");
    assert_eq!(pr.app_id().as_ref().unwrap().as_str(), "corefeed");
    assert_eq!(*pr.delivery_mode(), Some(1));
    assert_eq!(*pr.timestamp(), Some(ts / 1000));
    assert_eq!(
        pr.message_id().as_ref().unwrap().as_str(),
        format!("{bsym}{t0}64000.1064010.0063990.564005.0012.300000001m@binance")
    );
    let h = pr.headers().as_ref().unwrap().inner();
    assert_eq!(
        h.get("exchange_time_ms"),
        Some(&AMQPValue::LongLongInt((t0 + 59_999) as i64))
    );
    match h.get("received_us") {
        Some(AMQPValue::LongLongInt(us)) => assert_eq!(*us as u64 / 1000, ts),
        other => panic!("received_us header: {other:?}"),
    }
    assert_eq!(
        serde_json::from_slice::<Value>(&msgs[1].data).unwrap()["data"]["closed"],
        json!(true)
    );
    let okx = msgs
        .iter()
        .find(|m| m.routing_key.as_str() == format!("ticker.okx.{osym}"))
        .unwrap();
    let body: Value = serde_json::from_slice(&okx.data).unwrap();
    assert_eq!(
        body["data"],
        json!({"last":"64000.10000000","volume":"1234.50000000","quoteVolume":"79008000.12300000",
               "bid":"64000.00","bidSize":"0.500","ask":"64000.20","askSize":null,"eventTime":t0 + 2})
    );
    assert_eq!(body.get("interval"), None);
    assert_eq!(
        msgs.iter()
            .filter(|m| m.routing_key.as_str() == format!("ticker.binance.{bsym}"))
            .count(),
        1 + BULK as usize
    );

    // ---- metrics
    let mut text = String::new();
    metrics.render_prometheus(&mut text);
    assert!(
        text.contains(&format!(
            "corefeed_publisher_events_total{{kind=\"ticker\"}} {}",
            2 + BULK
        )),
        "{text}"
    );
    assert!(text
        .contains("corefeed_publish_latency_us{from=\"sent\",sink=\"redis\",quantile=\"0.99\"}"));

    rt.block_on(async {
        let _ = ch
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await;
        let _ = conn.close(200, "bye".into()).await;
    });
}

#[test]
fn redis_outage_buffers_then_counts_what_could_not_be_flushed() {
    let id = uniq();
    let mut cfg = test_config(&format!("corefeed.test.{id}"));
    cfg.redis.port = 1; // nothing listens there
    cfg.redis.buffer_capacity = 10;
    cfg.amqp.enabled = false;
    cfg.publisher.shutdown_flush_ms = 300;
    let (mut p0, c0) = rtrb::RingBuffer::<Envelope>::new(64);
    for i in 0..20 {
        let t = Event::Ticker(ticker(Provider::Binance, "X", i, SeedQuantity::QuoteVolume));
        p0.push(env(t, false)).unwrap();
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    let (_tx, rx) = crossbeam_channel::unbounded();
    let metrics = Arc::new(PublisherMetrics::new());
    let h = spawn(
        cfg,
        PublisherInputs {
            rings: vec![c0],
            user_rings: vec![],
            wake: Arc::new(tokio::sync::Notify::new()),
            commands: rx,
            shutdown: shutdown.clone(),
        },
        metrics.clone(),
        None,
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(metrics.redis_buffered.load(Ordering::Relaxed), 10);
    shutdown.store(true, Ordering::Release);
    let r = h.join().unwrap().unwrap();
    assert_eq!(r.events_in, 20);
    assert_eq!(r.redis_messages, 0);
    // 20 tickers + boot messages into a buffer of 10: 12 price messages dropped by overflow
    // (boot messages are control messages and are kept), the 10 left dropped at shutdown.
    assert_eq!(
        metrics.redis_dropped.load(Ordering::Relaxed),
        12 + 10,
        "{r:?}"
    );
    assert_eq!(r.dropped, 22);
    assert!(r.errors >= 1);
}

#[test]
fn invalid_config_stops_with_the_key() {
    let mut cfg = PublisherConfig::default();
    cfg.amqp.exchange.clear();
    let (_tx, rx) = crossbeam_channel::unbounded();
    let h = spawn(
        cfg,
        PublisherInputs {
            rings: vec![],
            user_rings: vec![],
            wake: Arc::new(tokio::sync::Notify::new()),
            commands: rx,
            shutdown: Arc::new(AtomicBool::new(true)),
        },
        Arc::new(PublisherMetrics::new()),
        None,
    );
    let e = format!("{:#}", h.join().unwrap().unwrap_err());
    assert!(e.contains("amqp.exchange"), "{e}");
    let _ = PriceRole::All;
}

/// Throughput and latency on this machine (not a CI check):
/// `cargo test --release -p corefeed --test publisher -- --ignored --nocapture`.
/// A publisher fed by one price ring (no user rings, no commands).
struct OneRing {
    p0: rtrb::Producer<Envelope>,
    wake: Arc<tokio::sync::Notify>,
    shutdown: Arc<AtomicBool>,
    h: std::thread::JoinHandle<anyhow::Result<corefeed::publisher::PublisherReport>>,
}

fn one_ring(cfg: PublisherConfig, capacity: usize) -> OneRing {
    let (p0, c0) = rtrb::RingBuffer::<Envelope>::new(capacity);
    let wake = Arc::new(tokio::sync::Notify::new());
    let shutdown = Arc::new(AtomicBool::new(false));
    // The command sender may drop: the publisher only polls the receiver.
    let (_tx, rx) = crossbeam_channel::unbounded();
    let h = spawn(
        cfg,
        PublisherInputs {
            rings: vec![c0],
            user_rings: vec![],
            wake: wake.clone(),
            commands: rx,
            shutdown: shutdown.clone(),
        },
        Arc::new(PublisherMetrics::new()),
        None,
    );
    OneRing {
        p0,
        wake,
        shutdown,
        h,
    }
}

#[test]
#[ignore]
fn measure_throughput() {
    let id = uniq();
    let exchange = format!("corefeed.test.{id}");
    let mut cfg = test_config(&exchange);
    cfg.amqp.max_in_flight = 4096;
    cfg.amqp.batch_size = 512;
    cfg.publisher.batch_size = 512;
    let OneRing {
        mut p0,
        wake,
        shutdown,
        h,
    } = one_ring(cfg, 65536);
    std::thread::sleep(Duration::from_millis(300));
    const N: u64 = 100_000;
    let sym = format!("P{id}");
    let start = Instant::now();
    for i in 0..N {
        let t = Event::Ticker(ticker(
            Provider::Binance,
            &sym,
            i,
            SeedQuantity::QuoteVolume,
        ));
        let mut e = env(t, false);
        while let Err(rtrb::PushError::Full(back)) = p0.push(e) {
            e = back;
            wake.notify_one();
            std::thread::sleep(Duration::from_micros(50));
        }
        if i % 64 == 0 {
            wake.notify_one();
        }
    }
    wake.notify_one();
    shutdown.store(true, Ordering::Release);
    let r = h.join().unwrap().unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{N} tickers -> {} redis + {} amqp confirmed in {secs:.2}s = {:.0} events/s; recv->redis p50/p99/max {:?} us, recv->amqp {:?} us",
        r.redis_messages,
        r.amqp_confirmed,
        N as f64 / secs,
        r.recv_to_redis_us,
        r.recv_to_amqp_us
    );
    assert_eq!(r.amqp_confirmed, N);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (conn, ch) = amqp_queue(&exchange, &format!("q.{id}")).await;
        let _ = ch
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await;
        let _ = conn.close(200, "bye".into()).await;
    });
}

#[test]
fn declares_the_exchange_and_the_five_queues() {
    // The queue names are fixed by the contract, so this declares the real (durable) queues on
    // the local broker with default arguments — what production does — and binds them to a
    // throwaway exchange that is deleted afterwards (which removes the bindings). Nothing is
    // published, so no other consumer's queue gets test messages.
    let id = uniq();
    let exchange = format!("corefeed.test.{id}");
    let mut cfg = test_config(&exchange);
    for q in [
        &mut cfg.amqp.queues.user_orders,
        &mut cfg.amqp.queues.user_balances,
        &mut cfg.amqp.queues.user_positions,
        &mut cfg.amqp.queues.price_candles,
        &mut cfg.amqp.queues.price_tickers,
    ] {
        q.enabled = true;
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    let (_tx, rx) = crossbeam_channel::unbounded();
    let metrics = Arc::new(PublisherMetrics::new());
    let h = spawn(
        cfg,
        PublisherInputs {
            rings: vec![],
            user_rings: vec![],
            wake: Arc::new(tokio::sync::Notify::new()),
            commands: rx,
            shutdown: shutdown.clone(),
        },
        metrics.clone(),
        None,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while metrics.amqp_connected.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    shutdown.store(true, Ordering::Release);
    let r = h.join().unwrap().unwrap();
    assert_eq!(r.errors, 0, "{r:?}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conn = Connection::connect(
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            ConnectionProperties::default(),
        )
        .await
        .unwrap();
        let ch = conn.create_channel().await.unwrap();
        for q in [
            "user_orders",
            "user_balances",
            "user_positions",
            "price_candles",
            "price_tickers",
        ] {
            ch.queue_declare(
                q.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("queue {q} was not declared: {e}"));
        }
        // The exchange exists, durable and topic (a passive declare would not check the type).
        ch.exchange_declare(
            exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
        ch.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await
            .unwrap();
        let _ = conn.close(200, "bye".into()).await;
    });
}

/// User events (issue 3): room channel, `userStreamInfo`, `stream:lastEventTime`, the `orders`
/// hash with its expiry (HEXPIRE or the sweep's deadline), and the RabbitMQ `order` messages.
#[test]
fn user_events_reach_redis_state_and_rabbitmq() {
    use corefeed_shards::event::{RoomTag, UserEnvelope, UserItem};
    use corefeed_shards::exchanges::binance::user::normalize;
    let id = uniq();
    let exchange = format!("corefeed.test.{id}");
    let room = format!("room-{id}");
    let client_id = format!("D-TP-{id}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (conn, ch) = rt.block_on(amqp_queue(&exchange, &format!("q.{id}")));
    let sub = Sub::start(vec![room.clone(), format!("userStreamInfo{room}")]);

    // Two real frames of one order (fixture), with this run's client order id.
    let fixture = include_str!("../shards/fixtures/binance/user/spot.jsonl");
    let mut msgs = Vec::new();
    for line in fixture.lines().take(3).filter(|l| !l.contains("PARTIALLY")) {
        let line = line.replace("D-TP-abc123", &client_id);
        normalize(Provider::Binance, &line, 0, &mut msgs).unwrap();
    }
    assert_eq!(msgs.len(), 2);
    let tag = Arc::new(RoomTag {
        room_id: room.clone(),
        user_id: "user-1".into(),
        provider: Provider::Binance,
    });
    let (mut up, uc) = rtrb::RingBuffer::<UserEnvelope>::new(64);
    up.push(UserEnvelope {
        room: tag.clone(),
        item: UserItem::Subscribed { reconnect: false },
        recv_ns: now_ns(),
    })
    .unwrap();
    for m in &msgs {
        up.push(UserEnvelope {
            room: tag.clone(),
            item: UserItem::Message(m.clone()),
            recv_ns: now_ns(),
        })
        .unwrap();
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded();
    let metrics = Arc::new(PublisherMetrics::new());
    let h = spawn(
        test_config(&exchange),
        PublisherInputs {
            rings: vec![],
            user_rings: vec![uc],
            wake: Arc::new(tokio::sync::Notify::new()),
            commands: cmd_rx,
            shutdown: shutdown.clone(),
        },
        metrics.clone(),
        None,
    );
    let got = sub.wait_for(3, |_| true);
    let on_room: Vec<&String> = got
        .iter()
        .filter(|(c, _)| *c == room)
        .map(|(_, p)| p)
        .collect();
    assert_eq!(on_room, vec![&msgs[0].json, &msgs[1].json], "room channel");
    assert!(got.contains(&(
        format!("userStreamInfo{room}"),
        format!("Subscribed to user {room}")
    )));

    let client = redis::Client::open("redis://127.0.0.1:6379/").unwrap();
    let mut r = client.get_connection().unwrap();
    let score: Option<u64> = redis::cmd("ZSCORE")
        .arg("stream:lastEventTime")
        .arg(&room)
        .query(&mut r)
        .unwrap();
    let now = corefeed_shards::event::now_ms();
    assert!(
        score.is_some_and(|s| s <= now && s + 30_000 > now),
        "{score:?}"
    );
    let stored: Option<String> = redis::cmd("HGET")
        .arg("orders")
        .arg(&client_id)
        .query(&mut r)
        .unwrap();
    assert_eq!(
        stored.as_deref(),
        Some(msgs[1].json.as_str()),
        "FILLED is the last write"
    );
    // FILLED ⇒ 300 s: either a field TTL (Redis ≥ 7.4) or the sweep's deadline.
    let deadline: Option<u64> = redis::cmd("ZSCORE")
        .arg("corefeed:orders:expiry")
        .arg(&client_id)
        .query(&mut r)
        .unwrap();
    match deadline {
        Some(d) => assert!(d > now + 290_000 && d <= now + 300_000, "{d} vs {now}"),
        None => {
            let ttl: Vec<i64> = redis::cmd("HTTL")
                .arg("orders")
                .arg("FIELDS")
                .arg(1)
                .arg(&client_id)
                .query(&mut r)
                .unwrap();
            assert!(ttl[0] > 290 && ttl[0] <= 300, "{ttl:?}");
        }
    }
    // A closed room leaves the liveness set.
    cmd_tx
        .send(PublisherCommand::ForgetRoom {
            room_id: room.clone(),
        })
        .unwrap();
    let t = Instant::now();
    loop {
        let s: Option<u64> = redis::cmd("ZSCORE")
            .arg("stream:lastEventTime")
            .arg(&room)
            .query(&mut r)
            .unwrap();
        if s.is_none() {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "ZREM not done");
        std::thread::sleep(Duration::from_millis(20));
    }
    shutdown.store(true, Ordering::Release);
    let rep = h.join().unwrap().unwrap();
    assert_eq!(rep.dropped, 0);
    let _: () = redis::cmd("HDEL")
        .arg("orders")
        .arg(&client_id)
        .query(&mut r)
        .unwrap();
    let _: () = redis::cmd("ZREM")
        .arg("corefeed:orders:expiry")
        .arg(&client_id)
        .query(&mut r)
        .unwrap();

    rt.block_on(async {
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.len() < 3 && Instant::now() < deadline {
            match ch
                .basic_get(
                    format!("q.{id}").as_str().into(),
                    BasicGetOptions { no_ack: true },
                )
                .await
                .unwrap()
            {
                Some(m) => seen.push(m),
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        assert_eq!(seen.len(), 3);
        let keys: Vec<String> = seen
            .iter()
            .map(|m| m.delivery.routing_key.to_string())
            .collect();
        let room_key = room.replace('.', "_");
        assert_eq!(
            keys,
            vec![
                format!("status.binance.{room_key}"),
                format!("order.binance.{room_key}"),
                format!("order.binance.{room_key}")
            ]
        );
        for (m, msg) in seen[1..].iter().zip(&msgs) {
            let body: Value = serde_json::from_slice(&m.delivery.data).unwrap();
            assert_eq!(body["userId"], "user-1");
            assert_eq!(body["roomId"], json!(room));
            assert_eq!(body["provider"], "binance");
            let data: Value = serde_json::from_str(&msg.json).unwrap();
            assert_eq!(body["data"], data, "data is the Redis payload");
            let p = &m.delivery.properties;
            assert_eq!(
                p.message_id().as_ref().map(|s| s.to_string()),
                Some(msg.unique_message_id.clone())
            );
            assert_eq!(*p.delivery_mode(), Some(2), "user kinds are persistent");
            assert_eq!(
                p.kind().as_ref().map(|s| s.to_string()).as_deref(),
                Some("order")
            );
        }
        let status: Value = serde_json::from_slice(&seen[0].delivery.data).unwrap();
        assert_eq!(
            status["data"],
            json!({"event":"subscribed","reconnect":false})
        );
        let _ = ch
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await;
        let _ = conn.close(200, "bye".into()).await;
    });
}

/// `amqp.channels = 3`: messages are spread over three channels by routing key; every one is
/// confirmed, and each market's messages reach the queue in the order they were published.
#[test]
fn lanes_confirm_everything_and_keep_each_market_in_order() {
    let id = uniq();
    let exchange = format!("corefeed.test.{id}");
    let mut cfg = test_config(&exchange);
    cfg.amqp.channels = 3;
    cfg.validate().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let queue = format!("q.{id}");
    let (conn, ch) = rt.block_on(amqp_queue(&exchange, &queue));

    let OneRing {
        mut p0,
        wake,
        shutdown,
        h,
    } = one_ring(cfg, 4096);
    const MARKETS: u64 = 12;
    const PER_MARKET: u64 = 150;
    let t0 = 1_700_000_000_000u64;
    for i in 0..PER_MARKET {
        for k in 0..MARKETS {
            let sym = format!("L{k}{id}");
            let c = Event::Candle(candle(
                Provider::Binance,
                &sym,
                "1m",
                t0 + i * 60_000,
                false,
            ));
            let mut e = env(c, false);
            while let Err(rtrb::PushError::Full(back)) = p0.push(e) {
                e = back;
                wake.notify_one();
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        wake.notify_one();
    }
    shutdown.store(true, Ordering::Release);
    let r = h.join().unwrap().unwrap();
    let total = MARKETS * PER_MARKET;
    assert_eq!(r.amqp_confirmed, total, "every publish confirmed");
    assert_eq!(r.dropped, 0);

    let got = rt.block_on(async {
        let mut out: Vec<(String, u64)> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while out.len() < total as usize && Instant::now() < deadline {
            match ch
                .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
            {
                Some(m) => {
                    let body: Value = serde_json::from_slice(&m.delivery.data).unwrap();
                    out.push((
                        m.delivery.routing_key.to_string(),
                        body["data"]["start"].as_u64().unwrap(),
                    ));
                }
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let _ = ch
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await;
        let _ = conn.close(200, "bye".into()).await;
        out
    });
    assert_eq!(got.len(), total as usize, "every message delivered once");
    let mut by_key: HashMap<String, Vec<u64>> = HashMap::new();
    for (k, start) in got {
        by_key.entry(k).or_default().push(start);
    }
    assert_eq!(by_key.len(), MARKETS as usize);
    for (k, starts) in &by_key {
        let want: Vec<u64> = (0..PER_MARKET).map(|i| t0 + i * 60_000).collect();
        assert_eq!(
            starts, &want,
            "{k}: in publication order, none lost or repeated"
        );
    }
}
