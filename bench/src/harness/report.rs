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

#[derive(Default)]
pub struct Report {
    pub scenarios: Vec<Value>,
    pub rows: Vec<Row>,
    pub lat: Vec<LatRow>,
    pub notes: Vec<String>,
    pub errors: Vec<String>,
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
            "scenarios": self.scenarios,
            "micro_ns_per_iter": micro.iter().map(|(n, v)| json!({"bench": n, "mean_ns": (v * 10.0).round() / 10.0})).collect::<Vec<_>>(),
            "notes": self.notes,
            "errors": self.errors,
        })
    }

    pub fn markdown(&self, meta: &Value, micro: &[(String, f64)]) -> String {
        let mut s = String::new();
        let m = &meta["machine"];
        let _ = writeln!(s, "# corefeed bench — latest run\n");
        let _ = writeln!(
            s,
            "- commit `{}`; machine: {} × {} ({} GiB, kernel {}); window {} s per scenario{}\n- corefeed: 1 shard pinned to CPU 0, publisher on CPU 1; simulator, RabbitMQ and Redis share the same 2 cores (no isolation).\n- Generated by `make bench` (`bench/run.sh` → `target/release/corefeed-bench`); raw numbers in `latest.json`.\n",
            meta["git_commit"].as_str().unwrap_or(""),
            m["cores"],
            m["cpu_model"].as_str().unwrap_or(""),
            m["mem_gib"],
            m["kernel"].as_str().unwrap_or(""),
            meta["window_s"],
            if meta["quick"].as_bool() == Some(true) { " (BENCH_QUICK=1)" } else { "" },
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
        if !self.lat.is_empty() {
            let _ = writeln!(s, "\n## Latency (µs)\n");
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
