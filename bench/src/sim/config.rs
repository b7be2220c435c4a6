//! Simulator configuration: the static [`SimConfig`] (CLI flags / TOML file) and the
//! [`Runtime`] knobs that the control API can change while the server runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// Everything the simulator reads at start. Field names double as CLI flags
/// (`kline_push_ms` ⇔ `--kline-push-ms`) and TOML keys (either spelling).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Listen address; port 0 picks a free port.
    pub listen: String,
    /// Symbols per provider (first the real names BTC, ETH, … then synthetic S001, S002, …).
    pub symbols: usize,
    /// Seed for the deterministic price walks.
    pub seed: u64,
    /// Open-candle update period per kline subscription (ms).
    pub kline_push_ms: u64,
    /// Candle close period in ms; 0 = the real interval length.
    pub candle_close_ms: u64,
    /// Ticker push period (ms) for all-market and per-symbol ticker streams.
    pub ticker_push_ms: u64,
    /// Frames per second per kline subscription (evenly spaced); 0 = off (use kline_push_ms).
    pub kline_rate: f64,
    /// Send kline/candle/ticker frames as fast as the socket accepts them.
    pub firehose: bool,
    /// Append `"_st":<ns since epoch>` as the last field of every data frame.
    pub stamp: bool,
    /// Binance control-frame ping period in seconds (default: spot 20, futures 180).
    pub binance_ping_secs: Option<f64>,
    /// Close a Binance connection when no pong arrives within this many seconds
    /// (default: spot 60, futures 600).
    pub binance_pong_timeout_secs: Option<f64>,
    /// Incoming messages per second before a Binance connection is closed
    /// (default: spot 5, futures 10).
    pub binance_msg_rate: Option<u32>,
    /// Streams per Binance connection.
    pub binance_max_streams: usize,
    /// Maximum connection lifetime in seconds (all venues).
    pub max_conn_secs: f64,
    /// OKX idle cut: no subscription / nothing pushed for this many seconds closes the socket.
    pub okx_idle_secs: f64,
    /// OKX subscribe/unsubscribe requests allowed per connection-hour.
    pub okx_sub_limit: u32,
    /// Binance futures listen-key validity in ms (60 min like the venue; shorten for tests).
    pub listen_key_ttl_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: "127.0.0.1:9300".into(),
            symbols: 50,
            seed: 42,
            kline_push_ms: 250,
            candle_close_ms: 0,
            ticker_push_ms: 1000,
            kline_rate: 0.0,
            firehose: false,
            stamp: false,
            binance_ping_secs: None,
            binance_pong_timeout_secs: None,
            binance_msg_rate: None,
            binance_max_streams: 1024,
            max_conn_secs: 86400.0,
            okx_idle_secs: 30.0,
            okx_sub_limit: 480,
            listen_key_ttl_ms: 3_600_000,
        }
    }
}

const BOOL_FLAGS: &[&str] = &["firehose", "stamp"];

pub const USAGE: &str = "corefeed-sim — exchange simulator (Binance spot/USD-M/COIN-M, OKX)

USAGE: corefeed-sim [--config FILE.toml] [FLAGS]

  --listen ADDR                 listen address (default 127.0.0.1:9300; port 0 = any)
  --symbols N                   symbols per provider (default 50)
  --seed N                      price seed (default 42)
  --kline-push-ms MS            open-candle update period (default 250)
  --candle-close-ms MS          candle close period (default 0 = real interval)
  --ticker-push-ms MS           ticker push period (default 1000)
  --kline-rate R                frames/s per kline subscription (overrides --kline-push-ms)
  --firehose                    send kline/candle/ticker frames as fast as the socket takes them
  --stamp                       add \"_st\":<ns> as the last field of data frames
  --binance-ping-secs S         server ping period (default spot 20, futures 180)
  --binance-pong-timeout-secs S pong timeout (default spot 60, futures 600)
  --binance-msg-rate N          incoming msgs/s limit (default spot 5, futures 10)
  --binance-max-streams N       streams per connection (default 1024)
  --max-conn-secs S             connection lifetime (default 86400)
  --okx-idle-secs S             OKX idle cut (default 30)
  --okx-sub-limit N             OKX sub/unsub requests per connection-hour (default 480)
  --listen-key-ttl-ms MS        Binance futures listen-key validity (default 3600000)
";

