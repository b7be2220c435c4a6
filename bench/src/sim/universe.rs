//! The deterministic symbol universe: the same base assets for every provider, named the way
//! each venue names them, with a reference price derived from `--seed`.

use std::collections::HashMap;

/// Real base assets first (with plausible reference prices), then synthetic `S001…`.
const REAL: &[(&str, f64)] = &[
    ("BTC", 64000.0),
    ("ETH", 3200.0),
    ("BNB", 580.0),
    ("SOL", 150.0),
    ("XRP", 0.52),
    ("DOGE", 0.12),
    ("ADA", 0.45),
    ("TRX", 0.12),
    ("AVAX", 28.0),
    ("LINK", 14.0),
    ("DOT", 6.5),
    ("LTC", 80.0),
    ("BCH", 420.0),
    ("TON", 6.0),
    ("NEAR", 5.2),
    ("UNI", 7.5),
    ("ATOM", 7.0),
    ("ETC", 24.0),
    ("XLM", 0.1),
    ("FIL", 4.5),
    ("APT", 8.0),
    ("ARB", 0.8),
    ("OP", 1.7),
    ("SUI", 1.1),
];

/// Small xorshift64* generator; deterministic, no dependencies.
#[derive(Debug, Clone, Copy)]
pub struct XorShift(pub u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(splitmix(seed) | 1)
    }
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, for mixing names into seeds.
pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

#[derive(Debug, Clone)]
pub struct Asset {
    /// Upper-case base asset, e.g. `BTC`.
    pub base: String,
    /// Reference (starting) price in the quote currency.
    pub price: f64,
    /// Price tick decimals used by futures and OKX (spot pads to 8).
    pub decimals: u32,
    /// Per-asset seed.
    pub seed: u64,
}

/// Which product family a symbol belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Venue {
    BinanceSpot,
    BinanceUsdm,
    BinanceCoinm,
    OkxSpot,
    OkxLinear,
    OkxInverse,
}

impl Venue {
    pub fn is_binance(self) -> bool {
        matches!(
            self,
            Venue::BinanceSpot | Venue::BinanceUsdm | Venue::BinanceCoinm
        )
    }
}

#[derive(Debug)]
pub struct Universe {
    pub assets: Vec<Asset>,
    by_base: HashMap<String, usize>,
    pub seed: u64,
}

pub fn price_decimals(price: f64) -> u32 {
    if price >= 1000.0 {
        2
    } else if price >= 10.0 {
        3
    } else if price >= 1.0 {
        4
    } else {
        5
    }
}

impl Universe {
    pub fn new(count: usize, seed: u64) -> Universe {
        let mut assets = Vec::with_capacity(count);
        for i in 0..count {
            let (base, reference) = match REAL.get(i) {
                Some((b, p)) => (b.to_string(), Some(*p)),
                None => (format!("S{:03}", i - REAL.len() + 1), None),
            };
            let aseed = splitmix(seed ^ fnv(&base));
            let mut rng = XorShift::new(aseed);
            let price = match reference {
                // ±5 % around the reference, still seed-dependent.
                Some(p) => p * (0.95 + 0.1 * rng.unit()),
                // 0.01 … 1000, log-uniform.
                None => 10f64.powf(-2.0 + 5.0 * rng.unit()),
            };
            let decimals = price_decimals(price);
            let tick = 10f64.powi(-(decimals as i32));
            let price = ((price / tick).round() * tick).max(tick * 100.0);
            assets.push(Asset {
                base,
                price,
                decimals,
                seed: aseed,
            });
        }
        let by_base = assets
            .iter()
            .enumerate()
            .map(|(i, a)| (a.base.clone(), i))
            .collect();
        Universe {
            assets,
            by_base,
            seed,
        }
    }

    pub fn len(&self) -> usize {
        self.assets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// The venue-native symbol of asset `i` (`BTCUSDT`, `BTCUSD_PERP`, `BTC-USDT-SWAP`, …).
    pub fn symbol(&self, venue: Venue, i: usize) -> String {
        let b = &self.assets[i].base;
        match venue {
            Venue::BinanceSpot | Venue::BinanceUsdm => format!("{b}USDT"),
            Venue::BinanceCoinm => format!("{b}USD_PERP"),
            Venue::OkxSpot => format!("{b}-USDT"),
            Venue::OkxLinear => format!("{b}-USDT-SWAP"),
            Venue::OkxInverse => format!("{b}-USD-SWAP"),
        }
    }

    /// Look a venue symbol up (case-insensitive for Binance stream names).
    pub fn lookup(&self, venue: Venue, sym: &str) -> Option<usize> {
        let up = sym.to_ascii_uppercase();
        let base = match venue {
            Venue::BinanceSpot | Venue::BinanceUsdm => up.strip_suffix("USDT")?,
            Venue::BinanceCoinm => up.strip_suffix("USD_PERP")?,
            Venue::OkxSpot => {
                if sym != up {
                    return None;
                }
                up.strip_suffix("-USDT")?
            }
            Venue::OkxLinear => {
                if sym != up {
                    return None;
                }
                up.strip_suffix("-USDT-SWAP")?
            }
            Venue::OkxInverse => {
                if sym != up {
                    return None;
                }
                up.strip_suffix("-USD-SWAP")?
            }
        };
        self.by_base.get(base).copied()
    }

    /// Resolve an OKX instId to its venue and asset.
    pub fn lookup_okx(&self, inst_id: &str) -> Option<(Venue, usize)> {
        let venue = if inst_id.ends_with("-USDT-SWAP") {
            Venue::OkxLinear
        } else if inst_id.ends_with("-USD-SWAP") {
            Venue::OkxInverse
        } else {
            Venue::OkxSpot
        };
        self.lookup(venue, inst_id).map(|i| (venue, i))
    }

    /// Contract value of an OKX swap / Binance COIN-M contract.
    pub fn contract_value(&self, venue: Venue, i: usize) -> f64 {
        let a = &self.assets[i];
        match venue {
            Venue::OkxInverse | Venue::BinanceCoinm => {
                if a.base == "BTC" {
                    100.0
                } else {
                    10.0
                }
            }
            Venue::OkxLinear => {
                if a.price >= 1000.0 {
                    0.01
                } else if a.price >= 10.0 {
                    0.1
                } else {
                    10.0
                }
            }
            _ => 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_named() {
        let u = Universe::new(30, 7);
        let v = Universe::new(30, 7);
        assert_eq!(u.assets[0].price, v.assets[0].price);
        assert_eq!(u.symbol(Venue::BinanceSpot, 0), "BTCUSDT");
        assert_eq!(u.symbol(Venue::BinanceCoinm, 1), "ETHUSD_PERP");
        assert_eq!(u.symbol(Venue::OkxInverse, 0), "BTC-USD-SWAP");
        assert_eq!(u.symbol(Venue::BinanceUsdm, 24), "S001USDT");
        assert_eq!(u.lookup(Venue::BinanceSpot, "btcusdt"), Some(0));
        assert_eq!(u.lookup(Venue::BinanceCoinm, "ethusd_perp"), Some(1));
        assert_eq!(u.lookup_okx("ETH-USDT-SWAP"), Some((Venue::OkxLinear, 1)));
        assert_eq!(u.lookup_okx("FOO-USDT"), None);
        assert_ne!(Universe::new(3, 8).assets[0].price, u.assets[0].price);
    }
}
