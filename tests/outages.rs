//! Broker and cache outages (issue 5), on private instances so nothing else on the machine is
//! disturbed: a RabbitMQ node of its own (own node name, ports and data directory) stopped for
//! 30 s mid-stream, and a redis-server of its own killed and started again. Each test counts
//! the user events injected at the simulator and the ones that arrived.
//!
//! Needs `cargo build --bins` first (`make test` does it), `rabbitmq-server` and `redis-server`
//! installed (`deploy/ensure-services.sh` installs them), and the local RabbitMQ/Redis for the
//! sink that is not under test.

use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use serde_json::json;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
mod common;
use common::users::*;
use common::*;

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn wait_port(port: u16, open: bool, secs: u64) {
    let t0 = Instant::now();
    while port_open(port) != open {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "port {port} not {} after {secs} s",
            if open { "open" } else { "closed" }
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The real scripts, not Debian's wrappers in /usr/sbin (those switch to the rabbitmq user and
/// drop the environment that names the private node).
fn rabbit_bin(name: &str) -> PathBuf {
    let p = PathBuf::from("/usr/lib/rabbitmq/bin").join(name);
    if p.exists() {
        p
    } else {
        PathBuf::from(name)
    }
}

/// A RabbitMQ node of this test's own.
struct PrivateRabbit {
    node: String,
    port: u16,
    dist: u16,
    dir: PathBuf,
}

impl PrivateRabbit {
    fn start() -> PrivateRabbit {
        let pid = std::process::id();
        let port = free_port();
        let dist = free_port();
        let dir = std::env::temp_dir().join(format!("corefeed-rabbit-{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.default = {port}\nloopback_users = none\n"),
        )
        .unwrap();
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        let node = format!("corefeed-test-{pid}@localhost");
        let r = PrivateRabbit {
            node,
            port,
            dist,
            dir,
        };
        let status = r
            .env(&mut Command::new(rabbit_bin("rabbitmq-server")))
            .arg("-detached")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("rabbitmq-server is installed (deploy/ensure-services.sh installs it)");
        assert!(status.success(), "rabbitmq-server -detached failed");
        wait_port(port, true, 60);
        r
    }

    fn env<'a>(&self, c: &'a mut Command) -> &'a mut Command {
        c.env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist.to_string())
            .env("RABBITMQ_MNESIA_BASE", self.dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", self.dir.join("log"))
            .env("RABBITMQ_CONFIG_FILE", self.dir.join("rabbitmq"))
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                self.dir.join("enabled_plugins"),
            )
            .env("RABBITMQ_PID_FILE", self.dir.join("pid"))
    }

    fn ctl(&self, args: &[&str]) {
        let out = self
            .env(&mut Command::new(rabbit_bin("rabbitmqctl")))
            .args(["-n", &self.node])
            .args(args)
            .output()
            .expect("rabbitmqctl");
        assert!(
            out.status.success(),
            "rabbitmqctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivateRabbit {
    fn drop(&mut self) {
        let _ = self
            .env(&mut Command::new(rabbit_bin("rabbitmqctl")))
            .args(["-n", &self.node, "stop"])
            .output();
        if std::thread::panicking() {
            eprintln!("private RabbitMQ logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

async fn durable_queue(port: u16, exchange: &str, queue: &str) -> (Connection, lapin::Channel) {
    let conn = Connection::connect(
        &format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
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
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    ch.queue_bind(
        queue.into(),
        exchange.into(),
        "order.#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    (conn, ch)
}

fn place(h: &Harness, key: &str, ids: std::ops::Range<usize>, tag: &str) -> usize {
    for i in ids.clone() {
        h.sim(
            "/control/user/order",
            json!({"provider": "binanceUsdm", "key": key, "symbol": "BTCUSDT", "side": "BUY",
                "type": "LIMIT", "qty": "1", "price": "10", "clientOrderId": format!("D-TP-{tag}-{i}")}),
        );
    }
    ids.len()
}

/// RabbitMQ stopped for 30 s mid-stream: every user event injected before, during and after
/// reaches the durable queue (at least once), and Redis is not held up meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_stopped_for_30_s_loses_no_user_event() {
    let rabbit = PrivateRabbit::start();
    let svc = Services {
        redis_port: 6379,
        amqp_port: rabbit.port,
    };
    let h = Harness::start_on(svc, "rabbit-outage", &[], "", &[]).await;
    let queue = format!("outage.orders.{}", std::process::id());
    let (c0, ch0) = durable_queue(rabbit.port, &h.names.events_exchange, &queue).await;
    let key = "outage-key";
    h.sim(
        "/control/user/accounts",
        json!({"provider": "binanceUsdm", "key": key, "secret": "s"}),
    );
    let room = format!("room-outage-{}", std::process::id());
    h.open(&room, "u-outage", "binanceUsdm", key, "s", None)
        .await;
    h.wait_subscribed(&room, 1).await;
    let _ = c0.close(200, "bye".into()).await;
    drop(ch0);

    let mut sent = place(&h, key, 0..10, "before");
    // The broker goes away (the node's app stops: connections are cut, the data stays).
    rabbit.ctl(&["stop_app"]);
    wait_port(rabbit.port, false, 20);
    let down = Instant::now();
    sent += place(&h, key, 10..30, "during");
    // Redis is not held up by the broker outage.
    let r = room.clone();
    let on_redis = h
        .wait_redis(sent, 15, move |c, p| {
            c == r && p.contains("ORDER_TRADE_UPDATE")
        })
        .await;
    assert_eq!(on_redis.len(), sent, "Redis kept flowing during the outage");
    let m = h.metrics();
    assert!(
        metric_sum(&m, "corefeed_amqp_buffered") >= 1.0,
        "the outage buffer holds the events: {}",
        m.lines()
            .filter(|l| l.contains("amqp"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(down.elapsed())).await;
    rabbit.ctl(&["start_app"]);
    wait_port(rabbit.port, true, 60);
    sent += place(&h, key, 30..40, "after");

    // Count what reached the durable queue: distinct uniqueMessageIds, duplicates allowed.
    let conn = Connection::connect(
        &format!("amqp://guest:guest@127.0.0.1:{}/%2f", rabbit.port),
        ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut ids = HashSet::new();
    let mut deliveries = 0;
    let t0 = Instant::now();
    while ids.len() < sent && t0.elapsed() < Duration::from_secs(60) {
        match ch
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
        {
            Ok(Some(m)) => {
                deliveries += 1;
                let v: serde_json::Value = serde_json::from_slice(&m.delivery.data).unwrap();
                ids.insert(v["data"]["uniqueMessageId"].as_str().unwrap().to_owned());
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    println!(
        "rabbit outage: injected {sent}, distinct delivered {}, deliveries {deliveries}",
        ids.len()
    );
    assert_eq!(
        ids.len(),
        sent,
        "every user event reached RabbitMQ; log {}",
        h.log_path.display()
    );
    let m = h.metrics();
    assert!(metric(&m, "corefeed_amqp_reconnects_total") >= 1.0, "{m}");
    let _ = ch
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = conn.close(200, "bye".into()).await;
    h.stop();
}

/// Redis killed mid-stream and started again: the user events of the outage are written once it
/// is back (checked on the restarted server's `orders` hash and liveness set), RabbitMQ gets
/// every event meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_mid_stream_loses_no_user_event() {
    let port = free_port();
    let start_redis = || {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        wait_port(port, true, 10);
        Proc(child)
    };
    let mut redis = start_redis();
    let svc = Services {
        redis_port: port,
        amqp_port: 5672,
    };
    let h = Harness::start_on(svc, "redis-outage", &[], "", &[]).await;
    let key = "redis-outage-key";
    h.sim(
        "/control/user/accounts",
        json!({"provider": "binanceUsdm", "key": key, "secret": "s"}),
    );
    let room = format!("room-redis-{}", std::process::id());
    h.open(&room, "u-redis", "binanceUsdm", key, "s", None)
        .await;
    h.wait_subscribed(&room, 1).await;
    let mut sent = place(&h, key, 0..5, "r");
    let r = room.clone();
    assert_eq!(
        h.wait_redis(5, 10, move |c, _| c == r).await.len(),
        5,
        "before the outage"
    );
    // Kill Redis (no save: the restarted one starts empty), inject, restart, inject.
    let _ = redis.0.kill();
    let _ = redis.0.wait();
    wait_port(port, false, 10);
    sent += place(&h, key, 5..15, "r");
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis = start_redis();
    sent += place(&h, key, 15..20, "r");

    let mut conn = redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .get_connection()
        .unwrap();
    let t0 = Instant::now();
    let missing = loop {
        let missing: Vec<usize> = (5..20)
            .filter(|i| {
                let v: Option<String> = redis::cmd("HGET")
                    .arg("orders")
                    .arg(format!("D-TP-r-{i}"))
                    .query(&mut conn)
                    .unwrap_or(None);
                v.is_none()
            })
            .collect();
        if missing.is_empty() || t0.elapsed() > Duration::from_secs(30) {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        missing.is_empty(),
        "orders written during/after the outage missing from the restarted Redis: {missing:?}; log {}",
        h.log_path.display()
    );
    let score: Option<u64> = redis::cmd("ZSCORE")
        .arg("stream:lastEventTime")
        .arg(&room)
        .query(&mut conn)
        .unwrap();
    assert!(score.is_some(), "liveness set rewritten after the restart");
    // RabbitMQ saw every event.
    let rk = format!("order.binanceUsdm.{}", room.replace('.', "_"));
    let t0 = Instant::now();
    while h
        .amqp
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.routing_key == rk)
        .count()
        < sent
    {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "RabbitMQ missed events"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let m = h.metrics();
    assert!(metric(&m, "corefeed_redis_reconnects_total") >= 1.0, "{m}");
    assert_eq!(metric(&m, "corefeed_redis_dropped_total"), 0.0);
    println!("redis outage: injected {sent}, all 15 outage/after orders present after restart");
    h.stop();
    drop(redis);
}
