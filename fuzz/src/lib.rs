//! Shared checks of the cargo-fuzz targets (`fuzz_targets/*.rs`, see `fuzz/README.md`).
//!
//! Every target asserts "no panic" plus invariants that are cheap and certain:
//! - price decoders: `Data { events: n }` means exactly `n` events reached the sink (any other
//!   `Ok` kind: none), every event carries the socket's provider, a non-empty symbol, plain
//!   decimals (`-?digits[.digits]`, so they can be published as JSON numbers), and its Redis
//!   and RabbitMQ encodings (`corefeed::publisher::encode`) are valid JSON; decoding the same
//!   bytes again with a fresh `Scratch` gives the same result (no state leaks between frames);
//! - fast path (`decode_fast_diff`): `decode_text` gives exactly `decode`'s result and events on
//!   any input, and `decode_fast` either gives them too or gives up without emitting;
//! - user normalizers: on `Ok`, the `FrameInfo` count matches the messages appended, every payload is
//!   valid JSON (an object whose `uniqueMessageId`, when present, is the message's own), and so
//!   is its RabbitMQ body.

use corefeed::publisher::encode::{amqp_event, amqp_user, redis_event, AmqpMessage, RedisMessage};
use corefeed_shards::event::{Event, RoomTag};
use corefeed_shards::exchanges::user::{FrameInfo, UserMessage};
use corefeed_shards::exchanges::{
    decode, decode_fast, decode_text, DecodeCtx, Decoded, FrameKind, Scratch,
};
use corefeed_shards::types::{is_plain_decimal, Decimal, Provider};
use std::cell::RefCell;

/// A fixed clock: the targets must be deterministic.
pub const NOW_MS: u64 = 1_700_000_000_000;
const RECV_NS: u64 = NOW_MS * 1_000_000 + 123_456;

pub const BINANCE: [Provider; 6] = [
    Provider::Binance,
    Provider::BinanceUsdm,
    Provider::BinanceCoinm,
    Provider::PaperBinance,
    Provider::PaperBinanceUsdm,
    Provider::PaperBinanceCoinm,
];

pub const OKX: [Provider; 6] = [
    Provider::Okx,
    Provider::OkxLinear,
    Provider::OkxInverse,
    Provider::PaperOkx,
    Provider::PaperOkxLinear,
    Provider::PaperOkxInverse,
];

/// The first input byte picks the provider (`'0'`, `'1'`, `'2'` = the three real ones, since
/// `'0'` is 48 = 0 mod 6), the rest is the frame.
pub fn split_provider<'a>(providers: &[Provider], data: &'a [u8]) -> Option<(Provider, &'a [u8])> {
    let (&sel, rest) = data.split_first()?;
    Some((providers[sel as usize % providers.len()], rest))
}

