//! corefeed-bench: the load and latency harness behind `make bench` (see bench/README.md).
//!
//! `corefeed-bench [--quick] [--only ingest,e2e,latency,idle,sockets,production,cores]
//! [--bin-dir target/release] [--out bench/results]`; `BENCH_QUICK=1` is the same as `--quick`.
//! `corefeed-bench --peers` runs the replaced Node.js stack instead (`make bench-peers`).

use anyhow::Context;
use corefeed_bench::harness::{
    cores, e2e, idle, ingest, latency, peers, production, report, sockets, users, Ctx,
};
use std::path::PathBuf;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: corefeed-bench [--quick] [--only ingest,e2e,latency,idle,sockets,production,cores] [--peers] [--bin-dir DIR] [--out DIR] [--root DIR]";

/// Every scenario, in run order.
const ALL: &str = "ingest,e2e,latency,idle,cores,production,sockets";

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,lapin=off")),
        )
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = real_main() {
        error!(error = %format!("{e:#}"), "The bench failed.");
        std::process::exit(1);
    }
}

fn real_main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let quick = args.iter().any(|a| a == "--quick")
        || std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let root = PathBuf::from(flag(&args, "--root").unwrap_or_else(|| ".".into()));
    let bin_dir = flag(&args, "--bin-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release"));
    let out = flag(&args, "--out")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("bench/results"));
    let only = flag(&args, "--only").unwrap_or_else(|| ALL.into());
    // Descriptors for the sockets scenario (inherited by corefeed and the simulators).
    let ((soft, hard), granted) = users::raise_fd_limit(1 << 20);
    info!(soft, hard, granted, "RLIMIT_NOFILE for this run.");
    for b in ["corefeed", "corefeed-sim"] {
        anyhow::ensure!(
            bin_dir.join(b).exists(),
            "{} is missing: build with `cargo build --release --bins -p corefeed -p corefeed-bench`",
            bin_dir.join(b).display()
        );
    }
    let ctx = Ctx::new(root.clone(), bin_dir, quick)?;
    if args.iter().any(|a| a == "--peers") {
        return peers::run(&ctx, &root, &out);
    }
    info!(run_dir = %ctx.dir.display(), quick, window_s = ctx.window_s, scenarios = %only, "Bench run starting.");
    let mut rep = report::Report {
        load_start: report::loadavg(),
        ..Default::default()
    };
    type Scenario = fn(&Ctx, &mut report::Report) -> anyhow::Result<()>;
    let all: [(&str, Scenario); 7] = [
        ("ingest", ingest::run),
        ("e2e", e2e::run),
        ("latency", latency::run),
        ("idle", idle::run),
        ("cores", cores::run),
        ("production", production::run),
        ("sockets", sockets::run),
    ];
    for (name, f) in all {
        if !only.split(',').any(|s| s.trim() == name) {
            continue;
        }
        let t0 = std::time::Instant::now();
        if let Err(e) = f(&ctx, &mut rep) {
            error!(scenario = name, error = %format!("{e:#}"), "Scenario failed; going on with the next.");
            rep.errors.push(format!("{name}: {e:#}"));
        }
        info!(
            scenario = name,
            secs = t0.elapsed().as_secs(),
            "Scenario done."
        );
    }
    let micro = report::criterion_results(&root);
    let meta = rep.json(&root, quick, ctx.window_s, &micro);
    std::fs::create_dir_all(&out)?;
    let peers: Option<serde_json::Value> = std::fs::read_to_string(out.join("peers.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let md = rep.markdown(&meta, &micro, peers.as_ref());
    std::fs::write(
        out.join("latest.json"),
        serde_json::to_string_pretty(&meta)?,
    )
    .context("writing latest.json")?;
    std::fs::write(out.join("latest.md"), &md).context("writing latest.md")?;
    if !rep.lat.is_empty() {
        std::fs::write(out.join("latency.svg"), rep.svg())?;
    }
    if !rep.cores.is_empty() {
        std::fs::write(out.join("cores.svg"), rep.cores_svg())?;
    }
    println!("{md}");
    info!(out = %out.display(), logs = %ctx.dir.display(), "Results written.");
    anyhow::ensure!(
        rep.errors.is_empty(),
        "{} scenario(s) failed: {}",
        rep.errors.len(),
        rep.errors.join("; ")
    );
    Ok(())
}
