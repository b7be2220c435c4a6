//! OKX v5 public-channel decode (candles, tickers, events, text pong). Pure: imports crate::{event, types, error, exchanges}.
//!
//! One WebSocket text frame in, zero or more [`Event`]s out through an [`EventSink`]. The frame
//! is parsed in place by simd-json into a tape reused between frames (thread-local, corefeed is
//! thread-per-core) with the socket's [`Scratch::buffers`]; fields are read off the tape as
//! borrowed `&str`, so candle and ticker frames allocate nothing once warm. Every OKX value is a
//! string, times included: they are parsed digit by digit, decimals copied verbatim into
//! [`Decimal`] (validated by [`Decimal::parse`]).
//!
//! Protocol reference: `shared/exchanges/okx.md` §2 (events), §3 (pong), §4 (candles),
//! §5 (tickers); <https://www.okx.com/docs-v5/en/#overview-websocket>,
//! <https://www.okx.com/docs-v5/en/#public-data-websocket-candlesticks-channel>,
//! <https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-tickers-channel>.
//!
//! The socket's [`DecodeCtx::provider`] (okx, okxLinear, okxInverse or a paper twin) is stamped
//! on every event. A `data` array with a malformed row still emits its good rows; the first
//! row's error is then returned (the frame counts as a decode error).

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

/// The outermost object of a JSON frame, read in one pass over its keys.
///
/// ```json
/// {"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[[..]],"_st":1700000000123456789}
/// {"event":"subscribe","arg":{"channel":"tickers","instId":"BTC-USDT"},"connId":"a4d3ae55"}
/// ```
/// `_st` is the simulator's send stamp (ns), present only in simulated runs, last field.
/// Doc: `okx.md` §2; <https://www.okx.com/docs-v5/en/#overview-websocket-subscribe>
#[derive(Default)]
struct Root<'t, 'i> {
    event: Option<Value<'t, 'i>>,
    arg: Option<Value<'t, 'i>>,
    data: Option<Value<'t, 'i>>,
    code: Option<Value<'t, 'i>>,
    id: Option<Value<'t, 'i>>,
    st: Option<Value<'t, 'i>>,
}

/// Decodes one OKX public-socket frame.
///
/// `pong` → `Pong`; subscribe/unsubscribe echoes → `SubscribeAck`; `error` events →
/// `VenueError`; notices, connection counts and login replies → `Ignored`; `candle*` and
/// `tickers` pushes → `Data` with one event per row; other channels → `Ignored`.
pub fn decode(
    ctx: &DecodeCtx,
    frame: &mut [u8],
    scratch: &mut Scratch,
    sink: &mut impl EventSink,
) -> Result<Decoded, DecodeError> {
    // §3: the keepalive answer is the literal text frame `pong`, not JSON.
    if frame == b"pong" {
        return Ok(Decoded::of(FrameKind::Pong));
    }
    with_tape(frame, &mut scratch.buffers, |root| {
        decode_root(ctx, root, sink)
    })
}

fn decode_root(
    ctx: &DecodeCtx,
    root: Value<'_, '_>,
    sink: &mut impl EventSink,
) -> Result<Decoded, DecodeError> {
    let Some(obj) = root.as_object() else {
        return Err(DecodeError::Unknown);
    };
    let mut r = Root::default();
    for (key, value) in obj.iter() {
        match key {
            "event" => r.event = Some(value),
            "arg" => r.arg = Some(value),
            "data" => r.data = Some(value),
            "code" => r.code = Some(value),
            "id" => r.id = Some(value),
            "_st" => r.st = Some(value),
            _ => {}
        }
    }
    let sent_ns = match r.st {
        Some(v) => u64_of(v, "_st")?,
        None => 0,
    };
    let with = |kind| Decoded { kind, sent_ns };

    if let Some(event) = r.event {
        return Ok(with(event_frame(event, &r)?));
    }
    let arg = r.arg.ok_or(DecodeError::Unknown)?;
    if arg.as_object().is_none() {
        return Err(bad("arg", "expected an object"));
    }
    let channel = str_of(req(arg, "channel", "arg.channel")?, "arg.channel")?;
    let n = if channel.starts_with("candle") {
        let data = r.data.ok_or(DecodeError::MissingField("data"))?;
        candles(ctx, channel, arg, data, sink)?
    } else if channel == "tickers" {
        let data = r.data.ok_or(DecodeError::MissingField("data"))?;
        tickers(ctx, arg, data, sink)?
    } else {
        // books*, trades, bbo-tbt, mark-price, funding-rate, mark-price-candle*, … are not
        // published by corefeed.
        return Ok(with(FrameKind::Ignored));
    };
    Ok(Decoded::data(n, sent_ns))
}

