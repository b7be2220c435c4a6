//! corefeed-demo: the live summary of `make demo` (deploy/demo.sh starts corefeed-sim and
//! corefeed first). It asks for candles over RabbitMQ (`candlesRequests` on the `gainium`
//! exchange, as the platform does), then every 2 s prints what arrived in Redis (PSUBSCRIBE) and
//! in RabbitMQ (a temporary exclusive queue bound to the events exchange with `#`), with one
//! sample payload of each kind. It also registers a few simulated users on the simulator, opens
//! their rooms with `usersStreamAction` commands (as main-app does) and drives their order flow
//! through the simulator's control API (orders, partial fills, fills, cancels).
//! Exits 0 when candles and tickers of both Binance and OKX, and the users' order events,
//! reached both sinks, 1 otherwise.
//!
//! Environment: DEMO_SECONDS (default 30; 0 = until Ctrl-C), AMQP_URL
//! (amqp://guest:guest@127.0.0.1:5672/%2f), REDIS_URL (redis://127.0.0.1:6379/),
//! EVENTS_EXCHANGE (corefeed.events), SIM_URL (http://127.0.0.1:9300).

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (symbol, provider, interval) requested over RabbitMQ.
const REQUESTS: [(&str, &str, &str); 9] = [
    ("BTCUSDT", "binance", "1m"),
    ("ETHUSDT", "binance", "1m"),
    ("BTCUSDT", "binanceUsdm", "1m"),
    ("ETHUSDT", "binanceUsdm", "1m"),
    ("BTCUSD_PERP", "binanceCoinm", "1m"),
    ("BTC-USDT", "okx", "candle1m"),
    ("ETH-USDT", "okx", "candle1m"),
    ("BTC-USDT-SWAP", "okxLinear", "candle1m"),
    ("BTC-USD-SWAP", "okxInverse", "candle1m"),
];

/// Simulated users: (provider, API key, secret, passphrase, symbol). Demo credentials that
/// only the simulator knows.
const USERS: [(&str, &str, &str, Option<&str>, &str); 3] = [
    (
        "binance",
        "demo-spot-key",
        "demo-spot-hmac-secret",
        None,
        "BTCUSDT",
    ),
    (
        "binanceUsdm",
        "demo-usdm-key",
        "demo-usdm-secret",
        None,
        "ETHUSDT",
    ),
    (
        "okx",
        "demo-okx-key",
        "demo-okx-secret",
        Some("demo-pass"),
        "BTC-USDT",
    ),
];

fn sim_post(sim: &str, path: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
    match ureq::post(&format!("{sim}{path}")).send_json(body) {
        Ok(r) => Ok(r.into_json()?),
        Err(ureq::Error::Status(code, r)) => Err(anyhow::anyhow!(
            "simulator {path} answered {code}: {}",
            r.into_string().unwrap_or_default()
        )),
        Err(e) => Err(anyhow::anyhow!("simulator {path}: {e}")),
    }
}

