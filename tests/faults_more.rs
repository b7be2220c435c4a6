//! More faults injected through the simulator's control API against corefeed as a real
//! process (issue 5): refused upgrades (429/418 with Retry-After, 503 without), broken
//! handshakes, sockets that go silent while open (OKX and Binance keepalive limits), truncated
//! frames, oversized frames (below and above the WebSocket layer's frame limit), and delayed
//! frames. Each test asserts what reached Redis and what the metrics counted, then checks the
//! clean drain on SIGTERM. Needs `cargo build --bins` and local Redis/RabbitMQ.
//!
//! Markets are synthetic (`S002USDT`, `S002-USDT`): Redis channels are global, and other
//! suites publish the real names.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Redis channels are global: the tests of this file must not publish the same candles at once.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

const SPOT: &str = "S002USDT";
const OKX: &str = "S002-USDT";
const SPOT_CHANNEL: &str = "S002USDT@binance@1mCandle";
const USDM_CHANNEL: &str = "S002USDT@binanceUsdm@1mCandle";
const OKX_CHANNEL: &str = "S002-USDT@okx@candle1mCandle";
/// The simulator's `closed_candles` keys of the same streams.
const SPOT_KEY: &str = "/binance/spot/stream S002USDT 1m";
const OKX_KEY: &str = "/okx/ws/v5/business S002-USDT candle1m";

struct Run {
    _sim: Proc,
    sim: String,
    http: u16,
    corefeed: Proc,
    log: PathBuf,
    cfg: PathBuf,
}

impl Run {
    /// A simulator with 28 symbols per provider (S001–S004 after the 24 real ones) and
    /// `sim_args`, and corefeed with `extra` config; waits until the 6 ticker sockets are
    /// ready. `before_corefeed` runs between the two starts (faults that must be there from
    /// the first dial).
    fn start(tag: &str, sim_args: &[&str], extra: &str, before_corefeed: impl FnOnce(&str)) -> Run {
        let mut args = vec!["--symbols", "28", "--ticker-push-ms", "300"];
        args.extend_from_slice(sim_args);
        let (sim_proc, sim) = start_sim_with(&args);
        before_corefeed(&sim);
        let pid = std::process::id();
        let names = Names {
            events_exchange: format!("corefeed.events.{tag}.{pid}"),
            commands_exchange: format!("gainium.{tag}.{pid}"),
            commands_queue: format!("candlesRequests.{tag}.{pid}"),
        };
        let http = free_port();
        let cfg = write_config(&sim, http, &names, extra);
        let (corefeed, log) = start_corefeed(&cfg, http);
        Run {
            _sim: sim_proc,
            sim,
            http,
            corefeed,
            log,
            cfg,
        }
    }

    fn metrics(&self) -> String {
        http_get(self.http, "/metrics")
            .map(|r| r.1)
            .unwrap_or_default()
    }

    fn ready(&self) -> bool {
        http_get(self.http, "/ready").map(|r| r.0) == Some(200)
    }

