//! Frame rendering straight into a `BytesMut` (no serde, no per-field allocation).
//!
//! Payload renderers write the payload *without* its final closing byte and return that byte,
//! so the caller can wrap it (Binance combined envelope) and put the optional latency stamp
//! `"_st":<ns>` as the last field of the outermost object.

use bytes::{BufMut, BytesMut};

use super::market::{Candle, DAY_MS};
use super::universe::Venue;

#[inline]
pub fn raw(b: &mut BytesMut, s: &str) {
    b.put_slice(s.as_bytes());
}

#[inline]
pub fn int(b: &mut BytesMut, v: i64) {
    let mut f = itoa::Buffer::new();
    b.put_slice(f.format(v).as_bytes());
}

#[inline]
pub fn uint(b: &mut BytesMut, v: u64) {
    let mut f = itoa::Buffer::new();
    b.put_slice(f.format(v).as_bytes());
}

/// Fixed-decimal number (`0.35280000`), optionally with trailing zeros trimmed (OKX style:
/// `30236`, `30228.7`).
pub fn num(b: &mut BytesMut, x: f64, dec: u32, trim: bool) {
    let p = 10u64.pow(dec);
    let scaled = (x.abs() * p as f64).round() as u64;
    if x < 0.0 && scaled != 0 {
        b.put_u8(b'-');
    }
    uint(b, scaled / p);
    if dec == 0 {
        return;
    }
    let mut frac = scaled % p;
    let mut digits = dec;
    if trim {
        if frac == 0 {
            return;
        }
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
    }
    b.put_u8(b'.');
    let mut f = itoa::Buffer::new();
    let s = f.format(frac);
    for _ in s.len()..digits as usize {
        b.put_u8(b'0');
    }
    b.put_slice(s.as_bytes());
}

/// `"key":"<num>"` preceded by a comma.
#[inline]
fn field_num(b: &mut BytesMut, key: &str, x: f64, dec: u32, trim: bool) {
    b.put_slice(b",\"");
    raw(b, key);
    b.put_slice(b"\":\"");
    num(b, x, dec, trim);
    b.put_u8(b'"');
}

#[inline]
fn field_int(b: &mut BytesMut, key: &str, v: i64) {
    b.put_slice(b",\"");
    raw(b, key);
    b.put_slice(b"\":");
    int(b, v);
}

#[inline]
fn field_str(b: &mut BytesMut, key: &str, v: &str) {
    b.put_slice(b",\"");
    raw(b, key);
    b.put_slice(b"\":\"");
    raw(b, v);
    b.put_u8(b'"');
}

/// Close the outermost object, with the latency stamp as its last field when asked.
#[inline]
pub fn finish_object(b: &mut BytesMut, stamp: bool) {
    if stamp {
        b.put_slice(b",\"_st\":");
        uint(b, now_ns());
    }
    b.put_u8(b'}');
}

pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

pub fn now_ms() -> i64 {
    (now_ns() / 1_000_000) as i64
}

// ---------------------------------------------------------------- Binance number styles

/// Binance price text: spot pads to 8 decimals, futures use the tick decimals.
#[inline]
fn bprice_dec(c: &Candle) -> u32 {
    match c.prec.venue {
        Venue::BinanceSpot => 8,
        _ => c.prec.price_dec,
    }
}
#[inline]
fn bqty_dec(c: &Candle) -> u32 {
    match c.prec.venue {
        Venue::BinanceSpot => 8,
        _ => c.prec.qty_dec,
    }
}
/// Binance `q`/`Q`: quote volume, except COIN-M where it is base-asset volume (8 decimals).
#[inline]
fn bquote(c: &Candle, quote: f64, base: f64) -> (f64, u32) {
    match c.prec.venue {
        Venue::BinanceSpot => (quote, 8),
        Venue::BinanceCoinm => (base, 8),
        _ => (quote, c.prec.price_dec.max(4)),
    }
}

