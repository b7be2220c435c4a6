//! `make bench-peers` (`corefeed-bench --peers`): the replaced service's client stack on the
//! ingest workload, measured like corefeed. `bench/peers/peer.js` (Node.js, the npm packages
//! `binance` — its WebsocketClient pointed at the simulator with the `wsUrl` option — and
//! `amqplib`) subscribes the same 200 Binance combined-stream klines, parses every frame into
//! the seed's candle object and, in `publish` mode, publishes each one to RabbitMQ as the seed
//! does (plain channel, persistent, JSON, topic exchange with a bounded queue bound `#`, like
//! the `e2e` scenario's). The simulator runs as in `ingest` (pinned to the last CPU; full speed =
//! `--firehose`, paced = 50/s × 200 = 10 k/s) and node is pinned to CPU 0 where corefeed's shard
//! runs. CPU seconds come from `/proc/<node pid>/stat` (utime + stime, every thread of the
//! process: V8's GC and libuv threads included), RSS from `/proc/<pid>/status`.
//!
//! Writes `bench/results/peers.json` and rewrites the peer section of `latest.md` (between
//! `<!-- peers:start -->` and `<!-- peers:end -->`) with corefeed's ratio from `latest.json`.

use super::proc::{rss_mib, CpuSnap, Proc};
use super::report::{peers_section, PEERS_END, PEERS_START};
use super::stack::{round, spawn_sim, SimOpts};
use super::{metrics, Ctx, SYMBOLS};
use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use tracing::{info, warn};

fn read_stats(path: &Path) -> Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(0.0)
}

fn version_of(root: &Path, pkg: &str) -> String {
    let p = root.join(format!("bench/peers/node_modules/{pkg}/package.json"));
    std::fs::read_to_string(p)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn node_version() -> String {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "?".into())
}

