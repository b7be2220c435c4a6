//! Binance market-stream decode (klines, 24 h tickers, acks). Pure: imports crate::{event, types, error, exchanges}.
//!
//! One WebSocket text frame in, zero or more [`Event`]s out through an [`EventSink`]. The frame
//! is parsed in place by simd-json into a tape that is reused between frames (see `exchanges::json::with_tape`) with
//! the socket's [`Scratch::buffers`], and fields are read straight off the tape as borrowed
//! `&str`, so the hot path (kline and ticker frames) allocates nothing once warm. Decimal text is
//! copied verbatim into [`Decimal`] (validated by [`Decimal::parse`], never through `f64`).
//!
//! Protocol reference: `shared/exchanges/binance.md` §2 (acks), §4 (klines), §5 (tickers);
//! <https://github.com/binance/binance-spot-api-docs/blob/master/web-socket-streams.md>,
//! <https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams>,
//! <https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams>.
//!
//! Frames never say which market they come from: the socket's [`DecodeCtx::provider`]
//! (binance, binanceUsdm, binanceCoinm or a paper twin) is stamped on every event.
//!
//! Arrays (`!miniTicker@arr`, `!ticker@arr`): every well-formed element is emitted; when an
//! element is malformed the others are still emitted and the first element's error is returned
//! after the loop, so the frame is counted as a decode error without losing its good tickers.

use simd_json::prelude::*;
use simd_json::tape::Value;

use crate::error::DecodeError;
use crate::event::{Candle, Event, SeedQuantity, Ticker};
use crate::exchanges::json::{
    bad, decimal, decimal_opt, parse_digits, req, str_of, symbol_of, u64_of, with_tape,
};
use crate::exchanges::scan::{self, once, set, Scanner, Val};
use crate::exchanges::{emit_pending, DecodeCtx, Decoded, EventSink, FrameKind, Scratch};
use crate::types::{Interval, Symbol};

/// Combined-stream envelope (`/stream?streams=a/b`); raw `/ws/` sockets deliver `data` bare.
///
/// ```json
/// {"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1700000000123,"s":"BTCUSDT","k":{..}},"_st":1700000000123456789}
/// ```
/// `_st` is the simulator's send stamp (ns), present only in simulated runs, last field.
/// Doc: `binance.md` §1 "Combined-stream events are wrapped";
/// <https://github.com/binance/binance-spot-api-docs/blob/master/web-socket-streams.md#general-wss-information>
#[derive(Default)]
struct Envelope<'t, 'i> {
    stream: Option<&'i str>,
    data: Option<Value<'t, 'i>>,
    /// `e` when the root object is itself a raw payload.
    event_type: Option<Value<'t, 'i>>,
    result: Option<Value<'t, 'i>>,
    id: Option<Value<'t, 'i>>,
    error: Option<Value<'t, 'i>>,
    code: Option<Value<'t, 'i>>,
    st: Option<Value<'t, 'i>>,
}

/// Decodes one Binance market-stream frame.
///
/// Data frames return `Decoded::data(n, sent_ns)` after emitting `n` events; acks, venue errors
/// and market data corefeed does not publish (bookTicker, depth, trades, …) emit nothing.
pub fn decode(
    ctx: &DecodeCtx,
    frame: &mut [u8],
    scratch: &mut Scratch,
    sink: &mut impl EventSink,
) -> Result<Decoded, DecodeError> {
    with_tape(frame, &mut scratch.buffers, |root| {
        decode_root(ctx, root, sink)
    })
}

