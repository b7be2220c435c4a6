//! Stream/channel name parsing and routing rules for Binance and OKX.

use super::universe::{Universe, Venue};

/// A stream/channel name the venue rejects (Binance "invalid stream", OKX 60018).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid;

/// Which Binance endpoint a socket was opened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Spot,
    CoinM,
    /// USD-M `/market/...` (klines, tickers, mark price, aggTrade, ...).
    UsdmMarket,
    /// USD-M `/public/...` (bookTicker, depth, trade).
    UsdmPublic,
    /// USD-M legacy `/stream`, `/ws` — retired 2026-04-23: handshake ok, no data.
    UsdmLegacy,
}

impl Category {
    pub fn venue(self) -> Venue {
        match self {
            Category::Spot => Venue::BinanceSpot,
            Category::CoinM => Venue::BinanceCoinm,
            _ => Venue::BinanceUsdm,
        }
    }
    pub fn is_futures(self) -> bool {
        self != Category::Spot
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum BinanceStream {
    Kline {
        asset: usize,
        interval: String,
        interval_ms: i64,
    },
    Ticker {
        asset: usize,
    },
    MiniTicker {
        asset: usize,
    },
    BookTicker {
        asset: usize,
    },
    MiniTickerArr,
    TickerArr,
    AllBookTicker,
    /// A valid stream name the simulator accepts but never feeds (not simulated, unknown
    /// symbol, or routed to another USD-M category).
    Silent,
}

pub fn binance_interval_ms(iv: &str, spot: bool) -> Option<i64> {
    Some(match iv {
        "1s" if spot => 1_000,
        "1m" => 60_000,
        "3m" => 180_000,
        "5m" => 300_000,
        "15m" => 900_000,
        "30m" => 1_800_000,
        "1h" => 3_600_000,
        "2h" => 7_200_000,
        "4h" => 14_400_000,
        "6h" => 21_600_000,
        "8h" => 28_800_000,
        "12h" => 43_200_000,
        "1d" => 86_400_000,
        "3d" => 259_200_000,
        "1w" => 604_800_000,
        "1M" => 2_592_000_000,
        _ => return None,
    })
}

/// Event parts that exist on Binance but are not simulated: accepted, silent.
const KNOWN_UNSIMULATED: &[&str] = &[
    "aggTrade",
    "trade",
    "depth",
    "depth5",
    "depth10",
    "depth20",
    "markPrice",
    "forceOrder",
    "avgPrice",
    "rpiDepth",
    "compositeIndex",
    "assetIndex",
];

/// USD-M 2026 routing (ccxt `getFutureWsCategory`): depth*, rpiDepth, bookTicker and trade go to
/// `/public`, everything else to `/market`.
fn usdm_public(event: &str) -> bool {
    event.starts_with("depth")
        || event.starts_with("rpiDepth")
        || event == "bookTicker"
        || event == "trade"
}

/// Parse a Binance stream name. `Err` = "Invalid request: invalid stream".
pub fn parse_binance(u: &Universe, cat: Category, name: &str) -> Result<BinanceStream, Invalid> {
    let venue = cat.venue();
    let spot = cat == Category::Spot;
    let (event_for_route, parsed) = if let Some(rest) = name.strip_prefix('!') {
        match rest {
            "miniTicker@arr" => ("miniTicker", BinanceStream::MiniTickerArr),
            // Spot `!ticker@arr` was retired 2026-03-26: accepted, silent.
            "ticker@arr" if spot => ("ticker", BinanceStream::Silent),
            "ticker@arr" => ("ticker", BinanceStream::TickerArr),
            "bookTicker" if spot => ("bookTicker", BinanceStream::Silent),
            "bookTicker" => ("bookTicker", BinanceStream::AllBookTicker),
            "markPrice@arr" | "markPrice@arr@1s" | "forceOrder@arr" | "contractInfo" => {
                ("markPrice", BinanceStream::Silent)
            }
            _ => return Err(Invalid),
        }
    } else {
        let (sym, event) = name.split_once('@').ok_or(Invalid)?;
        if sym.is_empty() {
            return Err(Invalid);
        }
        let first = event.split('@').next().unwrap_or(event);
        let asset = if sym.bytes().any(|b| b.is_ascii_uppercase()) {
            None
        } else {
            u.lookup(venue, sym)
        };
        let parsed = if let Some(iv) = event.strip_prefix("kline_") {
            let interval_ms = binance_interval_ms(iv, spot).ok_or(Invalid)?;
            match asset {
                Some(asset) => BinanceStream::Kline {
                    asset,
                    interval: iv.to_string(),
                    interval_ms,
                },
                None => BinanceStream::Silent,
            }
        } else {
            match (event, asset) {
                ("ticker", Some(asset)) => BinanceStream::Ticker { asset },
                ("miniTicker", Some(asset)) => BinanceStream::MiniTicker { asset },
                ("bookTicker", Some(asset)) => BinanceStream::BookTicker { asset },
                ("ticker" | "miniTicker" | "bookTicker", None) => BinanceStream::Silent,
                _ if KNOWN_UNSIMULATED.contains(&first) => BinanceStream::Silent,
                _ if first.starts_with("ticker_")
                    || first.starts_with("continuousKline_")
                    || first.starts_with("markPriceKline_")
                    || first.starts_with("indexPriceKline_") =>
                {
                    BinanceStream::Silent
                }
                _ => return Err(Invalid),
            }
        };
        (first, parsed)
    };
    // USD-M 2026 URL split: the wrong category (or the legacy URL) accepts and stays silent.
    let routed_ok = match cat {
        Category::UsdmLegacy => false,
        Category::UsdmPublic => usdm_public(event_for_route),
        Category::UsdmMarket => !usdm_public(event_for_route),
        _ => true,
    };
    Ok(if routed_ok {
        parsed
    } else {
        BinanceStream::Silent
    })
}

/// OKX bar → interval in ms (`1H`, `1Dutc`, ...).
pub fn okx_bar_ms(bar: &str) -> Option<i64> {
    let bar = bar.strip_suffix("utc").unwrap_or(bar);
    let unit = bar.chars().last()?;
    let n: i64 = bar[..bar.len() - unit.len_utf8()].parse().ok()?;
    let ms = match unit {
        's' => 1_000,
        'm' => 60_000,
        'H' => 3_600_000,
        'D' => 86_400_000,
        'W' => 604_800_000,
        'M' => 2_592_000_000,
        'Y' => 31_536_000_000,
        _ => return None,
    };
    const BARS: &[&str] = &[
        "1s", "1m", "3m", "5m", "15m", "30m", "1H", "2H", "4H", "6H", "12H", "1D", "2D", "3D",
        "5D", "1W", "1M", "3M", "6M", "1Y",
    ];
    if !BARS.contains(&bar) {
        return None;
    }
    Some(n * ms)
}

#[derive(Debug, Clone, PartialEq)]
pub enum OkxChannel {
    Candle {
        venue: Venue,
        asset: usize,
        interval_ms: i64,
    },
    Ticker {
        venue: Venue,
        asset: usize,
    },
    /// Valid public channel that is not simulated (trades, books, ...): acked, silent.
    Silent,
}

/// Public channels that exist but are not simulated.
const OKX_PUBLIC_UNSIMULATED: &[&str] = &[
    "trades",
    "trades-all",
    "books",
    "books5",
    "bbo-tbt",
    "books-l2-tbt",
    "books50-l2-tpt",
    "mark-price",
    "funding-rate",
    "open-interest",
    "index-tickers",
    "price-limit",
];

/// Parse one OKX subscription arg for the given socket. `Err` = error 60018.
pub fn parse_okx(
    u: &Universe,
    business: bool,
    channel: &str,
    inst_id: &str,
) -> Result<OkxChannel, Invalid> {
    let resolved = u.lookup_okx(inst_id);
    if let Some(bar) = channel.strip_prefix("candle") {
        if !business {
            return Err(Invalid);
        }
        let interval_ms = okx_bar_ms(bar).ok_or(Invalid)?;
        let (venue, asset) = resolved.ok_or(Invalid)?;
        return Ok(OkxChannel::Candle {
            venue,
            asset,
            interval_ms,
        });
    }
    if channel.starts_with("mark-price-candle") || channel.starts_with("index-candle") {
        return if business {
            Ok(OkxChannel::Silent)
        } else {
            Err(Invalid)
        };
    }
    if business {
        return Err(Invalid);
    }
    let (venue, asset) = resolved.ok_or(Invalid)?;
    match channel {
        "tickers" => Ok(OkxChannel::Ticker { venue, asset }),
        c if OKX_PUBLIC_UNSIMULATED.contains(&c) => Ok(OkxChannel::Silent),
        _ => Err(Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_routing() {
        let u = Universe::new(10, 1);
        assert!(matches!(
            parse_binance(&u, Category::Spot, "btcusdt@kline_1m"),
            Ok(BinanceStream::Kline { asset: 0, .. })
        ));
        assert_eq!(
            parse_binance(&u, Category::UsdmPublic, "btcusdt@kline_1m"),
            Ok(BinanceStream::Silent)
        );
        assert_eq!(
            parse_binance(&u, Category::UsdmLegacy, "btcusdt@kline_1m"),
            Ok(BinanceStream::Silent)
        );
        assert_eq!(
            parse_binance(&u, Category::UsdmPublic, "!bookTicker"),
            Ok(BinanceStream::AllBookTicker)
        );
        assert!(parse_binance(&u, Category::Spot, "btcusdt@kline_7m").is_err());
        assert!(parse_binance(&u, Category::Spot, "nonsense").is_err());
        assert_eq!(
            parse_binance(&u, Category::Spot, "btcusdt@depth@100ms"),
            Ok(BinanceStream::Silent)
        );
    }

    #[test]
    fn okx_routing() {
        let u = Universe::new(10, 1);
        assert!(parse_okx(&u, false, "candle1m", "BTC-USDT").is_err());
        assert!(parse_okx(&u, true, "candle1m", "BTC-USDT").is_ok());
        assert!(parse_okx(&u, true, "tickers", "BTC-USDT").is_err());
        assert!(parse_okx(&u, false, "tickers", "NOPE-USDT").is_err());
        assert_eq!(okx_bar_ms("1H"), Some(3_600_000));
        assert_eq!(okx_bar_ms("1Dutc"), Some(86_400_000));
        assert_eq!(okx_bar_ms("7m"), None);
    }
}
