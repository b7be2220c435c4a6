//! User-stream rooms from the harness side (shared by `sockets` and `production`): accounts
//! registered in the simulator (`POST /control/user/accounts`), rooms opened through corefeed's
//! admin API (`POST /v1/rooms`), the session states from `/metrics`, and an order driver
//! (`POST /control/user/order`) at a fixed rate spread over the rooms.

use super::metrics::{self, pooled_agent, post_all, post_with};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// One room and the simulator account behind it.
#[derive(Clone, Debug)]
pub struct Room {
    pub id: String,
    pub provider: &'static str,
    pub key: String,
    pub secret: String,
    /// `HOST:PORT` of the simulator that serves this provider's private side.
    pub sim: String,
}

impl Room {
    /// Room `i` of a run: an HMAC account of its own (OKX accounts get a passphrase).
    pub fn new(run: &str, i: usize, provider: &'static str, sim: &str) -> Room {
        Room {
            id: format!("bench-{run}-room-{i}"),
            provider,
            key: format!("bk{i:06}{}", run.replace('-', "")),
            secret: format!("bench-secret-{i:08}-{run}"),
            sim: sim.to_owned(),
        }
    }

    fn is_okx(&self) -> bool {
        self.provider.starts_with("okx")
    }

    pub fn account_request(&self) -> (String, Value) {
        let mut b = json!({"provider": self.provider, "key": self.key, "secret": self.secret});
        if self.is_okx() {
            b["passphrase"] = json!("bench-pass");
        }
        (format!("http://{}/control/user/accounts", self.sim), b)
    }

    pub fn open_request(&self, http_base: &str) -> (String, Value) {
        let mut api = json!({"key": self.key, "secret": self.secret, "provider": self.provider});
        if self.is_okx() {
            api["passphrase"] = json!("bench-pass");
        }
        (
            format!("{http_base}/v1/rooms"),
            json!({"event": "open stream", "uuid": self.id, "data": {"userId": format!("u-{}", self.id), "api": api}}),
        )
    }

    /// A LIMIT order (one `NEW` event on the room's stream).
    pub fn order_request(&self, n: u64) -> (String, Value) {
        let symbol = match self.provider {
            "binance" | "binanceUsdm" => "BTCUSDT",
            "binanceCoinm" => "BTCUSD_PERP",
            "okx" => "BTC-USDT",
            "okxLinear" => "BTC-USDT-SWAP",
            _ => "BTC-USD-SWAP",
        };
        (
            format!("http://{}/control/user/order", self.sim),
            json!({"provider": self.provider, "key": self.key, "symbol": symbol, "side": if n % 2 == 0 { "BUY" } else { "SELL" },
                   "type": "LIMIT", "qty": "1", "price": format!("{}.5", 100 + n % 50)}),
        )
    }
}

/// Registers every room's account in its simulator (4 keep-alive clients in parallel).
pub fn register(rooms: &[Room]) -> anyhow::Result<Duration> {
    let reqs: Vec<(String, Value)> = rooms.iter().map(Room::account_request).collect();
    let d = post_all(&reqs, None, 4)?;
    info!(
        accounts = rooms.len(),
        secs = d.as_secs_f64(),
        "Registered simulator accounts."
    );
    Ok(d)
}

/// Opens the rooms through corefeed's admin API (4 keep-alive clients in parallel).
pub fn open(rooms: &[Room], http_base: &str, token: &str) -> anyhow::Result<Duration> {
    let reqs: Vec<(String, Value)> = rooms.iter().map(|r| r.open_request(http_base)).collect();
    let d = post_all(&reqs, Some(token), 4)?;
    info!(
        rooms = rooms.len(),
        secs = d.as_secs_f64(),
        "Room open commands accepted by the admin API."
    );
    Ok(d)
}

/// User-stream sessions by state (`corefeed_user_streams{provider,state}` summed over providers).
pub fn states(s: &metrics::Scrape) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in &s.0 {
        if let Some(rest) = k.strip_prefix("corefeed_user_streams{") {
            if let Some(st) = rest
                .split("state=\"")
                .nth(1)
                .and_then(|x| x.split('"').next())
            {
                *out.entry(st.to_owned()).or_insert(0.0) += v;
            }
        }
    }
    out
}