/// Control replies on the market socket.
///
/// ```json
/// {"result":null,"id":1}
/// {"result":["btcusdt@kline_1m"],"id":3}
/// {"error":{"code":2,"msg":"Invalid request"},"id":4}
/// {"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}
/// ```
/// → `SubscribeAck { id }` (a non-numeric `id` gives 0) / `VenueError { code }`.
/// Doc: `binance.md` §2;
/// <https://github.com/binance/binance-spot-api-docs/blob/master/web-socket-streams.md#live-subscribingunsubscribing-to-streams>
fn decode_root(
    ctx: &DecodeCtx,
    root: Value<'_, '_>,
    sink: &mut impl EventSink,
) -> Result<Decoded, DecodeError> {
    // A raw `!miniTicker@arr` / `!ticker@arr` socket delivers a bare array.
    if root.as_array().is_some() {
        let n = decode_array(ctx, root, sink)?;
        return Ok(Decoded::data(n, 0));
    }
    let Some(obj) = root.as_object() else {
        return Err(DecodeError::Unknown);
    };
    let mut env = Envelope::default();
    for (key, value) in obj.iter() {
        match key {
            "stream" => env.stream = value.into_string(),
            "data" => env.data = Some(value),
            "e" => env.event_type = Some(value),
            "result" => env.result = Some(value),
            "id" => env.id = Some(value),
            "error" => env.error = Some(value),
            "code" => env.code = Some(value),
            "_st" => env.st = Some(value),
            _ => {}
        }
    }
    let sent_ns = match env.st {
        Some(v) => u64_of(v, "_st")?,
        None => 0,
    };
    let with = |kind| Decoded { kind, sent_ns };

    if env.event_type.is_none() {
        if let Some(data) = env.data {
            // Combined envelope.
            let n = if data.as_array().is_some() {
                decode_array(ctx, data, sink)?
            } else if data.as_object().is_some() {
                match decode_payload(ctx, data, env.stream, sink)? {
                    Some(n) => n,
                    None => return Ok(with(FrameKind::Ignored)),
                }
            } else {
                return Err(bad("data", "expected an object or an array"));
            };
            return Ok(Decoded::data(n, sent_ns));
        }
        if env.stream.is_some() {
            return Err(DecodeError::MissingField("data"));
        }
        if env.result.is_some() {
            let id = env.id.map(id_of).unwrap_or(0);
            return Ok(with(FrameKind::SubscribeAck { id }));
        }
        if let Some(err) = env.error {
            let code = err.get("code").and_then(|c| c.as_i64());
            let code = code.ok_or(DecodeError::MissingField("error.code"))?;
            return Ok(with(FrameKind::VenueError { code }));
        }
        if let Some(code) = env.code {
            let code = code.as_i64().ok_or(bad("code", "expected an integer"))?;
            return Ok(with(FrameKind::VenueError { code }));
        }
    }
    match decode_payload(ctx, root, None, sink)? {
        Some(n) => Ok(Decoded::data(n, sent_ns)),
        None => Ok(with(FrameKind::Ignored)),
    }
}

/// One payload object. `Ok(None)` = market data corefeed does not publish.
fn decode_payload(
    ctx: &DecodeCtx,
    payload: Value<'_, '_>,
    stream: Option<&str>,
    sink: &mut impl EventSink,
) -> Result<Option<u32>, DecodeError> {
    let Some(event_type) = payload.get("e") else {
        // Spot bookTicker and partial depth carry no `e`.
        let by_stream = stream.is_some_and(|s| s.contains("@bookTicker") || s.contains("@depth"));
        let by_shape =
            (payload.contains_key("u") && payload.contains_key("b") && payload.contains_key("a"))
                || payload.contains_key("lastUpdateId");
        return if by_stream || by_shape {
            Ok(None)
        } else {
            Err(DecodeError::Unknown)
        };
    };
    let event_type = event_type
        .into_string()
        .ok_or(bad("e", "expected a string"))?;
    match event_type {
        "kline" => {
            sink.emit(Event::Candle(kline(ctx, payload)?));
            Ok(Some(1))
        }
        "24hrMiniTicker" | "24hrTicker" => {
            sink.emit(Event::Ticker(ticker(ctx, payload)?));
            Ok(Some(1))
        }
        "bookTicker" | "depthUpdate" | "aggTrade" | "trade" | "markPriceUpdate"
        | "continuous_kline" | "markPrice_kline" | "indexPrice_kline" | "forceOrder"
        | "1hTicker" | "4hTicker" | "1dTicker" | "avgPrice" | "indexPriceUpdate"
        | "contractInfo" | "assetIndexUpdate" | "compositeIndex" | "serverShutdown" => Ok(None),
        _ => Err(DecodeError::Unknown),
    }
}

