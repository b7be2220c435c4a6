//! Faults injected through the simulator's control API, against corefeed as a real process:
//! the exchange service down at boot (tickers must come from the venues' REST listings), and a
//! mass disconnect (every socket must come back through the governor, with no duplicate
//! sockets, and data must flow again). Needs `cargo build --bins` and local Redis/RabbitMQ.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Redis channels are global: the tests of this file must not publish the same candles at once.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sim_port(sim: &str) -> u16 {
    sim.rsplit(':').next().unwrap().parse().unwrap()
}

fn sim_connections(sim: &str) -> u64 {
    let (_, body) = http_get(sim_port(sim), "/control/stats").unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let open = &v["connections_open"];
    match open {
        serde_json::Value::Object(m) => m.values().filter_map(|x| x.as_u64()).sum(),
        other => other
            .as_u64()
            .unwrap_or_else(|| panic!("no connections_open in sim stats: {body}")),
    }
}

#[test]
fn listing_fallback_and_mass_disconnect_recovery() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (_sim, sim) = start_sim_with(&[
        "--symbols",
        "6",
        "--candle-close-ms",
        "1000",
        "--ticker-push-ms",
        "300",
    ]);
    // The exchange service is down from the start: OKX tickers must come from the venue listing.
    let (code, _) = http_post(
        sim_port(&sim),
        "/control/fault",
        None,
        r#"{"kind":"exchange_service","fail":true}"#,
    )
    .unwrap();
    assert_eq!(code, 200);

    let pid = std::process::id();
    let names = Names {
        events_exchange: format!("corefeed.events.faults.{pid}"),
        commands_exchange: format!("gainium.faults.{pid}"),
        commands_queue: format!("candlesRequests.faults.{pid}"),
    };
    let http_port = free_port();
    // A tight governor (burst 2, 4/s per exchange) so the reconnect storm is visibly paced.
    let extra =
        "[governor.binance]\nburst = 2\nper_sec = 4.0\n[governor.okx]\nburst = 2\nper_sec = 4.0\n";
    let cfg = write_config(&sim, http_port, &names, extra);
    let (mut corefeed, log_path) = start_corefeed(&cfg, http_port);

    for (ex, sym, iv) in [
        ("binance", "BTCUSDT", "1m"),
        ("binanceUsdm", "BTCUSDT", "1m"),
        ("binanceCoinm", "BTCUSD_PERP", "1m"),
        ("okx", "BTC-USDT", "candle1m"),
        ("okxLinear", "BTC-USDT-SWAP", "candle1m"),
        ("okxInverse", "BTC-USD-SWAP", "candle1m"),
    ] {
        let body = format!(r#"{{"exchange":"{ex}","symbol":"{sym}","interval":"{iv}"}}"#);
        let (code, resp) = http_post(http_port, "/v1/candles", Some("e2e-token"), &body).unwrap();
        assert_eq!(code, 201, "{resp}");
    }

    // 6 ticker sockets + 6 candle sockets, all open and fed; OKX tickers listed via REST.
    let metrics = || http_get(http_port, "/metrics").unwrap().1;
    wait_until("12 open sockets with data", Duration::from_secs(20), || {
        http_get(http_port, "/ready").map(|r| r.0) == Some(200)
            && metric_sum(&metrics(), "corefeed_connections") == 12.0
    });
    let m = metrics();
    for p in ["okx", "okxLinear", "okxInverse"] {
        assert!(
            metric(&m, &format!("corefeed_events_total{{provider=\"{p}\"}}")) > 0.0,
            "{p} has no events: listing fallback failed\n{m}"
        );
    }
    assert!(
        metric(&m, "corefeed_listing_failures_total") == 0.0,
        "the venue REST fallback should have answered"
    );
    assert_eq!(
        sim_connections(&sim),
        12,
        "the simulator sees exactly corefeed's sockets"
    );

    // Mass disconnect.
    let before = metric_sum(&m, "corefeed_reconnects_total");
    let events_before = metric_sum(&m, "corefeed_events_total");
    let waits_before = metric(&m, "corefeed_governor_waits_total");
    let dropped_at = std::time::Instant::now();
    let (code, _) = http_post(
        sim_port(&sim),
        "/control/fault",
        None,
        r#"{"kind":"drop_all"}"#,
    )
    .unwrap();
    assert_eq!(code, 200);
    wait_until(
        "every socket re-dialled and open again",
        Duration::from_secs(30),
        || {
            let m = metrics();
            metric_sum(&m, "corefeed_reconnects_total") >= before + 12.0
                && metric_sum(&m, "corefeed_connections") == 12.0
                && http_get(http_port, "/ready").map(|r| r.0) == Some(200)
        },
    );
    println!(
        "mass disconnect: 12 sockets re-dialled and ready {:?} after drop_all (governor burst 2, 4/s per exchange)",
        dropped_at.elapsed()
    );
    wait_until(
        "data flowing again on every provider",
        Duration::from_secs(15),
        || metric_sum(&metrics(), "corefeed_events_total") > events_before + 100.0,
    );
    let m = metrics();
    assert!(
        metric(&m, "corefeed_governor_waits_total") > waits_before,
        "12 sockets through a burst-2 bucket must have waited on the governor\n{m}"
    );
    // No leaked or duplicate sockets after the storm (the seed's bug #014 class).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sim_connections(&sim), 12);
    assert_eq!(metric_sum(&m, "corefeed_decode_errors_total"), 0.0);

    stop_corefeed(&mut corefeed, &log_path);
    let _ = std::fs::remove_file(cfg);
}

