//! The results: `latest.json` (machine-readable), `latest.md` (tables, targets, where the time
//! goes) and `latency.svg` (percentiles per latency series).

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

/// One line of the summary table.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub scenario: String,
    pub rate: String,
    pub frames_per_s: Option<f64>,
    pub events_per_s: Option<f64>,
    pub cpu_pct: Option<f64>,
    pub cpu_s_per_m: Option<f64>,
    pub rss_mib: Option<f64>,
    pub sim_cpu_pct: Option<f64>,
    /// Target and the ratio measured/target (text).
    pub target: String,
}

/// A latency series for the table and the SVG: p50, p90, p99, p99.9, max (µs).
#[derive(Clone, Debug)]
pub struct LatRow {
    pub scenario: String,
    pub series: String,
    pub count: f64,
    pub q_us: [f64; 5],
    pub target: String,
}

/// One point of the throughput-per-shard-count plot.
#[derive(Clone, Debug)]
pub struct CoresPoint {
    pub label: String,
    pub shards: usize,
    pub frames_per_s: f64,
    pub cpu_s_per_m: f64,
    pub oversubscribed: bool,
}

/// One goal of the issue: what, the measured value, the ratio text.
#[derive(Clone, Debug)]
pub struct Goal {
    pub goal: String,
    pub measured: String,
    pub ratio: String,
}

#[derive(Default)]
pub struct Report {
    pub scenarios: Vec<Value>,
    pub rows: Vec<Row>,
    pub lat: Vec<LatRow>,
    pub cores: Vec<CoresPoint>,
    pub goals: Vec<Goal>,
    pub notes: Vec<String>,
    pub errors: Vec<String>,
    /// `/proc/loadavg` when the run started (other work on the machine skews every figure).
    pub load_start: String,
}

/// The 1/5/15-minute load averages now.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `measured / target` with ✅/❌ for a lower-is-better goal.
pub fn goal_le(goal: &str, measured: Option<f64>, target: f64, unit: &str) -> Goal {
    match measured {
        Some(m) => Goal {
            goal: goal.into(),
            measured: format!("{m:.3}{unit}"),
            ratio: format!(
                "{:.2}× the limit {}",
                m / target,
                if m <= target { "✅" } else { "❌" }
            ),
        },
        None => Goal {
            goal: goal.into(),
            measured: "not measured".into(),
            ratio: "–".into(),
        },
    }
}

/// Markers around the peer section of `latest.md` (rewritten by `make bench-peers`).
pub const PEERS_START: &str = "<!-- peers:start -->";
pub const PEERS_END: &str = "<!-- peers:end -->";

/// The peer comparison section: the replaced Node.js stack (`peers.json`) next to corefeed's
/// figures of the same workloads in `scenarios` (latest.json's scenario list).
pub fn peers_section(peers: Option<&Value>, scenarios: &[Value]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{PEERS_START}\n## The replaced stack on the same workload (`make bench-peers`)\n"
    );
    let Some(p) = peers else {
        let _ = writeln!(s, "No `peers.json` yet: run `make bench-peers` (Node.js `binance` WebsocketClient + `amqplib`).\n{PEERS_END}");
        return s;
    };
    let find = |name: &str, rate_prefix: &str| -> Option<f64> {
        scenarios
            .iter()
            .find(|v| {
                v["scenario"] == name
                    && v["rate"]
                        .as_str()
                        .is_some_and(|r| r.starts_with(rate_prefix))
            })
            .and_then(|v| v["cpu_s_per_million_frames"].as_f64())
    };
    let cf_full = find("ingest binance klines", "full");
    let cf_paced = find("ingest binance klines", "paced");
    let cf_e2e = find("e2e binance klines", "full");
    let _ = writeln!(
        s,
        "- {} (node {}, `binance` {}, `amqplib` {}), measured {}; same simulator workload as `ingest binance klines` (200 `@kline_1m` streams on one combined socket; full speed = `--firehose`, paced = 50/s × 200). CPU from `/proc/<pid>/stat` of the node process.\n",
        p["what"].as_str().unwrap_or("Node.js peer"),
        p["node"].as_str().unwrap_or("?"),
        p["binance_version"].as_str().unwrap_or("?"),
        p["amqplib_version"].as_str().unwrap_or("?"),
        p["generated_at"].as_str().unwrap_or("?"),
    );
    let _ = writeln!(s, "| peer run | frames/s | events/s | CPU % of a core | CPU s / M frames | RSS MiB | corefeed CPU s / M (same workload) | peer ÷ corefeed |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in p["runs"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let mode = r["mode"].as_str().unwrap_or("");
        let rate = r["rate"].as_str().unwrap_or("");
        let cf = match (mode, rate.starts_with("full")) {
            ("parse", true) => cf_full,
            ("parse", false) => cf_paced,
            ("publish", true) => cf_e2e,
            // corefeed paced with sinks on = the latency 10 k/s run.
            _ => scenarios
                .iter()
                .find(|v| v["scenario"] == "latency 10 k/s")
                .and_then(|v| v["cpu_s_per_million_frames"].as_f64()),
        };
        let peer = r["cpu_s_per_million_frames"].as_f64();
        let _ = writeln!(
            s,
            "| {} {} | {} | {} | {} | {} | {} | {} | {} |",
            mode,
            rate,
            f(r["frames_per_s"].as_f64(), 0),
            f(r["events_per_s"].as_f64(), 0),
            f(r["cpu_pct_of_core"].as_f64(), 1),
            f(peer, 2),
            f(r["rss_mib"].as_f64(), 1),
            f(cf, 3),
            match (peer, cf) {
                (Some(p), Some(c)) if c > 0.0 => format!("{:.1}×", p / c),
                _ => "–".into(),
            }
        );
    }
    let _ = writeln!(
        s,
        "\npeer ÷ corefeed = how many times more CPU per frame the replaced stack needs. The parse rows are like for like (corefeed: `ingest`, sinks off). The publish rows are not: the peer publishes fire and forget (no confirms; when the broker lags, amqplib buffers in the process — {} publish calls found its buffer full, hence the RSS) while corefeed's comparison rows (`e2e binance klines`, full speed, and `latency 10 k/s`, paced; Redis + RabbitMQ with confirms) are held to what the broker confirms and back-pressure the shard, so corefeed's CPU there is spread over fewer frames. {}\n{PEERS_END}",
        p["runs"]
            .as_array()
            .map(|a| a
                .iter()
                .filter(|r| r["mode"] == "publish")
                .map(|r| format!(
                    "{} {:.0}",
                    r["rate"].as_str().unwrap_or(""),
                    r["publish_buffer_full"].as_f64().unwrap_or(0.0)
                ))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default(),
        p["notes"].as_str().unwrap_or("")
    );
    s
}

