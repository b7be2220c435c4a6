//! Faults injected through the simulator's control API, against corefeed as a real process:
//! the exchange service down at boot (tickers must come from the venues' REST listings), and a
//! mass disconnect (every socket must come back through the governor, with no duplicate
//! sockets, and data must flow again). Needs `cargo build --bins` and local Redis/RabbitMQ.

mod common;

use common::*;
use std::time::{Duration, Instant};

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
    let extra = "";
    let cfg = write_config(&sim, http_port, &names, extra);
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(
            "[governor.binance]\nburst = 50\nper_sec = 50.0",
            "[governor.binance]\nburst = 2\nper_sec = 4.0",
        )
        .replace(
            "[governor.okx]\nburst = 20\nper_sec = 20.0",
            "[governor.okx]\nburst = 2\nper_sec = 4.0",
        );
    std::fs::write(&cfg, text).unwrap();
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

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &corefeed.0.id().to_string()])
        .status();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = corefeed.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "log: {}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
    let _ = std::fs::remove_file(cfg);
}