thread_local! {
    /// The socket task's scratch, reused from input to input as in production.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Target body of `decode_binance` / `decode_okx`.
pub fn fuzz_decode(providers: &[Provider], data: &[u8]) {
    let Some((provider, frame)) = split_provider(providers, data) else {
        return;
    };
    let ctx = DecodeCtx { provider };
    let mut buf = frame.to_vec();
    let mut events: Vec<Event> = Vec::new();
    let got = SCRATCH.with(|s| decode(&ctx, &mut buf, &mut s.borrow_mut(), &mut events));
    check_decoded(&ctx, &got, &events);

    let mut buf2 = frame.to_vec();
    let mut events2: Vec<Event> = Vec::new();
    let again = decode(&ctx, &mut buf2, &mut Scratch::default(), &mut events2);
    assert_eq!(got, again, "decoding depends on the scratch state");
    assert_eq!(events, events2, "decoding depends on the scratch state");
}

/// Both venues' price providers: `'0'` (48) = binance, `'6'` (54) = okx (48 and 54 mod 12).
pub const ALL_PRICE: [Provider; 12] = [
    BINANCE[0], BINANCE[1], BINANCE[2], BINANCE[3], BINANCE[4], BINANCE[5], OKX[0], OKX[1], OKX[2],
    OKX[3], OKX[4], OKX[5],
];

/// Target body of `decode_fast_diff`.
pub fn fuzz_decode_fast_diff(data: &[u8]) {
    let Some((provider, frame)) = split_provider(&ALL_PRICE, data) else {
        return;
    };
    let ctx = DecodeCtx { provider };
    let mut slow_events: Vec<Event> = Vec::new();
    let slow = decode(
        &ctx,
        &mut frame.to_vec(),
        &mut Scratch::default(),
        &mut slow_events,
    );

    let mut fast_events: Vec<Event> = Vec::new();
    let fast = SCRATCH.with(|s| decode_fast(&ctx, frame, &mut s.borrow_mut(), &mut fast_events));
    match fast {
        Some(d) => {
            assert_eq!(Ok(d), slow, "fast path result differs");
            assert_eq!(fast_events, slow_events, "fast path events differ");
        }
        None => assert!(fast_events.is_empty(), "fast path emitted, then gave up"),
    }

    let mut events: Vec<Event> = Vec::new();
    let mut copy = Vec::new();
    let got =
        SCRATCH.with(|s| decode_text(&ctx, frame, &mut copy, &mut s.borrow_mut(), &mut events));
    assert_eq!(got, slow, "decode_text result differs");
    assert_eq!(events, slow_events, "decode_text events differ");
}

fn check_decoded(
    ctx: &DecodeCtx,
    got: &Result<Decoded, corefeed_shards::error::DecodeError>,
    events: &[Event],
) {
    match got {
        Ok(Decoded {
            kind: FrameKind::Data { events: n },
            ..
        }) => assert_eq!(*n as usize, events.len(), "Data count != events emitted"),
        Ok(d) => assert!(events.is_empty(), "{d:?} emitted {} events", events.len()),
        // A half-bad array emits its good elements and returns the first error.
        Err(_) => {}
    }
    for ev in events {
        check_event(ctx, ev);
    }
}

fn plain(d: &Decimal, what: &str) {
    assert!(
        is_plain_decimal(d.as_str()),
        "{what} = {:?} is not a plain decimal",
        d.as_str()
    );
}

fn plain_or_empty(d: &Decimal, what: &str) {
    if !d.is_empty() {
        plain(d, what);
    }
}

fn check_event(ctx: &DecodeCtx, ev: &Event) {
    assert_eq!(
        ev.provider(),
        ctx.provider,
        "event stamped with another provider"
    );
    match ev {
        Event::Candle(c) => {
            assert!(!c.symbol.is_empty(), "candle without a symbol");
            plain(&c.open, "open");
            plain(&c.high, "high");
            plain(&c.low, "low");
            plain(&c.close, "close");
            plain(&c.volume, "volume");
        }
        Event::Ticker(t) => {
            assert!(!t.symbol.is_empty(), "ticker without a symbol");
            plain(&t.last, "last");
            plain(&t.volume, "volume");
            plain(&t.quote_volume, "quote_volume");
            plain_or_empty(&t.bid, "bid");
            plain_or_empty(&t.bid_size, "bid_size");
            plain_or_empty(&t.ask, "ask");
            plain_or_empty(&t.ask_size, "ask_size");
        }
    }
    let mut redis = RedisMessage::default();
    if redis_event(ev, NOW_MS, &mut redis) {
        assert_json_value(&redis.payload, "Redis payload");
    }
    let mut amqp = AmqpMessage::default();
    amqp_event(ev, RECV_NS, &mut amqp);
    assert_json_value(&amqp.body, "AMQP body");
}

/// Strict: parses into a `serde_json::Value` (rejects lone UTF-16 surrogate escapes too).
pub fn assert_json_value(text: &[u8], what: &str) -> serde_json::Value {
    match serde_json::from_slice::<serde_json::Value>(text) {
        Ok(v) => v,
        Err(e) => panic!(
            "{what} is not valid JSON ({e}): {}",
            String::from_utf8_lossy(text)
        ),
    }
}

/// RFC 8259 syntax only (what JavaScript's `JSON.parse` accepts: lone surrogate escapes pass).
pub fn assert_json_syntax(text: &[u8], what: &str) {
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(text) {
        panic!(
            "{what} is not valid JSON ({e}): {}",
            String::from_utf8_lossy(text)
        );
    }
}

type Normalize = fn(
    Provider,
    &str,
    u64,
    &mut Vec<UserMessage>,
) -> Result<FrameInfo, corefeed_shards::error::DecodeError>;

/// Target body of `user_binance` / `user_okx`.
pub fn fuzz_user(providers: &[Provider], normalize: Normalize, data: &[u8]) {
    let Some((provider, frame)) = split_provider(providers, data) else {
        return;
    };
    let Ok(frame) = std::str::from_utf8(frame) else {
        return;
    };
    let mut out = Vec::new();
    let got = normalize(provider, frame, NOW_MS, &mut out);
    match &got {
        Ok(FrameInfo::Data { messages }) | Ok(FrameInfo::ListenKeyExpired { messages }) => {
            assert_eq!(*messages, out.len(), "{got:?} but {} messages", out.len())
        }
        Ok(other) => assert!(out.is_empty(), "{other:?} appended {} messages", out.len()),
        // The session drops whatever an erroring frame appended (the frame is counted).
        Err(_) => return,
    }
    // Strings with lone surrogate escapes (`"\ud800"`) are legal JSON text that serde_json will
    // not turn into a Rust String; payloads copy such strings as received (as JSON.stringify
    // would print them), so the strict check applies when the frame itself passes it.
    let strict = serde_json::from_str::<serde_json::Value>(frame).is_ok();
    let room = RoomTag {
        room_id: "room\"1".into(),
        user_id: "user\\1".into(),
        provider,
    };
    for m in &out {
        assert_json_syntax(m.json.as_bytes(), "user payload");
        let mut amqp = AmqpMessage::default();
        amqp_user(&room, m, RECV_NS, &mut amqp);
        assert_json_syntax(&amqp.body, "user AMQP body");
        if strict {
            let v = assert_json_value(m.json.as_bytes(), "user payload");
            let obj = v
                .as_object()
                .unwrap_or_else(|| panic!("user payload is not an object: {}", m.json));
            if let Some(id) = obj.get("uniqueMessageId") {
                assert_eq!(
                    id.as_str(),
                    Some(m.unique_message_id.as_str()),
                    "uniqueMessageId in the payload differs from the message's"
                );
            }
            assert_json_value(&amqp.body, "user AMQP body");
        }
    }
}
