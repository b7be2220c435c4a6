//! Named domain types: providers, markets, symbols, intervals and exact decimal text.
//! Pure: imports nothing from the crate.
//!
//! Everything here is `Copy` and heap-free so that events built from them can cross the
//! SPSC rings by value. Text is stored inline with a length byte; text that does not fit is a
//! decode error (counted), never truncated.

use std::fmt;
use std::str::FromStr;

/// The seed's provider names (`contract.md` §1). They appear on the wire unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    Binance,
    BinanceUsdm,
    BinanceCoinm,
    Bybit,
    BybitLinear,
    BybitInverse,
    Okx,
    OkxLinear,
    OkxInverse,
    Kucoin,
    KucoinLinear,
    KucoinInverse,
    Bitget,
    BitgetUsdm,
    BitgetCoinm,
    Coinbase,
    PaperBinance,
    PaperBinanceUsdm,
    PaperBinanceCoinm,
    PaperBybit,
    PaperBybitLinear,
    PaperBybitInverse,
    PaperOkx,
    PaperOkxLinear,
    PaperOkxInverse,
    PaperKucoin,
    PaperKucoinLinear,
    PaperKucoinInverse,
    PaperBitget,
    PaperBitgetUsdm,
    PaperBitgetCoinm,
    PaperCoinbase,
}

/// Which exchange a provider belongs to (the seed's "family").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Exchange {
    Binance,
    Bybit,
    Okx,
    Kucoin,
    Bitget,
    Coinbase,
}

/// Which market of its exchange a provider streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Market {
    Spot,
    /// USDⓈ-margined (linear) derivatives.
    Linear,
    /// Coin-margined (inverse) derivatives.
    Inverse,
}

const PROVIDER_NAMES: [(Provider, &str); 32] = [
    (Provider::Binance, "binance"),
    (Provider::BinanceUsdm, "binanceUsdm"),
    (Provider::BinanceCoinm, "binanceCoinm"),
    (Provider::Bybit, "bybit"),
    (Provider::BybitLinear, "bybitLinear"),
    (Provider::BybitInverse, "bybitInverse"),
    (Provider::Okx, "okx"),
    (Provider::OkxLinear, "okxLinear"),
    (Provider::OkxInverse, "okxInverse"),
    (Provider::Kucoin, "kucoin"),
    (Provider::KucoinLinear, "kucoinLinear"),
    (Provider::KucoinInverse, "kucoinInverse"),
    (Provider::Bitget, "bitget"),
    (Provider::BitgetUsdm, "bitgetUsdm"),
    (Provider::BitgetCoinm, "bitgetCoinm"),
    (Provider::Coinbase, "coinbase"),
    (Provider::PaperBinance, "paperBinance"),
    (Provider::PaperBinanceUsdm, "paperBinanceUsdm"),
    (Provider::PaperBinanceCoinm, "paperBinanceCoinm"),
    (Provider::PaperBybit, "paperBybit"),
    (Provider::PaperBybitLinear, "paperBybitLinear"),
    (Provider::PaperBybitInverse, "paperBybitInverse"),
    (Provider::PaperOkx, "paperOkx"),
    (Provider::PaperOkxLinear, "paperOkxLinear"),
    (Provider::PaperOkxInverse, "paperOkxInverse"),
    (Provider::PaperKucoin, "paperKucoin"),
    (Provider::PaperKucoinLinear, "paperKucoinLinear"),
    (Provider::PaperKucoinInverse, "paperKucoinInverse"),
    (Provider::PaperBitget, "paperBitget"),
    (Provider::PaperBitgetUsdm, "paperBitgetUsdm"),
    (Provider::PaperBitgetCoinm, "paperBitgetCoinm"),
    (Provider::PaperCoinbase, "paperCoinbase"),
];

impl Provider {
    pub const ALL: [Provider; 32] = {
        let mut out = [Provider::Binance; 32];
        let mut i = 0;
        while i < 32 {
            out[i] = PROVIDER_NAMES[i].0;
            i += 1;
        }
        out
    };

    /// The 16 real (non-paper) providers.
    pub const REAL: [Provider; 16] = {
        let mut out = [Provider::Binance; 16];
        let mut i = 0;
        while i < 16 {
            out[i] = PROVIDER_NAMES[i].0;
            i += 1;
        }
        out
    };

