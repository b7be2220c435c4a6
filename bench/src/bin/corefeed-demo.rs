//! corefeed-demo: the live summary of `make demo` (deploy/demo.sh starts corefeed-sim and
//! corefeed first). It asks for candles over RabbitMQ (`candlesRequests` on the `gainium`
//! exchange, as the platform does), then every 2 s prints what arrived in Redis (PSUBSCRIBE) and
//! in RabbitMQ (a temporary exclusive queue bound to the events exchange with `#`), with one
//! sample payload of each kind. Exits 0 when candles and tickers of both Binance and OKX reached
//! both sinks, 1 otherwise.
//!
//! Environment: DEMO_SECONDS (default 30; 0 = until Ctrl-C), AMQP_URL
//! (amqp://guest:guest@127.0.0.1:5672/%2f), REDIS_URL (redis://127.0.0.1:6379/),
//! EVENTS_EXCHANGE (corefeed.events).

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
        for p in ["*Candle", "trade@*", "serviceLog"] {
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
    println!(
        "watching Redis (PSUBSCRIBE *Candle, trade@*, serviceLog) and RabbitMQ ({exchange}, #) {}",
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
    if missing.is_empty() {
        println!(
            "\nOK: candles and tickers of Binance and OKX arrived in both Redis and RabbitMQ."
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