#[test]
fn malformed_frames_are_counted_and_lose_no_good_data() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (_sim, sim) = start_sim_with(&[
        "--symbols",
        "4",
        "--candle-close-ms",
        "400",
        "--ticker-push-ms",
        "300",
    ]);
    let pid = std::process::id();
    let names = Names {
        events_exchange: format!("corefeed.events.malformed.{pid}"),
        commands_exchange: format!("gainium.malformed.{pid}"),
        commands_queue: format!("candlesRequests.malformed.{pid}"),
    };
    let http_port = free_port();
    let cfg = write_config(&sim, http_port, &names, "");
    let (mut corefeed, log_path) = start_corefeed(&cfg, http_port);

    let redis = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut con = redis.get_connection().expect("Redis on 127.0.0.1:6379");
    let mut ps = con.as_pubsub();
    ps.subscribe("BTCUSDT@binance@1mCandle").unwrap();
    ps.subscribe("BTC-USDT@okx@candle1mCandle").unwrap();
    ps.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();

    for body in [
        r#"{"exchange":"binance","symbol":"BTCUSDT","interval":"1m"}"#,
        r#"{"exchange":"okx","symbol":"BTC-USDT","interval":"candle1m"}"#,
    ] {
        assert_eq!(
            http_post(http_port, "/v1/candles", Some("e2e-token"), body)
                .unwrap()
                .0,
            201
        );
    }
    // One malformed frame after every third frame, on every socket.
    let sport = sim_port(&sim);
    assert_eq!(
        http_post(
            sport,
            "/control/fault",
            None,
            r#"{"kind":"malformed","every":3}"#
        )
        .unwrap()
        .0,
        200
    );

    let mut starts: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20)
        && (starts.len() < 2 || !starts.values().all(|v| v.len() >= 8))
    {
        if let Ok(msg) = ps.get_message() {
            let payload: String = msg.get_payload().unwrap();
            let v: serde_json::Value = serde_json::from_str(&payload).unwrap();
            starts
                .entry(msg.get_channel_name().to_owned())
                .or_default()
                .push(v["start"].as_u64().unwrap());
        }
    }
    assert_eq!(
        http_post(
            sport,
            "/control/fault",
            None,
            r#"{"kind":"malformed","every":0}"#
        )
        .unwrap()
        .0,
        200
    );
    drop(ps);

    // Every closed candle arrived: starts advance by exactly one interval, no gap.
    assert_eq!(starts.len(), 2, "{starts:?}");
    for (chan, s) in &starts {
        assert!(s.len() >= 8, "{chan}: only {} closed candles", s.len());
        for w in s.windows(2) {
            assert_eq!(
                w[1] - w[0],
                60_000,
                "{chan}: a closed candle is missing between {} and {}",
                w[0],
                w[1]
            );
        }
    }
    // Every malformed frame was counted as a decode error (never silently dropped), once the
    // counters have flushed.
    std::thread::sleep(Duration::from_millis(800));
    let (_, stats) = http_get(sport, "/control/stats").unwrap();
    let sent: serde_json::Value = serde_json::from_str(&stats).unwrap();
    let sent = sent["faults"]["malformed_sent"].as_f64().unwrap();
    let m = http_get(http_port, "/metrics").unwrap().1;
    let counted = metric_sum(&m, "corefeed_decode_errors_total");
    assert!(sent > 10.0, "the simulator sent {sent} malformed frames");
    assert_eq!(
        counted, sent,
        "decode errors counted by corefeed vs malformed frames sent\n{m}"
    );

    stop_corefeed(&mut corefeed, &log_path);
    let _ = std::fs::remove_file(cfg);
}

