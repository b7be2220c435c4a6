//! Shared session machinery: what a socket subscribes to, the per-venue protocol table, backoff,
//! pacing, the connection governor, and the socket task itself. Imports crate::{types, event,
//! exchanges, ws, ring, stats}; exchange specifics come from crate::exchanges::<venue>.

pub mod backoff;
pub mod governor;
pub mod pacer;
pub mod private;
pub mod socket;

use crate::exchanges::{binance, okx};
use crate::types::{Exchange, Interval, Provider, Symbol};
use std::time::Duration;

/// What a shard tells the control plane (one crossbeam channel, low rate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardReport {
    User(private::UserReport),
    Stall(StallReport),
}

/// A market whose data stopped while its socket lives (seed `watchdogStall`), and what the
/// socket did about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StallReport {
    pub socket: SocketKey,
    /// `BTCUSDT@1m`, `BTC-USDT` (ticker) or `all tickers`.
    pub market: String,
    /// The seed's kinds: `candle` or `price` (tickers).
    pub kind: &'static str,
    pub stale_s: u64,
    pub action: StallAction,
}

/// The escalation ladder of a repeating stall: never a process restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StallAction {
    /// First stall: unsubscribe and subscribe that market again on the same socket.
    Resubscribe,
    /// Second consecutive stall: a new socket.
    Redial,
    /// Still stalled after a new socket: a clear error and a metric; checked again when data
    /// returns.
    GaveUp,
}

impl StallAction {
    pub fn as_str(self) -> &'static str {
        match self {
            StallAction::Resubscribe => "resubscribe",
            StallAction::Redial => "redial",
            StallAction::GaveUp => "gave_up",
        }
    }
}

/// One subscription on a price socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    Candle {
        symbol: Symbol,
        interval: Interval,
    },
    Ticker {
        symbol: Symbol,
    },
    /// The venue's all-market ticker stream (Binance `!miniTicker@arr` / `!ticker@arr`).
    AllTickers,
}

/// The length of a kline interval as the venue spells it (`1m`, `4h`, `1d`, `1w`, `1M`;
/// OKX `candle1m`, `candle1H`, `candle1Dutc`, `candle1M`), `None` when unknown.
pub fn interval_ms(interval: &str) -> Option<u64> {
    let s = interval.strip_prefix("candle").unwrap_or(interval);
    let s = s.strip_suffix("utc").unwrap_or(s);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = s[..digits].parse().ok()?;
    let unit = match &s[digits..] {
        "s" => 1_000,
        "m" => 60_000,
        "h" | "H" => 3_600_000,
        "d" | "D" => 86_400_000,
        "w" | "W" => 7 * 86_400_000,
        "M" => 30 * 86_400_000,
        _ => return None,
    };
    Some(n * unit)
}

/// What a price socket carries (OKX routes candles and tickers to different endpoints).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SocketKind {
    Candles,
    Tickers,
}

impl SocketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SocketKind::Candles => "candles",
            SocketKind::Tickers => "tickers",
        }
    }
}

/// A socket's identity: provider + socket group. Shards are chosen by a stable hash of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketKey {
    pub provider: Provider,
    pub kind: SocketKind,
    pub group: u32,
}

impl SocketKey {
    /// FNV-1a over the key's wire text: stable across runs and builds.
    pub fn stable_hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: &[u8]| {
            for &c in b {
                h ^= c as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        eat(self.provider.as_str().as_bytes());
        eat(b"/");
        eat(self.kind.as_str().as_bytes());
        eat(b"/");
        eat(&self.group.to_le_bytes());
        h
    }

    pub fn shard(&self, shards: usize) -> usize {
        (self.stable_hash() % shards.max(1) as u64) as usize
    }
}

impl std::fmt::Display for SocketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.provider, self.kind.as_str(), self.group)
    }
}

/// Everything a shard needs to run one price socket.
#[derive(Clone, Debug)]
pub struct SocketSpec {
    pub key: SocketKey,
    /// The venue's WebSocket base URL from config (`wss://stream.binance.com:9443`, or the simulator).
    pub base_url: String,
    pub topics: Vec<Topic>,
}

/// What a venue requires to keep a connection alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Send `ping_text` after this long without any incoming frame (OKX); `None` when the
    /// server pings (Binance control frames, answered by the WebSocket layer).
    pub client_ping_after: Option<Duration>,
    pub ping_text: &'static str,
    /// Declare the socket dead and re-dial after this long without any incoming frame.
    pub dead_after: Duration,
    /// Re-dial before the venue's hard connection lifetime ends.
    pub max_lifetime: Duration,
}

