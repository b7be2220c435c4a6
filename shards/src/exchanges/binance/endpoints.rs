//! Binance endpoints: which path of the configured base URL carries which streams.
//! Pure: imports crate::{types, session}.
//!
//! Spot `wss://stream.binance.com:9443/stream?streams=…`; USD-M after the 2026 split
//! `wss://fstream.binance.com/market/stream?streams=…` (klines and tickers are "market"
//! streams; the legacy `/stream` path silently stops sending klines); COIN-M
//! `wss://dstream.binance.com/stream?streams=…`. See shared/exchanges/binance.md §1.

use super::subscribe::stream_name;
use crate::session::{SocketKind, Topic};
use crate::types::Provider;

pub const SPOT_WS: &str = "wss://stream.binance.com:9443";
pub const USDM_WS: &str = "wss://fstream.binance.com";
pub const COINM_WS: &str = "wss://dstream.binance.com";
pub const SPOT_REST: &str = "https://api.binance.com";
pub const USDM_REST: &str = "https://fapi.binance.com";
pub const COINM_REST: &str = "https://dapi.binance.com";

/// The combined-stream path for a provider.
pub fn stream_path(provider: Provider) -> &'static str {
    match provider.real() {
        Provider::BinanceUsdm => "/market/stream",
        _ => "/stream",
    }
}

/// `base + path + ?streams=a/b/c` with every topic in the URL.
pub fn socket_url(base: &str, provider: Provider, _kind: SocketKind, topics: &[Topic]) -> String {
    let mut url = String::with_capacity(base.len() + 32 + topics.len() * 24);
    url.push_str(base.trim_end_matches('/'));
    url.push_str(stream_path(provider));
    url.push_str("?streams=");
    for (i, t) in topics.iter().enumerate() {
        if i > 0 {
            url.push('/');
        }
        stream_name(provider, t, &mut url);
    }
    url
}

/// The REST listing path (exchangeInfo) for a provider.
pub fn exchange_info_path(provider: Provider) -> &'static str {
    match provider.real() {
        Provider::BinanceUsdm => "/fapi/v1/exchangeInfo",
        Provider::BinanceCoinm => "/dapi/v1/exchangeInfo",
        _ => "/api/v3/exchangeInfo",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Interval, Symbol};

    #[test]
    fn urls_follow_the_2026_split() {
        let k = Topic::Candle {
            symbol: Symbol::new("BTCUSDT").unwrap(),
            interval: Interval::new("1m").unwrap(),
        };
        assert_eq!(
            socket_url(
                USDM_WS,
                Provider::BinanceUsdm,
                SocketKind::Candles,
                &[k, Topic::AllTickers]
            ),
            "wss://fstream.binance.com/market/stream?streams=btcusdt@kline_1m/!ticker@arr"
        );
        assert_eq!(
            socket_url(
                "ws://127.0.0.1:9300/binance/spot/",
                Provider::PaperBinance,
                SocketKind::Tickers,
                &[Topic::AllTickers]
            ),
            "ws://127.0.0.1:9300/binance/spot/stream?streams=!miniTicker@arr"
        );
        assert_eq!(
            socket_url(COINM_WS, Provider::BinanceCoinm, SocketKind::Candles, &[k]),
            "wss://dstream.binance.com/stream?streams=btcusdt@kline_1m"
        );
    }
}
