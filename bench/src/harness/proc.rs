//! Child processes of the harness (corefeed-sim, corefeed): spawning with a clean environment,
//! CPU and memory accounting from `/proc` (kernel accounting, not wall time), stopping with
//! SIGTERM.

use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// Environment variables corefeed reads as overrides; cleared so the generated config is what runs.
const OVERRIDES: &[&str] = &[
    "RABBIT_HOST",
    "RABBIT_PORT",
    "RABBIT_USER",
    "RABBIT_PASSWORD",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "PRICEROLE",
    "PRICE_CONNECTOR_EXCHANGES",
    "EXCHANGE_SERVICE_API_URL",
    "COREFEED_ADMIN_TOKEN",
    "LOG_FORMAT",
    "RUST_LOG",
];

/// A child process that is killed (SIGKILL) if it is still running when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    /// Spawns `bin args…` with stderr (and stdout unless `capture_stdout`) going to `log`.
    /// `cpus` restricts the process to those CPUs (through `taskset`).
    pub fn spawn(
        name: &str,
        bin: &Path,
        args: &[String],
        log: PathBuf,
        cpus: Option<&str>,
        capture_stdout: bool,
    ) -> anyhow::Result<Proc> {
        let mut cmd = match cpus {
            Some(c) => {
                let mut c2 = Command::new("taskset");
                c2.arg("-c").arg(c).arg(bin);
                c2
            }
            None => Command::new(bin),
        };
        cmd.args(args);
        for v in OVERRIDES {
            cmd.env_remove(v);
        }
        cmd.env("LOG_LEVEL", "info");
        let f =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        cmd.stderr(f.try_clone()?);
        cmd.stdout(if capture_stdout {
            Stdio::piped()
        } else {
            Stdio::from(f)
        });
        cmd.stdin(Stdio::null());
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {} ({})", name, bin.display()))?;
        info!(process = name, pid = child.id(), log = %log.display(), "Started a child process.");
        Ok(Proc {
            name: name.into(),
            child,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads stdout lines until one starts with `prefix`; returns the rest of that line.
    pub fn wait_stdout_line(&mut self, prefix: &str, timeout: Duration) -> anyhow::Result<String> {
        let out = self.child.stdout.take().context("stdout not captured")?;
        let (tx, rx) = std::sync::mpsc::channel();
        let prefix = prefix.to_owned();
        std::thread::spawn(move || {
            let mut r = BufReader::new(out);
            let mut line = String::new();
            let mut sent = false;
            // Keep draining stdout so the child never blocks on a full pipe.
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if !sent {
                    if let Some(rest) = line.trim_end().strip_prefix(&prefix) {
                        let _ = tx.send(rest.trim().to_owned());
                        sent = true;
                    }
                }
                line.clear();
            }
        });
        rx.recv_timeout(timeout).with_context(|| {
            format!(
                "{} did not print {:?} within {:?}; see {}",
                self.name,
                prefix_str(&self.name),
                timeout,
                self.log.display()
            )
        })
    }

    /// Fails when the process already exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(st) = self.child.try_wait()? {
            bail!(
                "{} exited early ({st}); last log lines:\n{}",
                self.name,
                tail(&self.log, 15)
            );
        }
        Ok(())
    }

    /// SIGTERM, then waits up to `grace`; SIGKILL after that. Returns the wait time.
    pub fn stop(mut self, grace: Duration) -> Duration {
        let t0 = Instant::now();
        if let Ok(Some(_)) = self.child.try_wait() {
            return Duration::ZERO;
        }
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        while t0.elapsed() < grace {
            if let Ok(Some(_)) = self.child.try_wait() {
                info!(process = %self.name, waited_ms = t0.elapsed().as_millis() as u64, "Child process stopped after SIGTERM.");
                return t0.elapsed();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        warn!(process = %self.name, grace_ms = grace.as_millis() as u64, "Child did not stop after SIGTERM; killing it.");
        let _ = self.child.kill();
        let _ = self.child.wait();
        t0.elapsed()
    }
}

fn prefix_str(name: &str) -> String {
    format!("{name} start line")
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last `n` lines of a log file (for error messages).
pub fn tail(path: &Path, n: usize) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime + stime (seconds) from a `/proc/.../stat` line; the comm field may contain spaces.
fn stat_cpu(stat: &str) -> Option<(String, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat[open + 1..close].to_owned();
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    // After ")": state(3) ppid(4) ... utime is field 14, stime 15 (1-based over the whole line).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) / clk_tck()))
}

/// CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    Ok(stat_cpu(&s).context("unparsable /proc stat")?.1)
}

/// CPU seconds per thread name (threads with the same name are summed).
pub fn thread_cpu(pid: u32) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for e in dir.flatten() {
        if let Ok(s) = std::fs::read_to_string(e.path().join("stat")) {
            if let Some((comm, secs)) = stat_cpu(&s) {
                *out.entry(comm).or_insert(0.0) += secs;
            }
        }
    }
    out
}

/// Resident set size in MiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_mib(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// A CPU snapshot of one process: total and per thread.
#[derive(Clone, Debug)]
pub struct CpuSnap {
    pub at: Instant,
    pub total: f64,
    pub threads: BTreeMap<String, f64>,
}

impl CpuSnap {
    pub fn take(pid: u32) -> anyhow::Result<CpuSnap> {
        Ok(CpuSnap {
            at: Instant::now(),
            total: cpu_seconds(pid)?,
            threads: thread_cpu(pid),
        })
    }

    /// CPU seconds used between `self` and `later`, total and per thread name.
    pub fn delta(&self, later: &CpuSnap) -> (f64, BTreeMap<String, f64>) {
        let mut th = BTreeMap::new();
        for (k, v) in &later.threads {
            let d = v - self.threads.get(k).copied().unwrap_or(0.0);
            if d > 0.0 {
                th.insert(k.clone(), d);
            }
        }
        (later.total - self.total, th)
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for a local harness).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_comm() {
        let line = "123 (shard 0 x) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        let (comm, secs) = stat_cpu(line).unwrap();
        assert_eq!(comm, "shard 0 x");
        assert!((secs - 300.0 / clk_tck()).abs() < 1e-9);
    }

    #[test]
    fn own_process_has_cpu_and_rss() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        assert!(rss_mib(pid) > 0.0);
    }
}
