//! Deterministic market state: a price random walk in ticks with volumes, used for candles,
//! 24 h tickers and book tickers. Same seed + same sequence of steps ⇒ same numbers.

use super::universe::{fnv, splitmix, Asset, Universe, Venue, XorShift};

pub const DAY_MS: i64 = 86_400_000;

/// Per-venue number precision.
#[derive(Debug, Clone, Copy)]
pub struct Precision {
    pub venue: Venue,
    /// Price tick decimals.
    pub price_dec: u32,
    /// Decimals of the venue quantity unit (0 for contracts).
    pub qty_dec: u32,
    /// Contract value (COIN-M / OKX swaps) or 1.
    pub ct_val: f64,
    /// Quantity is counted in contracts.
    pub contracts: bool,
    /// Inverse contract (ctVal in quote currency).
    pub inverse: bool,
}

impl Precision {
    pub fn new(u: &Universe, venue: Venue, i: usize) -> Precision {
        let a = &u.assets[i];
        let contracts = matches!(
            venue,
            Venue::BinanceCoinm | Venue::OkxLinear | Venue::OkxInverse
        );
        let qty_dec = if contracts {
            0
        } else if a.price >= 1000.0 {
            3
        } else if a.price >= 10.0 {
            2
        } else if a.price >= 1.0 {
            1
        } else {
            0
        };
        Precision {
            venue,
            price_dec: a.decimals,
            qty_dec,
            ct_val: u.contract_value(venue, i),
            contracts,
            inverse: matches!(venue, Venue::BinanceCoinm | Venue::OkxInverse),
        }
    }
    pub fn tick(&self) -> f64 {
        10f64.powi(-(self.price_dec as i32))
    }
    pub fn lot(&self) -> f64 {
        10f64.powi(-(self.qty_dec as i32))
    }
}

/// One OHLCV bucket plus the walk that moves it.
#[derive(Debug, Clone)]
pub struct Candle {
    pub open_time: i64,
    pub interval_ms: i64,
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    /// Venue quantity unit: base asset (spot, USD-M) or contracts (COIN-M, OKX swaps).
    pub qty: f64,
    /// Base-asset volume.
    pub base: f64,
    /// Quote-currency volume.
    pub quote: f64,
    pub taker_qty: f64,
    pub taker_base: f64,
    pub taker_quote: f64,
    pub n: u64,
    pub first_id: u64,
    pub last_id: u64,
    pub prec: Precision,
    rng: XorShift,
}

impl Candle {
    /// A candle for asset `a` whose first bucket contains `now_ms`.
    pub fn new(
        a: &Asset,
        prec: Precision,
        interval_ms: i64,
        now_ms: i64,
        salt: &str,
        seed: u64,
    ) -> Candle {
        let rng = XorShift::new(splitmix(a.seed ^ fnv(salt) ^ seed));
        let interval_ms = interval_ms.max(1);
        let open_time = now_ms - now_ms.rem_euclid(interval_ms);
        let mut c = Candle {
            open_time,
            interval_ms,
            o: a.price,
            h: a.price,
            l: a.price,
            c: a.price,
            qty: 0.0,
            base: 0.0,
            quote: 0.0,
            taker_qty: 0.0,
            taker_base: 0.0,
            taker_quote: 0.0,
            n: 0,
            first_id: 1_000_000 + (a.seed % 1_000_000),
            last_id: 0,
            prec,
            rng,
        };
        c.last_id = c.first_id - 1;
        c
    }

    pub fn close_time(&self) -> i64 {
        self.open_time + self.interval_ms - 1
    }

    /// Advance the walk by one aggregated trade chunk.
    pub fn step(&mut self) {
        let tick = self.prec.tick();
        let r = self.rng.next_u64();
        let moves = (r % 21) as i64 - 10;
        let mut c = self.c + tick * moves as f64;
        if c < tick * 100.0 {
            c = tick * 100.0;
        }
        c = (c / tick).round() * tick;
        self.c = c;
        if c > self.h {
            self.h = c;
        }
        if c < self.l {
            self.l = c;
        }
        let lots = 1 + (r >> 8) % 20;
        let dq = self.prec.lot() * lots as f64;
        let (db, dquote) = if self.prec.contracts {
            if self.prec.inverse {
                (dq * self.prec.ct_val / c, dq * self.prec.ct_val)
            } else {
                (dq * self.prec.ct_val, dq * self.prec.ct_val * c)
            }
        } else {
            (dq, dq * c)
        };
        self.qty += dq;
        self.base += db;
        self.quote += dquote;
        if (r >> 20) & 1 == 1 {
            self.taker_qty += dq;
            self.taker_base += db;
            self.taker_quote += dquote;
        }
        let k = 1 + (r >> 24) % 4;
        self.n += k;
        self.last_id += k;
    }

    /// Start the next bucket: open time + interval, open = previous close.
    pub fn roll(&mut self) {
        self.open_time += self.interval_ms;
        self.o = self.c;
        self.h = self.c;
        self.l = self.c;
        self.qty = 0.0;
        self.base = 0.0;
        self.quote = 0.0;
        self.taker_qty = 0.0;
        self.taker_base = 0.0;
        self.taker_quote = 0.0;
        self.n = 0;
        self.first_id = self.last_id + 1;
    }

    /// A pseudo-random size in lots for book/ticker sizes.
    pub fn size(&mut self) -> f64 {
        let r = self.rng.next_u64();
        self.prec.lot() * (1 + r % 500) as f64
    }

    /// Volume-weighted average price (or the close when nothing traded).
    pub fn vwap(&self) -> f64 {
        if self.base > 0.0 {
            self.quote / self.base
        } else {
            self.c
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_is_deterministic_and_rolls() {
        let u = Universe::new(3, 1);
        let p = Precision::new(&u, Venue::BinanceSpot, 0);
        let mut a = Candle::new(&u.assets[0], p, 60_000, 1_000_000, "x", 1);
        let mut b = a.clone();
        for _ in 0..100 {
            a.step();
            b.step();
        }
        assert_eq!(a.c, b.c);
        assert!(a.h >= a.c && a.l <= a.c);
        let t = a.open_time;
        a.roll();
        assert_eq!(a.open_time, t + 60_000);
        assert_eq!(a.o, b.c);
    }
}