    fn candles(&self, reqs: &[(&str, &str, &str)]) {
        for (ex, sym, iv) in reqs {
            let body = format!(r#"{{"exchange":"{ex}","symbol":"{sym}","interval":"{iv}"}}"#);
            let (code, resp) =
                http_post(self.http, "/v1/candles", Some("e2e-token"), &body).unwrap();
            assert_eq!(code, 201, "{body}: {resp}");
        }
    }

    /// `reconnects` of every corefeed socket by name (`okx/candles/0`, …).
    fn reconnects(&self) -> BTreeMap<String, u64> {
        corefeed_sockets(self.http)
            .iter()
            .map(|s| {
                (
                    s["socket"].as_str().unwrap().to_owned(),
                    s["reconnects"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }

    fn stop(mut self) -> String {
        let log = stop_corefeed(&mut self.corefeed, &self.log);
        let _ = std::fs::remove_file(&self.cfg);
        log
    }
}

fn redis_con() -> redis::Connection {
    redis::Client::open("redis://127.0.0.1:6379")
        .unwrap()
        .get_connection()
        .expect("Redis on 127.0.0.1:6379")
}

/// Closed candles read from Redis (SUBSCRIBE): `start`s per channel, in arrival order.
struct Closed<'a> {
    ps: redis::PubSub<'a>,
    starts: BTreeMap<String, Vec<u64>>,
}

impl<'a> Closed<'a> {
    fn subscribe(con: &'a mut redis::Connection, channels: &[&str]) -> Closed<'a> {
        let mut ps = con.as_pubsub();
        for c in channels {
            ps.subscribe(*c).unwrap();
        }
        ps.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Closed {
            ps,
            starts: BTreeMap::new(),
        }
    }

    /// Reads for `d` (or until `done` holds).
    fn read_for(&mut self, d: Duration, mut done: impl FnMut(&BTreeMap<String, Vec<u64>>) -> bool) {
        let t0 = Instant::now();
        while t0.elapsed() < d && !done(&self.starts) {
            if let Ok(msg) = self.ps.get_message() {
                let payload: String = msg.get_payload().unwrap();
                let v: Value = serde_json::from_str(&payload).unwrap();
                self.starts
                    .entry(msg.get_channel_name().to_owned())
                    .or_default()
                    .push(v["start"].as_u64().unwrap());
            }
        }
    }

    fn count(&self, channel: &str) -> usize {
        self.starts.get(channel).map_or(0, Vec::len)
    }

    /// Intervals missing between consecutive starts; panics on a duplicate or a step back.
    fn gaps(&self, channel: &str, interval_ms: u64) -> u64 {
        let s = self.starts.get(channel).cloned().unwrap_or_default();
        s.windows(2)
            .map(|w| {
                assert!(
                    w[1] > w[0],
                    "{channel}: duplicate or out-of-order candle {w:?}"
                );
                (w[1] - w[0]) / interval_ms - 1
            })
            .sum()
    }
}

/// The simulator's closed-candle counts of one stream: (sent whole, truncated).
fn sim_closed(stats: &Value, key: &str) -> (u64, u64) {
    let c = &stats["closed_candles"][key];
    (
        c["sent"].as_u64().unwrap_or(0),
        c["truncated"].as_u64().unwrap_or(0),
    )
}

/// Upgrade attempts the simulator saw on `path` whose query contains `needle`:
/// `(at_ms, outcome)`.
fn attempts(sim: &str, path: &str, needle: &str) -> Vec<(i64, String)> {
    sim_stats_json(sim)["upgrades"]["recent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["path"] == path && u["query"].as_str().unwrap_or("").contains(needle))
        .map(|u| {
            (
                u["at_ms"].as_i64().unwrap(),
                u["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn gaps_ms(a: &[(i64, String)]) -> Vec<i64> {
    a.windows(2).map(|w| w[1].0 - w[0].0).collect()
}

fn provider_of(socket: &str) -> &str {
    socket.split('/').next().unwrap()
}

#[test]
fn refused_upgrades_honour_retry_after_then_publish() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let t_test = Instant::now();
    let run = Run::start("reject", &["--candle-close-ms", "500"], "", |_| {});
    wait_for("6 ticker sockets ready", Duration::from_secs(20), || {
        run.ready() && metric_sum(&run.metrics(), "corefeed_connections") == 6.0
    });
    // New candle sockets are refused: Binance spot twice with 429 + Retry-After 2, USD-M once
    // with 418 + Retry-After 3, OKX business twice with 503 and no Retry-After (backoff).
    post_sim_fault(
        &run.sim,
        r#"{"kind":"reject_connect","status":429,"retry_after_s":2,"count":2,"path_prefix":"/binance/spot"}"#,
    );
    post_sim_fault(
        &run.sim,
        r#"{"kind":"reject_connect","status":418,"retry_after_s":3,"count":1,"path_prefix":"/binance/usdm"}"#,
    );
    post_sim_fault(
        &run.sim,
        r#"{"kind":"reject_connect","status":503,"count":2,"path_prefix":"/okx/ws/v5/business"}"#,
    );
    let mut con = redis_con();
    let mut closed = Closed::subscribe(&mut con, &[SPOT_CHANNEL, USDM_CHANNEL, OKX_CHANNEL]);
    let t0 = Instant::now();
    run.candles(&[
        ("binance", SPOT, "1m"),
        ("binanceUsdm", SPOT, "1m"),
        ("okx", OKX, "candle1m"),
    ]);
    closed.read_for(Duration::from_secs(25), |s| {
        [SPOT_CHANNEL, USDM_CHANNEL, OKX_CHANNEL]
            .iter()
            .all(|c| s.get(*c).is_some_and(|v| v.len() >= 2))
    });
    let first_data = t0.elapsed();
    for c in [SPOT_CHANNEL, USDM_CHANNEL, OKX_CHANNEL] {
        assert!(
            closed.count(c) >= 2,
            "{c}: no candles after the refusals: {:?}",
            closed.starts
        );
    }

    let spot = attempts(&run.sim, "/binance/spot/stream", "s002usdt@kline_1m");
    let usdm = attempts(&run.sim, "/binance/usdm/market/stream", "s002usdt@kline_1m");
    let okx = attempts(&run.sim, "/okx/ws/v5/business", "");
    let outcomes = |a: &[(i64, String)]| a.iter().map(|x| x.1.clone()).collect::<Vec<_>>();
    // Exactly the refused attempts and one that passed: corefeed never dialled in between.
    assert_eq!(
        outcomes(&spot),
        ["rejected 429", "rejected 429", "passed"],
        "{spot:?}"
    );
    assert_eq!(outcomes(&usdm), ["rejected 418", "passed"], "{usdm:?}");
    assert_eq!(
        outcomes(&okx),
        ["rejected 503", "rejected 503", "passed"],
        "{okx:?}"
    );
    let (g_spot, g_usdm, g_okx) = (gaps_ms(&spot), gaps_ms(&usdm), gaps_ms(&okx));
    for g in &g_spot {
        assert!(
            (2000..4000).contains(g),
            "429 Retry-After 2 s: re-dialled after {g} ms ({g_spot:?})"
        );
    }
    for g in &g_usdm {
        assert!(
            (3000..5000).contains(g),
            "418 Retry-After 3 s: re-dialled after {g} ms"
        );
    }
    // Without Retry-After the configured backoff (base 100 ms, cap 1 s) applies.
    for g in &g_okx {
        assert!(
            *g < 1500,
            "503 without Retry-After: re-dialled after {g} ms ({g_okx:?})"
        );
    }
    let m = run.metrics();
    assert_eq!(
        metric(&m, "corefeed_connect_failures_total{provider=\"binance\"}"),
        2.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "corefeed_connect_failures_total{provider=\"binanceUsdm\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(&m, "corefeed_connect_failures_total{provider=\"okx\"}"),
        2.0
    );
    assert_eq!(
        metric_sum(&m, "corefeed_reconnects_total"),
        0.0,
        "no open socket was dropped"
    );
    let s = sim_stats_json(&run.sim);
    assert_eq!(s["faults"]["rejected"], 5);
    assert!(s["faults"]["reject_connect"].as_array().unwrap().is_empty());
    eprintln!(
        "429 gaps {g_spot:?} ms, 418 gap {g_usdm:?} ms, 503 gaps {g_okx:?} ms; first candles of all three after {first_data:?}"
    );
    let log = run.stop();
    assert!(log.contains("HTTP 429"), "the refusal reason is logged");
    eprintln!("refused_upgrades test took {:?}", t_test.elapsed());
}

#[test]
fn broken_handshakes_are_closed_and_retried_with_backoff() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let t_test = Instant::now();
    let run = Run::start("handshake", &["--candle-close-ms", "500"], "", |_| {});
    wait_for("6 ticker sockets ready", Duration::from_secs(20), || {
        run.ready() && metric_sum(&run.metrics(), "corefeed_connections") == 6.0
    });
    post_sim_fault(
        &run.sim,
        r#"{"kind":"handshake_error","count":3,"path_prefix":"/okx/ws/v5/business"}"#,
    );
    let mut con = redis_con();
    let mut closed = Closed::subscribe(&mut con, &[OKX_CHANNEL]);
    let t0 = Instant::now();
    run.candles(&[("okx", OKX, "candle1m")]);
    closed.read_for(Duration::from_secs(20), |s| {
        s.get(OKX_CHANNEL).is_some_and(|v| v.len() >= 3)
    });
    let first_data = t0.elapsed();
    assert!(closed.count(OKX_CHANNEL) >= 3, "{:?}", closed.starts);
    assert_eq!(closed.gaps(OKX_CHANNEL, 60_000), 0);

    // Every half-built connection was closed by corefeed (none left for the simulator to cut).
    let mut hs = Value::Null;
    wait_for(
        "the simulator sees every half-built connection closed",
        Duration::from_secs(5),
        || {
            hs = sim_stats_json(&run.sim)["faults"]["handshake_errors"].clone();
            hs["closed_by_client"] == 3 && hs["open"] == 0
        },
    );
    assert_eq!(hs["injected"], 3, "{hs}");
    assert_eq!(hs["closed_by_sim"], 0, "{hs}");
    let a = attempts(&run.sim, "/okx/ws/v5/business", "");
    let outcomes: Vec<&str> = a.iter().map(|x| x.1.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "handshake_error",
            "handshake_error",
            "handshake_error",
            "passed"
        ],
        "one dial per backoff step, no storm: {a:?}"
    );
    let gaps = gaps_ms(&a);
    // Full-jitter backoff: base 100 ms doubling, cap 1 s (plus the governor's pacing).
    for (i, g) in gaps.iter().enumerate() {
        let ceiling = (100i64 << i).min(1000) + 400;
        assert!(
            *g <= ceiling,
            "retry {i} after {g} ms > {ceiling} ms ({gaps:?})"
        );
    }
    let m = run.metrics();
    assert_eq!(
        metric(&m, "corefeed_connect_failures_total{provider=\"okx\"}"),
        3.0,
        "{m}"
    );
    assert_eq!(metric_sum(&m, "corefeed_reconnects_total"), 0.0);
    assert!(run.ready());
    eprintln!("handshake errors: {hs}; retry gaps {gaps:?} ms; candles after {first_data:?}");
    let log = run.stop();
    assert!(
        log.contains("Socket connect failed"),
        "the failed handshakes are logged"
    );
    eprintln!("broken_handshakes test took {:?}", t_test.elapsed());
}

/// Polls `/v1/sockets` until every socket named by `pick` re-dialled; returns when each did,
/// measured from `t0`.
fn wait_redials(
    run: &Run,
    t0: Instant,
    before: &BTreeMap<String, u64>,
    pick: impl Fn(&str) -> bool,
    limit: Duration,
) -> BTreeMap<String, Duration> {
    let mut when: BTreeMap<String, Duration> = BTreeMap::new();
    let wanted: Vec<String> = before.keys().filter(|k| pick(k)).cloned().collect();
    assert!(!wanted.is_empty());
    while when.len() < wanted.len() {
        assert!(
            t0.elapsed() < limit,
            "not every silent socket was re-dialled within {limit:?}: {when:?} of {wanted:?}"
        );
        for (k, n) in run.reconnects() {
            if wanted.contains(&k) && n > before[&k] && !when.contains_key(&k) {
                when.insert(k, t0.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    when
}

#[test]
fn silent_open_sockets_are_redialled_within_their_keepalive_limits() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let t_test = Instant::now();
    let run = Run::start(
        "pingsilence",
        &["--candle-close-ms", "500"],
        "[keepalive.okx]\nping_after_ms = 500\ndead_after_ms = 1500\n[keepalive.binance]\ndead_after_ms = 3000\n",
        |_| {},
    );
    run.candles(&[("binance", SPOT, "1m"), ("okx", OKX, "candle1m")]);
    wait_for("8 sockets ready", Duration::from_secs(20), || {
        run.ready() && corefeed_sockets(run.http).len() == 8
    });
    let mut con = redis_con();
    let mut closed = Closed::subscribe(&mut con, &[SPOT_CHANNEL, OKX_CHANNEL]);

    // OKX: every socket open, nothing comes back, its `ping`s unanswered.
    let before = run.reconnects();
    assert!(before.values().all(|n| *n == 0), "{before:?}");
    let t0 = Instant::now();
    post_sim_fault(&run.sim, r#"{"kind":"ping_silence","path_prefix":"/okx"}"#);
    let okx = wait_redials(
        &run,
        t0,
        &before,
        |k| provider_of(k).starts_with("okx"),
        Duration::from_secs(8),
    );
    assert_eq!(
        okx.len(),
        4,
        "3 ticker sockets and the candle socket: {okx:?}"
    );
    for (k, d) in &okx {
        // ping after 0.5 s of silence, dead at 1.5 s, checked once a second.
        assert!(
            *d >= Duration::from_millis(1000) && *d <= Duration::from_millis(3500),
            "{k} re-dialled after {d:?}"
        );
    }
    for (k, n) in run.reconnects() {
        if !provider_of(&k).starts_with("okx") {
            assert_eq!(n, 0, "{k} was re-dialled although it was not silent");
        }
    }
    let m = run.metrics();
    assert!(
        metric(&m, "corefeed_reconnects_total{provider=\"okx\"}") >= 1.0,
        "{m}"
    );
    // Lift: data flows again on the OKX candle socket.
    let n_okx = {
        closed.read_for(Duration::from_millis(300), |_| false);
        closed.count(OKX_CHANNEL)
    };
    let t_lift = Instant::now();
    post_sim_fault(&run.sim, r#"{"kind":"clear"}"#);
    closed.read_for(Duration::from_secs(10), |s| {
        s.get(OKX_CHANNEL).map_or(0, Vec::len) >= n_okx + 2
    });
    assert!(
        closed.count(OKX_CHANNEL) >= n_okx + 2,
        "no OKX candles after the lift"
    );
    let okx_back = t_lift.elapsed();
    wait_for(
        "ready again after the OKX silence",
        Duration::from_secs(10),
        || run.ready(),
    );

    // Binance spot: no ping control frames, no data; re-dialled after dead_after (3 s).
    let before = run.reconnects();
    let t0 = Instant::now();
    post_sim_fault(
        &run.sim,
        r#"{"kind":"ping_silence","path_prefix":"/binance/spot"}"#,
    );
    let spot = wait_redials(
        &run,
        t0,
        &before,
        |k| provider_of(k) == "binance",
        Duration::from_secs(10),
    );
    assert_eq!(spot.len(), 2, "the ticker and candle sockets: {spot:?}");
    for (k, d) in &spot {
        // Not before dead_after (less the last frame's age, ≤ 0.5 s), at most a tick after.
        assert!(
            *d >= Duration::from_millis(2500) && *d <= Duration::from_millis(5000),
            "{k} re-dialled after {d:?}"
        );
    }
    for (k, n) in run.reconnects() {
        if provider_of(&k) != "binance" {
            assert_eq!(
                n, before[&k],
                "{k} was re-dialled although it was not silent"
            );
        }
    }
    let n_spot = {
        closed.read_for(Duration::from_millis(300), |_| false);
        closed.count(SPOT_CHANNEL)
    };
    let t_lift = Instant::now();
    post_sim_fault(&run.sim, r#"{"kind":"clear"}"#);
    closed.read_for(Duration::from_secs(10), |s| {
        s.get(SPOT_CHANNEL).map_or(0, Vec::len) >= n_spot + 2
    });
    assert!(
        closed.count(SPOT_CHANNEL) >= n_spot + 2,
        "no Binance candles after the lift"
    );
    let spot_back = t_lift.elapsed();
    wait_for(
        "ready again after the Binance silence",
        Duration::from_secs(10),
        || run.ready(),
    );
    assert_eq!(
        metric_sum(&run.metrics(), "corefeed_decode_errors_total"),
        0.0
    );
    eprintln!(
        "OKX re-dialled after {okx:?} (keepalive 0.5/1.5 s), 2 candles {okx_back:?} after the lift; \
         Binance spot re-dialled after {spot:?} (dead_after 3 s), 2 candles {spot_back:?} after the lift"
    );
    run.stop();
    eprintln!("ping_silence test took {:?}", t_test.elapsed());
}

/// Freezes every socket (`ping_silence`), lets what is in flight reach Redis, and returns the
/// simulator's stats: from then on its counts and Redis can be compared.
fn freeze(run: &Run, closed: &mut Closed, settle: Duration) -> Value {
    post_sim_fault(&run.sim, r#"{"kind":"ping_silence"}"#);
    closed.read_for(settle, |_| false);
    sim_stats_json(&run.sim)
}

#[test]
fn truncated_frames_are_counted_and_no_whole_closed_candle_is_lost() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let t_test = Instant::now();
    let run = Run::start("truncated", &["--candle-close-ms", "400"], "", |sim| {
        // From the first frame on every socket: every 4th data frame cut in half.
        post_sim_fault(sim, r#"{"kind":"truncated","every":4}"#);
    });
    let mut con = redis_con();
    let mut closed = Closed::subscribe(&mut con, &[SPOT_CHANNEL, OKX_CHANNEL]);
    run.candles(&[("binance", SPOT, "1m"), ("okx", OKX, "candle1m")]);
    closed.read_for(Duration::from_secs(30), |s| {
        [SPOT_CHANNEL, OKX_CHANNEL]
            .iter()
            .all(|c| s.get(*c).is_some_and(|v| v.len() >= 12))
    });
    let stats = freeze(&run, &mut closed, Duration::from_millis(1500));
    let truncated_sent = stats["faults"]["truncated_sent"].as_u64().unwrap();
    let mut summary = Vec::new();
    let mut lost_total = 0;
    for (chan, key) in [(SPOT_CHANNEL, SPOT_KEY), (OKX_CHANNEL, OKX_KEY)] {
        let (sent, cut) = sim_closed(&stats, key);
        let got = closed.count(chan) as u64;
        let gaps = closed.gaps(chan, 60_000);
        assert!(got >= 12, "{chan}: {got} closed candles");
        assert_eq!(
            got, sent,
            "{chan}: Redis has {got} closed candles, the simulator sent {sent} whole ({cut} cut)"
        );
        // The only holes are the candles the simulator cut.
        assert!(
            gaps <= cut,
            "{chan}: {gaps} missing starts but only {cut} closed candles were cut"
        );
        lost_total += cut;
        summary.push(format!(
            "{chan}: {got}/{sent} whole closed candles, {cut} cut, {gaps} holes"
        ));
    }
    // Every cut frame (candles and tickers) is one decode error, once the counters flushed.
    let mut counted = 0.0;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        counted = metric_sum(&run.metrics(), "corefeed_decode_errors_total");
        if counted == truncated_sent as f64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(truncated_sent > 20, "{truncated_sent} truncated frames");
    assert_eq!(
        counted, truncated_sent as f64,
        "decode errors counted vs frames cut"
    );
    let m = run.metrics();
    assert_eq!(
        metric_sum(&m, "corefeed_reconnects_total"),
        0.0,
        "a bad frame never costs the socket"
    );
    post_sim_fault(&run.sim, r#"{"kind":"clear"}"#);
    wait_for("ready after the freeze", Duration::from_secs(10), || {
        run.ready()
    });
    eprintln!(
        "truncated: {truncated_sent} frames cut, {counted} decode errors; {} ; closed candles cut (lost at the source): {lost_total}",
        summary.join("; ")
    );
    run.stop();
    eprintln!("truncated test took {:?}", t_test.elapsed());
}

#[test]
fn oversized_frames_below_the_limit_decode_and_above_it_cost_one_redial() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let t_test = Instant::now();
    let run = Run::start("oversized", &["--candle-close-ms", "400"], "", |_| {});
    let mut con = redis_con();
    let mut closed = Closed::subscribe(&mut con, &[SPOT_CHANNEL, OKX_CHANNEL]);
    run.candles(&[("binance", SPOT, "1m"), ("okx", OKX, "candle1m")]);
    wait_for("8 sockets ready", Duration::from_secs(20), || {
        run.ready() && corefeed_sockets(run.http).len() == 8
    });
    let m0 = run.metrics();
    let bytes0 = metric_sum(&m0, "corefeed_frame_bytes_total");

    // 1. 2 MiB frames (valid JSON, same content + a padding field): under corefeed's 16 MiB
    // frame / 64 MiB message limits, so they are read and decoded like any other frame.
    const BIG: usize = 2 << 20;
    post_sim_fault(
        &run.sim,
        &format!(r#"{{"kind":"oversized","every":25,"bytes":{BIG}}}"#),
    );
    closed.read_for(Duration::from_secs(6), |_| false);
    post_sim_fault(&run.sim, r#"{"kind":"oversized","every":0}"#);
    let stats = freeze(&run, &mut closed, Duration::from_millis(1500));
    let big_sent = stats["faults"]["oversized_sent"].as_u64().unwrap();
    assert!(big_sent >= 10, "only {big_sent} oversized frames");
    for (chan, key) in [(SPOT_CHANNEL, SPOT_KEY), (OKX_CHANNEL, OKX_KEY)] {
        let (sent, cut) = sim_closed(&stats, key);
        assert_eq!(cut, 0);
        assert_eq!(
            closed.count(chan) as u64,
            sent,
            "{chan}: closed candles in Redis vs sent"
        );
        assert_eq!(closed.gaps(chan, 60_000), 0, "{chan}");
    }
    let mut m = String::new();
    wait_for(
        "the big frames' bytes counted",
        Duration::from_secs(5),
        || {
            m = run.metrics();
            metric_sum(&m, "corefeed_frame_bytes_total") - bytes0 >= (big_sent * BIG as u64) as f64
        },
    );
    let bytes_read = metric_sum(&m, "corefeed_frame_bytes_total") - bytes0;
    assert_eq!(metric_sum(&m, "corefeed_decode_errors_total"), 0.0, "{m}");
    assert_eq!(metric_sum(&m, "corefeed_reconnects_total"), 0.0, "{m}");
    post_sim_fault(&run.sim, r#"{"kind":"clear"}"#);

    // 2. 20 MiB frames on the OKX candle socket: above the 16 MiB frame limit, the WebSocket
    // layer refuses the frame from its header; corefeed counts a socket error and re-dials.
    const HUGE: usize = 20 << 20;
    let before = run.reconnects();
    let t0 = Instant::now();
    post_sim_fault(
        &run.sim,
        &format!(
            r#"{{"kind":"oversized","every":5,"bytes":{HUGE},"path_prefix":"/okx/ws/v5/business"}}"#
        ),
    );
    let redial = wait_redials(
        &run,
        t0,
        &before,
        |k| k == "okx/candles/0",
        Duration::from_secs(10),
    );
    let n_okx = closed.count(OKX_CHANNEL);
    post_sim_fault(&run.sim, r#"{"kind":"clear"}"#);
    let huge_sent = sim_stats_json(&run.sim)["faults"]["oversized_sent"]
        .as_u64()
        .unwrap()
        - big_sent;
    let t_lift = Instant::now();
    closed.read_for(Duration::from_secs(10), |s| {
        s.get(OKX_CHANNEL).map_or(0, Vec::len) >= n_okx + 2
    });
    assert!(
        closed.count(OKX_CHANNEL) >= n_okx + 2,
        "no OKX candles after the huge frames"
    );
    let back = t_lift.elapsed();
    wait_for(
        "ready after the huge frames",
        Duration::from_secs(10),
        || run.ready(),
    );
    let m = run.metrics();
    let okx_reconnects = metric(&m, "corefeed_reconnects_total{provider=\"okx\"}");
    assert!(
        okx_reconnects >= 1.0 && okx_reconnects <= huge_sent as f64,
        "{okx_reconnects} re-dials for {huge_sent} huge frames"
    );
    for (k, n) in run.reconnects() {
        if k != "okx/candles/0" {
            assert_eq!(n, before[&k], "{k} re-dialled");
        }
    }
    assert_eq!(metric_sum(&m, "corefeed_decode_errors_total"), 0.0);
    let log = run.stop();
    assert!(
        log.contains("Message too long"),
        "the socket error names the size limit"
    );
    eprintln!(
        "oversized: {big_sent} frames of 2 MiB decoded ({:.1} MiB read, no error, nothing lost); \
         {huge_sent} frames of 20 MiB → {okx_reconnects} re-dial(s) after {redial:?}, candles again {back:?} after the lift",
        bytes_read / (1 << 20) as f64
    );
    eprintln!("oversized test took {:?}", t_test.elapsed());
}

#[test]
fn delayed_frames_lose_nothing_and_cost_no_redial() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let t_test = Instant::now();
    // Keepalive limits shortened to a few times the delay: still no re-dial, since frames
    // keep arriving (late, but steadily).
    let run = Run::start(
        "delay",
        &["--candle-close-ms", "400", "--stamp"],
        "[keepalive.okx]\nping_after_ms = 1000\ndead_after_ms = 2500\n[keepalive.binance]\ndead_after_ms = 2500\n",
        |sim| {
            post_sim_fault(sim, r#"{"kind":"delay","ms":300}"#);
        },
    );
    let mut con = redis_con();
    let mut closed = Closed::subscribe(&mut con, &[SPOT_CHANNEL, OKX_CHANNEL]);
    run.candles(&[("binance", SPOT, "1m"), ("okx", OKX, "candle1m")]);
    closed.read_for(Duration::from_secs(30), |s| {
        [SPOT_CHANNEL, OKX_CHANNEL]
            .iter()
            .all(|c| s.get(*c).is_some_and(|v| v.len() >= 15))
    });
    // No re-dial while frames came late but steadily (checked before the freeze below, which
    // silences the sockets on purpose).
    let m = run.metrics();
    assert_eq!(
        metric_sum(&m, "corefeed_reconnects_total"),
        0.0,
        "a 300 ms delay re-dialled a socket\n{m}"
    );
    assert_eq!(metric_sum(&m, "corefeed_connect_failures_total"), 0.0);
    assert_eq!(metric_sum(&m, "corefeed_decode_errors_total"), 0.0);
    for s in corefeed_sockets(run.http) {
        assert_eq!(s["reconnects"], 0, "{s}");
    }
    // Frames already written arrive within ms; held ones are dropped by the freeze uncounted.
    let stats = freeze(&run, &mut closed, Duration::from_millis(700));
    let mut summary = Vec::new();
    for (chan, key) in [(SPOT_CHANNEL, SPOT_KEY), (OKX_CHANNEL, OKX_KEY)] {
        let (sent, _) = sim_closed(&stats, key);
        let got = closed.count(chan) as u64;
        assert!(got >= 15, "{chan}: {got}");
        assert_eq!(got, sent, "{chan}: Redis vs simulator closed candles");
        assert_eq!(closed.gaps(chan, 60_000), 0, "{chan}");
        summary.push(format!("{chan}: {got}/{sent}"));
    }
    // The delay is real: from the simulator's send stamp to the Redis write.
    let p50 = metric(
        &m,
        "corefeed_publish_latency_us{from=\"sent\",sink=\"redis\",quantile=\"0.5\"}",
    );
    let p99 = metric(
        &m,
        "corefeed_publish_latency_us{from=\"sent\",sink=\"redis\",quantile=\"0.99\"}",
    );
    assert!(
        p50 >= 300_000.0,
        "median stamp→Redis latency {p50} µs under a 300 ms delay\n{m}"
    );
    assert!(p99 < 1_500_000.0, "p99 {p99} µs");
    let delayed = stats["faults"]["delayed_frames"].as_u64().unwrap();
    post_sim_fault(&run.sim, r#"{"kind":"clear"}"#);
    wait_for("ready after the freeze", Duration::from_secs(10), || {
        run.ready()
    });
    eprintln!(
        "delay 300 ms: {delayed} frames held; closed candles {}; stamp→Redis p50 {:.0} ms, p99 {:.0} ms; 0 re-dials",
        summary.join(", "),
        p50 / 1000.0,
        p99 / 1000.0
    );
    run.stop();
    eprintln!("delay test took {:?}", t_test.elapsed());
}