/// Waits until `want` sessions are `subscribed` (or `timeout`); returns the time waited and
/// the last state counts.
pub fn wait_subscribed(
    http_base: &str,
    want: usize,
    timeout: Duration,
    alive: &mut dyn FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<(Duration, std::collections::BTreeMap<String, f64>, bool)> {
    let t0 = Instant::now();
    let mut last_log = Instant::now();
    loop {
        alive()?;
        let st = states(&metrics::scrape(http_base)?);
        let sub = st.get("subscribed").copied().unwrap_or(0.0);
        if sub as usize >= want {
            return Ok((t0.elapsed(), st, true));
        }
        if t0.elapsed() > timeout {
            warn!(want, ?st, "Not every room subscribed before the timeout.");
            return Ok((t0.elapsed(), st, false));
        }
        if last_log.elapsed() > Duration::from_secs(5) {
            info!(want, ?st, "Waiting for rooms to subscribe.");
            last_log = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Room re-dials so far, by provider (`GET /v1/rooms`, the `reconnects` of every room).
pub fn reconnects_by_provider(
    http_base: &str,
    token: &str,
) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    let v: Value = pooled_agent()
        .get(&format!("{http_base}/v1/rooms"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .ok()
        .and_then(|r| r.into_json().ok())
        .unwrap_or_default();
    for r in v["rooms"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let p = r["provider"].as_str().unwrap_or("?").to_owned();
        *out.entry(p).or_insert(0) += r["reconnects"].as_u64().unwrap_or(0);
    }
    out
}

/// Sends orders at `per_s` round-robin over `rooms` on its own thread until stopped.
pub struct OrderDriver {
    pub sent: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl OrderDriver {
    pub fn start(rooms: Vec<Room>, per_s: f64) -> OrderDriver {
        let sent = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, f2, st2) = (sent.clone(), failed.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name("bench-orders".into())
            .spawn(move || {
                let agent = pooled_agent();
                let t0 = Instant::now();
                let mut n: u64 = 0;
                while !st2.load(Relaxed) && !rooms.is_empty() {
                    // Evenly spaced: order n is due at n / per_s.
                    let due = Duration::from_secs_f64(n as f64 / per_s);
                    let now = t0.elapsed();
                    if due > now {
                        std::thread::sleep((due - now).min(Duration::from_millis(50)));
                        continue;
                    }
                    let room = &rooms[(n as usize) % rooms.len()];
                    let (url, body) = room.order_request(n);
                    match post_with(&agent, &url, None, &body) {
                        Ok(_) => s2.fetch_add(1, Relaxed),
                        Err(_) => f2.fetch_add(1, Relaxed),
                    };
                    n += 1;
                }
            })
            .expect("spawn order thread");
        OrderDriver {
            sent,
            failed,
            stop,
            handle: Some(handle),
        }
    }

    pub fn stop(mut self) -> (u64, u64) {
        self.stop.store(true, Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        (self.sent.load(Relaxed), self.failed.load(Relaxed))
    }
}

/// Open descriptors of a process (`/proc/<pid>/fd`).
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// RLIMIT_NOFILE (soft, hard) of this process.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
pub fn fd_limit() -> (u64, u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
    }
    (r.rlim_cur as u64, r.rlim_max as u64)
}

/// Raises RLIMIT_NOFILE for this process and its children (corefeed, the simulators): first
/// to `want` (needs CAP_SYS_RESOURCE above the hard limit), else the soft limit to the hard one.
/// Returns the resulting (soft, hard) and whether `want` was granted.
pub fn raise_fd_limit(want: u64) -> ((u64, u64), bool) {
    let r = libc::rlimit {
        rlim_cur: want as libc::rlim_t,
        rlim_max: want as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we own.
    let ok = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } == 0;
    if !ok {
        let (_, hard) = fd_limit();
        let r = libc::rlimit {
            rlim_cur: hard as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: as above.
        unsafe {
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
    (fd_limit(), ok)
}