    /// The wire name (`binanceUsdm`, `paperOkx`, …).
    pub fn as_str(self) -> &'static str {
        PROVIDER_NAMES[self as usize].1
    }

    pub fn is_paper(self) -> bool {
        (self as usize) >= 16
    }

    /// `mapPaperToReal`: the real provider a paper provider streams prices from.
    pub fn real(self) -> Provider {
        if self.is_paper() {
            PROVIDER_NAMES[self as usize - 16].0
        } else {
            self
        }
    }

    pub fn exchange(self) -> Exchange {
        match self.real() {
            Provider::Binance | Provider::BinanceUsdm | Provider::BinanceCoinm => Exchange::Binance,
            Provider::Bybit | Provider::BybitLinear | Provider::BybitInverse => Exchange::Bybit,
            Provider::Okx | Provider::OkxLinear | Provider::OkxInverse => Exchange::Okx,
            Provider::Kucoin | Provider::KucoinLinear | Provider::KucoinInverse => Exchange::Kucoin,
            Provider::Bitget | Provider::BitgetUsdm | Provider::BitgetCoinm => Exchange::Bitget,
            _ => Exchange::Coinbase,
        }
    }

    pub fn market(self) -> Market {
        match (self.real() as usize) % 3 {
            _ if self.real() == Provider::Coinbase => Market::Spot,
            0 => Market::Spot,
            1 => Market::Linear,
            _ => Market::Inverse,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown provider name; the message lists what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}: expected one of the seed's provider names (binance, binanceUsdm, binanceCoinm, bybit, …, okx, okxLinear, okxInverse, …, coinbase, or a paper* variant)")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PROVIDER_NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(p, _)| *p)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

impl Exchange {
    pub fn as_str(self) -> &'static str {
        match self {
            Exchange::Binance => "binance",
            Exchange::Bybit => "bybit",
            Exchange::Okx => "okx",
            Exchange::Kucoin => "kucoin",
            Exchange::Bitget => "bitget",
            Exchange::Coinbase => "coinbase",
        }
    }
}

impl fmt::Display for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that did not fit an inline field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what} is {len} bytes, longer than the {cap} corefeed stores inline")]
pub struct TooLong {
    pub what: &'static str,
    pub len: usize,
    pub cap: usize,
}

