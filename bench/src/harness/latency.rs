//! Latency at fixed rates: the simulator stamps every frame (`--stamp`, `"_st"` ns) and sends
//! Binance klines at a fixed total rate (plus the all-market mini-ticker array once a second, so
//! Redis gets traffic: open candles are not published on Redis). Reported:
//! - corefeed's own histograms from `/metrics`: (a) sim send → event in the shard's ring
//!   (`from="sent",sink="ring"`), (b) sim send → sink write (`from="sent"`) and frame read →
//!   sink write (`from="recv"`), for Redis and AMQP (cumulative since start);
//! - a real AMQP consumer: now − the `received_us` header (corefeed's frame read time; the
//!   published messages do not carry the send stamp);
//! - a real Redis consumer (PSUBSCRIBE `trade@*`): now − the ticker's `time` (the venue event
//!   time the simulator put in the frame, ms resolution).

use super::broker::{self, Recorder};
use super::ingest::start_binance_klines;
use super::report::{Goal, LatRow, Report, Row};
use super::stack::{FeedOpts, SimOpts};
use super::{Ctx, SYMBOLS};
use hdrhistogram::Histogram;
use serde_json::json;

fn quantiles(h: &Histogram<u64>) -> [f64; 5] {
    if h.is_empty() {
        return [0.0; 5];
    }
    [0.5, 0.9, 0.99, 0.999]
        .map(|q| h.value_at_quantile(q) as f64)
        .into_iter()
        .chain([h.max() as f64])
        .collect::<Vec<_>>()
        .try_into()
        .unwrap_or([0.0; 5])
}

fn target_text(series: &str, q: &[f64; 5], rate: u32) -> String {
    if rate != 10_000 {
        return String::new();
    }
    // Issue targets at 10 k frames/s: frame read → Redis/AMQP write p50 ≤ 10, p99 ≤ 50, p99.9 ≤ 200 µs.
    if series.starts_with("corefeed added") {
        let parts = [
            (q[0], 10.0, "p50"),
            (q[2], 50.0, "p99"),
            (q[3], 200.0, "p99.9"),
        ];
        let ok = parts.iter().all(|(m, t, _)| m <= t);
        let txt: Vec<String> = parts
            .iter()
            .map(|(m, t, n)| format!("{n} {:.1}×", m / t))
            .collect();
        return format!(
            "≤ 10/50/200 µs: {} {}",
            txt.join(" "),
            if ok { "✅" } else { "❌" }
        );
    }
    if series.starts_with("(a) sim send") {
        return format!(
            "p99.9 ≤ 300 µs: {:.2}× {}",
            q[3] / 300.0,
            if q[3] <= 300.0 { "✅" } else { "❌" }
        );
    }
    String::new()
}

