//! Binance subscribe: stream names, `SUBSCRIBE`/`UNSUBSCRIBE` requests, per-connection limits.
//! Pure: imports crate::{types, session}.
//!
//! Request: `{"method":"SUBSCRIBE","params":["btcusdt@kline_1m"],"id":1}` → `{"result":null,"id":1}`.
//! Limits (binance.md "WebSocket Limits"): 1024 streams per connection (SDKs use 200); incoming
//! messages per connection 5/s spot, 10/s futures — pongs count, so we stay well under.

use crate::session::{Limits, SocketKind, Topic};
use crate::types::Provider;

/// Appends the stream name of `topic`: `<lower symbol>@kline_<interval>`, `<lower>@ticker`, or
/// the all-market ticker (`!miniTicker@arr` on spot — `!ticker@arr` was retired there on
/// 2026-03-26 — and `!ticker@arr` on futures).
pub fn stream_name(provider: Provider, topic: &Topic, out: &mut String) {
    match topic {
        Topic::Candle { symbol, interval } => {
            out.extend(symbol.as_str().chars().map(|c| c.to_ascii_lowercase()));
            out.push_str("@kline_");
            out.push_str(interval.as_str());
        }
        Topic::Ticker { symbol } => {
            out.extend(symbol.as_str().chars().map(|c| c.to_ascii_lowercase()));
            out.push_str("@ticker");
        }
        Topic::AllTickers => out.push_str(match provider.real() {
            Provider::Binance => "!miniTicker@arr",
            _ => "!ticker@arr",
        }),
    }
}

/// Builds `method` requests for `topics`, `limits().topics_per_request` streams each.
pub fn requests(
    method: &str,
    provider: Provider,
    topics: &[Topic],
    next_id: &mut u64,
    out: &mut Vec<String>,
) {
    let per = limits(provider, SocketKind::Candles).topics_per_request;
    for chunk in topics.chunks(per) {
        let mut s = String::with_capacity(40 + chunk.len() * 26);
        s.push_str("{\"method\":\"");
        s.push_str(method);
        s.push_str("\",\"params\":[");
        for (i, t) in chunk.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push('"');
            stream_name(provider, t, &mut s);
            s.push('"');
        }
        s.push_str("],\"id\":");
        *next_id += 1;
        s.push_str(itoa::Buffer::new().format(*next_id));
        s.push('}');
        out.push(s);
    }
}

pub fn limits(provider: Provider, _kind: SocketKind) -> Limits {
    let per_sec = if provider.real() == Provider::Binance {
        5.0
    } else {
        10.0
    };
    Limits {
        // The seed and the SDKs use 200 per socket; the documented hard limit is 1024.
        topics_per_socket: 200,
        topics_per_request: 100,
        // Keep half the budget free for pongs.
        requests_burst: 2.0,
        requests_per_sec: per_sec / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Interval, Symbol};

    #[test]
    fn builds_subscribe_requests_in_chunks() {
        let topics: Vec<Topic> = (0..150)
            .map(|i| Topic::Candle {
                symbol: Symbol::new(&format!("S{i}USDT")).unwrap(),
                interval: Interval::new("1m").unwrap(),
            })
            .collect();
        let mut id = 0;
        let mut out = Vec::new();
        requests("SUBSCRIBE", Provider::Binance, &topics, &mut id, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out[0].starts_with(
            "{\"method\":\"SUBSCRIBE\",\"params\":[\"s0usdt@kline_1m\",\"s1usdt@kline_1m\""
        ));
        assert!(out[1].ends_with("\"s149usdt@kline_1m\"],\"id\":2}"));
        let v: serde_json::Value = serde_json::from_str(&out[1]).unwrap();
        assert_eq!(v["params"].as_array().unwrap().len(), 50);
    }
}

/// Kline intervals Binance accepts (case-sensitive: `m` minute, `M` month). Spot also has `1s`.
pub const INTERVALS: [&str; 16] = [
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1M",
];

pub fn valid_interval(provider: Provider, interval: &str) -> bool {
    INTERVALS.contains(&interval) && (interval != "1s" || provider.real() == Provider::Binance)
}

/// Binance symbols: upper-case letters, digits and `_` (`BTCUSDT`, `BTCUSD_PERP`).
pub fn canonical_symbol(symbol: &str) -> Option<String> {
    let up = symbol.trim().to_ascii_uppercase();
    let ok = !up.is_empty()
        && up.len() <= 31
        && up.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(up)
}