/// `{"e":"kline",…,"k":{…}` (closing byte returned).
pub fn binance_kline(b: &mut BytesMut, sym: &str, interval: &str, c: &Candle, closed: bool) -> u8 {
    let pd = bprice_dec(c);
    let qd = bqty_dec(c);
    raw(b, "{\"e\":\"kline\"");
    field_int(b, "E", now_ms());
    field_str(b, "s", sym);
    raw(b, ",\"k\":{\"t\":");
    int(b, c.open_time);
    field_int(b, "T", c.close_time());
    field_str(b, "s", sym);
    field_str(b, "i", interval);
    field_int(b, "f", c.first_id as i64);
    field_int(b, "L", c.last_id as i64);
    field_num(b, "o", c.o, pd, false);
    field_num(b, "c", c.c, pd, false);
    field_num(b, "h", c.h, pd, false);
    field_num(b, "l", c.l, pd, false);
    field_num(b, "v", c.qty, qd, false);
    field_int(b, "n", c.n as i64);
    raw(
        b,
        if closed {
            ",\"x\":true"
        } else {
            ",\"x\":false"
        },
    );
    let (q, qdec) = bquote(c, c.quote, c.base);
    field_num(b, "q", q, qdec, false);
    field_num(b, "V", c.taker_qty, qd, false);
    let (tq, tqdec) = bquote(c, c.taker_quote, c.taker_base);
    field_num(b, "Q", tq, tqdec, false);
    raw(b, ",\"B\":\"0\"}");
    b'}'
}

/// `24hrMiniTicker` object, complete (used inside arrays).
pub fn binance_mini_ticker(b: &mut BytesMut, sym: &str, t: &Candle, e: i64) {
    let pd = bprice_dec(t);
    raw(b, "{\"e\":\"24hrMiniTicker\"");
    field_int(b, "E", e);
    field_str(b, "s", sym);
    field_num(b, "c", t.c, pd, false);
    field_num(b, "o", t.o, pd, false);
    field_num(b, "h", t.h, pd, false);
    field_num(b, "l", t.l, pd, false);
    field_num(b, "v", t.qty, bqty_dec(t), false);
    let (q, qd) = bquote(t, t.quote, t.base);
    field_num(b, "q", q, qd, false);
    b.put_u8(b'}');
}

/// `24hrTicker` object, complete. Spot carries `x` and `b/B/a/A`; futures do not.
pub fn binance_ticker(b: &mut BytesMut, sym: &str, t: &mut Candle, e: i64) {
    let pd = bprice_dec(t);
    let qd = bqty_dec(t);
    let spot = t.prec.venue == Venue::BinanceSpot;
    raw(b, "{\"e\":\"24hrTicker\"");
    field_int(b, "E", e);
    field_str(b, "s", sym);
    field_num(b, "p", t.c - t.o, pd, false);
    let pct = if t.o > 0.0 {
        (t.c - t.o) / t.o * 100.0
    } else {
        0.0
    };
    field_num(b, "P", pct, if spot { 2 } else { 3 }, false);
    field_num(b, "w", t.vwap(), pd, false);
    if spot {
        field_num(b, "x", t.o, pd, false);
    }
    field_num(b, "c", t.c, pd, false);
    let last = t.size();
    field_num(b, "Q", last, qd, false);
    if spot {
        let tick = t.prec.tick();
        let (bs, as_) = (t.size(), t.size());
        field_num(b, "b", t.c - tick, pd, false);
        field_num(b, "B", bs, qd, false);
        field_num(b, "a", t.c + tick, pd, false);
        field_num(b, "A", as_, qd, false);
    }
    field_num(b, "o", t.o, pd, false);
    field_num(b, "h", t.h, pd, false);
    field_num(b, "l", t.l, pd, false);
    field_num(b, "v", t.qty, qd, false);
    let (q, qdec) = bquote(t, t.quote, t.base);
    field_num(b, "q", q, qdec, false);
    field_int(b, "O", e - DAY_MS);
    field_int(b, "C", e);
    field_int(b, "F", t.first_id as i64);
    field_int(b, "L", t.last_id as i64);
    field_int(b, "n", (t.last_id + 1 - t.first_id) as i64);
    b.put_u8(b'}');
}

/// Book ticker payload (closing byte returned). Spot: `u,s,b,B,a,A`; USD-M:
/// `e,u,s,b,B,a,A,T,E`; COIN-M: `u,e,s,ps,b,B,a,A,T,E` (orders as in the corpus).
pub fn binance_book_ticker(b: &mut BytesMut, sym: &str, t: &mut Candle, u: u64) -> u8 {
    let pd = bprice_dec(t);
    let qd = bqty_dec(t);
    let tick = t.prec.tick();
    let (bs, as_) = (t.size(), t.size());
    let now = now_ms();
    match t.prec.venue {
        Venue::BinanceSpot => {
            raw(b, "{\"u\":");
            uint(b, u);
        }
        Venue::BinanceCoinm => {
            raw(b, "{\"u\":");
            uint(b, u);
            raw(b, ",\"e\":\"bookTicker\"");
        }
        _ => {
            raw(b, "{\"e\":\"bookTicker\",\"u\":");
            uint(b, u);
        }
    }
    field_str(b, "s", sym);
    if t.prec.venue == Venue::BinanceCoinm {
        let pair = sym.strip_suffix("_PERP").unwrap_or(sym);
        field_str(b, "ps", pair);
    }
    field_num(b, "b", t.c - tick, pd, false);
    field_num(b, "B", bs, qd, false);
    field_num(b, "a", t.c + tick, pd, false);
    field_num(b, "A", as_, qd, false);
    if t.prec.venue != Venue::BinanceSpot {
        field_int(b, "T", now - 3);
        field_int(b, "E", now);
    }
    b'}'
}

