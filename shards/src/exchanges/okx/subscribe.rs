//! OKX subscribe: `{"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"}]}`,
//! acked per arg. Limits (okx.md §2): 480 subscribe/unsubscribe/login requests per connection
//! per hour; args ≤ 64 KB per request; 3 connections per second per IP.
//! Pure: imports crate::{types, session}.

use crate::session::{Limits, SocketKind, Topic};
use crate::types::Provider;

/// Builds `op` requests for `topics`, `topics_per_request` args each (well under 64 KB).
pub fn requests(op: &str, topics: &[Topic], out: &mut Vec<String>) {
    let per = limits(Provider::Okx, SocketKind::Candles).topics_per_request;
    for chunk in topics.chunks(per) {
        let mut s = String::with_capacity(32 + chunk.len() * 48);
        s.push_str("{\"op\":\"");
        s.push_str(op);
        s.push_str("\",\"args\":[");
        let mut first = true;
        for t in chunk {
            let (channel, inst) = match t {
                Topic::Candle { symbol, interval } => (interval.as_str(), symbol.as_str()),
                Topic::Ticker { symbol } => ("tickers", symbol.as_str()),
                // OKX has no all-market ticker channel: tickers are subscribed per instId.
                Topic::AllTickers => continue,
            };
            if !first {
                s.push(',');
            }
            first = false;
            s.push_str("{\"channel\":\"");
            s.push_str(channel);
            s.push_str("\",\"instId\":\"");
            s.push_str(inst);
            s.push_str("\"}");
        }
        s.push_str("]}");
        if !first {
            out.push(s);
        }
    }
}

pub fn limits(_provider: Provider, kind: SocketKind) -> Limits {
    Limits {
        // The seed puts up to 1000 candle args on one connection; tickers likewise.
        topics_per_socket: match kind {
            SocketKind::Candles => 1000,
            SocketKind::Tickers => 1000,
        },
        topics_per_request: 500,
        // 480 requests per connection-hour: a burst of 60 at connect, then 0.12/s.
        requests_burst: 60.0,
        requests_per_sec: 480.0 / 3600.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Interval, Symbol};

    #[test]
    fn builds_requests() {
        let t = [
            Topic::Candle {
                symbol: Symbol::new("BTC-USDT").unwrap(),
                interval: Interval::new("candle1m").unwrap(),
            },
            Topic::Ticker {
                symbol: Symbol::new("BTC-USDT-SWAP").unwrap(),
            },
            Topic::AllTickers,
        ];
        let mut out = Vec::new();
        requests("subscribe", &t, &mut out);
        assert_eq!(
            out,
            vec![
                r#"{"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"},{"channel":"tickers","instId":"BTC-USDT-SWAP"}]}"#
            ]
        );
        let many: Vec<Topic> = (0..1200).map(|_| t[1]).collect();
        out.clear();
        requests("unsubscribe", &many, &mut out);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|r| r.len() < 64 * 1024));
    }
}

/// Candle bars OKX accepts on the business socket (okx.md §4), as channel suffixes.
pub const BARS: [&str; 30] = [
    "1s", "1m", "3m", "5m", "15m", "30m", "1H", "2H", "4H", "6H", "12H", "1D", "2D", "3D", "5D",
    "1W", "1M", "3M", "6M", "1Y", "6Hutc", "12Hutc", "1Dutc", "2Dutc", "3Dutc", "5Dutc", "1Wutc",
    "1Mutc", "3Mutc", "1Yutc",
];

/// The interval is the channel name itself (`candle1m`, `candle1Dutc`), as the seed's consumers send it.
pub fn valid_interval(_provider: Provider, interval: &str) -> bool {
    interval
        .strip_prefix("candle")
        .is_some_and(|bar| BARS.contains(&bar))
}

/// OKX instIds: upper-case letters, digits and `-` (`BTC-USDT`, `BTC-USD-SWAP`).
pub fn canonical_symbol(symbol: &str) -> Option<String> {
    let up = symbol.trim().to_ascii_uppercase();
    let ok = !up.is_empty()
        && up.len() <= 31
        && up.contains('-')
        && up.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then_some(up)
}