/// Event frames.
///
/// ```json
/// {"event":"subscribe","arg":{"channel":"tickers","instId":"BTC-USDT"},"connId":"accb8e21"}
/// {"event":"unsubscribe","arg":{"channel":"tickers","instId":"BTC-USDT"},"connId":"d0b44253"}
/// {"event":"error","code":"60012","msg":"Invalid request","connId":"a4d3ae55"}
/// {"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a4d3ae55"}
/// {"event":"channel-conn-count","channel":"orders","connCount":"2","connId":"abcd1234"}
/// {"event":"login","code":"0","msg":"","connId":"a4d3ae55"}
/// ```
/// → `SubscribeAck { id }` (`id` echoed as a number or numeric string, else 0),
/// `VenueError { code }` (code is a string on the wire), `Ignored`.
/// Doc: `okx.md` §2, §6.1; <https://www.okx.com/docs-v5/en/#overview-websocket-subscribe>
fn event_frame(event: Value<'_, '_>, r: &Root<'_, '_>) -> Result<FrameKind, DecodeError> {
    match str_of(event, "event")? {
        "subscribe" | "unsubscribe" => Ok(FrameKind::SubscribeAck {
            id: r.id.map(id_of).unwrap_or(0),
        }),
        "error" => {
            let code = r.code.ok_or(DecodeError::MissingField("code"))?;
            let code = code
                .as_i64()
                .or_else(|| code.into_string().and_then(parse_i64))
                .ok_or(bad("code", "expected an integer or a string of digits"))?;
            Ok(FrameKind::VenueError { code })
        }
        "notice" | "channel-conn-count" | "channel-conn-count-error" | "login" => {
            Ok(FrameKind::Ignored)
        }
        _ => Err(DecodeError::Unknown),
    }
}

