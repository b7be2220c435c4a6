//! Helpers shared by the end-to-end tests: the simulator and corefeed as real processes,
//! generated configs, a tiny HTTP client, Prometheus text reading.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let p = target.join("debug").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --bins` (make test does) before this test",
        p.display()
    );
    p
}

pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start_sim() -> (Proc, String) {
    start_sim_with(&[
        "--symbols",
        "8",
        "--candle-close-ms",
        "1000",
        "--ticker-push-ms",
        "500",
    ])
}

/// Starts corefeed-sim on a free port with `args`; returns the process and `127.0.0.1:PORT`.
pub fn start_sim_with(args: &[&str]) -> (Proc, String) {
    let mut child = Command::new(bin("corefeed-sim"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start corefeed-sim");
    let out = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    assert!(
        base.starts_with("127.0.0.1:"),
        "unexpected sim banner {line:?}"
    );
    (Proc(child), base)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Deep merge of TOML tables: `over` wins.
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

pub struct Names {
    pub events_exchange: String,
    pub commands_exchange: String,
    /// The candle queue; the rooms queue is `<commands_queue>.users`.
    pub commands_queue: String,
}

pub fn write_config(sim: &str, http_port: u16, n: &Names, extra: &str) -> PathBuf {
    let mut text = format!(
        r#"
[runtime]
shards = 1
pin = false
[http]
listen = "127.0.0.1:{http_port}"
admin_token = "e2e-token"
[commands]
exchange = "{ce}"
candles_queue = "{cq}"
[prices]
exchange_service_url = "http://{sim}"
listing_refresh_min = 0
[socket]
backoff_base_ms = 100
backoff_cap_ms = 1000
[governor.binance]
burst = 50
per_sec = 50.0
[governor.okx]
burst = 20
per_sec = 20.0
[amqp]
exchange = "{ee}"
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
"#,
        ce = n.commands_exchange,
        cq = n.commands_queue,
        ee = n.events_exchange,
    );
    for (p, path, user) in [
        ("binance", "binance/spot", "binance/spot/ws-api/v3"),
        ("binanceUsdm", "binance/usdm", "binance/usdm"),
        ("binanceCoinm", "binance/coinm", "binance/coinm"),
        ("okx", "okx", "okx/ws/v5/private"),
        ("okxLinear", "okx", "okx/ws/v5/private"),
        ("okxInverse", "okx", "okx/ws/v5/private"),
    ] {
        text.push_str(&format!(
            "[endpoints.{p}]\nws = \"ws://{sim}/{path}\"\nrest = \"http://{sim}/{path}\"\nuser_ws = \"ws://{sim}/{user}\"\n"
        ));
        if p.starts_with("okx") {
            text.push_str(&format!(
                "user_ws_eea = \"ws://{sim}/okx/eea/ws/v5/private\"\nuser_ws_us = \"ws://{sim}/okx/us/ws/v5/private\"\n"
            ));
        }
    }
    // Rooms: this run's own command queue, fast pacing (the simulator has no connection
    // limits).
    text.push_str(&format!(
        "[users]\nqueue = \"{}.users\"\npace_binance_ms = 50\npace_okx_ms = 50\nbackoff_base_ms = 100\nbackoff_cap_ms = 2000\n",
        n.commands_queue
    ));
    // The test's own keys win: a deep merge of `extra` over the base.
    let mut base: toml::Table = text.parse().expect("base config is TOML");
    let extra: toml::Table = extra.parse().expect("extra config is TOML");
    merge(&mut base, extra);
    let text = toml::to_string(&base).unwrap();
    let path = std::env::temp_dir().join(format!(
        "corefeed-e2e-{}-{http_port}.toml",
        std::process::id()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split(' ').nth(1)?.parse().ok()?;
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    Some((code, body))
}

pub fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// `POST` a JSON body; returns the status and the body.
pub fn http_post(port: u16, path: &str, auth: Option<&str>, body: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = auth
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split(' ').nth(1)?.parse().ok()?;
    Some((code, buf.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()))
}

/// Sum of every sample of a metric family (all label sets).
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with(name)
                && (l[name.len()..].starts_with('{') || l[name.len()..].starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Starts corefeed with `config`, logging to a temp file; waits for `/health`.
pub fn start_corefeed(config: &std::path::Path, http_port: u16) -> (Proc, PathBuf) {
    let log_path = std::env::temp_dir().join(format!(
        "corefeed-e2e-{}-{http_port}.log",
        std::process::id()
    ));
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(bin("corefeed"))
        .args(["run", "--config", config.to_str().unwrap()])
        .env_remove("PRICE_CONNECTOR_EXCHANGES")
        .env_remove("EXCHANGE_SERVICE_API_URL")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start corefeed");
    let t0 = std::time::Instant::now();
    while http_get(http_port, "/health").map(|r| r.0) != Some(200) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "corefeed /health never answered; log {}",
            log_path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (Proc(child), log_path)
}

/// `GET` with a bearer token.
pub fn http_get_auth(port: u16, path: &str, token: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split(' ').nth(1)?.parse().ok()?;
    Some((code, buf.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()))
}

/// Sends SIGTERM and waits (20 s at most) for a clean exit: status 0 after draining.
/// Returns the process log for further checks.
pub fn stop_corefeed(corefeed: &mut Proc, log_path: &std::path::Path) -> String {
    let sent = Command::new("kill")
        .args(["-TERM", &corefeed.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "could not signal corefeed");
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(s) = corefeed.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "corefeed did not stop within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(
        log.contains("Publisher drained"),
        "no drain in the log:\n{log}"
    );
    assert!(!log.contains("panicked"), "a thread panicked:\n{log}");
    log
}
pub mod users;

// ---- Helpers for the simulator's fault API and stats (tests/faults_more.rs). ----

/// The port of a `127.0.0.1:PORT` simulator address.
pub fn sim_port_of(sim: &str) -> u16 {
    sim.rsplit(':').next().unwrap().parse().unwrap()
}

/// `GET /control/stats` of the simulator, parsed.
pub fn sim_stats_json(sim: &str) -> serde_json::Value {
    let (code, body) = http_get(sim_port_of(sim), "/control/stats").expect("simulator stats");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// `POST /control/fault` with `body`; asserts 200 and returns the standing faults.
pub fn post_sim_fault(sim: &str, body: &str) -> serde_json::Value {
    let (code, resp) =
        http_post(sim_port_of(sim), "/control/fault", None, body).expect("simulator fault API");
    assert_eq!(code, 200, "fault {body} refused: {resp}");
    serde_json::from_str::<serde_json::Value>(&resp).unwrap()["faults"].clone()
}

/// Polls `f` every 100 ms until it holds; panics with `what` after `limit`. Returns the time
/// it took.
pub fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = std::time::Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < limit,
            "timed out after {limit:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    t0.elapsed()
}

/// `/v1/sockets` of corefeed (admin token `e2e-token`): the `sockets` array.
pub fn corefeed_sockets(http_port: u16) -> Vec<serde_json::Value> {
    let (code, body) = http_get_auth(http_port, "/v1/sockets", "e2e-token").expect("/v1/sockets");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["sockets"].as_array().cloned().unwrap_or_default()
}
