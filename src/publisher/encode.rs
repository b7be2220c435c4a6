//! Pure encoders: events → Redis messages (the seed's compatible contract, `contract.md` §3,
//! `seed-contract.md` §5.5–§5.6) and RabbitMQ messages (`contract.md` §4).
//!
//! Every encoder clears and writes into caller-owned buffers, so that a publisher reusing its
//! buffers allocates nothing per event. Decimal text is copied as the venue sent it (candles,
//! AMQP bodies) or rewritten digit by digit the way JavaScript prints the number (Redis
//! tickers, [`write_js_number`]); nothing goes through a float.

use corefeed_shards::event::{Candle, Event, EventKind, RoomTag, SeedQuantity, Ticker};
use corefeed_shards::exchanges::user::{UserKind, UserMessage};
use corefeed_shards::types::{write_js_number, Decimal, Exchange, Provider};

/// One Redis `PUBLISH`: channel and payload text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RedisMessage {
    pub channel: Vec<u8>,
    pub payload: Vec<u8>,
}

impl RedisMessage {
    pub fn clear(&mut self) {
        self.channel.clear();
        self.payload.clear();
    }
}

/// One RabbitMQ publish to the events exchange (`contract.md` §4), before it is handed to the
/// client: routing key, body and the values of the message properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpMessage {
    pub kind: EventKind,
    pub routing_key: String,
    pub body: Vec<u8>,
    /// `message_id` property: the event's `uniqueMessageId`.
    pub message_id: String,
    /// Header `exchange_time_ms`: the venue's event time (0 when the venue gives none).
    pub exchange_time_ms: u64,
    /// Header `received_us`: when corefeed read the frame, µs since the epoch.
    pub received_us: u64,
    /// `timestamp` property, seconds since the epoch (corefeed receive time).
    pub timestamp_s: u64,
}

impl Default for AmqpMessage {
    fn default() -> Self {
        AmqpMessage {
            kind: EventKind::Status,
            routing_key: String::new(),
            body: Vec::new(),
            message_id: String::new(),
            exchange_time_ms: 0,
            received_us: 0,
            timestamp_s: 0,
        }
    }
}

/// AMQP `delivery_mode`: 2 (persistent) for the user kinds, 1 for price and status kinds.
pub fn delivery_mode(kind: EventKind) -> u8 {
    if is_user_kind(kind) {
        2
    } else {
        1
    }
}

/// Order, balance and position events belong to a user; they are never dropped by an overflow.
pub fn is_user_kind(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Order | EventKind::Balance | EventKind::Position
    )
}

/// Whether the seed published only closed candles for this provider (Binance, Bybit and OKX
/// families, paper variants included: they stream prices from the real venue).
pub fn candle_closed_only(provider: Provider) -> bool {
    matches!(
        provider.real().exchange(),
        Exchange::Binance | Exchange::Bybit | Exchange::Okx
    )
}

// ---------------------------------------------------------------------------------------------
// Small writers.

/// Writes `s` as a JSON string literal (quotes included), escaping what JSON requires.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    push_json_escaped(out, s);
    out.push(b'"');
}

