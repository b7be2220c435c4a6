//! Per-market liveness (issue 5, seed §11 1.16.8/1.16.9, spec 015): one market of a live
//! socket stops (the simulator's `stall_market` fault) while its siblings keep flowing: corefeed
//! reports `watchdogStall`, resubscribes it, then re-dials, then gives up with a clear error and
//! a metric — never a restart; when the market's data returns it is live again.
//!
//! Needs `cargo build --bins` first (`make test` does it) and Redis/RabbitMQ on localhost.

use serde_json::json;
use std::time::{Duration, Instant};
mod common;
use common::users::*;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_market_is_reported_repaired_and_escalated_while_siblings_flow() {
    let h = Harness::start(
        "stall",
        &["--ticker-push-ms", "200"],
        "[prices]\nproviders = [\"okx\"]\ntickers = true\n[socket]\nmarket_stall_s = 2\n",
        &[],
    )
    .await;
    // OKX subscribes a ticker per listed instrument; wait until they flow.
    let t0 = Instant::now();
    while h
        .wait_redis(20, 1, |c, _| c.starts_with("trade@"))
        .await
        .len()
        < 20
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "tickers never flowed; log {}",
            h.log_path.display()
        );
    }
    h.sim(
        "/control/fault",
        json!({"kind": "stall_market", "symbol": "BTC-USDT", "path_prefix": "/okx/ws/v5/public"}),
    );
    let stall_from = Instant::now();
    // The ladder: resubscribe, re-dial, give up — one notice per step.
    let t0 = Instant::now();
    let notices = loop {
        let n: Vec<serde_json::Value> = h
            .service_log("watchdogStall")
            .into_iter()
            .filter(|v| v["market"] == "BTC-USDT")
            .collect();
        if n.len() >= 3 || t0.elapsed() > Duration::from_secs(20) {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let actions: Vec<&str> = notices
        .iter()
        .map(|v| v["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, ["resubscribe", "redial", "gave_up"], "{notices:?}");
    for v in &notices {
        assert_eq!(v["exchange"], "okx");
        assert_eq!(v["kind"], "price");
        assert!(v["staleSeconds"].as_u64().unwrap_or(0) >= 2, "{v}");
    }
    // Siblings kept flowing during the stall (and BTC-USDT did not).
    let since = h.redis.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later: Vec<(String, String)> = h.redis.lock().unwrap()[since..].to_vec();
    assert!(
        later
            .iter()
            .any(|(c, _)| c.starts_with("trade@") && c != "trade@BTC-USDT@okx"),
        "siblings flow"
    );
    assert!(
        !later.iter().any(|(c, _)| c == "trade@BTC-USDT@okx"),
        "the stalled market is silent"
    );
    let m = h.metrics();
    assert_eq!(
        metric(
            &m,
            "corefeed_market_stalls_total{provider=\"okx\",kind=\"price\",action=\"gave_up\"}"
        ),
        1.0,
        "{m}"
    );
    assert_eq!(metric(&m, "corefeed_stalled_markets"), 1.0);
    // No more notices once it gave up; data returning makes it live again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        h.service_log("watchdogStall")
            .iter()
            .filter(|v| v["market"] == "BTC-USDT")
            .count(),
        3
    );
    h.sim("/control/fault", json!({"kind": "stall_market", "symbol": "BTC-USDT", "path_prefix": "/okx/ws/v5/public", "enabled": false}));
    let t0 = Instant::now();
    loop {
        let m = h.metrics();
        if metric(&m, "corefeed_stalled_markets") == 0.0
            && h.redis
                .lock()
                .unwrap()
                .iter()
                .any(|(c, _)| c == "trade@BTC-USDT@okx")
        {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "market never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("stall ladder {actions:?} within {:?}", stall_from.elapsed());
    h.stop();
}