fn one(ctx: &Ctx, rep: &mut Report, rate: u32) -> anyhow::Result<()> {
    let name = format!("latency {} k/s", rate / 1000);
    let key = format!("latency-{rate}");
    let per_stream = (rate / SYMBOLS as u32).max(1);
    let sim = SimOpts {
        symbols: SYMBOLS,
        kline_rate: Some(per_stream),
        stamp: true,
        ticker_push_ms: Some(1000),
        ..SimOpts::default()
    };
    let feed = FeedOpts {
        providers: vec!["binance"],
        tickers: true,
        sinks: true,
        confirms: true,
        ..FeedOpts::default()
    };
    let mut st = start_binance_klines(ctx, &key, sim, feed)?;
    let amqp_rec = Recorder::new();
    let amqp_e2e = Recorder::new();
    let queue = format!("corefeed.bench.{}.{key}.consumer", ctx.run_id);
    let consumer = ctx.rt.spawn(broker::amqp_latency_consumer(
        st.events_exchange.clone(),
        queue.clone(),
        amqp_rec.clone(),
        amqp_e2e.clone(),
    ));
    let redis_rec = Recorder::new();
    let redis_ok =
        broker::redis_latency_consumer(vec!["trade@*@binance".into()], redis_rec.clone());
    ctx.warmup();
    amqp_rec.reset();
    amqp_e2e.reset();
    redis_rec.reset();
    let w = st.measure(ctx.window_s);
    let amqp_h = amqp_rec.snapshot();
    let amqp_e2e_h = amqp_e2e.snapshot();
    let redis_h = redis_rec.snapshot();
    let (amqp_n, redis_n) = (
        amqp_rec.messages.load(std::sync::atomic::Ordering::Relaxed),
        redis_rec
            .messages
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    amqp_rec
        .stop
        .store(true, std::sync::atomic::Ordering::Relaxed);
    redis_rec
        .stop
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = ctx.rt.block_on(consumer);
    let config = st.config.clone();
    st.stop(ctx);
    ctx.amqp_cleanup(&[], &[&queue]);
    let w = w?;

    let mut series: Vec<(String, f64, [f64; 5])> = Vec::new();
    for (from, sink, label) in [
        ("sent", "ring", "(a) sim send → event in the ring"),
        ("sent", "redis", "(b) sim send → Redis PUBLISH written"),
        ("sent", "amqp", "(b) sim send → AMQP publish written"),
        ("recv", "redis", "corefeed added: frame read → Redis write"),
        ("recv", "amqp", "corefeed added: frame read → AMQP write"),
        (
            "recv",
            "publisher",
            "share of it: frame read → publisher took it off the ring",
        ),
    ] {
        if let Some((q, n)) = w.end.latency(from, sink) {
            series.push((label.into(), n, q));
        }
    }
    series.push((
        "(c) sim send → RabbitMQ consumer (klines; now − E, ms res.)".into(),
        amqp_e2e_h.len() as f64,
        quantiles(&amqp_e2e_h),
    ));
    if redis_ok.is_ok() {
        series.push((
            "(c) sim send → Redis consumer (tickers; now − E, ms res.)".into(),
            redis_h.len() as f64,
            quantiles(&redis_h),
        ));
    }
    series.push((
        "frame read → RabbitMQ consumer (now − received_us)".into(),
        amqp_h.len() as f64,
        quantiles(&amqp_h),
    ));
    let mut j = w.json();
    j["scenario"] = json!(name);
    j["rate"] = json!(rate);
    j["kline_rate_per_stream"] = json!(per_stream);
    j["consumer_messages"] = json!({"amqp": amqp_n, "redis": redis_n});
    j["latency_us"] = json!(series
        .iter()
        .map(|(l, n, q)| json!({"series": l, "samples": n, "p50": q[0], "p90": q[1], "p99": q[2], "p99_9": q[3], "max": q[4]}))
        .collect::<Vec<_>>());
    j["notes"] = json!("corefeed series are cumulative since process start (warm-up included); consumer series cover the window only");
    j["config"] = json!(config);
    rep.scenarios.push(j);
    rep.rows.push(Row {
        scenario: name.clone(),
        rate: format!("{per_stream}/s × {SYMBOLS} klines, stamped"),
        frames_per_s: Some(w.frames_per_s()),
        events_per_s: Some(w.publisher_events / w.wall_s),
        cpu_pct: Some(w.cpu_s / w.wall_s * 100.0),
        cpu_s_per_m: w.cpu_s_per_million_frames(),
        rss_mib: Some(w.rss_mib),
        sim_cpu_pct: Some(w.sim_cpu_s / w.wall_s * 100.0),
        target: String::new(),
    });
    if rate == 10_000 {
        for (l, _, q) in &series {
            if l.starts_with("corefeed added") {
                rep.goals.push(Goal {
                    goal: format!("10 k/s, {l}: p50 ≤ 10 µs, p99 ≤ 50 µs, p99.9 ≤ 200 µs"),
                    measured: format!(
                        "p50 {:.0} µs, p99 {:.0} µs, p99.9 {:.0} µs",
                        q[0], q[2], q[3]
                    ),
                    ratio: target_text(l, q, rate),
                });
            }
            if l.starts_with("(a) sim send") {
                rep.goals.push(Goal {
                    goal: "10 k/s, sim send → event in the ring: p99.9 ≤ 300 µs".into(),
                    measured: format!(
                        "p50 {:.0} µs, p99 {:.0} µs, p99.9 {:.0} µs",
                        q[0], q[2], q[3]
                    ),
                    ratio: target_text(l, q, rate),
                });
            }
        }
    }
    let confirmed = w.amqp_confirmed / w.wall_s;
    let produced = w.publisher_events / w.wall_s;
    rep.notes.push(format!(
        "{name}: the simulator sent {:.0} frames/s; corefeed read {:.0}/s and published {produced:.0} events/s; RabbitMQ confirmed {confirmed:.0}/s{}; {:.0} ring-full waits. corefeed {:.0}% of a core.",
        w.sim_frames_sent / w.wall_s,
        w.frames_per_s(),
        if confirmed < 0.95 * w.frames_per_s() {
            " — below the offered rate: the AMQP path is at the broker's limit on this machine (see the e2e ceiling), so the AMQP and consumer series measure queueing in corefeed's publisher and the broker, not corefeed's per-event cost"
        } else {
            ""
        },
        w.ring_full_waits,
        w.cpu_s / w.wall_s * 100.0,
    ));
    for (l, n, q) in series {
        rep.lat.push(LatRow {
            scenario: name.clone(),
            target: target_text(&l, &q, rate),
            series: l,
            count: n,
            q_us: q,
        });
    }
    Ok(())
}

pub fn run(ctx: &Ctx, rep: &mut Report) -> anyhow::Result<()> {
    one(ctx, rep, 10_000)?;
    if !ctx.quick {
        one(ctx, rep, 30_000)?;
    }
    Ok(())
}