/// Writes the JSON-escaped content of `s` (no quotes).
pub fn push_json_escaped(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[inline]
fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A decimal as a JSON string, or `null` when the venue gave none (empty text).
fn push_opt_decimal(out: &mut Vec<u8>, d: &Decimal) {
    if d.is_empty() {
        out.extend_from_slice(b"null");
    } else {
        push_json_str(out, d.as_str());
    }
}

/// A routing-key word: the name with every `.` written `_` (`.` separates topic words).
pub fn push_routing_word(out: &mut String, s: &str) {
    for ch in s.chars() {
        out.push(if ch == '.' { '_' } else { ch });
    }
}

/// `<kind>.<provider>.<key words…>` into `out` (cleared first).
pub fn routing_key(out: &mut String, kind: EventKind, provider: Provider, key: &[&str]) {
    out.clear();
    out.push_str(kind.as_str());
    out.push('.');
    out.push_str(provider.as_str());
    for k in key {
        out.push('.');
        push_routing_word(out, k);
    }
}

// ---------------------------------------------------------------------------------------------
// Redis (compatible contract).

/// The seed's candle `uniqueMessageId`: `<symbol><start><o><h><l><c><v><interval>@<provider>`.
pub fn candle_unique_id(c: &Candle, out: &mut Vec<u8>) {
    out.extend_from_slice(c.symbol.as_str().as_bytes());
    push_u64(out, c.start_ms);
    for d in [&c.open, &c.high, &c.low, &c.close, &c.volume] {
        out.extend_from_slice(d.as_str().as_bytes());
    }
    out.extend_from_slice(c.interval.as_str().as_bytes());
    out.push(b'@');
    out.extend_from_slice(c.provider.as_str().as_bytes());
}

/// Redis candle: channel `<symbol>@<provider>@<interval>Candle`, payload
/// `{"start","open","high","low","close","volume","uniqueMessageId"}` (OHLCV as strings).
/// Returns `false` (and writes nothing) for an open candle of a closed-only provider.
pub fn redis_candle(c: &Candle, out: &mut RedisMessage) -> bool {
    out.clear();
    if !c.closed && candle_closed_only(c.provider) {
        return false;
    }
    let ch = &mut out.channel;
    ch.extend_from_slice(c.symbol.as_str().as_bytes());
    ch.push(b'@');
    ch.extend_from_slice(c.provider.as_str().as_bytes());
    ch.push(b'@');
    ch.extend_from_slice(c.interval.as_str().as_bytes());
    ch.extend_from_slice(b"Candle");

    let p = &mut out.payload;
    p.extend_from_slice(b"{\"start\":");
    push_u64(p, c.start_ms);
    for (name, d) in [
        (&b",\"open\":"[..], &c.open),
        (b",\"high\":", &c.high),
        (b",\"low\":", &c.low),
        (b",\"close\":", &c.close),
        (b",\"volume\":", &c.volume),
    ] {
        p.extend_from_slice(name);
        push_json_str(p, d.as_str());
    }
    p.extend_from_slice(b",\"uniqueMessageId\":\"");
    let at = p.len();
    candle_unique_id(c, p);
    escape_in_place_tail(p, at);
    p.extend_from_slice(b"\"}");
    true
}

/// The two seed quantities (`bestAskQnt`, `bestBidQnt`) of a ticker.
///
/// Binance (`QuoteVolume`): the 24 h quote volume in both. OKX (`BookSizes`): `askSz`/`bidSz`.
/// A size the venue left empty is written `0`: the seed converted the venue strings with
/// JavaScript's numeric conversion, where `Number("")` is `0` (a `null`/`NaN` would break the
/// consumers' arithmetic); [`write_js_number`] prints empty text as `0`.
fn seed_quantities(t: &Ticker) -> (&Decimal, &Decimal) {
    match t.seed_quantity {
        SeedQuantity::QuoteVolume => (&t.quote_volume, &t.quote_volume),
        SeedQuantity::BookSizes => (&t.ask_size, &t.bid_size),
    }
}

/// The seed's ticker `uniqueMessageId`:
/// `<symbol>@<time>@<provider><price><volume><bestAsk><bestBid><bestAskQnt><bestBidQnt>`,
/// the numbers as JavaScript stringifies them.
pub fn ticker_unique_id(t: &Ticker, out: &mut Vec<u8>) {
    let (ask_q, bid_q) = seed_quantities(t);
    out.extend_from_slice(t.symbol.as_str().as_bytes());
    out.push(b'@');
    push_u64(out, t.event_time_ms);
    out.push(b'@');
    out.extend_from_slice(t.provider.as_str().as_bytes());
    for d in [&t.last, &t.volume, &t.last, &t.last, ask_q, bid_q] {
        write_js_number(d.as_str(), out);
    }
}

/// Redis ticker: channel `trade@<symbol>@<provider>`, payload
/// `{"symbol","time","price","volume","bestAsk","bestBid","bestAskQnt","bestBidQnt",
/// "uniqueMessageId","eventTime","exchange"}` with JS numbers. Seed quirk kept:
/// `bestAsk == bestBid == price`.
pub fn redis_ticker(t: &Ticker, now_ms: u64, out: &mut RedisMessage) {
    out.clear();
    let ch = &mut out.channel;
    ch.extend_from_slice(b"trade@");
    ch.extend_from_slice(t.symbol.as_str().as_bytes());
    ch.push(b'@');
    ch.extend_from_slice(t.provider.as_str().as_bytes());

    let (ask_q, bid_q) = seed_quantities(t);
    let p = &mut out.payload;
    p.extend_from_slice(b"{\"symbol\":");
    push_json_str(p, t.symbol.as_str());
    p.extend_from_slice(b",\"time\":");
    push_u64(p, t.event_time_ms);
    for (name, d) in [
        (&b",\"price\":"[..], &t.last),
        (b",\"volume\":", &t.volume),
        (b",\"bestAsk\":", &t.last),
        (b",\"bestBid\":", &t.last),
        (b",\"bestAskQnt\":", ask_q),
        (b",\"bestBidQnt\":", bid_q),
    ] {
        p.extend_from_slice(name);
        write_js_number(d.as_str(), p);
    }
    p.extend_from_slice(b",\"uniqueMessageId\":\"");
    let at = p.len();
    ticker_unique_id(t, p);
    escape_in_place_tail(p, at);
    p.extend_from_slice(b"\",\"eventTime\":");
    push_u64(p, now_ms);
    p.extend_from_slice(b",\"exchange\":");
    push_json_str(p, t.provider.as_str());
    p.push(b'}');
}

/// The Redis message of any event; `false` when the event publishes nothing on Redis.
pub fn redis_event(ev: &Event, now_ms: u64, out: &mut RedisMessage) -> bool {
    match ev {
        Event::Candle(c) => redis_candle(c, out),
        Event::Ticker(t) => {
            redis_ticker(t, now_ms, out);
            true
        }
    }
}

/// JSON-escapes `buf[at..]` in place. Symbols and intervals are venue text and practically never
/// need escaping, so the common case is a scan that changes nothing and allocates nothing.
fn escape_in_place_tail(buf: &mut Vec<u8>, at: usize) {
    if !buf[at..]
        .iter()
        .any(|&b| b == b'"' || b == b'\\' || b < 0x20)
    {
        return;
    }
    let tail = buf.split_off(at);
    // Built only from &str pieces, so it is UTF-8.
    push_json_escaped(buf, std::str::from_utf8(&tail).unwrap_or_default());
}

// ---------------------------------------------------------------------------------------------
// RabbitMQ events (contract §4).

fn amqp_common(out: &mut AmqpMessage, kind: EventKind, exchange_time_ms: u64, recv_ns: u64) -> u64 {
    out.kind = kind;
    out.body.clear();
    out.message_id.clear();
    out.exchange_time_ms = exchange_time_ms;
    out.received_us = recv_ns / 1_000;
    out.timestamp_s = recv_ns / 1_000_000_000;
    recv_ns / 1_000_000
}

fn set_message_id(out: &mut AmqpMessage, scratch_from: impl FnOnce(&mut Vec<u8>)) {
    // Reuse the body buffer's tail as scratch: write the id after the body, copy, truncate.
    let at = out.body.len();
    scratch_from(&mut out.body);
    out.message_id
        .push_str(std::str::from_utf8(&out.body[at..]).unwrap_or_default());
    out.body.truncate(at);
}

/// Candle: routing key `candle.<provider>.<symbol>.<interval>`; body
/// `{"provider","symbol","interval","timestamp","data":{"start","open","high","low","close",
/// "volume","closed","eventTime"}}`. Every update is published (with `closed`).
pub fn amqp_candle(c: &Candle, recv_ns: u64, out: &mut AmqpMessage) {
    let recv_ms = amqp_common(out, EventKind::Candle, c.event_time_ms, recv_ns);
    routing_key(
        &mut out.routing_key,
        EventKind::Candle,
        c.provider,
        &[c.symbol.as_str(), c.interval.as_str()],
    );
    set_message_id(out, |b| candle_unique_id(c, b));
    let b = &mut out.body;
    b.extend_from_slice(b"{\"provider\":");
    push_json_str(b, c.provider.as_str());
    b.extend_from_slice(b",\"symbol\":");
    push_json_str(b, c.symbol.as_str());
    b.extend_from_slice(b",\"interval\":");
    push_json_str(b, c.interval.as_str());
    b.extend_from_slice(b",\"timestamp\":");
    push_u64(b, recv_ms);
    b.extend_from_slice(b",\"data\":{\"start\":");
    push_u64(b, c.start_ms);
    for (name, d) in [
        (&b",\"open\":"[..], &c.open),
        (b",\"high\":", &c.high),
        (b",\"low\":", &c.low),
        (b",\"close\":", &c.close),
        (b",\"volume\":", &c.volume),
    ] {
        b.extend_from_slice(name);
        push_json_str(b, d.as_str());
    }
    b.extend_from_slice(if c.closed {
        b",\"closed\":true"
    } else {
        b",\"closed\":false"
    });
    b.extend_from_slice(b",\"eventTime\":");
    if c.event_time_ms == 0 {
        b.extend_from_slice(b"null");
    } else {
        push_u64(b, c.event_time_ms);
    }
    b.extend_from_slice(b"}}");
}

/// Ticker: routing key `ticker.<provider>.<symbol>`; body `{"provider","symbol","timestamp",
/// "data":{"last","volume","quoteVolume","bid","bidSize","ask","askSize","eventTime"}}` with the
/// venue's exact decimal strings (`null` where the venue gave none) — the real book, not the
/// seed's `bestAsk == price` quirk.
pub fn amqp_ticker(t: &Ticker, recv_ns: u64, out: &mut AmqpMessage) {
    let recv_ms = amqp_common(out, EventKind::Ticker, t.event_time_ms, recv_ns);
    routing_key(
        &mut out.routing_key,
        EventKind::Ticker,
        t.provider,
        &[t.symbol.as_str()],
    );
    set_message_id(out, |b| ticker_unique_id(t, b));
    let b = &mut out.body;
    b.extend_from_slice(b"{\"provider\":");
    push_json_str(b, t.provider.as_str());
    b.extend_from_slice(b",\"symbol\":");
    push_json_str(b, t.symbol.as_str());
    b.extend_from_slice(b",\"timestamp\":");
    push_u64(b, recv_ms);
    b.extend_from_slice(b",\"data\":{");
    for (name, d) in [
        (&b"\"last\":"[..], &t.last),
        (b",\"volume\":", &t.volume),
        (b",\"quoteVolume\":", &t.quote_volume),
        (b",\"bid\":", &t.bid),
        (b",\"bidSize\":", &t.bid_size),
        (b",\"ask\":", &t.ask),
        (b",\"askSize\":", &t.ask_size),
    ] {
        b.extend_from_slice(name);
        push_opt_decimal(b, d);
    }
    b.extend_from_slice(b",\"eventTime\":");
    push_u64(b, t.event_time_ms);
    b.extend_from_slice(b"}}");
}

/// The routing kind of a normalized user message.
pub fn user_kind(k: UserKind) -> EventKind {
    match k {
        UserKind::Order => EventKind::Order,
        UserKind::Balance => EventKind::Balance,
        UserKind::Position => EventKind::Position,
        UserKind::Info => EventKind::Status,
    }
}

/// The `eventTime` member of a seed payload (every user shape carries one), 0 when absent.
fn event_time_of(json: &str) -> u64 {
    json.find("\"eventTime\":")
        .map(|i| &json[i + 12..])
        .map(|t| {
            t.bytes().take_while(u8::is_ascii_digit).fold(0u64, |a, d| {
                a.saturating_mul(10).saturating_add((d - b'0') as u64)
            })
        })
        .unwrap_or(0)
}

fn user_body_head(b: &mut Vec<u8>, room: &RoomTag, recv_ms: u64) {
    b.extend_from_slice(b"{\"userId\":");
    push_json_str(b, &room.user_id);
    b.extend_from_slice(b",\"roomId\":");
    push_json_str(b, &room.room_id);
    b.extend_from_slice(b",\"provider\":");
    push_json_str(b, room.provider.as_str());
    b.extend_from_slice(b",\"timestamp\":");
    push_u64(b, recv_ms);
    b.extend_from_slice(b",\"data\":");
}

/// User message: routing key `<order|balance|position|status>.<provider>.<roomId>`, body
/// `{"userId","roomId","provider","timestamp","data": <the exact Redis payload>}`,
/// `message_id` = its `uniqueMessageId`; persistent (see [`delivery_mode`]).
pub fn amqp_user(room: &RoomTag, msg: &UserMessage, recv_ns: u64, out: &mut AmqpMessage) {
    let kind = user_kind(msg.kind);
    let recv_ms = amqp_common(out, kind, event_time_of(&msg.json), recv_ns);
    routing_key(&mut out.routing_key, kind, room.provider, &[&room.room_id]);
    out.message_id.push_str(&msg.unique_message_id);
    user_body_head(&mut out.body, room, recv_ms);
    out.body.extend_from_slice(msg.json.as_bytes());
    out.body.push(b'}');
}

/// The room's subscriptions were accepted: `status.<provider>.<roomId>` with
/// `data: {"event":"subscribed","reconnect":bool}` (the RabbitMQ twin of `userStreamInfo`).
pub fn amqp_user_subscribed(room: &RoomTag, reconnect: bool, recv_ns: u64, out: &mut AmqpMessage) {
    let recv_ms = amqp_common(out, EventKind::Status, 0, recv_ns);
    routing_key(
        &mut out.routing_key,
        EventKind::Status,
        room.provider,
        &[&room.room_id],
    );
    out.message_id.push_str("subscribed:");
    out.message_id.push_str(&room.room_id);
    out.message_id.push(':');
    out.message_id.push_str(itoa::Buffer::new().format(recv_ns));
    user_body_head(&mut out.body, room, recv_ms);
    out.body.extend_from_slice(if reconnect {
        b"{\"event\":\"subscribed\",\"reconnect\":true}}"
    } else {
        b"{\"event\":\"subscribed\",\"reconnect\":false}}"
    });
}

/// The RabbitMQ message of any event. User kinds (order/balance/position, a later issue) add an
/// arm here with routing key `<kind>.<provider>.<roomId>` and body
/// `{"userId","roomId","provider","timestamp","data"}`; [`delivery_mode`] already makes them
/// persistent and the publisher never drops them on overflow ([`is_user_kind`]).
pub fn amqp_event(ev: &Event, recv_ns: u64, out: &mut AmqpMessage) {
    match ev {
        Event::Candle(c) => amqp_candle(c, recv_ns, out),
        Event::Ticker(t) => amqp_ticker(t, recv_ns, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corefeed_shards::types::{Interval, Symbol};

    fn d(s: &str) -> Decimal {
        Decimal::new(s).unwrap()
    }

    pub(crate) fn candle(p: Provider, sym: &str, iv: &str, closed: bool) -> Candle {
        Candle {
            provider: p,
            symbol: Symbol::new(sym).unwrap(),
            interval: Interval::new(iv).unwrap(),
            start_ms: 1633998480000,
            open: d("0.35270000"),
            high: d("0.35280000"),
            low: d("0.35220000"),
            close: d("0.35280000"),
            volume: d("25877.00000000"),
            closed,
            event_time_ms: 1633998523963,
        }
    }

    fn ticker(p: Provider, q: SeedQuantity) -> Ticker {
        Ticker {
            provider: p,
            symbol: Symbol::new("BTC-USDT").unwrap(),
            event_time_ms: 1652459224956,
            last: d("30236"),
            volume: d("17602.13085371"),
            quote_volume: d("525802090.62716611"),
            bid: d("30228.6"),
            bid_size: d("0.23393"),
            ask: d("30228.7"),
            ask_size: d("1.55896972"),
            seed_quantity: q,
        }
    }

    fn s(v: &[u8]) -> &str {
        std::str::from_utf8(v).unwrap()
    }

    #[test]
    fn redis_candle_table() {
        struct TestCase {
            input: Candle,
            expected: Option<(&'static str, &'static str)>,
        }
        let cases = [
            TestCase {
                input: candle(Provider::Binance, "NKNUSDT", "1m", true),
                expected: Some((
                    "NKNUSDT@binance@1mCandle",
                    r#"{"start":1633998480000,"open":"0.35270000","high":"0.35280000","low":"0.35220000","close":"0.35280000","volume":"25877.00000000","uniqueMessageId":"NKNUSDT16339984800000.352700000.352800000.352200000.3528000025877.000000001m@binance"}"#,
                )),
            },
            // closed-only: an open candle publishes nothing for Binance, OKX, Bybit (and paper)
            TestCase {
                input: candle(Provider::Binance, "NKNUSDT", "1m", false),
                expected: None,
            },
            TestCase {
                input: candle(Provider::OkxLinear, "BTC-USDT-SWAP", "candle1m", false),
                expected: None,
            },
            TestCase {
                input: candle(Provider::BybitInverse, "BTCUSD", "1", false),
                expected: None,
            },
            TestCase {
                input: candle(Provider::PaperBinanceUsdm, "BTCUSDT", "1m", false),
                expected: None,
            },
            // every update for the others
            TestCase {
                input: candle(Provider::Kucoin, "BTC-USDT", "1min", false),
                expected: Some((
                    "BTC-USDT@kucoin@1minCandle",
                    r#"{"start":1633998480000,"open":"0.35270000","high":"0.35280000","low":"0.35220000","close":"0.35280000","volume":"25877.00000000","uniqueMessageId":"BTC-USDT16339984800000.352700000.352800000.352200000.3528000025877.000000001min@kucoin"}"#,
                )),
            },
            TestCase {
                input: candle(Provider::Okx, "BTC-USDT", "candle1H", true),
                expected: Some((
                    "BTC-USDT@okx@candle1HCandle",
                    r#"{"start":1633998480000,"open":"0.35270000","high":"0.35280000","low":"0.35220000","close":"0.35280000","volume":"25877.00000000","uniqueMessageId":"BTC-USDT16339984800000.352700000.352800000.352200000.3528000025877.00000000candle1H@okx"}"#,
                )),
            },
            // a quote in venue text is escaped in the payload, never breaks the JSON
            TestCase {
                input: candle(Provider::Bitget, "A\"B", "1m", false),
                expected: Some((
                    "A\"B@bitget@1mCandle",
                    r#"{"start":1633998480000,"open":"0.35270000","high":"0.35280000","low":"0.35220000","close":"0.35280000","volume":"25877.00000000","uniqueMessageId":"A\"B16339984800000.352700000.352800000.352200000.3528000025877.000000001m@bitget"}"#,
                )),
            },
        ];
        let mut out = RedisMessage::default();
        for c in cases {
            let published = redis_candle(&c.input, &mut out);
            match c.expected {
                None => assert!(!published, "{:?}", c.input),
                Some((ch, payload)) => {
                    assert!(published);
                    assert_eq!(s(&out.channel), ch);
                    assert_eq!(s(&out.payload), payload);
                    serde_json::from_slice::<serde_json::Value>(&out.payload).unwrap();
                }
            }
        }
    }

    #[test]
    fn redis_ticker_table() {
        struct TestCase {
            input: Ticker,
            expected: (&'static str, &'static str),
        }
        let mut binance = ticker(Provider::Binance, SeedQuantity::QuoteVolume);
        binance.symbol = Symbol::new("BTCUSDT").unwrap();
        binance.last = d("16584.60000000");
        binance.volume = d("122474.816");
        binance.quote_volume = d("2036102085.69746400");
        binance.bid = Decimal::EMPTY;
        binance.bid_size = Decimal::EMPTY;
        binance.ask = Decimal::EMPTY;
        binance.ask_size = Decimal::EMPTY;
        let mut okx_empty = ticker(Provider::OkxInverse, SeedQuantity::BookSizes);
        okx_empty.ask_size = Decimal::EMPTY;
        okx_empty.bid_size = d("0.00000000");
        let mut tiny = ticker(Provider::Okx, SeedQuantity::BookSizes);
        tiny.last = d("0.00000012");
        tiny.volume = d("-0.0");
        tiny.ask_size = d("1000000000000000000000");
        tiny.bid_size = d("00012.50");
        let cases = [
            TestCase {
                input: binance,
                expected: (
                    "trade@BTCUSDT@binance",
                    r#"{"symbol":"BTCUSDT","time":1652459224956,"price":16584.6,"volume":122474.816,"bestAsk":16584.6,"bestBid":16584.6,"bestAskQnt":2036102085.697464,"bestBidQnt":2036102085.697464,"uniqueMessageId":"BTCUSDT@1652459224956@binance16584.6122474.81616584.616584.62036102085.6974642036102085.697464","eventTime":1700000000123,"exchange":"binance"}"#,
                ),
            },
            TestCase {
                input: ticker(Provider::Okx, SeedQuantity::BookSizes),
                expected: (
                    "trade@BTC-USDT@okx",
                    r#"{"symbol":"BTC-USDT","time":1652459224956,"price":30236,"volume":17602.13085371,"bestAsk":30236,"bestBid":30236,"bestAskQnt":1.55896972,"bestBidQnt":0.23393,"uniqueMessageId":"BTC-USDT@1652459224956@okx3023617602.1308537130236302361.558969720.23393","eventTime":1700000000123,"exchange":"okx"}"#,
                ),
            },
            // an empty venue size is published as 0
            TestCase {
                input: okx_empty,
                expected: (
                    "trade@BTC-USDT@okxInverse",
                    r#"{"symbol":"BTC-USDT","time":1652459224956,"price":30236,"volume":17602.13085371,"bestAsk":30236,"bestBid":30236,"bestAskQnt":0,"bestBidQnt":0,"uniqueMessageId":"BTC-USDT@1652459224956@okxInverse3023617602.13085371302363023600","eventTime":1700000000123,"exchange":"okxInverse"}"#,
                ),
            },
            // JS edge cases: exponent forms, -0, leading zeros
            TestCase {
                input: tiny,
                expected: (
                    "trade@BTC-USDT@okx",
                    r#"{"symbol":"BTC-USDT","time":1652459224956,"price":1.2e-7,"volume":0,"bestAsk":1.2e-7,"bestBid":1.2e-7,"bestAskQnt":1e+21,"bestBidQnt":12.5,"uniqueMessageId":"BTC-USDT@1652459224956@okx1.2e-701.2e-71.2e-71e+2112.5","eventTime":1700000000123,"exchange":"okx"}"#,
                ),
            },
        ];
        let mut out = RedisMessage::default();
        for c in cases {
            redis_ticker(&c.input, 1700000000123, &mut out);
            assert_eq!(s(&out.channel), c.expected.0);
            assert_eq!(s(&out.payload), c.expected.1);
            serde_json::from_slice::<serde_json::Value>(&out.payload).unwrap();
        }
    }

    #[test]
    fn routing_key_table() {
        struct TestCase {
            input: (EventKind, Provider, &'static [&'static str]),
            expected: &'static str,
        }
        let cases = [
            TestCase {
                input: (EventKind::Candle, Provider::Binance, &["BTCUSDT", "1m"]),
                expected: "candle.binance.BTCUSDT.1m",
            },
            TestCase {
                input: (EventKind::Ticker, Provider::Okx, &["BTC-USDT"]),
                expected: "ticker.okx.BTC-USDT",
            },
            TestCase {
                input: (EventKind::Ticker, Provider::Kucoin, &["ETH.USDT"]),
                expected: "ticker.kucoin.ETH_USDT",
            },
            TestCase {
                input: (EventKind::Candle, Provider::Bitget, &["A.B.C", "1.5m"]),
                expected: "candle.bitget.A_B_C.1_5m",
            },
            TestCase {
                input: (EventKind::Order, Provider::PaperBybit, &["room.1"]),
                expected: "order.paperBybit.room_1",
            },
        ];
        let mut out = String::new();
        for c in cases {
            routing_key(&mut out, c.input.0, c.input.1, c.input.2);
            assert_eq!(out, c.expected);
        }
    }

    #[test]
    fn amqp_table() {
        struct TestCase {
            input: Event,
            expected: (&'static str, &'static str, &'static str, u64),
        }
        let mut bin = ticker(Provider::BinanceUsdm, SeedQuantity::QuoteVolume);
        bin.symbol = Symbol::new("BTCUSDT").unwrap();
        bin.bid = Decimal::EMPTY;
        bin.bid_size = Decimal::EMPTY;
        bin.ask = Decimal::EMPTY;
        bin.ask_size = Decimal::EMPTY;
        let mut okx_candle = candle(Provider::OkxLinear, "BTC-USDT-SWAP", "candle1m", false);
        okx_candle.event_time_ms = 0;
        let cases = [
            TestCase {
                input: Event::Candle(candle(Provider::Binance, "NKNUSDT", "1m", false)),
                expected: (
                    "candle.binance.NKNUSDT.1m",
                    r#"{"provider":"binance","symbol":"NKNUSDT","interval":"1m","timestamp":1700000000123,"data":{"start":1633998480000,"open":"0.35270000","high":"0.35280000","low":"0.35220000","close":"0.35280000","volume":"25877.00000000","closed":false,"eventTime":1633998523963}}"#,
                    "NKNUSDT16339984800000.352700000.352800000.352200000.3528000025877.000000001m@binance",
                    1633998523963,
                ),
            },
            TestCase {
                input: Event::Candle(okx_candle),
                expected: (
                    "candle.okxLinear.BTC-USDT-SWAP.candle1m",
                    r#"{"provider":"okxLinear","symbol":"BTC-USDT-SWAP","interval":"candle1m","timestamp":1700000000123,"data":{"start":1633998480000,"open":"0.35270000","high":"0.35280000","low":"0.35220000","close":"0.35280000","volume":"25877.00000000","closed":false,"eventTime":null}}"#,
                    "BTC-USDT-SWAP16339984800000.352700000.352800000.352200000.3528000025877.00000000candle1m@okxLinear",
                    0,
                ),
            },
            TestCase {
                input: Event::Ticker(ticker(Provider::Okx, SeedQuantity::BookSizes)),
                expected: (
                    "ticker.okx.BTC-USDT",
                    r#"{"provider":"okx","symbol":"BTC-USDT","timestamp":1700000000123,"data":{"last":"30236","volume":"17602.13085371","quoteVolume":"525802090.62716611","bid":"30228.6","bidSize":"0.23393","ask":"30228.7","askSize":"1.55896972","eventTime":1652459224956}}"#,
                    "BTC-USDT@1652459224956@okx3023617602.1308537130236302361.558969720.23393",
                    1652459224956,
                ),
            },
            TestCase {
                input: Event::Ticker(bin),
                expected: (
                    "ticker.binanceUsdm.BTCUSDT",
                    r#"{"provider":"binanceUsdm","symbol":"BTCUSDT","timestamp":1700000000123,"data":{"last":"30236","volume":"17602.13085371","quoteVolume":"525802090.62716611","bid":null,"bidSize":null,"ask":null,"askSize":null,"eventTime":1652459224956}}"#,
                    "BTCUSDT@1652459224956@binanceUsdm3023617602.130853713023630236525802090.62716611525802090.62716611",
                    1652459224956,
                ),
            },
        ];
        let mut out = AmqpMessage::default();
        let recv_ns = 1_700_000_000_123_456_789;
        for c in cases {
            amqp_event(&c.input, recv_ns, &mut out);
            assert_eq!(out.routing_key, c.expected.0);
            assert_eq!(s(&out.body), c.expected.1);
            assert_eq!(out.message_id, c.expected.2);
            assert_eq!(out.exchange_time_ms, c.expected.3);
            assert_eq!(out.received_us, 1_700_000_000_123_456);
            assert_eq!(out.timestamp_s, 1_700_000_000);
            assert_eq!(out.kind, c.input.kind());
            assert_eq!(delivery_mode(out.kind), 1);
            serde_json::from_slice::<serde_json::Value>(&out.body).unwrap();
        }
        assert_eq!(delivery_mode(EventKind::Order), 2);
        assert_eq!(delivery_mode(EventKind::Position), 2);
    }

    #[test]
    fn json_escaping_table() {
        struct TestCase {
            input: &'static str,
            expected: &'static str,
        }
        let cases = [
            TestCase {
                input: "plain",
                expected: "\"plain\"",
            },
            TestCase {
                input: "a\"b\\c",
                expected: r#""a\"b\\c""#,
            },
            TestCase {
                input: "x\ny\u{1}",
                expected: r#""x\ny\u0001""#,
            },
            TestCase {
                input: "€",
                expected: "\"€\"",
            },
        ];
        for c in cases {
            let mut out = Vec::new();
            push_json_str(&mut out, c.input);
            assert_eq!(s(&out), c.expected);
        }
    }
}