/// Registers the users, opens their rooms over RabbitMQ, then loops their order flow: every
/// 2 s one order per user, filled in two parts or cancelled.
async fn start_users(conn: &Connection, sim: String) -> anyhow::Result<()> {
    for (provider, key, secret, pass, _) in USERS {
        let mut acct = serde_json::json!({"provider": provider, "key": key, "secret": secret});
        if let Some(p) = pass {
            acct["passphrase"] = serde_json::json!(p);
        }
        let s = sim.clone();
        tokio::task::spawn_blocking(move || sim_post(&s, "/control/user/accounts", acct)).await??;
    }
    let ch = conn.create_channel().await?;
    ch.exchange_declare(
        "gainium".into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_declare(
        "usersStreamAction".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_bind(
        "usersStreamAction".into(),
        "gainium".into(),
        "usersStreamAction".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    for (provider, key, secret, pass, _) in USERS {
        let mut api = serde_json::json!({"key": key, "secret": secret, "provider": provider});
        if let Some(p) = pass {
            api["passphrase"] = serde_json::json!(p);
        }
        let body = serde_json::json!({"payload": {"event": "open stream",
            "uuid": format!("demo-room-{provider}"), "data": {"userId": format!("demo-user-{provider}"), "api": api}}});
        ch.basic_publish(
            "gainium".into(),
            "usersStreamAction".into(),
            BasicPublishOptions::default(),
            body.to_string().as_bytes(),
            BasicProperties::default(),
        )
        .await?;
        println!("opened room demo-room-{provider} (usersStreamAction)");
    }
    tokio::task::spawn_blocking(move || {
        // Give the rooms a moment to log in and subscribe.
        std::thread::sleep(Duration::from_secs(2));
        let mut n = 0u64;
        loop {
            n += 1;
            for (provider, key, _, _, symbol) in USERS {
                let order = serde_json::json!({"provider": provider, "key": key, "symbol": symbol,
                    "side": if n % 2 == 0 { "SELL" } else { "BUY" }, "type": "LIMIT",
                    "qty": "0.5", "price": "100.25", "clientOrderId": format!("D-BO-demo-{n}")});
                let Ok(o) = sim_post(&sim, "/control/user/order", order) else {
                    continue;
                };
                let id = o["orderId"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| o["orderId"].to_string());
                if n % 3 == 0 {
                    let _ = sim_post(
                        &sim,
                        "/control/user/cancel",
                        serde_json::json!({"provider": provider, "key": key, "orderId": id}),
                    );
                } else {
                    for q in ["0.2", "0.3"] {
                        let _ = sim_post(
                            &sim,
                            "/control/user/fill",
                            serde_json::json!({"provider": provider,
                            "key": key, "orderId": id, "qty": q, "price": "100.25", "fee": "0.001"}),
                        );
                    }
                }
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    });
    Ok(())
}

#[derive(Default)]
struct Seen {
    /// (sink, kind, provider) → count
    counts: BTreeMap<(String, String, String), u64>,
    /// (sink, kind) → (where, sample payload), first one seen
    samples: BTreeMap<(String, String), (String, String)>,
    printed: std::collections::BTreeSet<(String, String)>,
}

impl Seen {
    fn add(&mut self, sink: &str, kind: &str, provider: &str, at: &str, payload: &str) {
        *self
            .counts
            .entry((sink.into(), kind.into(), provider.into()))
            .or_insert(0) += 1;
        self.samples
            .entry((sink.into(), kind.into()))
            .or_insert_with(|| (at.into(), payload.chars().take(400).collect()));
    }

    /// Whether `sink` has `kind` from a provider of the `family` (binance…, okx…).
    fn has(&self, sink: &str, kind: &str, family: &str) -> bool {
        self.counts
            .iter()
            .any(|((s, k, p), n)| s == sink && k == kind && p.starts_with(family) && *n > 0)
    }
}

/// Redis channel → (kind, provider): `<sym>@<provider>@<iv>Candle`, `trade@<sym>@<provider>`,
/// `serviceLog`.
fn redis_kind(channel: &str) -> (&'static str, String) {
    let parts: Vec<&str> = channel.split('@').collect();
    if channel == "serviceLog" {
        ("serviceLog", "-".into())
    } else if let Some(p) = channel.strip_prefix("demo-room-") {
        ("user", p.into())
    } else if let Some(p) = channel.strip_prefix("userStreamInfodemo-room-") {
        ("userStreamInfo", p.into())
    } else if channel.ends_with("Candle") && parts.len() == 3 {
        ("candle", parts[1].into())
    } else if parts.len() == 3 && parts[0] == "trade" {
        ("ticker", parts[2].into())
    } else {
        ("other", "-".into())
    }
}

fn env_or(k: &str, d: &str) -> String {
    std::env::var(k)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| d.into())
}

fn start_redis(url: String, seen: Arc<Mutex<Seen>>) -> anyhow::Result<()> {
    let client = redis::Client::open(url.as_str())?;
    let mut conn = client.get_connection()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut ps = conn.as_pubsub();
        for p in [
            "*Candle",
            "trade@*",
            "serviceLog",
            "demo-room-*",
            "userStreamInfodemo-room-*",
        ] {
            if let Err(e) = ps.psubscribe(p) {
                let _ = tx.send(Err(e.to_string()));
                return;
            }
        }
        let _ = tx.send(Ok(()));
        loop {
            match ps.get_message() {
                Ok(m) => {
                    let ch = m.get_channel_name().to_owned();
                    let payload: String = m.get_payload().unwrap_or_default();
                    let (kind, provider) = redis_kind(&ch);
                    seen.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .add("redis", kind, &provider, &ch, &payload);
                }
                Err(e) => {
                    eprintln!("corefeed-demo: Redis subscriber stopped: {e}");
                    return;
                }
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(5))
        .map_err(|_| anyhow::anyhow!("Redis PSUBSCRIBE did not answer in 5 s"))?
        .map_err(|e| anyhow::anyhow!("Redis PSUBSCRIBE failed: {e}"))
}

async fn start_amqp(
    conn: &Connection,
    exchange: &str,
    seen: Arc<Mutex<Seen>>,
) -> anyhow::Result<()> {
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
        .await?;
    let qname = q.name().as_str().to_owned();
    ch.queue_bind(
        qname.as_str().into(),
        exchange.into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut consumer = ch
        .basic_consume(
            qname.as_str().into(),
            "corefeed-demo".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    tokio::spawn(async move {
        let _keep = ch;
        while let Some(Ok(d)) = consumer.next().await {
            let rk = d.routing_key.as_str().to_owned();
            let mut it = rk.split('.');
            let kind = it.next().unwrap_or("?").to_owned();
            let provider = it.next().unwrap_or("-").to_owned();
            let body = String::from_utf8_lossy(&d.data).into_owned();
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .add("amqp", &kind, &provider, &rk, &body);
        }
        eprintln!("corefeed-demo: RabbitMQ consumer stopped");
    });
    Ok(())
}

async fn request_candles(conn: &Connection) -> anyhow::Result<()> {
    let ch = conn.create_channel().await?;
    // The same declarations as corefeed's consumer, so a request is queued even if it is not up yet.
    ch.exchange_declare(
        "gainium".into(),
        ExchangeKind::Direct,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_declare(
        "candlesRequests".into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await?;
    ch.queue_bind(
        "candlesRequests".into(),
        "gainium".into(),
        "candlesRequests".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    for (symbol, exchange, interval) in REQUESTS {
        let body = serde_json::json!({"payload": {"symbol": symbol, "exchange": exchange, "interval": interval}});
        ch.basic_publish(
            "gainium".into(),
            "candlesRequests".into(),
            BasicPublishOptions::default(),
            body.to_string().as_bytes(),
            BasicProperties::default().with_content_type("application/json".into()),
        )
        .await?;
        println!("requested candles: {body}");
    }
    Ok(())
}

fn print_summary(seen: &Mutex<Seen>, elapsed: Duration) {
    let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
    println!(
        "\n── {:>4.0} s ─────────────────────────────────────────────",
        elapsed.as_secs_f64()
    );
    let mut line = String::new();
    let mut last_sink = String::new();
    for ((sink, kind, provider), n) in &s.counts {
        if *sink != last_sink {
            if !line.is_empty() {
                println!("{line}");
            }
            line = format!("{:<6}", sink);
            last_sink = sink.clone();
        }
        line.push_str(&format!("  {kind}/{provider}={n}"));
    }
    if !line.is_empty() {
        println!("{line}");
    } else {
        println!("(nothing yet)");
    }
    let new: Vec<_> = s
        .samples
        .iter()
        .filter(|(k, _)| !s.printed.contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for ((sink, kind), (at, payload)) in new {
        println!("  sample {sink} {kind} [{at}]: {payload}");
        s.printed.insert((sink, kind));
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let code = match run().await {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("corefeed-demo: {e:#}");
            2
        }
    };
    std::process::exit(code);
}

async fn run() -> anyhow::Result<bool> {
    let secs: u64 = env_or("DEMO_SECONDS", "30").parse().unwrap_or(30);
    let amqp_url = env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
    let redis_url = env_or("REDIS_URL", "redis://127.0.0.1:6379/");
    let exchange = env_or("EVENTS_EXCHANGE", "corefeed.events");
    let seen = Arc::new(Mutex::new(Seen::default()));
    start_redis(redis_url, seen.clone())?;
    let conn = Connection::connect(&amqp_url, ConnectionProperties::default()).await?;
    start_amqp(&conn, &exchange, seen.clone()).await?;
    request_candles(&conn).await?;
    start_users(&conn, env_or("SIM_URL", "http://127.0.0.1:9300")).await?;
    println!(
        "watching Redis (PSUBSCRIBE *Candle, trade@*, serviceLog, demo-room-*, userStreamInfo*) and RabbitMQ ({exchange}, #) {}",
        if secs == 0 {
            "until Ctrl-C".to_owned()
        } else {
            format!("for {secs} s")
        }
    );
    let t0 = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => print_summary(&seen, t0.elapsed()),
            _ = tokio::signal::ctrl_c() => break,
        }
        if secs > 0 && t0.elapsed() >= Duration::from_secs(secs) {
            break;
        }
    }
    let s = seen.lock().unwrap_or_else(|p| p.into_inner());
    let mut missing = Vec::new();
    for sink in ["redis", "amqp"] {
        for kind in ["candle", "ticker"] {
            for fam in ["binance", "okx"] {
                if !s.has(sink, kind, fam) {
                    missing.push(format!("{kind}s of {fam} in {sink}"));
                }
            }
        }
    }
    for (sink, kind) in [("redis", "user"), ("amqp", "order")] {
        for fam in ["binance", "okx"] {
            if !s.has(sink, kind, fam) {
                missing.push(format!("{kind} events of {fam} users in {sink}"));
            }
        }
    }
    if missing.is_empty() {
        println!(
            "\nOK: candles and tickers of Binance and OKX, and the simulated users' order events, arrived in both Redis and RabbitMQ."
        );
        Ok(true)
    } else {
        println!(
            "\nFAILED: nothing arrived for: {}. Check the corefeed and simulator logs.",
            missing.join(", ")
        );
        Ok(false)
    }
}