impl SimConfig {
    /// Parse CLI arguments (without the program name). `--config FILE` is read first and the
    /// other flags override it.
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> anyhow::Result<SimConfig> {
        let mut table = toml::Table::new();
        let mut file: Option<String> = None;
        let mut it = args.into_iter().peekable();
        while let Some(arg) = it.next() {
            if arg == "-h" || arg == "--help" {
                bail!("{USAGE}");
            }
            let Some(flag) = arg.strip_prefix("--") else {
                bail!("unexpected argument {arg:?}\n\n{USAGE}");
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (flag.to_string(), None),
            };
            let key = name.replace('-', "_");
            if key == "config" {
                file = Some(
                    inline
                        .or_else(|| it.next())
                        .context("--config needs a path")?,
                );
                continue;
            }
            let value = if BOOL_FLAGS.contains(&key.as_str()) {
                match inline {
                    Some(v) => v,
                    None => match it.peek().map(String::as_str) {
                        Some("true") | Some("false") => it.next().unwrap(),
                        _ => "true".into(),
                    },
                }
            } else {
                inline
                    .or_else(|| it.next())
                    .with_context(|| format!("--{name} needs a value"))?
            };
            table.insert(key, guess_value(&value));
        }
        let mut merged = match file {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading config file {path}"))?;
                let t: toml::Table = text.parse().with_context(|| format!("parsing {path}"))?;
                t.into_iter()
                    .map(|(k, v)| (k.replace('-', "_"), v))
                    .collect()
            }
            None => toml::Table::new(),
        };
        for (k, v) in table {
            merged.insert(k, v);
        }
        // Accept integers where floats are expected.
        for k in [
            "kline_rate",
            "binance_ping_secs",
            "binance_pong_timeout_secs",
            "max_conn_secs",
            "okx_idle_secs",
        ] {
            if let Some(toml::Value::Integer(i)) = merged.get(k) {
                let f = *i as f64;
                merged.insert(k.into(), toml::Value::Float(f));
            }
        }
        let cfg: SimConfig = toml::Value::Table(merged)
            .try_into()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}\n\n{USAGE}"))?;
        Ok(cfg)
    }
}

fn guess_value(s: &str) -> toml::Value {
    if let Ok(i) = s.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if let Ok(f) = s.parse::<f64>() {
        return toml::Value::Float(f);
    }
    match s {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(s.to_string()),
    }
}

/// Knobs that `POST /control/config` can change at runtime.
#[derive(Debug)]
pub struct Runtime {
    kline_rate_milli: AtomicU64,
    kline_push_ms: AtomicU64,
    ticker_push_ms: AtomicU64,
    candle_close_ms: AtomicU64,
    firehose: AtomicBool,
    stamp: AtomicBool,
}

impl Runtime {
    pub fn new(cfg: &SimConfig) -> Runtime {
        Runtime {
            kline_rate_milli: AtomicU64::new((cfg.kline_rate.max(0.0) * 1000.0) as u64),
            kline_push_ms: AtomicU64::new(cfg.kline_push_ms.max(1)),
            ticker_push_ms: AtomicU64::new(cfg.ticker_push_ms.max(1)),
            candle_close_ms: AtomicU64::new(cfg.candle_close_ms),
            firehose: AtomicBool::new(cfg.firehose),
            stamp: AtomicBool::new(cfg.stamp),
        }
    }
    pub fn kline_rate(&self) -> f64 {
        self.kline_rate_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }
    pub fn set_kline_rate(&self, r: f64) {
        self.kline_rate_milli
            .store((r.max(0.0) * 1000.0) as u64, Ordering::Relaxed)
    }
    /// Period between open-candle updates of one kline subscription.
    pub fn kline_period(&self) -> Duration {
        let r = self.kline_rate();
        if r > 0.0 {
            Duration::from_secs_f64(1.0 / r)
        } else {
            Duration::from_millis(self.kline_push_ms.load(Ordering::Relaxed))
        }
    }
    pub fn set_kline_push_ms(&self, v: u64) {
        self.kline_push_ms.store(v.max(1), Ordering::Relaxed)
    }
    pub fn kline_push_ms(&self) -> u64 {
        self.kline_push_ms.load(Ordering::Relaxed)
    }
    pub fn ticker_period(&self) -> Duration {
        Duration::from_millis(self.ticker_push_ms.load(Ordering::Relaxed))
    }
    pub fn ticker_push_ms(&self) -> u64 {
        self.ticker_push_ms.load(Ordering::Relaxed)
    }
    pub fn set_ticker_push_ms(&self, v: u64) {
        self.ticker_push_ms.store(v.max(1), Ordering::Relaxed)
    }
    pub fn candle_close_ms(&self) -> u64 {
        self.candle_close_ms.load(Ordering::Relaxed)
    }
    pub fn set_candle_close_ms(&self, v: u64) {
        self.candle_close_ms.store(v, Ordering::Relaxed)
    }
    /// Close period for a candle of `interval_ms`.
    pub fn close_period(&self, interval_ms: i64) -> Duration {
        match self.candle_close_ms() {
            0 => Duration::from_millis(interval_ms as u64),
            ms => Duration::from_millis(ms),
        }
    }
    pub fn firehose(&self) -> bool {
        self.firehose.load(Ordering::Relaxed)
    }
    pub fn set_firehose(&self, v: bool) {
        self.firehose.store(v, Ordering::Relaxed)
    }
    pub fn stamp(&self) -> bool {
        self.stamp.load(Ordering::Relaxed)
    }
    pub fn set_stamp(&self, v: bool) {
        self.stamp.store(v, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags() {
        let cfg = SimConfig::from_args(
            [
                "--listen",
                "127.0.0.1:0",
                "--firehose",
                "--symbols=200",
                "--kline-rate",
                "5",
                "--okx-idle-secs",
                "0.5",
            ]
            .map(String::from),
        )
        .unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:0");
        assert!(cfg.firehose);
        assert!(!cfg.stamp);
        assert_eq!(cfg.symbols, 200);
        assert_eq!(cfg.kline_rate, 5.0);
        assert_eq!(cfg.okx_idle_secs, 0.5);
        assert!(SimConfig::from_args(["--bogus", "1"].map(String::from)).is_err());
    }
}