#[test]
fn a_silent_socket_is_redialled_alone() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (_sim, sim) = start_sim_with(&[
        "--symbols",
        "4",
        "--candle-close-ms",
        "1000",
        "--ticker-push-ms",
        "300",
    ]);
    let pid = std::process::id();
    let names = Names {
        events_exchange: format!("corefeed.events.silent.{pid}"),
        commands_exchange: format!("gainium.silent.{pid}"),
        commands_queue: format!("candlesRequests.silent.{pid}"),
    };
    let http_port = free_port();
    // OKX keepalive shortened so the test is quick: ping after 0.5 s of silence, dead at 1.5 s.
    let cfg = write_config(
        &sim,
        http_port,
        &names,
        "[keepalive.okx]\nping_after_ms = 500\ndead_after_ms = 1500\n",
    );
    let (mut corefeed, log_path) = start_corefeed(&cfg, http_port);
    for body in [
        r#"{"exchange":"binance","symbol":"BTCUSDT","interval":"1m"}"#,
        r#"{"exchange":"okx","symbol":"BTC-USDT","interval":"candle1m"}"#,
    ] {
        assert_eq!(
            http_post(http_port, "/v1/candles", Some("e2e-token"), body)
                .unwrap()
                .0,
            201
        );
    }
    let sockets = || -> Vec<serde_json::Value> {
        let (code, body) = http_get_auth(http_port, "/v1/sockets", "e2e-token").unwrap();
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["sockets"].as_array().unwrap().clone()
    };
    let reconnects = |name: &str| -> u64 {
        sockets()
            .iter()
            .find(|s| s["socket"] == name)
            .map(|s| s["reconnects"].as_u64().unwrap())
            .unwrap_or(u64::MAX)
    };
    wait_until("8 sockets ready", Duration::from_secs(20), || {
        http_get(http_port, "/ready").map(|r| r.0) == Some(200) && sockets().len() == 8
    });
    // The OKX business socket (candles) goes silent: open, but nothing at all, not even pongs.
    let sport = sim_port(&sim);
    let silence = r#"{"kind":"silence","path":"/okx/ws/v5/business"}"#;
    assert_eq!(
        http_post(sport, "/control/fault", None, silence).unwrap().0,
        200
    );
    wait_until(
        "the silent socket re-dialled",
        Duration::from_secs(10),
        || reconnects("okx/candles/0") >= 1,
    );
    // Only that socket: its siblings on the public endpoint and Binance were left alone.
    for s in sockets() {
        let name = s["socket"].as_str().unwrap();
        if name != "okx/candles/0" {
            assert_eq!(
                s["reconnects"], 0,
                "{name} was re-dialled although it was not silent: {s}"
            );
        }
    }
    let lift = r#"{"kind":"silence","path":"/okx/ws/v5/business","enabled":false}"#;
    assert_eq!(
        http_post(sport, "/control/fault", None, lift).unwrap().0,
        200
    );
    wait_until("the socket back with data", Duration::from_secs(15), || {
        http_get(http_port, "/ready").map(|r| r.0) == Some(200)
    });

    stop_corefeed(&mut corefeed, &log_path);
    let _ = std::fs::remove_file(cfg);
}