/// Candlestick pushes on `candle<bar>` (business socket).
///
/// ```json
/// {"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1700000040000","37000.1","37020","36990.5","37010","12.345","456789.01","456789.01","0"]]}
/// ```
/// Row `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`, all strings; the older 7-element
/// row `[ts, o, h, l, c, vol, volCcy]` is accepted with `closed = false`. Mapping: interval =
/// `arg.channel` verbatim (`candle1m`, `candle1Dutc`), symbol `arg.instId`, start `ts`,
/// volume `vol`, closed `confirm == "1"`, event time 0 (OKX candles carry none).
/// Doc: `okx.md` §4; <https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-candlesticks-channel>
fn candles(
    ctx: &DecodeCtx,
    channel: &str,
    arg: Value<'_, '_>,
    data: Value<'_, '_>,
    sink: &mut impl EventSink,
) -> Result<u32, DecodeError> {
    let rows = data
        .as_array()
        .ok_or(bad("data", "expected an array of rows"))?;
    let interval = Interval::new(channel)?;
    let symbol = symbol_of(req(arg, "instId", "arg.instId")?, "arg.instId")?;
    let mut n = 0u32;
    let mut first_err = None;
    for row in rows.iter() {
        match candle_row(ctx, symbol, interval, row) {
            Ok(c) => {
                sink.emit(Event::Candle(c));
                n += 1;
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    first_err.map_or(Ok(n), Err)
}

fn candle_row(
    ctx: &DecodeCtx,
    symbol: Symbol,
    interval: Interval,
    row: Value<'_, '_>,
) -> Result<Candle, DecodeError> {
    let row = row.as_array().ok_or(bad("data[]", "expected an array"))?;
    let at = |i: usize, field: &'static str| row.get(i).ok_or(DecodeError::MissingField(field));
    let closed = match row.get(8) {
        Some(confirm) => str_of(confirm, "data[].confirm")? == "1",
        None => false,
    };
    Ok(Candle {
        provider: ctx.provider,
        symbol,
        interval,
        start_ms: u64_of(at(0, "data[].ts")?, "data[].ts")?,
        open: decimal(at(1, "data[].o")?, "data[].o")?,
        high: decimal(at(2, "data[].h")?, "data[].h")?,
        low: decimal(at(3, "data[].l")?, "data[].l")?,
        close: decimal(at(4, "data[].c")?, "data[].c")?,
        volume: decimal(at(5, "data[].vol")?, "data[].vol")?,
        closed,
        event_time_ms: 0,
    })
}

/// Ticker pushes on `tickers` (public socket).
///
/// ```json
/// {"arg":{"channel":"tickers","instId":"ETH-USDT-SWAP"},"data":[{"instType":"SWAP","instId":"ETH-USDT-SWAP","last":"2000.5","lastSz":"3","askPx":"2000.6","askSz":"120","bidPx":"2000.4","bidSz":"85","open24h":"1950","high24h":"2010","low24h":"1940","sodUtc0":"1960","sodUtc8":"1990","volCcy24h":"15000.5","vol24h":"150005","ts":"1700000000500"}]}
/// ```
/// Mapping: symbol `instId`, last `last`, volume `vol24h`, quote volume `volCcy24h`, bid `bidPx`,
/// bid size `bidSz`, ask `askPx`, ask size `askSz` (`""` → empty), event time `ts` (string);
/// `seed_quantity = BookSizes` (the seed publishes `askSz`/`bidSz`).
/// Doc: `okx.md` §5; <https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-tickers-channel>
fn tickers(
    ctx: &DecodeCtx,
    arg: Value<'_, '_>,
    data: Value<'_, '_>,
    sink: &mut impl EventSink,
) -> Result<u32, DecodeError> {
    let items = data
        .as_array()
        .ok_or(bad("data", "expected an array of objects"))?;
    let mut n = 0u32;
    let mut first_err = None;
    for item in items.iter() {
        match ticker(ctx, arg, item) {
            Ok(t) => {
                sink.emit(Event::Ticker(t));
                n += 1;
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    first_err.map_or(Ok(n), Err)
}

fn ticker(ctx: &DecodeCtx, arg: Value<'_, '_>, t: Value<'_, '_>) -> Result<Ticker, DecodeError> {
    if t.as_object().is_none() {
        return Err(bad("data[]", "expected an object"));
    }
    let symbol = match t.get("instId") {
        Some(s) => symbol_of(s, "data[].instId")?,
        None => symbol_of(req(arg, "instId", "data[].instId")?, "arg.instId")?,
    };
    Ok(Ticker {
        provider: ctx.provider,
        symbol,
        event_time_ms: u64_of(req(t, "ts", "data[].ts")?, "data[].ts")?,
        last: decimal(req(t, "last", "data[].last")?, "data[].last")?,
        volume: decimal(req(t, "vol24h", "data[].vol24h")?, "data[].vol24h")?,
        quote_volume: decimal(req(t, "volCcy24h", "data[].volCcy24h")?, "data[].volCcy24h")?,
        bid: decimal_opt(t.get("bidPx"), "data[].bidPx")?,
        bid_size: decimal_opt(t.get("bidSz"), "data[].bidSz")?,
        ask: decimal_opt(t.get("askPx"), "data[].askPx")?,
        ask_size: decimal_opt(t.get("askSz"), "data[].askSz")?,
        seed_quantity: SeedQuantity::BookSizes,
    })
}

// ---- field helpers (no allocation on success) ----

#[inline]
/// `-?[0-9]+` that fits an i64 (OKX error codes are strings).
fn parse_i64(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let n = i64::try_from(parse_digits(digits)?).ok()?;
    Some(if neg { -n } else { n })
}

/// A request id echoed by the venue: a number or a numeric string, anything else → 0.
fn id_of(v: Value<'_, '_>) -> u64 {
    v.as_u64()
        .or_else(|| v.into_string().and_then(parse_digits))
        .unwrap_or(0)
}

// ---- tape-free fast path (`exchanges::decode_fast`) ----
//
// The hot pushes read straight off the immutable text with `exchanges::scan`: `candle*` and
// `tickers` data frames (and the text `pong`). Event frames, other channels and whatever the
// slow path would refuse (bad fields, escapes, duplicate keys, …) answer `None` and go to
// `decode` above, so errors and unusual frames keep its exact result. Rows are collected in
// `pending` and reach the sink only once the whole frame has been read and validated.

/// `arg`'s fields.
#[derive(Default)]
struct FastArg<'a> {
    channel: Option<Val<'a>>,
    inst_id: Option<Val<'a>>,
}

impl<'a> FastArg<'a> {
    fn read(sc: &mut Scanner<'a>) -> Option<Self> {
        if sc.peek()? != b'{' {
            return None;
        }
        let mut arg = FastArg::default();
        sc.object(|sc, key| {
            let slot = match key {
                b"channel" => &mut arg.channel,
                b"instId" => &mut arg.inst_id,
                _ => return sc.skip(),
            };
            set(slot, sc.value()?)
        })?;
        Some(arg)
    }
}

/// The `data` value of a `candle*` or `tickers` push ([`candles`] / [`tickers`]), its events
/// appended to `pending`; any other channel is left to the slow path.
fn fast_data(
    ctx: &DecodeCtx,
    arg: &FastArg<'_>,
    sc: &mut Scanner<'_>,
    pending: &mut Vec<Event>,
) -> Option<()> {
    let channel = arg.channel?.str()?;
    if channel.starts_with("candle") {
        let interval = Interval::new(channel).ok()?;
        let symbol = arg.inst_id?.symbol()?;
        sc.array(|sc| {
            let candle = fast_candle_row(ctx, symbol, interval, sc)?;
            pending.push(Event::Candle(candle));
            Some(())
        })
    } else if channel == "tickers" {
        sc.array(|sc| {
            let ticker = fast_ticker(ctx, arg, sc)?;
            pending.push(Event::Ticker(ticker));
            Some(())
        })
    } else {
        None
    }
}

/// [`candle_row`]: `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm, …]`. Every cell
/// [`candle_row`] reads is converted as it is scanned, straight into the candle.
fn fast_candle_row(
    ctx: &DecodeCtx,
    symbol: Symbol,
    interval: Interval,
    sc: &mut Scanner<'_>,
) -> Option<Candle> {
    if sc.peek()? != b'[' {
        return None;
    }
    let mut candle = Candle::empty(ctx.provider, symbol, interval);
    let mut cells = 0usize;
    sc.array(|sc| {
        match cells {
            0 => candle.start_ms = sc.value()?.u64()?,
            1 => candle.open = sc.value()?.decimal()?,
            2 => candle.high = sc.value()?.decimal()?,
            3 => candle.low = sc.value()?.decimal()?,
            4 => candle.close = sc.value()?.decimal()?,
            5 => candle.volume = sc.value()?.decimal()?,
            8 => candle.closed = sc.value()?.str()? == "1",
            _ => sc.skip()?,
        }
        cells += 1;
        Some(())
    })?;
    // `ts` to `vol` are required; `confirm` is optional (older 7-element rows).
    (cells >= 6).then_some(candle)
}

/// [`ticker`]: one element of a `tickers` push, its fields converted as they are scanned.
fn fast_ticker(ctx: &DecodeCtx, arg: &FastArg<'_>, sc: &mut Scanner<'_>) -> Option<Ticker> {
    if sc.peek()? != b'{' {
        return None;
    }
    const INST_ID: u32 = 1;
    const REQUIRED: u32 = 2 | 4 | 8 | 16;
    let mut t = Ticker::empty(ctx.provider, SeedQuantity::BookSizes);
    let mut seen = 0u32;
    sc.object(|sc, key| {
        match key {
            b"instId" => {
                once(&mut seen, INST_ID)?;
                t.symbol = sc.value()?.symbol()?;
            }
            b"ts" => {
                once(&mut seen, 2)?;
                t.event_time_ms = sc.value()?.u64()?;
            }
            b"last" => {
                once(&mut seen, 4)?;
                t.last = sc.value()?.decimal()?;
            }
            b"vol24h" => {
                once(&mut seen, 8)?;
                t.volume = sc.value()?.decimal()?;
            }
            b"volCcy24h" => {
                once(&mut seen, 16)?;
                t.quote_volume = sc.value()?.decimal()?;
            }
            b"bidPx" => {
                once(&mut seen, 32)?;
                t.bid = scan::decimal_opt(Some(sc.value()?))?;
            }
            b"bidSz" => {
                once(&mut seen, 64)?;
                t.bid_size = scan::decimal_opt(Some(sc.value()?))?;
            }
            b"askPx" => {
                once(&mut seen, 128)?;
                t.ask = scan::decimal_opt(Some(sc.value()?))?;
            }
            b"askSz" => {
                once(&mut seen, 256)?;
                t.ask_size = scan::decimal_opt(Some(sc.value()?))?;
            }
            _ => sc.skip()?,
        }
        Some(())
    })?;
    if seen & REQUIRED != REQUIRED {
        return None;
    }
    if seen & INST_ID == 0 {
        t.symbol = arg.inst_id?.symbol()?;
    }
    Some(t)
}

/// The fast path: `Some` = exactly what [`decode`] returns for `text`, its events emitted to
/// `sink`; `None` = not recognized, nothing emitted. `pending` is a reused event buffer.
pub(crate) fn decode_fast(
    ctx: &DecodeCtx,
    text: &[u8],
    pending: &mut Vec<Event>,
    sink: &mut impl EventSink,
) -> Option<Decoded> {
    if text == b"pong" {
        return Some(Decoded::of(FrameKind::Pong));
    }
    pending.clear();
    let mut sc = Scanner::new(text);
    let mut arg: Option<FastArg<'_>> = None;
    // `data` is read as soon as `arg` is known; one that comes first is skipped and its start
    // kept, to be read once the whole root has been walked.
    let mut data_read = false;
    let mut data_at = None;
    let mut st = None;
    sc.object(|sc, key| match key {
        // Acks, errors, notices: not hot, the slow path answers them.
        b"event" => None,
        b"arg" => set(&mut arg, FastArg::read(sc)?),
        b"data" => {
            if data_read || data_at.is_some() {
                return None;
            }
            match &arg {
                Some(a) => {
                    fast_data(ctx, a, sc, pending)?;
                    data_read = true;
                }
                None => {
                    data_at = Some(sc.value_start()?);
                    sc.skip()?;
                }
            }
            Some(())
        }
        b"_st" => set(&mut st, sc.value()?),
        _ => sc.skip(),
    })?;
    sc.finish()?;
    let sent_ns = match st {
        Some(v) => v.u64()?,
        None => 0,
    };
    let arg = arg?;
    match data_at {
        Some(at) => fast_data(ctx, &arg, &mut sc.fork(at), pending)?,
        None if data_read => {}
        None => return None,
    }
    Some(emit_pending(pending, sent_ns, sink))
}