/// An array of ticker payloads. Emits every good element; returns the first element error.
fn decode_array(
    ctx: &DecodeCtx,
    arr: Value<'_, '_>,
    sink: &mut impl EventSink,
) -> Result<u32, DecodeError> {
    let Some(arr) = arr.as_array() else {
        return Err(DecodeError::Unknown);
    };
    let mut n = 0u32;
    let mut first_err = None;
    for el in arr.iter() {
        let r = match el.get("e").and_then(|e| e.into_string()) {
            Some("24hrMiniTicker" | "24hrTicker") => ticker(ctx, el),
            Some(_) => Err(DecodeError::Unknown),
            None => Err(DecodeError::MissingField("e")),
        };
        match r {
            Ok(t) => {
                sink.emit(Event::Ticker(t));
                n += 1;
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(n),
    }
}

/// A kline payload (`<symbol>@kline_<interval>`, event `kline`), spot and futures alike.
///
/// ```json
/// {"e":"kline","E":1700000000123,"s":"BTCUSDT","k":{"t":1700000000000,"T":1700000059999,
///  "s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"37000.10","c":"37010.00","h":"37020.00",
///  "l":"36990.50","v":"12.345","n":101,"x":false,"q":"456789.01","V":"6.1","Q":"225000.5","B":"0"}}
/// ```
/// Mapping: symbol `k.s` (else `s`), interval `k.i`, start `k.t`, o/h/l/c `k.o/k.h/k.l/k.c`,
/// volume `k.v`, closed `k.x`, event time `E`. Every update is emitted (open ones too).
/// Doc: `binance.md` §4;
/// <https://github.com/binance/binance-spot-api-docs/blob/master/web-socket-streams.md#klinecandlestick-streams-for-utc>
fn kline(ctx: &DecodeCtx, p: Value<'_, '_>) -> Result<Candle, DecodeError> {
    let k = p.get("k").ok_or(DecodeError::MissingField("k"))?;
    let Some(obj) = k.as_object() else {
        return Err(bad("k", "expected an object"));
    };
    // One pass over `k`'s 17 keys instead of a linear lookup per field (the hot path).
    let (mut s, mut i, mut t, mut o, mut h, mut l, mut c, mut v, mut x) =
        (None, None, None, None, None, None, None, None, None);
    for (key, val) in obj.iter() {
        match key {
            "s" => s = Some(val),
            "i" => i = Some(val),
            "t" => t = Some(val),
            "o" => o = Some(val),
            "h" => h = Some(val),
            "l" => l = Some(val),
            "c" => c = Some(val),
            "v" => v = Some(val),
            "x" => x = Some(val),
            _ => {}
        }
    }
    let symbol = match s {
        Some(s) => symbol_of(s, "k.s")?,
        None => symbol_of(req(p, "s", "k.s")?, "s")?,
    };
    let interval = str_of(i.ok_or(DecodeError::MissingField("k.i"))?, "k.i")?;
    Ok(Candle {
        provider: ctx.provider,
        symbol,
        interval: Interval::new(interval)?,
        start_ms: u64_of(t.ok_or(DecodeError::MissingField("k.t"))?, "k.t")?,
        open: decimal(o.ok_or(DecodeError::MissingField("k.o"))?, "k.o")?,
        high: decimal(h.ok_or(DecodeError::MissingField("k.h"))?, "k.h")?,
        low: decimal(l.ok_or(DecodeError::MissingField("k.l"))?, "k.l")?,
        close: decimal(c.ok_or(DecodeError::MissingField("k.c"))?, "k.c")?,
        volume: decimal(v.ok_or(DecodeError::MissingField("k.v"))?, "k.v")?,
        closed: x
            .ok_or(DecodeError::MissingField("k.x"))?
            .as_bool()
            .ok_or(bad("k.x", "expected a boolean"))?,
        event_time_ms: u64_of(req(p, "E", "E")?, "E")?,
    })
}

/// A 24 h ticker payload: `24hrMiniTicker` (`<symbol>@miniTicker`, `!miniTicker@arr`) or
/// `24hrTicker` (`<symbol>@ticker`, `!ticker@arr`), single or as a JSON array.
///
/// ```json
/// {"e":"24hrMiniTicker","E":1700000000500,"s":"ETHUSDT","c":"2000.50","o":"1950.00","h":"2010.00","l":"1940.00","v":"1000.5","q":"2001000.25"}
/// {"e":"24hrTicker","E":1700000000500,"s":"BNBBTC","p":"0.0015","P":"250.00","w":"0.0018","x":"0.0009","c":"0.0025","Q":"10","b":"0.0024","B":"10","a":"0.0026","A":"100","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}
/// ```
/// Mapping: last `c`, volume `v`, quote volume `q`, event time `E`, bid/bid size/ask/ask size
/// `b/B/a/A` (spot `24hrTicker` only; futures and mini tickers leave them empty);
/// `seed_quantity = QuoteVolume` (the seed publishes `q` as both book quantities).
/// Doc: `binance.md` §5;
/// <https://github.com/binance/binance-spot-api-docs/blob/master/web-socket-streams.md#individual-symbol-mini-ticker-stream>
fn ticker(ctx: &DecodeCtx, p: Value<'_, '_>) -> Result<Ticker, DecodeError> {
    if p.as_object().is_none() {
        return Err(bad("data[]", "expected an object"));
    }
    Ok(Ticker {
        provider: ctx.provider,
        symbol: symbol_of(req(p, "s", "s")?, "s")?,
        event_time_ms: u64_of(req(p, "E", "E")?, "E")?,
        last: decimal(req(p, "c", "c")?, "c")?,
        volume: decimal(req(p, "v", "v")?, "v")?,
        quote_volume: decimal(req(p, "q", "q")?, "q")?,
        bid: decimal_opt(p.get("b"), "b")?,
        bid_size: decimal_opt(p.get("B"), "B")?,
        ask: decimal_opt(p.get("a"), "a")?,
        ask_size: decimal_opt(p.get("A"), "A")?,
        seed_quantity: SeedQuantity::QuoteVolume,
    })
}

// ---- field helpers (no allocation on success) ----

#[inline]
/// A request id echoed by the venue: a number or a numeric string, anything else → 0.
fn id_of(v: Value<'_, '_>) -> u64 {
    v.as_u64()
        .or_else(|| v.into_string().and_then(parse_digits))
        .unwrap_or(0)
}

// ---- tape-free fast path (`exchanges::decode_fast`) ----
//
// The same frames read straight off the immutable text with `exchanges::scan`, for the hot
// shapes only: combined or raw `kline`, `24hrMiniTicker` / `24hrTicker` payloads and ticker
// arrays. Whatever it is not sure of (acks, ignored channels, any field the slow path would
// refuse, escapes, duplicate keys) answers `None` and goes to `decode` above, so every error
// and every unusual frame keeps the slow path's exact result. Nothing reaches the sink before
// the whole frame has been read and validated.

/// The fields of one payload object the fast path may need (kline and ticker alike), converted
/// as they are scanned. `e` (which event this is) and `s` (unused by a kline whose `k` has its
/// own) are kept as scanned.
#[derive(Default)]
struct FastPayload<'a> {
    e: Option<Val<'a>>,
    /// Which keys were seen (`P_*`), to give up on a repeated one.
    seen: u32,
    event_time: u64,
    s: Option<Val<'a>>,
    /// `k` when it is an object: the candle filled as its fields are scanned (`K_*` in `k_seen`).
    k: Option<Candle>,
    k_seen: u32,
    /// The ticker fields (`c v q b B a A`) filled as they are scanned.
    t: Option<Ticker>,
}

const P_E: u32 = 1;
const P_K: u32 = 4;
const P_C: u32 = 8;
const P_V: u32 = 16;
const P_Q: u32 = 32;
const P_BOOK: [u32; 4] = [64, 128, 256, 512];
const K_S: u32 = 1;
/// `i t o h l c v x`: what [`kline`] requires in `k`.
const K_REQUIRED: u32 = 0xff << 1;

impl<'a> FastPayload<'a> {
    /// Reads a payload object into `self` (filled in place: no struct is moved around).
    fn read(&mut self, sc: &mut Scanner<'a>) -> Option<()> {
        sc.object(|sc, key| self.field(sc, key))
    }

    /// Takes the value of `key` when a payload decoder reads it, skips it otherwise.
    #[inline(always)]
    fn field(&mut self, sc: &mut Scanner<'a>, key: &[u8]) -> Option<()> {
        match key {
            b"e" => set(&mut self.e, sc.value()?),
            b"E" => {
                once(&mut self.seen, P_E)?;
                self.event_time = sc.value()?.u64()?;
                Some(())
            }
            b"s" => set(&mut self.s, sc.value()?),
            b"k" => {
                once(&mut self.seen, P_K)?;
                if sc.peek()? != b'{' {
                    return sc.skip();
                }
                self.read_k(sc)
            }
            b"c" | b"v" | b"q" | b"b" | b"B" | b"a" | b"A" => {
                let t = self.t.get_or_insert(EMPTY_TICKER);
                let v = sc.value()?;
                match key {
                    b"c" => {
                        once(&mut self.seen, P_C)?;
                        t.last = v.decimal()?;
                    }
                    b"v" => {
                        once(&mut self.seen, P_V)?;
                        t.volume = v.decimal()?;
                    }
                    b"q" => {
                        once(&mut self.seen, P_Q)?;
                        t.quote_volume = v.decimal()?;
                    }
                    b"b" => {
                        once(&mut self.seen, P_BOOK[0])?;
                        t.bid = scan::decimal_opt(Some(v))?;
                    }
                    b"B" => {
                        once(&mut self.seen, P_BOOK[1])?;
                        t.bid_size = scan::decimal_opt(Some(v))?;
                    }
                    b"a" => {
                        once(&mut self.seen, P_BOOK[2])?;
                        t.ask = scan::decimal_opt(Some(v))?;
                    }
                    _ => {
                        once(&mut self.seen, P_BOOK[3])?;
                        t.ask_size = scan::decimal_opt(Some(v))?;
                    }
                }
                Some(())
            }
            _ => sc.skip(),
        }
    }

    /// The `k` object, straight into a candle.
    fn read_k(&mut self, sc: &mut Scanner<'a>) -> Option<()> {
        let k = self.k.insert(EMPTY_CANDLE);
        let seen = &mut self.k_seen;
        sc.object(|sc, key| {
            match key {
                b"s" => {
                    once(seen, K_S)?;
                    k.symbol = sc.value()?.symbol()?;
                }
                b"i" => {
                    once(seen, 2)?;
                    k.interval = Interval::new(sc.value()?.str()?).ok()?;
                }
                b"t" => {
                    once(seen, 4)?;
                    k.start_ms = sc.value()?.u64()?;
                }
                b"o" => {
                    once(seen, 8)?;
                    k.open = sc.value()?.decimal()?;
                }
                b"h" => {
                    once(seen, 16)?;
                    k.high = sc.value()?.decimal()?;
                }
                b"l" => {
                    once(seen, 32)?;
                    k.low = sc.value()?.decimal()?;
                }
                b"c" => {
                    once(seen, 64)?;
                    k.close = sc.value()?.decimal()?;
                }
                b"v" => {
                    once(seen, 128)?;
                    k.volume = sc.value()?.decimal()?;
                }
                b"x" => {
                    once(seen, 256)?;
                    k.closed = sc.value()?.bool()?;
                }
                _ => sc.skip()?,
            }
            Some(())
        })
    }

    /// [`decode_payload`]'s published events; `None` for everything else.
    #[inline]
    fn event(&self, ctx: &DecodeCtx) -> Option<Event> {
        match self.e?.str()? {
            "kline" => self.kline(ctx).map(Event::Candle),
            "24hrMiniTicker" | "24hrTicker" => self.ticker(ctx).map(Event::Ticker),
            _ => None,
        }
    }

    /// [`kline`] on the scanned fields: `k.s` else `s`, `E` and all of `k.i t o h l c v x`.
    #[inline]
    fn kline(&self, ctx: &DecodeCtx) -> Option<Candle> {
        let mut c = self.k?;
        if self.k_seen & K_REQUIRED != K_REQUIRED || self.seen & P_E == 0 {
            return None;
        }
        if self.k_seen & K_S == 0 {
            c.symbol = self.s?.symbol()?;
        }
        c.provider = ctx.provider;
        c.event_time_ms = self.event_time;
        Some(c)
    }

    /// [`ticker`] on the scanned fields: `s E c v q` required, `b B a A` optional.
    #[inline]
    fn ticker(&self, ctx: &DecodeCtx) -> Option<Ticker> {
        let required = P_E | P_C | P_V | P_Q;
        if self.seen & required != required {
            return None;
        }
        let mut t = self.t?;
        t.provider = ctx.provider;
        t.symbol = self.s?.symbol()?;
        t.event_time_ms = self.event_time;
        Some(t)
    }
}

/// Templates the scanned fields are written into (every field the scan does not set is
/// overwritten or checked before use).
const EMPTY_CANDLE: Candle = Candle::empty(
    crate::types::Provider::Binance,
    Symbol::EMPTY,
    Interval::EMPTY,
);
const EMPTY_TICKER: Ticker =
    Ticker::empty(crate::types::Provider::Binance, SeedQuantity::QuoteVolume);

/// What the root's `data` held.
#[derive(Clone, Copy)]
enum FastData {
    /// An object, read into the caller's payload.
    Payload,
    /// A ticker array, its events in `pending`.
    Array,
    Other,
}

/// [`decode_array`] when every element is a good ticker: the events go to `pending`.
fn fast_array(ctx: &DecodeCtx, sc: &mut Scanner<'_>, pending: &mut Vec<Event>) -> Option<()> {
    pending.clear();
    sc.array(|sc| {
        if sc.peek()? != b'{' {
            return None;
        }
        let mut p = FastPayload::default();
        p.read(sc)?;
        match p.e?.str()? {
            "24hrMiniTicker" | "24hrTicker" => pending.push(Event::Ticker(p.ticker(ctx)?)),
            _ => return None,
        }
        Some(())
    })
}

/// The fast path: `Some` = exactly what [`decode`] returns for `text`, its events emitted to
/// `sink`; `None` = not recognized, nothing emitted. `pending` is a reused event buffer.
pub(crate) fn decode_fast(
    ctx: &DecodeCtx,
    text: &[u8],
    pending: &mut Vec<Event>,
    sink: &mut impl EventSink,
) -> Option<Decoded> {
    let mut sc = Scanner::new(text);
    match sc.peek()? {
        b'[' => {
            fast_array(ctx, &mut sc, pending)?;
            sc.finish()?;
            Some(emit_pending(pending, 0, sink))
        }
        b'{' => {
            // The root is either an envelope (`data`, `_st`) or a raw payload; which one is
            // only known at its end, so both are read in the same pass.
            let mut root = FastPayload::default();
            let mut inner = FastPayload::default();
            let mut data = None;
            let mut st = None;
            sc.object(|sc, key| match key {
                b"data" => {
                    let kind = match sc.peek()? {
                        b'{' if data.is_none() => {
                            inner.read(sc)?;
                            FastData::Payload
                        }
                        b'[' if data.is_none() => {
                            fast_array(ctx, sc, pending)?;
                            FastData::Array
                        }
                        _ => {
                            sc.skip()?;
                            FastData::Other
                        }
                    };
                    set(&mut data, kind)
                }
                b"_st" => set(&mut st, sc.value()?),
                _ => root.field(sc, key),
            })?;
            sc.finish()?;
            let sent_ns = match st {
                Some(v) => v.u64()?,
                None => 0,
            };
            let event = if root.e.is_some() {
                root.event(ctx)?
            } else {
                match data? {
                    FastData::Payload => inner.event(ctx)?,
                    FastData::Array => return Some(emit_pending(pending, sent_ns, sink)),
                    FastData::Other => return None,
                }
            };
            sink.emit(event);
            Some(Decoded::data(1, sent_ns))
        }
        _ => None,
    }
}
