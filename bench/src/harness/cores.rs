//! Cores: the ingest workload (Binance combined-stream klines at full speed, sinks off) with
//! 1, 2, … shards, up to the machine's cores minus the publisher's, each pinned; plus one
//! shard more than that, unpinned, labelled oversubscribed (on a 2-core machine: 1 shard
//! pinned, 1 shard unpinned for comparison, and 2 shards unpinned sharing both cores with the
//! publisher and the simulator). The 200 streams are split into 8 sockets of 25 so that they
//! can spread over shards (sockets are hash-partitioned); the simulator is pinned to the last
//! CPU as in `ingest`. Writes `cores.svg` (frames/s and CPU s per million frames per shard
//! count) through the report.

use super::ingest::start_binance_klines;
use super::report::{CoresPoint, Report, Row};
use super::stack::{FeedOpts, SimOpts};
use super::{Ctx, SYMBOLS};
use serde_json::json;

struct Layout {
    shards: usize,
    pinned: bool,
    label: String,
    oversubscribed: bool,
}

fn layouts(cores: usize, quick: bool) -> Vec<Layout> {
    let max = cores.saturating_sub(1).max(1);
    let mut v: Vec<Layout> = (1..=max)
        .map(|n| Layout {
            shards: n,
            pinned: true,
            label: format!("{n} shard{} pinned", if n > 1 { "s" } else { "" }),
            oversubscribed: false,
        })
        .collect();
    if !quick {
        v.push(Layout {
            shards: 1,
            pinned: false,
            label: "1 shard unpinned".into(),
            oversubscribed: false,
        });
    }
    v.push(Layout {
        shards: max + 1,
        pinned: false,
        label: format!("{} shards unpinned (oversubscribed)", max + 1),
        oversubscribed: true,
    });
    v
}

pub fn run(ctx: &Ctx, rep: &mut Report) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let last_cpu = cores.saturating_sub(1);
    for l in layouts(cores, ctx.quick) {
        let runtime = if l.pinned {
            let cpus: Vec<String> = (0..l.shards).map(|c| c.to_string()).collect();
            format!(
                "[runtime]\nshards = {}\npin = true\nshard_cpus = [{}]\npublisher_cpu = {last_cpu}\n",
                l.shards,
                cpus.join(", ")
            )
        } else {
            format!(
                "[runtime]\nshards = {}\npin = false\nshard_cpus = []\n",
                l.shards
            )
        };
        let feed = FeedOpts {
            providers: vec!["binance"],
            tickers: false,
            sinks: false,
            confirms: true,
            extra: format!("{runtime}[prices]\ncandle_topics_per_socket = 25\n"),
        };
        let sim = SimOpts {
            symbols: SYMBOLS,
            firehose: true,
            cpus: Some(last_cpu.to_string()),
            ..SimOpts::default()
        };
        let key = format!("cores-{}{}", l.shards, if l.pinned { "p" } else { "u" });
        let mut st = start_binance_klines(ctx, &key, sim, feed)?;
        ctx.warmup();
        let w = st.measure(ctx.window_s);
        let config = st.config.clone();
        st.stop(ctx);
        let w = w?;
        let name = format!("cores: {}", l.label);
        let mut j = w.json();
        j["scenario"] = json!(name);
        j["shards"] = json!(l.shards);
        j["pinned"] = json!(l.pinned);
        j["oversubscribed"] = json!(l.oversubscribed);
        j["sockets"] = json!(SYMBOLS / 25);
        j["config"] = json!(config);
        rep.scenarios.push(j);
        rep.rows.push(Row {
            scenario: name.clone(),
            rate: format!("full speed, {} sockets × 25 klines", SYMBOLS / 25),
            frames_per_s: Some(w.frames_per_s()),
            events_per_s: Some(w.events / w.wall_s),
            cpu_pct: Some(w.cpu_s / w.wall_s * 100.0),
            cpu_s_per_m: w.cpu_s_per_million_frames(),
            rss_mib: Some(w.rss_mib),
            sim_cpu_pct: Some(w.sim_cpu_s / w.wall_s * 100.0),
            target: if l.oversubscribed {
                format!(
                    "oversubscribed: {cores} cores for {} shards + publisher + simulator",
                    l.shards
                )
            } else {
                String::new()
            },
        });
        let shard_threads: Vec<String> = w
            .threads
            .iter()
            .filter(|(k, v)| k.starts_with("shard") && **v >= 0.01)
            .map(|(k, v)| format!("`{k}` {:.0}%", v / w.wall_s * 100.0))
            .collect();
        rep.notes.push(format!(
            "{name}: {:.0} frames/s, {:.3} CPU s per million frames; shard threads: {} (of a core each); simulator {:.0}% of a core{}.",
            w.frames_per_s(),
            w.cpu_s_per_million_frames().unwrap_or(0.0),
            shard_threads.join(", "),
            w.sim_cpu_s / w.wall_s * 100.0,
            if w.sim_cpu_s / w.wall_s > 0.9 { " — the simulator was the bottleneck" } else { "" }
        ));
        rep.cores.push(CoresPoint {
            label: l.label,
            shards: l.shards,
            frames_per_s: w.frames_per_s(),
            cpu_s_per_m: w.cpu_s_per_million_frames().unwrap_or(0.0),
            oversubscribed: l.oversubscribed,
        });
    }
    Ok(())
}