/// Per-connection limits of a venue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Topics one socket may carry.
    pub topics_per_socket: usize,
    /// Topics per subscribe request.
    pub topics_per_request: usize,
    /// Outgoing request budget per connection: burst and sustained rate.
    pub requests_burst: f64,
    pub requests_per_sec: f64,
}

/// The per-venue protocol table: the same form filled in by every exchange module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Venue {
    pub provider: Provider,
}

impl Venue {
    pub fn new(provider: Provider) -> Self {
        Venue {
            provider: provider.real(),
        }
    }

    pub fn exchange(&self) -> Exchange {
        self.provider.exchange()
    }

    /// The URL to dial for a socket; Binance carries its initial topics in the URL.
    pub fn url(&self, base: &str, kind: SocketKind, topics: &[Topic]) -> String {
        match self.exchange() {
            Exchange::Binance => binance::endpoints::socket_url(base, self.provider, kind, topics),
            _ => okx::endpoints::socket_url(base, self.provider, kind, topics),
        }
    }

    /// Whether the topics in the URL are already subscribed when the socket opens.
    pub fn topics_in_url(&self) -> bool {
        self.exchange() == Exchange::Binance
    }

    /// Requests subscribing `topics`, split to the venue's per-request limit.
    pub fn subscribe(&self, topics: &[Topic], next_id: &mut u64, out: &mut Vec<String>) {
        match self.exchange() {
            Exchange::Binance => {
                binance::subscribe::requests("SUBSCRIBE", self.provider, topics, next_id, out)
            }
            _ => okx::subscribe::requests("subscribe", topics, out),
        }
    }

    pub fn unsubscribe(&self, topics: &[Topic], next_id: &mut u64, out: &mut Vec<String>) {
        match self.exchange() {
            Exchange::Binance => {
                binance::subscribe::requests("UNSUBSCRIBE", self.provider, topics, next_id, out)
            }
            _ => okx::subscribe::requests("unsubscribe", topics, out),
        }
    }

    pub fn limits(&self, kind: SocketKind) -> Limits {
        match self.exchange() {
            Exchange::Binance => binance::subscribe::limits(self.provider, kind),
            _ => okx::subscribe::limits(self.provider, kind),
        }
    }

    pub fn keepalive(&self) -> Keepalive {
        match self.exchange() {
            Exchange::Binance => binance::keepalive::policy(self.provider),
            _ => okx::keepalive::policy(self.provider),
        }
    }

    /// Whether the venue accepts this (exchange-native) kline interval.
    pub fn valid_interval(&self, interval: &str) -> bool {
        match self.exchange() {
            Exchange::Binance => binance::subscribe::valid_interval(self.provider, interval),
            _ => okx::subscribe::valid_interval(self.provider, interval),
        }
    }

    /// The symbol as the venue spells it, or `None` when it cannot be one of its symbols.
    pub fn canonical_symbol(&self, symbol: &str) -> Option<String> {
        match self.exchange() {
            Exchange::Binance => binance::subscribe::canonical_symbol(symbol),
            _ => okx::subscribe::canonical_symbol(symbol),
        }
    }

    /// The wire symbol for a market listed by the exchange service (`pair`): OKX swaps take a
    /// `-SWAP` suffix; Binance uses the pair as is.
    pub fn ticker_symbol(&self, pair: &str) -> String {
        match self.exchange() {
            Exchange::Okx => okx::endpoints::inst_id(self.provider, pair),
            _ => pair.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_lengths() {
        for (i, ms) in [
            ("1m", Some(60_000)),
            ("15m", Some(900_000)),
            ("4h", Some(14_400_000)),
            ("1M", Some(2_592_000_000)),
            ("candle1m", Some(60_000)),
            ("candle1H", Some(3_600_000)),
            ("candle1Dutc", Some(86_400_000)),
            ("1x", None),
            ("m", None),
        ] {
            assert_eq!(interval_ms(i), ms, "{i}");
        }
    }

    #[test]
    fn socket_hash_is_stable_and_spreads() {
        let k = SocketKey {
            provider: Provider::Binance,
            kind: SocketKind::Candles,
            group: 3,
        };
        assert_eq!(k.stable_hash(), k.stable_hash());
        let mut per_shard = [0usize; 4];
        for group in 0..400 {
            let k = SocketKey {
                provider: Provider::Okx,
                kind: SocketKind::Candles,
                group,
            };
            per_shard[k.shard(4)] += 1;
        }
        assert!(per_shard.iter().all(|&n| n > 60), "{per_shard:?}");
        assert_eq!(k.shard(1), 0);
    }
}
