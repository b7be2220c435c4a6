//! The user-stream harness shared by the end-to-end tests: corefeed-sim and corefeed as real
//! processes, a Redis PSUBSCRIBE log, a RabbitMQ consumer of the user kinds, room commands
//! over RabbitMQ, and the simulator's `/control/user/*` API.
#![allow(dead_code)]

use super::*;
use futures_util::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the harness finds Redis and RabbitMQ (the local ones by default).
#[derive(Clone, Copy, Debug)]
pub struct Services {
    pub redis_port: u16,
    pub amqp_port: u16,
}

impl Default for Services {
    fn default() -> Self {
        Services {
            redis_port: 6379,
            amqp_port: 5672,
        }
    }
}

/// A test-only Ed25519 key (generated for these tests with `openssl genpkey -algorithm
/// ed25519`; it signs nothing anywhere else).
pub const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIDe3TbsFZ4YtHVAA3AIcKW3QanVPyZ3XoIZfso0cC2eB\n-----END PRIVATE KEY-----\n";

pub type Log<T> = Arc<Mutex<Vec<T>>>;

#[derive(Clone, Debug)]
pub struct AmqpMsg {
    pub routing_key: String,
    pub body: Value,
    pub message_id: String,
    pub persistent: bool,
}

pub struct Harness {
    pub _sim: Proc,
    pub sim: String,
    pub corefeed: Proc,
    pub log_path: std::path::PathBuf,
    pub http_port: u16,
    pub names: Names,
    pub redis: Log<(String, String)>,
    pub amqp: Log<AmqpMsg>,
    pub ch: lapin::Channel,
    pub _conn: Connection,
    pub services: Services,
}

impl Harness {
    pub async fn start(tag: &str, sim_args: &[&str], extra: &str, env: &[(&str, &str)]) -> Harness {
        Self::start_on(Services::default(), tag, sim_args, extra, env).await
    }

