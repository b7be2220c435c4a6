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
use crate::exchanges::{DecodeCtx, Decoded, EventSink, FrameKind, Scratch};
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
