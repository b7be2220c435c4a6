//! End to end, with real processes and real services: corefeed-sim (the exchange simulator)
//! → corefeed → real Redis (PSUBSCRIBE) and real RabbitMQ (a queue bound to the events topic
//! exchange). Candle requests arrive over RabbitMQ `candlesRequests`, bad ones among them; every
//! published field is checked; SIGTERM must drain and exit 0.
//!
//! Needs `cargo build --bins` first (`make test` does it) and Redis/RabbitMQ on localhost.

use futures_util::StreamExt;
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use serde_json::Value;
mod common;

use common::*;
use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::{Duration, Instant};

/// Ordered keys of a JSON object text (serde_json's Map would sort them).
fn key_order(json: &str) -> Vec<String> {
    let v: serde_json::Map<String, Value> = serde_json::from_str(json).unwrap();
    let mut keys: Vec<(usize, String)> = v
        .keys()
        .map(|k| (json.find(&format!("\"{k}\":")).unwrap(), k.clone()))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

fn js_number_text(v: &Value) -> String {
    // serde_json prints f64 like JS for these magnitudes; integers print plainly.
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candles_and_tickers_flow_from_simulator_to_redis_and_rabbitmq() {
    let (_sim, sim) = start_sim();
    let pid = std::process::id();
    let names = Names {
        events_exchange: format!("corefeed.events.e2e.{pid}"),
        commands_exchange: format!("gainium.e2e.{pid}"),
        commands_queue: format!("candlesRequests.e2e.{pid}"),
    };
    let http_port = free_port();
    let cfg = write_config(&sim, http_port, &names, "");

    // Consumers first, so nothing published is missed.
    let redis = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut pubsub = redis
        .get_async_pubsub()
        .await
        .expect("Redis on 127.0.0.1:6379");
    pubsub.psubscribe("*Candle").await.unwrap();
    pubsub.psubscribe("trade@*").await.unwrap();
    let amqp = Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        ConnectionProperties::default(),
    )
    .await
    .expect("RabbitMQ on 127.0.0.1:5672");
    let ch = amqp.create_channel().await.unwrap();
    ch.exchange_declare(
        names.events_exchange.as_str().into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
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
    ch.queue_bind(
        q.name().clone(),
        names.events_exchange.as_str().into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut consumer = ch
        .basic_consume(
            q.name().clone(),
            "e2e".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();

    let log_path = std::env::temp_dir().join(format!("corefeed-e2e-{pid}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(bin("corefeed"))
        .args(["run", "--config", cfg.to_str().unwrap()])
        .env_remove("PRICE_CONNECTOR_EXCHANGES")
        .env_remove("EXCHANGE_SERVICE_API_URL")
        .env("LOG_LEVEL", "info")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start corefeed");
    let mut corefeed = Proc(child);
    let t0 = Instant::now();
    while http_get(http_port, "/health").map(|r| r.0) != Some(200) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "corefeed /health never answered 200; log: {}",
            log_path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Candle requests over RabbitMQ, exactly as the platform sends them; three bad ones among them.
    let requests = [
        r#"{"payload":{"symbol":"BTCUSDT","exchange":"binance","interval":"1m"}}"#,
        r#"{"payload":{"symbol":"nope","exchange":"noSuchExchange","interval":"1m"}}"#,
        r#"{"payload":{"symbol":"ETHUSDT","exchange":"binanceUsdm","interval":"1m"}}"#,
        r#"this is not json"#,
        r#"{"payload":{"symbol":"BTCUSD_PERP","exchange":"binanceCoinm","interval":"1m"}}"#,
        r#"{"payload":{"symbol":"BTC-USDT","exchange":"okx","interval":"1m"}}"#,
        r#"{"payload":{"symbol":"BTC-USDT","exchange":"okx","interval":"candle1m"}}"#,
        r#"{"payload":{"symbol":"BTC-USDT-SWAP","exchange":"paperOkxLinear","interval":"candle1m"}}"#,
        r#"{"payload":{"symbol":"BTC-USD-SWAP","exchange":"okxInverse","interval":"candle1m"}}"#,
        r#"{"payload":{"symbol":"BTCUSDT","exchange":"paperBinance","interval":"1m"}}"#,
    ];
    ch.exchange_declare(
        names.commands_exchange.as_str().into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_declare(
        names.commands_queue.as_str().into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_bind(
        names.commands_queue.as_str().into(),
        names.commands_exchange.as_str().into(),
        names.commands_queue.as_str().into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    for r in requests {
        ch.basic_publish(
            names.commands_exchange.as_str().into(),
            names.commands_queue.as_str().into(),
            BasicPublishOptions::default(),
            r.as_bytes(),
            BasicProperties::default(),
        )
        .await
        .unwrap();
    }

    // Collect for a while: candles close every second in the simulator.
    let want_candles = [
        "BTCUSDT@binance@1mCandle",
        "ETHUSDT@binanceUsdm@1mCandle",
        "BTCUSD_PERP@binanceCoinm@1mCandle",
        "BTC-USDT@okx@candle1mCandle",
        "BTC-USDT-SWAP@okxLinear@candle1mCandle",
        "BTC-USD-SWAP@okxInverse@candle1mCandle",
    ];
    let mut redis_msgs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut amqp_msgs: Vec<(String, BasicProperties, String)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(25);
    {
        let mut redis_stream = pubsub.on_message();
        loop {
            let done = want_candles
                .iter()
                .all(|c| redis_msgs.get(*c).is_some_and(|v| v.len() >= 2))
                && [
                    "binance",
                    "binanceUsdm",
                    "binanceCoinm",
                    "okx",
                    "okxLinear",
                    "okxInverse",
                ]
                .iter()
                .all(|p| {
                    redis_msgs
                        .keys()
                        .any(|k| k.starts_with("trade@") && k.ends_with(&format!("@{p}")))
                });
            if done || Instant::now() > deadline {
                break;
            }
            tokio::select! {
                Some(m) = redis_stream.next() => {
                    let payload: String = m.get_payload().unwrap();
                    redis_msgs.entry(m.get_channel_name().to_owned()).or_default().push(payload);
                }
                Some(Ok(d)) = consumer.next() => {
                    amqp_msgs.push((d.routing_key.to_string(), d.properties.clone(), String::from_utf8(d.data.clone()).unwrap()));
                }
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }
    // Take what RabbitMQ already has for us (bounded: corefeed keeps publishing tickers).
    let drain_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < drain_until {
        let Ok(Some(Ok(d))) =
            tokio::time::timeout(Duration::from_millis(500), consumer.next()).await
        else {
            break;
        };
        amqp_msgs.push((
            d.routing_key.to_string(),
            d.properties.clone(),
            String::from_utf8(d.data.clone()).unwrap(),
        ));
    }

    // --- Redis candles: the seed's exact shape, closed-only, for every requested stream.
    for c in want_candles {
        let msgs = redis_msgs.get(c).unwrap_or_else(|| {
            panic!(
                "no Redis candle on {c}; got channels {:?}",
                redis_msgs.keys().collect::<Vec<_>>()
            )
        });
        let (symbol, rest) = c.split_once('@').unwrap();
        let (provider, interval) = rest.split_once('@').unwrap();
        let interval = interval.trim_end_matches("Candle");
        let mut starts = Vec::new();
        for m in msgs {
            assert_eq!(
                key_order(m),
                [
                    "start",
                    "open",
                    "high",
                    "low",
                    "close",
                    "volume",
                    "uniqueMessageId"
                ],
                "{c}: {m}"
            );
            let v: Value = serde_json::from_str(m).unwrap();
            let start = v["start"].as_u64().expect("start is a number");
            let s = |k: &str| {
                v[k].as_str()
                    .unwrap_or_else(|| panic!("{k} must be a string in {m}"))
                    .to_owned()
            };
            for k in ["open", "high", "low", "close", "volume"] {
                assert!(
                    corefeed_shards::types::is_plain_decimal(&s(k)),
                    "{c} {k} = {}",
                    s(k)
                );
            }
            let expected_id = format!(
                "{symbol}{start}{}{}{}{}{}{interval}@{provider}",
                s("open"),
                s("high"),
                s("low"),
                s("close"),
                s("volume")
            );
            assert_eq!(s("uniqueMessageId"), expected_id, "{c}");
            starts.push(start);
        }
        // Closed-only: each Redis candle is a different, advancing bucket (no open updates).
        assert!(
            starts.windows(2).all(|w| w[1] > w[0]),
            "{c}: starts must advance: {starts:?}"
        );
    }
    assert!(!redis_msgs.contains_key("nope@noSuchExchange@1mCandle"));

    // --- Redis tickers: numbers as JS prints them, seed quirks preserved.
    for p in [
        "binance",
        "binanceUsdm",
        "binanceCoinm",
        "okx",
        "okxLinear",
        "okxInverse",
    ] {
        let (chan, msgs) = redis_msgs
            .iter()
            .find(|(k, _)| k.starts_with("trade@") && k.ends_with(&format!("@{p}")))
            .unwrap_or_else(|| panic!("no ticker for {p}"));
        let m = &msgs[0];
        assert_eq!(
            key_order(m),
            [
                "symbol",
                "time",
                "price",
                "volume",
                "bestAsk",
                "bestBid",
                "bestAskQnt",
                "bestBidQnt",
                "uniqueMessageId",
                "eventTime",
                "exchange"
            ],
            "{chan}: {m}"
        );
        let v: Value = serde_json::from_str(m).unwrap();
        let symbol = v["symbol"].as_str().unwrap();
        assert_eq!(chan, &format!("trade@{symbol}@{p}"));
        assert_eq!(v["exchange"], p);
        assert_eq!(v["bestAsk"], v["price"], "seed quirk: bestAsk = price");
        assert_eq!(v["bestBid"], v["price"], "seed quirk: bestBid = price");
        if p.starts_with("binance") {
            assert_eq!(
                v["bestAskQnt"], v["bestBidQnt"],
                "Binance: both are the quote volume"
            );
        }
        let n = |k: &str| js_number_text(&v[k]);
        let id = format!(
            "{symbol}@{}@{p}{}{}{}{}{}{}",
            v["time"],
            n("price"),
            n("volume"),
            n("bestAsk"),
            n("bestBid"),
            n("bestAskQnt"),
            n("bestBidQnt")
        );
        assert_eq!(v["uniqueMessageId"].as_str().unwrap(), id);
        assert!(v["eventTime"].as_u64().unwrap() >= v["time"].as_u64().unwrap() / 2);
    }

    // --- RabbitMQ: routing keys, properties and bodies; candles carry every update with `closed`.
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut closed_seen: HashMap<String, (bool, bool)> = HashMap::new();
    for (rk, props, body) in &amqp_msgs {
        *by_key
            .entry(rk.split('.').take(2).collect::<Vec<_>>().join("."))
            .or_default() += 1;
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            props.content_type().as_ref().map(|s| s.as_str()),
            Some("application/json")
        );
        assert_eq!(
            props.app_id().as_ref().map(|s| s.as_str()),
            Some("corefeed")
        );
        let kind = rk.split('.').next().unwrap();
        assert_eq!(props.kind().as_ref().map(|s| s.as_str()), Some(kind));
        assert!(props.message_id().is_some(), "{rk}: message_id");
        let headers = props.headers().as_ref().expect("headers");
        assert!(
            matches!(
                headers.inner().get("received_us"),
                Some(
                    AMQPValue::LongLongInt(_)
                        | AMQPValue::LongUInt(_)
                        | AMQPValue::Timestamp(_)
                        | AMQPValue::LongInt(_)
                )
            ),
            "{rk}: received_us {headers:?}"
        );
        let provider = v["provider"].as_str().unwrap();
        let symbol = v["symbol"].as_str().unwrap();
        match kind {
            "candle" => {
                let interval = v["interval"].as_str().unwrap();
                assert_eq!(
                    rk,
                    &format!(
                        "candle.{provider}.{}.{}",
                        symbol.replace('.', "_"),
                        interval.replace('.', "_")
                    )
                );
                let closed = v["data"]["closed"].as_bool().expect("closed flag");
                let e = closed_seen
                    .entry(format!("{provider}/{symbol}"))
                    .or_default();
                if closed {
                    e.0 = true
                } else {
                    e.1 = true
                }
                for k in ["open", "high", "low", "close", "volume"] {
                    assert!(v["data"][k].is_string(), "{rk}: data.{k}");
                }
            }
            "ticker" => {
                assert_eq!(
                    rk,
                    &format!("ticker.{provider}.{}", symbol.replace('.', "_"))
                );
                assert!(v["data"]["last"].is_string(), "{rk}: data.last in {body}");
                if provider.starts_with("okx") {
                    assert!(
                        v["data"]["bid"].is_string() && v["data"]["ask"].is_string(),
                        "OKX tickers carry the real book: {body}"
                    );
                }
            }
            other => panic!("unexpected routing kind {other} ({rk})"),
        }
        assert!(v["timestamp"].as_u64().unwrap() > 1_600_000_000_000);
    }
    for p in [
        "binance",
        "binanceUsdm",
        "binanceCoinm",
        "okx",
        "okxLinear",
        "okxInverse",
    ] {
        assert!(
            by_key.get(&format!("candle.{p}")).copied().unwrap_or(0) > 0,
            "no AMQP candles for {p}: {by_key:?}"
        );
        assert!(
            by_key.get(&format!("ticker.{p}")).copied().unwrap_or(0) > 0,
            "no AMQP tickers for {p}: {by_key:?}"
        );
    }
    assert!(
        closed_seen.values().any(|(c, o)| *c && *o),
        "AMQP candles carry both open and closed updates: {closed_seen:?}"
    );

    // --- Bad input was counted, and the good data around it kept flowing (checked above).
    let (_, metrics) = http_get(http_port, "/metrics").unwrap();
    assert_eq!(
        metric(
            &metrics,
            "corefeed_candle_requests_total{result=\"invalid\"}"
        ),
        3.0,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "corefeed_candle_requests_total{result=\"added\"}"),
        6.0
    );
    assert_eq!(
        metric(
            &metrics,
            "corefeed_candle_requests_total{result=\"duplicate\"}"
        ),
        1.0
    );
    assert!(metric(&metrics, "corefeed_frames_total{provider=\"okx\"}") > 0.0);
    assert_eq!(
        metric(
            &metrics,
            "corefeed_decode_errors_total{provider=\"binance\"}"
        ),
        0.0
    );
    let (code, body) = http_get(http_port, "/ready").unwrap();
    assert_eq!(code, 200, "/ready: {body}");
    let (code, _) = http_get(http_port, "/v1/subscriptions").unwrap();
    assert_eq!(code, 401, "admin API needs the bearer token");
    let (code, body) = http_get(http_port, "/nope").unwrap();
    assert_eq!((code, body.contains("Not Found")), (404, true));

    // --- SIGTERM drains and exits cleanly.
    stop_corefeed(&mut corefeed, &log_path);

    let _ = ch
        .exchange_delete(
            names.events_exchange.as_str().into(),
            ExchangeDeleteOptions::default(),
        )
        .await;
    let _ = ch
        .queue_delete(
            names.commands_queue.as_str().into(),
            QueueDeleteOptions::default(),
        )
        .await;
    let _ = ch
        .exchange_delete(
            names.commands_exchange.as_str().into(),
            ExchangeDeleteOptions::default(),
        )
        .await;
    let _ = std::fs::remove_file(cfg);
}
