//! Ingest: how much CPU corefeed spends per frame read, decoded and handed to the ring, with the
//! sinks off (the publisher only drains the rings). Binance combined-stream klines (200 streams
//! on one socket, ~350-byte frames) at full speed (`--firehose`) and paced at ~10 k frames/s,
//! and OKX candles at full speed. The simulator is pinned to CPU 1 so the shard has CPU 0.

use super::report::{goal_le, vs_target, Report, Row};
use super::stack::{FeedOpts, SimOpts, Stack};
use super::{Ctx, SYMBOLS};
use serde_json::json;
use std::time::Duration;

/// Targets (issue): CPU s per million kline frames.
pub const TARGET_FULL: f64 = 0.4;
pub const TARGET_PACED: f64 = 1.5;
/// Total paced rate and the per-stream rate giving it.
pub const PACED_TOTAL: u32 = 10_000;

/// Binance spot klines (`1m`) for every simulator symbol.
pub fn start_binance_klines(
    ctx: &Ctx,
    name: &str,
    sim: SimOpts,
    feed: FeedOpts,
) -> anyhow::Result<Stack> {
    let mut st = Stack::start(ctx, name, &sim, &feed)?;
    let pairs = st.sim_pairs("binance")?;
    st.subscribe_candles("binance", &pairs[..pairs.len().min(SYMBOLS)], "1m")?;
    st.wait_flowing(Duration::from_secs(20))?;
    Ok(st)
}

/// OKX spot candles (`candle1m`) for every simulator symbol.
pub fn start_okx_candles(
    ctx: &Ctx,
    name: &str,
    sim: SimOpts,
    feed: FeedOpts,
) -> anyhow::Result<Stack> {
    let mut st = Stack::start(ctx, name, &sim, &feed)?;
    let pairs = st.sim_pairs("okx")?;
    st.subscribe_candles("okx", &pairs[..pairs.len().min(SYMBOLS)], "candle1m")?;
    st.wait_flowing(Duration::from_secs(20))?;
    Ok(st)
}

pub fn sinks_off(providers: Vec<&'static str>) -> FeedOpts {
    FeedOpts {
        providers,
        tickers: false,
        sinks: false,
        confirms: true,
        ..FeedOpts::default()
    }
}

fn one(
    ctx: &Ctx,
    rep: &mut Report,
    name: &str,
    rate: &str,
    target: f64,
    start: impl FnOnce() -> anyhow::Result<Stack>,
) -> anyhow::Result<()> {
    let mut st = start()?;
    ctx.warmup();
    let w = st.measure(ctx.window_s);
    let config = st.config.clone();
    st.stop(ctx);
    let w = w?;
    let mut j = w.json();
    j["scenario"] = json!(name);
    j["rate"] = json!(rate);
    j["target_cpu_s_per_million_frames"] = json!(target);
    j["config"] = json!(config);
    rep.scenarios.push(j);
    if name.contains("binance") {
        rep.goals.push(goal_le(
            &format!("ingest Binance klines, {rate}: ≤ {target} CPU s per million frames"),
            w.cpu_s_per_million_frames(),
            target,
            " CPU s/M",
        ));
    }
    rep.rows.push(Row {
        scenario: name.into(),
        rate: rate.into(),
        frames_per_s: Some(w.frames_per_s()),
        events_per_s: Some(w.events / w.wall_s),
        cpu_pct: Some(w.cpu_s / w.wall_s * 100.0),
        cpu_s_per_m: w.cpu_s_per_million_frames(),
        rss_mib: Some(w.rss_mib),
        sim_cpu_pct: Some(w.sim_cpu_s / w.wall_s * 100.0),
        target: vs_target(w.cpu_s_per_million_frames(), target, " CPU s/M"),
    });
    let threads: Vec<String> = w
        .threads
        .iter()
        .filter(|(_, v)| **v >= 0.01)
        .map(|(k, v)| format!("`{k}` {:.0}%", v / w.cpu_s.max(1e-9) * 100.0))
        .collect();
    if w.frames_source != "corefeed_frames_total" {
        rep.notes.push(format!(
            "{name} ({rate}): corefeed's `corefeed_frames_total` did not advance during the window although {:.0} envelopes/s left the ring — the shard's control loop (which flushes the shard counters, and handles control messages) is starved while the firehose socket never yields; frames were counted from the publisher instead. Worth an issue in `shards/`.",
            w.frames_per_s()
        ));
    }
    rep.notes.push(format!(
        "{name}: corefeed used {:.2} CPU s in {:.1} s ({:.0}% of a core) for {:.0} frames of {:.0} bytes on average; by thread: {}. The simulator used {:.0}% of a core{}.",
        w.cpu_s,
        w.wall_s,
        w.cpu_s / w.wall_s * 100.0,
        w.frames,
        if w.frames > 0.0 { w.bytes / w.frames } else { 0.0 },
        threads.join(", "),
        w.sim_cpu_s / w.wall_s * 100.0,
        if w.sim_cpu_s / w.wall_s > 0.9 { " — it was the bottleneck (one core is its ceiling when pinned)" } else { "" },
    ));
    Ok(())
}

pub fn run(ctx: &Ctx, rep: &mut Report) -> anyhow::Result<()> {
    let pinned_sim = |firehose: bool, rate: Option<u32>| SimOpts {
        symbols: SYMBOLS,
        firehose,
        kline_rate: rate,
        cpus: Some("1".into()),
        ..SimOpts::default()
    };
    one(
        ctx,
        rep,
        "ingest binance klines",
        "full speed",
        TARGET_FULL,
        || {
            start_binance_klines(
                ctx,
                "ingest-binance-full",
                pinned_sim(true, None),
                sinks_off(vec!["binance"]),
            )
        },
    )?;
    let per_stream = PACED_TOTAL / SYMBOLS as u32;
    one(
        ctx,
        rep,
        "ingest binance klines",
        &format!(
            "paced {} k/s ({per_stream}/s × {SYMBOLS})",
            PACED_TOTAL / 1000
        ),
        TARGET_PACED,
        || {
            start_binance_klines(
                ctx,
                "ingest-binance-paced",
                pinned_sim(false, Some(per_stream)),
                sinks_off(vec!["binance"]),
            )
        },
    )?;
    if ctx.quick {
        // BENCH_QUICK: the two Binance goals only.
        return Ok(());
    }
    one(
        ctx,
        rep,
        "ingest okx candles",
        "full speed",
        TARGET_FULL,
        || {
            start_okx_candles(
                ctx,
                "ingest-okx-full",
                pinned_sim(true, None),
                sinks_off(vec!["okx"]),
            )
        },
    )?;
    Ok(())
}