/// One peer run: simulator + node, warm-up, a measured window.
fn one(ctx: &Ctx, root: &Path, mode: &str, paced: bool) -> anyhow::Result<Value> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let last_cpu = cores.saturating_sub(1).to_string();
    let key = format!("peer-{mode}-{}", if paced { "paced" } else { "full" });
    let per_stream = super::ingest::PACED_TOTAL / SYMBOLS as u32;
    let sim = SimOpts {
        symbols: SYMBOLS,
        firehose: !paced,
        kline_rate: paced.then_some(per_stream),
        cpus: Some(last_cpu),
        ..SimOpts::default()
    };
    let (simp, addr) = spawn_sim(ctx, &key, &sim)?;
    let v = metrics::get_json(&format!("http://{addr}/exchange/all?exchange=binance"))?;
    let symbols: Vec<String> = v["data"]
        .as_array()
        .context("exchange/all without data")?
        .iter()
        .filter_map(|d| d["pair"].as_str().map(str::to_owned))
        .take(SYMBOLS)
        .collect();
    let stats_path = ctx.dir.join(format!("{key}.stats.json"));
    let exchange = format!("corefeed.bench.{}.{key}.events", ctx.run_id);
    let queue = format!("{exchange}.sink");
    let args: Vec<String> = vec![
        root.join("bench/peers/peer.js").display().to_string(),
        "--ws".into(),
        format!("ws://{addr}/binance/spot"),
        "--symbols".into(),
        symbols.join(","),
        "--interval".into(),
        "1m".into(),
        "--mode".into(),
        mode.into(),
        "--amqp".into(),
        "amqp://guest:guest@127.0.0.1:5672".into(),
        "--exchange".into(),
        exchange.clone(),
        "--queue".into(),
        queue.clone(),
        "--stats".into(),
        stats_path.display().to_string(),
    ];
    let mut node = Proc::spawn(
        "node",
        Path::new("node"),
        &args,
        ctx.dir.join(format!("{key}.node.log")),
        Some("0"),
        false,
    )?;
    // Wait for frames.
    let t0 = Instant::now();
    loop {
        node.check_alive()?;
        if num(&read_stats(&stats_path), "frames") > 0.0 {
            break;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            bail!(
                "the node peer received no frame in 20 s; see {}",
                node.log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    ctx.warmup();
    let pid = node.pid();
    let a = read_stats(&stats_path);
    let c0 = CpuSnap::take(pid)?;
    let sc0 = CpuSnap::take(simp.pid())?;
    std::thread::sleep(Duration::from_secs_f64(ctx.window_s));
    let c1 = CpuSnap::take(pid)?;
    let sc1 = CpuSnap::take(simp.pid())?;
    // The stats file is rewritten every 250 ms: wait for one written after the window.
    std::thread::sleep(Duration::from_millis(300));
    let b = read_stats(&stats_path);
    node.check_alive()?;
    let rss = rss_mib(pid);
    let wall = c1.at.duration_since(c0.at).as_secs_f64();
    // Counter window = the stats files' own timestamps.
    let stat_wall = ((num(&b, "t_ms") - num(&a, "t_ms")) / 1000.0).max(1e-3);
    let (cpu, threads) = c0.delta(&c1);
    let (sim_cpu, _) = sc0.delta(&sc1);
    // Frames in the CPU window, scaled from the counter window (they differ by < 0.6 s).
    let frames = (num(&b, "frames") - num(&a, "frames")) * wall / stat_wall;
    let events = (num(&b, "events") - num(&a, "events")) * wall / stat_wall;
    let published = (num(&b, "published") - num(&a, "published")) * wall / stat_wall;
    let _ = node.stop(Duration::from_secs(5));
    let _ = simp.stop(Duration::from_secs(5));
    ctx.amqp_cleanup(&[&exchange], &[&queue]);
    let rate = if paced {
        format!("paced {} k/s", super::ingest::PACED_TOTAL / 1000)
    } else {
        "full speed".into()
    };
    info!(mode, %rate, frames_per_s = frames / wall, cpu_s = cpu, "Peer window measured.");
    Ok(json!({
        "mode": mode,
        "rate": rate,
        "window_s": round(wall, 2),
        "frames": frames.round(),
        "frames_per_s": round(frames / wall, 1),
        "events_per_s": round(events / wall, 1),
        "published_per_s": round(published / wall, 1),
        "publish_buffer_full": num(&b, "publishBlocked") - num(&a, "publishBlocked"),
        "reconnects": num(&b, "reconnects"),
        "errors": num(&b, "errors"),
        "cpu_s": round(cpu, 3),
        "cpu_pct_of_core": round(cpu / wall * 100.0, 1),
        "cpu_s_per_million_frames": (frames > 0.0).then(|| round(cpu / frames * 1e6, 3)),
        "cpu_s_by_thread": threads.iter().map(|(k, v)| (k.clone(), json!(round(*v, 3)))).collect::<serde_json::Map<_, _>>(),
        "rss_mib": round(rss, 1),
        "sim_cpu_pct_of_core": round(sim_cpu / wall * 100.0, 1),
    }))
}

pub fn run(ctx: &Ctx, root: &Path, out: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        root.join("bench/peers/node_modules/binance").exists(),
        "bench/peers/node_modules is missing: run `npm ci` in bench/peers (make bench-peers does)"
    );
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    for (mode, paced) in [
        ("parse", false),
        ("parse", true),
        ("publish", false),
        ("publish", true),
    ] {
        match one(ctx, root, mode, paced) {
            Ok(v) => runs.push(v),
            Err(e) => {
                warn!(mode, paced, error = %format!("{e:#}"), "Peer run failed.");
                errors.push(format!(
                    "{mode} {}: {e:#}",
                    if paced { "paced" } else { "full" }
                ));
            }
        }
    }
    let generated = super::broker::now_us() / 1_000_000;
    let peers = json!({
        "what": "the replaced service's client stack: Node.js `binance` WebsocketClient (wsUrl → corefeed-sim) + `amqplib` (plain channel, persistent, no confirms)",
        "generated_at_unix_s": generated,
        "generated_at": format!("unix {generated}"),
        "git_commit": super::report::git_commit(root),
        "machine": super::report::machine(),
        "node": node_version(),
        "binance_version": version_of(root, "binance"),
        "amqplib_version": version_of(root, "amqplib"),
        "window_s": ctx.window_s,
        "workload": "200 Binance spot @kline_1m streams on one combined /stream socket; full speed = simulator --firehose, paced = --kline-rate 50 (10 k frames/s); simulator pinned to the last CPU, node to CPU 0",
        "runs": runs,
        "errors": errors,
        "notes": "parse = the SDK parses each frame (JSON.parse) and the harness builds the seed's candle object and its JSON text; publish = parse + channel.publish of that text (fire and forget, as the seed: the AMQP write buffer may grow, `publish_buffer_full` counts the calls that found it full).",
    });
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join("peers.json"),
        serde_json::to_string_pretty(&peers)?,
    )?;
    // The peer section of latest.md, with corefeed's figures from latest.json.
    let latest: Value = std::fs::read_to_string(out.join("latest.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let scenarios: Vec<Value> = latest["scenarios"].as_array().cloned().unwrap_or_default();
    let section = peers_section(Some(&peers), &scenarios);
    let md_path = out.join("latest.md");
    let md = std::fs::read_to_string(&md_path).unwrap_or_default();
    let new_md = match (md.find(PEERS_START), md.find(PEERS_END)) {
        (Some(a), Some(b)) if b > a => {
            format!(
                "{}{}{}",
                &md[..a],
                section.trim_end(),
                &md[b + PEERS_END.len()..]
            )
        }
        _ => match md.find("\n## Where the time goes") {
            Some(i) => format!("{}\n{}\n{}", &md[..i], section.trim_end(), &md[i..]),
            None => format!("{md}\n{section}"),
        },
    };
    std::fs::write(&md_path, new_md)?;
    println!("{section}");
    info!(out = %out.display(), "peers.json written; latest.md peer section updated.");
    anyhow::ensure!(errors.is_empty(), "peer runs failed: {}", errors.join("; "));
    Ok(())
}