    /// Against the Redis and RabbitMQ of `svc` (a test's private instances).
    pub async fn start_on(
        svc: Services,
        tag: &str,
        sim_args: &[&str],
        extra: &str,
        env: &[(&str, &str)],
    ) -> Harness {
        let mut args = vec!["--symbols", "4"];
        args.extend_from_slice(sim_args);
        let (sim_proc, sim) = start_sim_with(&args);
        let pid = std::process::id();
        let names = Names {
            events_exchange: format!("corefeed.events.{tag}.{pid}"),
            commands_exchange: format!("gainium.{tag}.{pid}"),
            commands_queue: format!("candlesRequests.{tag}.{pid}"),
        };
        let http_port = free_port();
        // No price streams: these tests are about rooms.
        let base = format!(
            "[prices]\nproviders = []\ncandles = false\ntickers = false\n[redis]\nport = {}\n[amqp]\nport = {}\n",
            svc.redis_port, svc.amqp_port
        );
        let mut base: toml::Table = base.parse().unwrap();
        merge(&mut base, extra.parse().expect("extra config is TOML"));
        let extra = toml::to_string(&base).unwrap();
        let cfg = write_config(&sim, http_port, &names, &extra);

        // Redis: every channel (room channels, userStreamInfo*, serviceLog).
        let redis_log: Log<(String, String)> = Arc::default();
        let client = redis::Client::open(format!("redis://127.0.0.1:{}", svc.redis_port)).unwrap();
        let mut pubsub = client.get_async_pubsub().await.expect("Redis answers");
        pubsub.psubscribe("*").await.unwrap();
        let rl = redis_log.clone();
        tokio::spawn(async move {
            let mut s = pubsub.into_on_message();
            while let Some(m) = s.next().await {
                let p: String = m.get_payload().unwrap_or_default();
                rl.lock()
                    .unwrap()
                    .push((m.get_channel_name().to_owned(), p));
            }
        });

        // RabbitMQ: the user kinds and status of this run's events exchange.
        let conn = Connection::connect(
            &format!("amqp://guest:guest@127.0.0.1:{}/%2f", svc.amqp_port),
            ConnectionProperties::default(),
        )
        .await
        .expect("RabbitMQ answers");
        let ch = conn.create_channel().await.unwrap();
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(
            names.events_exchange.as_str().into(),
            ExchangeKind::Topic,
            durable,
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
        for key in ["order.#", "balance.#", "position.#", "status.#"] {
            ch.queue_bind(
                q.name().clone(),
                names.events_exchange.as_str().into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        }
        let mut consumer = ch
            .basic_consume(
                q.name().clone(),
                "e2e-users".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap();
        let amqp_log: Log<AmqpMsg> = Arc::default();
        let al = amqp_log.clone();
        tokio::spawn(async move {
            while let Some(Ok(d)) = consumer.next().await {
                let body: Value = serde_json::from_slice(&d.data).unwrap_or(Value::Null);
                al.lock().unwrap().push(AmqpMsg {
                    routing_key: d.routing_key.to_string(),
                    body,
                    message_id: d
                        .properties
                        .message_id()
                        .as_ref()
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    persistent: *d.properties.delivery_mode() == Some(2),
                });
            }
        });
        // The command exchange and the rooms queue, as main-app's side would have them.
        ch.exchange_declare(
            names.commands_exchange.as_str().into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await
        .unwrap();

        let log_path = std::env::temp_dir().join(format!("corefeed-e2e-users-{tag}-{pid}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(bin("corefeed"));
        cmd.args(["run", "--config", cfg.to_str().unwrap()])
            .env_remove("PRICE_CONNECTOR_EXCHANGES")
            .env_remove("EXCHANGE_SERVICE_API_URL")
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let corefeed = Proc(cmd.spawn().expect("start corefeed"));
        let t0 = Instant::now();
        while http_get(http_port, "/health").map(|r| r.0) != Some(200) {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "corefeed /health never answered; log {}",
                log_path.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let h = Harness {
            _sim: sim_proc,
            sim,
            corefeed,
            log_path,
            http_port,
            names,
            redis: redis_log,
            amqp: amqp_log,
            ch,
            _conn: conn,
            services: svc,
        };
        // The consumer declares the rooms queue once it is connected.
        let t0 = Instant::now();
        while metric(&h.metrics(), "corefeed_command_consumer_up") < 1.0 {
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "command consumer never came up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        h
    }

    pub fn metrics(&self) -> String {
        http_get(self.http_port, "/metrics")
            .map(|r| r.1)
            .unwrap_or_default()
    }

    pub fn users_queue(&self) -> String {
        format!("{}.users", self.names.commands_queue)
    }

    pub async fn command(&self, body: Value) {
        // The queue exists once corefeed's consumer declared it; publish via the exchange.
        let t0 = Instant::now();
        let ch = loop {
            // A failed passive declare closes its channel: a fresh one per attempt.
            let ch = self
                ._conn
                .create_channel()
                .await
                .expect("AMQP connection alive");
            let ok = ch
                .queue_declare(
                    self.users_queue().as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        durable: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await;
            let Err(e) = ok else { break ch };
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "rooms queue never declared: {e}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        ch.basic_publish(
            self.names.commands_exchange.as_str().into(),
            self.users_queue().as_str().into(),
            BasicPublishOptions::default(),
            body.to_string().as_bytes(),
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }

    pub async fn open(
        &self,
        room: &str,
        user: &str,
        provider: &str,
        key: &str,
        secret: &str,
        passphrase: Option<&str>,
    ) {
        let mut api = json!({"key": key, "secret": secret, "provider": provider});
        if let Some(p) = passphrase {
            api["passphrase"] = json!(p);
        }
        self.command(json!({"payload": {"event": "open stream", "uuid": room, "data": {"userId": user, "api": api}}}))
            .await;
    }

    pub fn sim(&self, path: &str, body: Value) -> Value {
        let url = format!("http://{}{path}", self.sim);
        match ureq::post(&url).send_json(body.clone()) {
            Ok(r) => r.into_json().unwrap_or(Value::Null),
            Err(ureq::Error::Status(code, r)) => {
                panic!(
                    "simulator {path} {body} answered {code}: {}",
                    r.into_string().unwrap_or_default()
                )
            }
            Err(e) => panic!("simulator {path}: {e}"),
        }
    }

    pub fn sim_stats(&self) -> Value {
        ureq::get(&format!("http://{}/control/user/stats", self.sim))
            .call()
            .unwrap()
            .into_json()
            .unwrap()
    }

    /// Waits until `pred` holds for at least `n` Redis messages; returns them.
    pub async fn wait_redis(
        &self,
        n: usize,
        secs: u64,
        pred: impl Fn(&str, &str) -> bool,
    ) -> Vec<(String, String)> {
        let t0 = Instant::now();
        loop {
            let v: Vec<(String, String)> = self
                .redis
                .lock()
                .unwrap()
                .iter()
                .filter(|(c, p)| pred(c, p))
                .cloned()
                .collect();
            if v.len() >= n || t0.elapsed() > Duration::from_secs(secs) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn wait_subscribed(&self, room: &str, times: usize) {
        let ch = format!("userStreamInfo{room}");
        let want = format!("Subscribed to user {room}");
        let got = self
            .wait_redis(times, 20, |c, p| c == ch && p == want)
            .await;
        assert!(
            got.len() >= times,
            "{room}: {} of {times} userStreamInfo signals; log {}",
            got.len(),
            self.log_path.display()
        );
    }

    /// The room channel's payloads of one event type.
    pub fn room_events(&self, room: &str, event_type: &str) -> Vec<Value> {
        self.redis
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| c == room)
            .filter_map(|(_, p)| serde_json::from_str::<Value>(p).ok())
            .filter(|v| v["eventType"] == event_type)
            .collect()
    }

    pub fn service_log(&self, key: &str) -> Vec<Value> {
        self.redis
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| c == "serviceLog")
            .filter_map(|(_, p)| serde_json::from_str::<Value>(p).ok())
            .filter(|v| v.get(key).is_some())
            .map(|v| v[key].clone())
            .collect()
    }

    pub fn stop(mut self) -> String {
        stop_corefeed(&mut self.corefeed, &self.log_path)
    }
}

pub fn find_account<'a>(stats: &'a Value, provider: &str) -> &'a Value {
    stats["accounts"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["provider"] == provider))
        .unwrap_or_else(|| panic!("no {provider} account in {stats}"))
}