// ---------------------------------------------------------------- OKX

/// `{"arg":{"channel":"candle1m","instId":".."},"data":[[…]]` (outer `}` left open).
pub fn okx_candle(b: &mut BytesMut, channel: &str, inst_id: &str, c: &Candle, closed: bool) {
    let pd = c.prec.price_dec;
    raw(b, "{\"arg\":{\"channel\":\"");
    raw(b, channel);
    raw(b, "\",\"instId\":\"");
    raw(b, inst_id);
    raw(b, "\"},\"data\":[[\"");
    int(b, c.open_time);
    b.put_slice(b"\",\"");
    num(b, c.o, pd, true);
    b.put_slice(b"\",\"");
    num(b, c.h, pd, true);
    b.put_slice(b"\",\"");
    num(b, c.l, pd, true);
    b.put_slice(b"\",\"");
    num(b, c.c, pd, true);
    b.put_slice(b"\",\"");
    // vol: contracts for swaps, base for spot.
    num(b, c.qty, c.prec.qty_dec, true);
    b.put_slice(b"\",\"");
    // volCcy: base for swaps, quote for spot.
    if c.prec.contracts {
        num(b, c.base, 8, true);
    } else {
        num(b, c.quote, 8, true);
    }
    b.put_slice(b"\",\"");
    num(b, c.quote, 8, true);
    raw(b, if closed { "\",\"1\"]]" } else { "\",\"0\"]]" });
}

/// OKX `tickers` push (outer `}` left open).
pub fn okx_ticker(b: &mut BytesMut, inst_id: &str, t: &mut Candle) {
    let pd = t.prec.price_dec;
    let qd = t.prec.qty_dec;
    let tick = t.prec.tick();
    let inst_type = if t.prec.contracts { "SWAP" } else { "SPOT" };
    raw(b, "{\"arg\":{\"channel\":\"tickers\",\"instId\":\"");
    raw(b, inst_id);
    raw(b, "\"},\"data\":[{\"instType\":\"");
    raw(b, inst_type);
    raw(b, "\"");
    field_str(b, "instId", inst_id);
    field_num(b, "last", t.c, pd, true);
    let (ls, asz, bsz) = (t.size(), t.size(), t.size());
    field_num(b, "lastSz", ls, qd, true);
    field_num(b, "askPx", t.c + tick, pd, true);
    field_num(b, "askSz", asz, qd, true);
    field_num(b, "bidPx", t.c - tick, pd, true);
    field_num(b, "bidSz", bsz, qd, true);
    field_num(b, "open24h", t.o, pd, true);
    field_num(b, "high24h", t.h, pd, true);
    field_num(b, "low24h", t.l, pd, true);
    field_num(b, "sodUtc0", t.o, pd, true);
    field_num(b, "sodUtc8", t.o, pd, true);
    if t.prec.contracts {
        field_num(b, "volCcy24h", t.base, 8, true);
    } else {
        field_num(b, "volCcy24h", t.quote, 8, true);
    }
    field_num(
        b,
        "vol24h",
        t.qty,
        qd.max(if t.prec.contracts { 0 } else { 8 }),
        true,
    );
    b.put_slice(b",\"ts\":\"");
    int(b, now_ms());
    raw(b, "\"}]");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut BytesMut)) -> String {
        let mut b = BytesMut::new();
        f(&mut b);
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn numbers() {
        assert_eq!(s(|b| num(b, 0.3528, 8, false)), "0.35280000");
        assert_eq!(s(|b| num(b, 30236.0, 1, true)), "30236");
        assert_eq!(s(|b| num(b, 30228.7, 2, true)), "30228.7");
        assert_eq!(s(|b| num(b, -131.4, 2, false)), "-131.40");
        assert_eq!(s(|b| num(b, 7.611, 4, false)), "7.6110");
        assert_eq!(s(|b| num(b, 0.01731, 5, false)), "0.01731");
        assert_eq!(s(|b| num(b, 3917.0, 0, false)), "3917");
    }
}
