//! Idle: corefeed with sockets open and little traffic (one Binance and one OKX candle stream,
//! pushed once a second, sinks on). Goal: under 1% of a core.

use super::report::{goal_le, vs_target, Report, Row};
use super::stack::{FeedOpts, SimOpts, Stack};
use super::Ctx;
use serde_json::json;
use std::time::Duration;

pub const TARGET_PCT: f64 = 1.0;

pub fn run(ctx: &Ctx, rep: &mut Report) -> anyhow::Result<()> {
    let name = "idle";
    let sim = SimOpts {
        symbols: 20,
        kline_push_ms: Some(1000),
        ticker_push_ms: Some(1000),
        ..SimOpts::default()
    };
    let feed = FeedOpts {
        providers: vec!["binance", "okx"],
        tickers: false,
        sinks: true,
        confirms: true,
        ..FeedOpts::default()
    };
    let mut st = Stack::start(ctx, name, &sim, &feed)?;
    st.subscribe_candles("binance", &["BTCUSDT".into()], "1m")?;
    st.subscribe_candles("okx", &["BTC-USDT".into()], "candle1m")?;
    st.wait_flowing(Duration::from_secs(20))?;
    ctx.warmup();
    // CPU ticks are 10 ms: 10 s gives ±0.1% of a core (BENCH_QUICK: 6 s, ±0.17%).
    let w = st.measure(if ctx.quick {
        6.0
    } else {
        ctx.window_s.max(10.0)
    });
    let config = st.config.clone();
    st.stop(ctx);
    let w = w?;
    let pct = w.cpu_s / w.wall_s * 100.0;
    let mut j = w.json();
    j["scenario"] = json!(name);
    j["rate"] = json!("2 candle streams, 1 push/s each");
    j["target_cpu_pct_of_core"] = json!(TARGET_PCT);
    j["config"] = json!(config);
    rep.scenarios.push(j);
    rep.goals.push(goal_le(
        "idle corefeed: < 1% of a core",
        Some(pct),
        TARGET_PCT,
        "% of a core",
    ));
    rep.rows.push(Row {
        scenario: name.into(),
        rate: "2 streams × 1 frame/s".into(),
        frames_per_s: Some(w.frames_per_s()),
        events_per_s: Some(w.events / w.wall_s),
        cpu_pct: Some(pct),
        cpu_s_per_m: None,
        rss_mib: Some(w.rss_mib),
        sim_cpu_pct: Some(w.sim_cpu_s / w.wall_s * 100.0),
        target: vs_target(Some(pct), TARGET_PCT, "% of a core"),
    });
    let threads: Vec<String> = w
        .threads
        .iter()
        .map(|(k, v)| format!("`{k}` {:.3} s", v))
        .collect();
    rep.notes.push(format!(
        "idle: {:.3} CPU s in {:.1} s; by thread: {} (kernel accounting at 10 ms ticks: ±0.01 s over the window).",
        w.cpu_s,
        w.wall_s,
        if threads.is_empty() { "none measurable".into() } else { threads.join(", ") }
    ));
    Ok(())
}