fn f(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) => format!("{v:.digits$}"),
        None => "–".into(),
    }
}

/// "0.31 / 0.4 (0.78× target)" style text; `lower_is_better` decides the wording only.
pub fn vs_target(measured: Option<f64>, target: f64, unit: &str) -> String {
    match measured {
        Some(m) => format!(
            "≤ {target}{unit}: {:.2}× target {}",
            m / target,
            if m <= target { "✅" } else { "❌" }
        ),
        None => format!("≤ {target}{unit}: not measured"),
    }
}

pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    json!({"cpu_model": model, "cores": cores, "mem_gib": mem_kb / 1024 / 1024, "kernel": kernel})
}

pub fn git_commit(root: &Path) -> String {
    std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Criterion's estimates (`target/criterion/<group>/<bench>/new/estimates.json`), when the
/// micro-benchmarks ran: `(name, mean ns, throughput text)`.
pub fn criterion_results(root: &Path) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let base = root.join("target/criterion");
    let mut stack = vec![base.clone()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "new") {
                    let est = p.join("estimates.json");
                    if let Ok(t) = std::fs::read_to_string(&est) {
                        if let Ok(v) = serde_json::from_str::<Value>(&t) {
                            if let Some(ns) = v["mean"]["point_estimate"].as_f64() {
                                let name = p
                                    .parent()
                                    .and_then(|q| q.strip_prefix(&base).ok())
                                    .map(|q| q.display().to_string())
                                    .unwrap_or_default();
                                out.push((name, ns));
                            }
                        }
                    }
                } else if p.file_name().is_some_and(|n| n != "report" && n != "base") {
                    stack.push(p);
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

impl Report {
    pub fn json(&self, root: &Path, quick: bool, window_s: f64, micro: &[(String, f64)]) -> Value {
        json!({
            "generated_at_unix_s": super::broker::now_us() / 1_000_000,
            "git_commit": git_commit(root),
            "machine": machine(),
            "quick": quick,
            "window_s": window_s,
            "loadavg_start": self.load_start,
            "loadavg_end": loadavg(),
            "scenarios": self.scenarios,
            "micro_ns_per_iter": micro.iter().map(|(n, v)| json!({"bench": n, "mean_ns": (v * 10.0).round() / 10.0})).collect::<Vec<_>>(),
            "notes": self.notes,
            "errors": self.errors,
        })
    }

    pub fn markdown(&self, meta: &Value, micro: &[(String, f64)], peers: Option<&Value>) -> String {
        let mut s = String::new();
        let m = &meta["machine"];
        let _ = writeln!(s, "# corefeed bench — latest run\n");
        let _ = writeln!(
            s,
            "- commit `{}`; machine: {} × {} ({} GiB, kernel {}); window {} s per scenario{}\n- corefeed: 1 shard pinned to CPU 0, publisher on CPU 1 (except `cores`); simulator, RabbitMQ and Redis share the same 2 cores (no isolation); load average (1/5/15 min) at the start {} and at the end {} — anything above ~1.5 means other work shared the cores.\n- Generated by `make bench` (`bench/run.sh` → `target/release/corefeed-bench`); raw numbers in `latest.json`.\n",
            meta["git_commit"].as_str().unwrap_or(""),
            m["cores"],
            m["cpu_model"].as_str().unwrap_or(""),
            m["mem_gib"],
            m["kernel"].as_str().unwrap_or(""),
            meta["window_s"],
            if meta["quick"].as_bool() == Some(true) { " (BENCH_QUICK=1)" } else { "" },
            meta["loadavg_start"].as_str().unwrap_or("?"),
            meta["loadavg_end"].as_str().unwrap_or("?"),
        );
        let _ = writeln!(s, "## Throughput and CPU\n");
        let _ = writeln!(s, "| scenario | rate | frames/s | events/s | corefeed CPU % of a core | CPU s / M frames | RSS MiB | sim CPU % | target (ratio) |");
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---|");
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.scenario,
                r.rate,
                f(r.frames_per_s, 0),
                f(r.events_per_s, 0),
                f(r.cpu_pct, 1),
                f(r.cpu_s_per_m, 3),
                f(r.rss_mib, 1),
                f(r.sim_cpu_pct, 0),
                r.target
            );
        }
        if !self.goals.is_empty() {
            let _ = writeln!(s, "\n## The issue's goals\n");
            let _ = writeln!(s, "| goal | measured | ratio |\n|---|---|---|");
            for g in &self.goals {
                let _ = writeln!(s, "| {} | {} | {} |", g.goal, g.measured, g.ratio);
            }
        }
        if !self.cores.is_empty() {
            let _ = writeln!(s, "\n![throughput per shard count](cores.svg)");
        }
        if !self.lat.is_empty() {
            let _ = writeln!(s, "\n## Latency (µs)\n");
            let _ = writeln!(s, "(a) = the simulator's send stamp (`_st`, ns) → the event entering its shard's ring (stamped by the shard for stamped frames only); (b) = the simulator's send stamp (`_st`, ns) → corefeed's write of the Redis PUBLISH / AMQP publish (corefeed's histograms, cumulative since start); \"corefeed added\" = corefeed's frame read → that write; (c) = the simulator's send → a real consumer's receipt (Redis PSUBSCRIBE, AMQP queue), from the frame's event time `E`, which the simulator sets when it builds the frame (ms resolution: up to +1 ms). Consumer series cover the measuring window only.\n");
            let _ = writeln!(
                s,
                "| scenario | series | samples | p50 | p90 | p99 | p99.9 | max | target (ratio) |"
            );
            let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---|");
            for l in &self.lat {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {} |",
                    l.scenario,
                    l.series,
                    l.count,
                    l.q_us[0],
                    l.q_us[1],
                    l.q_us[2],
                    l.q_us[3],
                    l.q_us[4],
                    l.target
                );
            }
            let _ = writeln!(s, "\n![latency percentiles](latency.svg)");
        }
        if !micro.is_empty() {
            let _ = writeln!(s, "\n## Micro-benchmarks (`cargo bench -p corefeed-bench --bench micro`, criterion mean)\n");
            let _ = writeln!(s, "| bench | ns / iteration |\n|---|---:|");
            for (n, v) in micro {
                let _ = writeln!(s, "| {n} | {v:.1} |");
            }
        }
        let _ = writeln!(s);
        s.push_str(&peers_section(peers, &self.scenarios));
        let _ = writeln!(s, "\n## Where the time goes\n");
        for n in &self.notes {
            let _ = writeln!(s, "- {n}");
        }
        if !self.errors.is_empty() {
            let _ = writeln!(s, "\n## Errors\n");
            for e in &self.errors {
                let _ = writeln!(s, "- {e}");
            }
        }
        s
    }

    /// Throughput per shard count: one bar per layout (frames/s), CPU s per million frames
    /// written on it; oversubscribed layouts hatched grey.
    pub fn cores_svg(&self) -> String {
        let w = 760.0;
        let bar_h = 34.0;
        let left = 290.0;
        let top = 50.0;
        let h = top + 40.0 + bar_h * self.cores.len() as f64;
        let maxv = self
            .cores
            .iter()
            .map(|c| c.frames_per_s)
            .fold(1.0f64, f64::max);
        // A round axis maximum.
        let mag = 10f64.powf(maxv.log10().floor());
        let axis = (maxv / mag).ceil() * mag;
        let x = |v: f64| left + v / axis * (w - left - 30.0);
        let mut s = format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="monospace" font-size="12">
<text x="10" y="20" font-size="14">corefeed ingest throughput per shard count (Binance klines, full speed, sinks off)</text>
<text x="10" y="38" fill="#555">bar = frames/s read and decoded; label = CPU s per million frames; grey = oversubscribed</text>
"##
        );
        for i in 0..=4 {
            let v = axis * i as f64 / 4.0;
            let _ = writeln!(
                s,
                r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{1}" stroke="#ddd"/><text x="{0:.1}" y="{2}" fill="#666" text-anchor="middle">{3:.0}k</text>"##,
                x(v),
                h - 30.0,
                h - 14.0,
                v / 1000.0
            );
        }
        for (i, c) in self.cores.iter().enumerate() {
            let y = top + 8.0 + bar_h * i as f64;
            let color = if c.oversubscribed { "#999" } else { "#1b9e77" };
            let _ = writeln!(
                s,
                r##"<text x="10" y="{:.1}">{}</text><rect x="{left}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" fill="#fff">{:.0}/s · {:.2} CPU s/M</text>"##,
                y + bar_h * 0.5,
                xml(&c.label),
                (x(c.frames_per_s) - left).max(1.0),
                bar_h - 10.0,
                left + 6.0,
                y + bar_h * 0.5,
                c.frames_per_s,
                c.cpu_s_per_m
            );
        }
        s.push_str("</svg>\n");
        s
    }

    /// A small SVG: one group of bars (log scale) per latency series.
    pub fn svg(&self) -> String {
        let w = 900.0;
        let row_h = 26.0;
        let h = 60.0 + row_h * self.lat.len() as f64;
        let left = 330.0;
        let maxv = self.lat.iter().map(|l| l.q_us[4]).fold(10.0f64, f64::max);
        let x = |v: f64| left + (v.max(1.0).log10() / maxv.log10()) * (w - left - 20.0);
        let mut s = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="monospace" font-size="11">
<text x="10" y="18" font-size="13">corefeed latency percentiles (µs, log scale): p50 ● p90 ▲ p99 ■ p99.9 ◆ max ✕</text>
"#
        );
        // decades
        let mut d = 1.0;
        while d <= maxv * 1.01 {
            let _ = writeln!(
                s,
                r##"<line x1="{0}" y1="30" x2="{0}" y2="{1}" stroke="#ddd"/><text x="{0}" y="{2}" fill="#666">{3}</text>"##,
                x(d),
                h - 20.0,
                h - 6.0,
                d
            );
            d *= 10.0;
        }
        let marks = ["●", "▲", "■", "◆", "✕"];
        let colors = ["#1b9e77", "#7570b3", "#d95f02", "#e7298a", "#444"];
        for (i, l) in self.lat.iter().enumerate() {
            let y = 45.0 + row_h * i as f64;
            let _ = writeln!(
                s,
                r#"<text x="10" y="{y}">{} {}</text>"#,
                xml(&l.scenario),
                xml(&l.series)
            );
            for ((v, m), c) in l.q_us.iter().zip(marks).zip(colors) {
                let _ = writeln!(
                    s,
                    r#"<text x="{:.1}" y="{y}" fill="{c}" text-anchor="middle">{m}</text>"#,
                    x(*v)
                );
            }
        }
        s.push_str("</svg>\n");
        s
    }
}

fn xml(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_section_states_the_ratio() {
        let peers = json!({"runs": [{"mode": "parse", "rate": "full speed", "frames_per_s": 90000.0,
            "events_per_s": 90000.0, "cpu_pct_of_core": 98.0, "cpu_s_per_million_frames": 10.0, "rss_mib": 70.0}]});
        let scen = vec![
            json!({"scenario": "ingest binance klines", "rate": "full speed", "cpu_s_per_million_frames": 2.5}),
        ];
        let s = peers_section(Some(&peers), &scen);
        assert!(s.starts_with(PEERS_START) && s.trim_end().ends_with(PEERS_END));
        assert!(s.contains("| 2.500 | 4.0× |"), "{s}");
        assert!(peers_section(None, &scen).contains("make bench-peers"));
    }

    #[test]
    fn cores_svg_is_well_formed_enough() {
        let mut r = Report::default();
        r.cores.push(CoresPoint {
            label: "1 shard pinned".into(),
            shards: 1,
            frames_per_s: 400_000.0,
            cpu_s_per_m: 2.3,
            oversubscribed: false,
        });
        let s = r.cores_svg();
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert!(s.contains("400000/s · 2.30 CPU s/M"));
    }
}