macro_rules! inline_text {
    ($(#[$m:meta])* $name:ident, $cap:expr, $what:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name {
            len: u8,
            buf: [u8; $cap],
        }

        impl $name {
            pub const CAPACITY: usize = $cap;
            pub const EMPTY: $name = $name { len: 0, buf: [0; $cap] };

            /// Copies `s`; text longer than the capacity is an error, never truncated.
            #[inline]
            pub fn new(s: &str) -> Result<Self, TooLong> {
                let b = s.as_bytes();
                if b.len() > $cap {
                    return Err(TooLong { what: $what, len: b.len(), cap: $cap });
                }
                let mut buf = [0u8; $cap];
                buf[..b.len()].copy_from_slice(b);
                Ok(Self { len: b.len() as u8, buf })
            }

            #[inline]
            pub fn as_str(&self) -> &str {
                // Only ever built from &str, so the bytes are valid UTF-8.
                unsafe { std::str::from_utf8_unchecked(&self.buf[..self.len as usize]) }
            }

            #[inline]
            pub fn is_empty(&self) -> bool {
                self.len == 0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::EMPTY
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

inline_text!(
    /// An exchange-native symbol exactly as the venue writes it (`BTCUSDT`, `BTC-USDT-SWAP`).
    Symbol,
    31,
    "symbol"
);
inline_text!(
    /// An exchange-native interval exactly as the venue reports it (`1m`, `candle1H`).
    Interval,
    15,
    "interval"
);
inline_text!(
    /// Exact decimal text as the exchange sent it (`"0.35280000"`); never parsed into a float.
    Decimal,
    31,
    "decimal"
);

impl Decimal {
    /// Checks that the text is a plain decimal number (`-?digits[.digits]`) before storing it,
    /// so that what is published as a JSON number is always valid JSON.
    pub fn parse(s: &str) -> Result<Self, InvalidDecimal> {
        if !is_plain_decimal(s) {
            return Err(InvalidDecimal);
        }
        Decimal::new(s).map_err(|_| InvalidDecimal)
    }
}

/// Text that is not a plain decimal number, or longer than [`Decimal::CAPACITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a plain decimal number of at most 31 characters")]
pub struct InvalidDecimal;

/// `-?[0-9]+(\.[0-9]+)?`
pub fn is_plain_decimal(s: &str) -> bool {
    let b = s.strip_prefix('-').unwrap_or(s).as_bytes();
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut digit_after_dot = false;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                seen_digit = true;
                if seen_dot {
                    digit_after_dot = true;
                }
            }
            b'.' if seen_digit && !seen_dot => seen_dot = true,
            _ => return false,
        }
    }
    seen_digit && (!seen_dot || digit_after_dot)
}

/// Writes a plain decimal text the way JavaScript's `Number.prototype.toString` would print the
/// number it denotes (the seed publishes tickers as JS numbers): no trailing fraction zeros, no
/// leading zeros, `-0` as `0`, exponent form below 1e-6 and from 1e21. Works on the digits only,
/// so no precision is lost on the way (for ≤ 17 significant digits this equals the JS output).
pub fn write_js_number(dec: &str, out: &mut Vec<u8>) {
    let (neg, body) = match dec.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, dec),
    };
    let (int, frac) = match body.find('.') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, ""),
    };
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if int.is_empty() && frac.is_empty() {
        out.push(b'0');
        return;
    }
    if neg {
        out.push(b'-');
    }
    if !int.is_empty() {
        if int.len() > 21 {
            // ≥ 1e21: d.ddde+N
            let digits = format!("{int}{frac}");
            let digits = digits.trim_end_matches('0');
            out.push(digits.as_bytes()[0]);
            if digits.len() > 1 {
                out.push(b'.');
                out.extend_from_slice(&digits.as_bytes()[1..]);
            }
            out.extend_from_slice(b"e+");
            out.extend_from_slice(itoa::Buffer::new().format(int.len() - 1).as_bytes());
            return;
        }
        out.extend_from_slice(int.as_bytes());
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(frac.as_bytes());
        }
        return;
    }
    // 0.000ddd
    let zeros = frac.len() - frac.trim_start_matches('0').len();
    let sig = &frac[zeros..];
    if zeros >= 6 {
        out.push(sig.as_bytes()[0]);
        if sig.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&sig.as_bytes()[1..]);
        }
        out.extend_from_slice(b"e-");
        out.extend_from_slice(itoa::Buffer::new().format(zeros + 1).as_bytes());
    } else {
        out.extend_from_slice(b"0.");
        out.extend_from_slice(frac.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_round_trip_and_map_paper_to_real() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>().unwrap(), p);
        }
        assert_eq!(Provider::PaperOkxLinear.real(), Provider::OkxLinear);
        assert_eq!(Provider::PaperBinance.real(), Provider::Binance);
        assert_eq!(Provider::BinanceCoinm.market(), Market::Inverse);
        assert_eq!(Provider::OkxLinear.market(), Market::Linear);
        assert_eq!(Provider::Coinbase.market(), Market::Spot);
        assert_eq!(Provider::BitgetUsdm.exchange(), Exchange::Bitget);
        assert!("binanceus".parse::<Provider>().is_err());
    }

    #[test]
    fn inline_text_rejects_overlong_input() {
        assert!(Symbol::new(&"X".repeat(31)).is_ok());
        let err = Symbol::new(&"X".repeat(32)).unwrap_err();
        assert_eq!(err.len, 32);
        assert_eq!(
            Symbol::new("BTC-USDT-SWAP").unwrap().as_str(),
            "BTC-USDT-SWAP"
        );
    }

    #[test]
    fn decimal_validation() {
        for ok in ["0", "12", "0.35280000", "-1.5", "2036102085.69746400"] {
            assert!(Decimal::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-", ".5", "1.", "1e5", "NaN", "1,5", "\"1\"", "1.2.3"] {
            assert!(Decimal::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn js_number_formatting_matches_javascript() {
        struct TestCase {
            input: &'static str,
            expected: &'static str,
        }
        let cases = [
            TestCase {
                input: "0.35280000",
                expected: "0.3528",
            },
            TestCase {
                input: "64000.00",
                expected: "64000",
            },
            TestCase {
                input: "0",
                expected: "0",
            },
            TestCase {
                input: "0.00000000",
                expected: "0",
            },
            TestCase {
                input: "-0.0",
                expected: "0",
            },
            TestCase {
                input: "00012.50",
                expected: "12.5",
            },
            TestCase {
                input: "0.000001",
                expected: "0.000001",
            },
            TestCase {
                input: "0.00000012",
                expected: "1.2e-7",
            },
            TestCase {
                input: "-0.0000001",
                expected: "-1e-7",
            },
            TestCase {
                input: "2036102085.69746400",
                expected: "2036102085.697464",
            },
            TestCase {
                input: "1000000000000000000000",
                expected: "1e+21",
            },
            TestCase {
                input: "100000000000000000000",
                expected: "100000000000000000000",
            },
        ];
        for c in cases {
            let mut out = Vec::new();
            write_js_number(c.input, &mut out);
            assert_eq!(
                std::str::from_utf8(&out).unwrap(),
                c.expected,
                "{}",
                c.input
            );
        }
    }
}
