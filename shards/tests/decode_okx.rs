//! OKX decode tables: every fixture line under `fixtures/okx/` (plus a few inline byte strings)
//! against the exact events and frame kind it must produce.

use corefeed_shards::error::DecodeError;
use corefeed_shards::event::{Candle, Event, SeedQuantity, Ticker};
use corefeed_shards::exchanges::okx::decode::decode;
use corefeed_shards::exchanges::{DecodeCtx, Decoded, FrameKind, Scratch};
use corefeed_shards::types::{Decimal, Interval, Provider, Symbol, TooLong};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/okx");

enum Input {
    /// `fixtures/okx/<file>`, 1-based line number.
    Line(&'static str, usize),
    /// Bytes that do not belong in a text fixture (empty, binary).
    Raw(&'static [u8]),
}

struct Expected {
    result: Result<Decoded, DecodeError>,
    /// Every event the sink must have received, in order (checked field by field via `Eq`).
    events: Vec<Event>,
}

struct TestCase {
    name: &'static str,
    provider: Provider,
    input: Input,
    expected: Expected,
}

fn fixture_line(file: &str, line: usize) -> Vec<u8> {
    let path = format!("{FIXTURES}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .nth(line - 1)
        .unwrap_or_else(|| panic!("{path} has no line {line}"))
        .as_bytes()
        .to_vec()
}

/// Runs a table. `Json(_)` expectations match any non-empty simd-json message.
fn run(cases: Vec<TestCase>) {
    let mut scratch = Scratch::default();
    for c in cases {
        let mut frame = match c.input {
            Input::Line(f, l) => fixture_line(f, l),
            Input::Raw(b) => b.to_vec(),
        };
        let ctx = DecodeCtx {
            provider: c.provider,
        };
        let mut sink: Vec<Event> = Vec::new();
        let got = decode(&ctx, &mut frame, &mut scratch, &mut sink);
        if matches!(c.expected.result, Err(DecodeError::Json(_))) {
            assert!(
                matches!(&got, Err(DecodeError::Json(m)) if !m.is_empty()),
                "{}: {got:?}",
                c.name
            );
        } else {
            assert_eq!(got, c.expected.result, "{}: result", c.name);
        }
        assert_eq!(sink, c.expected.events, "{}: events", c.name);
    }
}

fn d(s: &str) -> Decimal {
    if s.is_empty() {
        Decimal::EMPTY
    } else {
        Decimal::parse(s).unwrap()
    }
}

fn ok(kind: FrameKind, sent_ns: u64) -> Expected {
    Expected {
        result: Ok(Decoded { kind, sent_ns }),
        events: vec![],
    }
}

fn data(sent_ns: u64, events: Vec<Event>) -> Expected {
    Expected {
        result: Ok(Decoded {
            kind: FrameKind::Data {
                events: events.len() as u32,
            },
            sent_ns,
        }),
        events,
    }
}

fn err(e: DecodeError) -> Expected {
    Expected {
        result: Err(e),
        events: vec![],
    }
}

fn candle(
    provider: Provider,
    symbol: &str,
    interval: &str,
    start_ms: u64,
    ohlcv: [&str; 5],
    closed: bool,
) -> Event {
    Event::Candle(Candle {
        provider,
        symbol: Symbol::new(symbol).unwrap(),
        interval: Interval::new(interval).unwrap(),
        start_ms,
        open: d(ohlcv[0]),
        high: d(ohlcv[1]),
        low: d(ohlcv[2]),
        close: d(ohlcv[3]),
        volume: d(ohlcv[4]),
        closed,
        event_time_ms: 0,
    })
}

/// `[last, vol24h, volCcy24h]`, `[bidPx, bidSz, askPx, askSz]`.
fn ticker(
    provider: Provider,
    symbol: &str,
    event_time_ms: u64,
    lvq: [&str; 3],
    book: [&str; 4],
) -> Event {
    Event::Ticker(Ticker {
        provider,
        symbol: Symbol::new(symbol).unwrap(),
        event_time_ms,
        last: d(lvq[0]),
        volume: d(lvq[1]),
        quote_volume: d(lvq[2]),
        bid: d(book[0]),
        bid_size: d(book[1]),
        ask: d(book[2]),
        ask_size: d(book[3]),
        seed_quantity: SeedQuantity::BookSizes,
    })
}

#[test]
fn candles() {
    use Provider::*;
    let cases = vec![
        TestCase {
            name: "candle1m open row with _st",
            provider: Okx,
            input: Input::Line("candle.jsonl", 1),
            expected: data(
                1_700_000_041_000_000_123,
                vec![candle(
                    Okx,
                    "BTC-USDT",
                    "candle1m",
                    1_700_000_040_000,
                    ["37000.1", "37020.5", "36990.25", "37010", "12.345"],
                    false,
                )],
            ),
        },
        TestCase {
            name: "candle1Dutc closed: channel kept verbatim as the interval",
            provider: Okx,
            input: Input::Line("candle.jsonl", 2),
            expected: data(
                0,
                vec![candle(
                    Okx,
                    "ETH-USDT",
                    "candle1Dutc",
                    1_699_920_000_000,
                    ["1950.01", "2010.02", "1940.03", "2000.04", "150000.5"],
                    true,
                )],
            ),
        },
        TestCase {
            name: "two rows, closed then open",
            provider: OkxLinear,
            input: Input::Line("candle.jsonl", 3),
            expected: data(
                0,
                vec![
                    candle(
                        OkxLinear,
                        "BTC-USDT-SWAP",
                        "candle1H",
                        1_700_000_000_000,
                        ["37000", "37100", "36900", "37050", "5000"],
                        true,
                    ),
                    candle(
                        OkxLinear,
                        "BTC-USDT-SWAP",
                        "candle1H",
                        1_700_003_600_000,
                        ["37050", "37060", "37040", "37055", "100"],
                        false,
                    ),
                ],
            ),
        },
        TestCase {
            name: "older 7-element row: not closed",
            provider: OkxInverse,
            input: Input::Line("candle.jsonl", 4),
            expected: data(
                0,
                vec![candle(
                    OkxInverse,
                    "BTC-USD-SWAP",
                    "candle5m",
                    1_700_000_100_000,
                    ["36990.1", "36999.3", "36980.4", "36995.2", "1893"],
                    false,
                )],
            ),
        },
    ];
    run(cases);
}

#[test]
fn tickers() {
    use Provider::*;
    let cases = vec![
        TestCase {
            name: "spot ticker",
            provider: Okx,
            input: Input::Line("tickers.jsonl", 1),
            expected: data(
                0,
                vec![ticker(
                    Okx,
                    "BTC-USDT",
                    1_700_000_000_956,
                    ["37010.1", "25002.13085371", "925802090.62716611"],
                    ["37010", "0.23393", "37010.2", "1.55896972"],
                )],
            ),
        },
        TestCase {
            name: "swap ticker with empty book fields",
            provider: OkxLinear,
            input: Input::Line("tickers.jsonl", 2),
            expected: data(
                0,
                vec![ticker(
                    OkxLinear,
                    "ETH-USDT-SWAP",
                    1_700_000_001_143,
                    ["2000.5", "150005", "15000.5"],
                    ["", "", "", ""],
                )],
            ),
        },
        TestCase {
            name: "inverse futures ticker with _st",
            provider: OkxInverse,
            input: Input::Line("tickers.jsonl", 3),
            expected: data(
                1_700_000_002_300_000_000,
                vec![ticker(
                    OkxInverse,
                    "BTC-USD-231229",
                    1_700_000_002_224,
                    ["37210.5", "1196000", "321.4567"],
                    ["37210", "85", "37211", "120"],
                )],
            ),
        },
    ];
    run(cases);
}

#[test]
fn acks_errors_pong_and_ignored() {
    let p = Provider::Okx;
    let line = |f, l| Input::Line(f, l);
    let mut cases = vec![
        TestCase {
            name: "subscribe ack",
            provider: p,
            input: line("acks.jsonl", 1),
            expected: ok(FrameKind::SubscribeAck { id: 0 }, 0),
        },
        TestCase {
            name: "unsubscribe ack",
            provider: p,
            input: line("acks.jsonl", 2),
            expected: ok(FrameKind::SubscribeAck { id: 0 }, 0),
        },
        TestCase {
            name: "old ack without connId",
            provider: p,
            input: line("acks.jsonl", 3),
            expected: ok(FrameKind::SubscribeAck { id: 0 }, 0),
        },
        TestCase {
            name: "echoed string id",
            provider: p,
            input: line("acks.jsonl", 4),
            expected: ok(FrameKind::SubscribeAck { id: 7 }, 0),
        },
        TestCase {
            name: "echoed numeric id",
            provider: p,
            input: line("acks.jsonl", 5),
            expected: ok(FrameKind::SubscribeAck { id: 9 }, 0),
        },
        TestCase {
            name: "error event, code as a string",
            provider: p,
            input: line("acks.jsonl", 6),
            expected: ok(FrameKind::VenueError { code: 60018 }, 0),
        },
        TestCase {
            name: "error event with _st",
            provider: p,
            input: line("acks.jsonl", 7),
            expected: ok(
                FrameKind::VenueError { code: 60012 },
                1_700_000_000_000_000_555,
            ),
        },
        TestCase {
            name: "text pong",
            provider: p,
            input: line("acks.jsonl", 8),
            expected: ok(FrameKind::Pong, 0),
        },
    ];
    for (l, name) in [
        (1, "notice"),
        (2, "channel-conn-count"),
        (3, "channel-conn-count-error"),
        (4, "login"),
        (5, "books"),
        (6, "trades"),
        (7, "bbo-tbt"),
        (8, "mark-price-candle1m is not candle*"),
    ] {
        cases.push(TestCase {
            name,
            provider: Provider::OkxInverse,
            input: line("ignored.jsonl", l),
            expected: ok(FrameKind::Ignored, 0),
        });
    }
    run(cases);
}

#[test]
fn bad_input_gives_the_expected_error_and_never_panics() {
    let p = Provider::Okx;
    let line = |l| Input::Line("malformed.jsonl", l);
    let cases = vec![
        TestCase {
            name: "truncated JSON",
            provider: p,
            input: line(1),
            expected: err(DecodeError::Json(String::new())),
        },
        TestCase {
            name: "candle row of 5 elements",
            provider: p,
            input: line(2),
            expected: err(DecodeError::MissingField("data[].vol")),
        },
        TestCase {
            name: "exponent decimal",
            provider: p,
            input: line(3),
            expected: err(DecodeError::BadDecimal("data[].o")),
        },
        TestCase {
            name: "ts is not digits",
            provider: p,
            input: line(4),
            expected: err(DecodeError::BadField {
                field: "data[].ts",
                why: "expected an unsigned integer",
            }),
        },
        TestCase {
            name: "overlong instId",
            provider: p,
            input: line(5),
            expected: err(DecodeError::TooLong(TooLong {
                what: "symbol",
                len: 35,
                cap: 31,
            })),
        },
        TestCase {
            name: "ticker without last",
            provider: p,
            input: line(6),
            expected: err(DecodeError::MissingField("data[].last")),
        },
        TestCase {
            name: "data is an object",
            provider: p,
            input: line(7),
            expected: err(DecodeError::BadField {
                field: "data",
                why: "expected an array of objects",
            }),
        },
        TestCase {
            name: "last is a JSON number",
            provider: p,
            input: line(8),
            expected: err(DecodeError::BadField {
                field: "data[].last",
                why: "expected a decimal string",
            }),
        },
        TestCase {
            name: "error code not numeric",
            provider: p,
            input: line(9),
            expected: err(DecodeError::BadField {
                field: "code",
                why: "expected an integer or a string of digits",
            }),
        },
        TestCase {
            name: "unknown event",
            provider: p,
            input: line(10),
            expected: err(DecodeError::Unknown),
        },
        TestCase {
            name: "unknown shape",
            provider: p,
            input: line(11),
            expected: err(DecodeError::Unknown),
        },
        TestCase {
            name: "bad second row: the good first row is still emitted",
            provider: p,
            input: line(12),
            expected: Expected {
                result: Err(DecodeError::BadDecimal("data[].vol")),
                events: vec![candle(
                    p,
                    "BTC-USDT",
                    "candle1m",
                    1_700_000_040_000,
                    ["37000.1", "37020.5", "36990.25", "37010", "12.345"],
                    true,
                )],
            },
        },
        TestCase {
            name: "ts overflows u64",
            provider: p,
            input: line(13),
            expected: err(DecodeError::BadField {
                field: "data[].ts",
                why: "expected an unsigned integer",
            }),
        },
        TestCase {
            name: "text ping (only pong is special)",
            provider: p,
            input: line(14),
            expected: err(DecodeError::Json(String::new())),
        },
        TestCase {
            name: "empty frame",
            provider: p,
            input: Input::Raw(b""),
            expected: err(DecodeError::Json(String::new())),
        },
        TestCase {
            name: "binary garbage",
            provider: p,
            input: Input::Raw(b"\x00\x9f\x92\x96pong\xff"),
            expected: err(DecodeError::Json(String::new())),
        },
        TestCase {
            name: "pong with trailing newline is not the keepalive",
            provider: p,
            input: Input::Raw(b"pong\n"),
            expected: err(DecodeError::Json(String::new())),
        },
        TestCase {
            name: "array root",
            provider: p,
            input: Input::Raw(b"[]"),
            expected: err(DecodeError::Unknown),
        },
        TestCase {
            name: "arg is a string",
            provider: p,
            input: Input::Raw(br#"{"arg":"candle1m","data":[]}"#),
            expected: err(DecodeError::BadField {
                field: "arg",
                why: "expected an object",
            }),
        },
        TestCase {
            name: "candle without data",
            provider: p,
            input: Input::Raw(br#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"}}"#),
            expected: err(DecodeError::MissingField("data")),
        },
        TestCase {
            name: "interval longer than 15 bytes",
            provider: p,
            input: Input::Raw(br#"{"arg":{"channel":"candle1Muuuuuuuuuuuu","instId":"BTC-USDT"},"data":[]}"#),
            expected: err(DecodeError::TooLong(TooLong {
                what: "interval",
                len: 20,
                cap: 15,
            })),
        },
        TestCase {
            name: "candle row is an object",
            provider: p,
            input: Input::Raw(br#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[{"ts":"1"}]}"#),
            expected: err(DecodeError::BadField {
                field: "data[]",
                why: "expected an array",
            }),
        },
        TestCase {
            name: "confirm is a number",
            provider: p,
            input: Input::Raw(br#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1","1","1","1","1","1","1","1",1]]}"#),
            expected: err(DecodeError::BadField {
                field: "data[].confirm",
                why: "expected a string",
            }),
        },
        TestCase {
            name: "empty candle data",
            provider: p,
            input: Input::Raw(br#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[]}"#),
            expected: data(0, vec![]),
        },
    ];
    run(cases);
}

#[test]
fn every_prefix_of_every_fixture_is_handled_without_panic() {
    let mut scratch = Scratch::default();
    let ctx = DecodeCtx {
        provider: Provider::Okx,
    };
    for file in [
        "candle.jsonl",
        "tickers.jsonl",
        "acks.jsonl",
        "ignored.jsonl",
        "malformed.jsonl",
    ] {
        let text = std::fs::read_to_string(format!("{FIXTURES}/{file}")).unwrap();
        for line in text.lines() {
            for cut in 0..=line.len() {
                let mut frame = line.as_bytes()[..cut].to_vec();
                let mut sink: Vec<Event> = Vec::new();
                let _ = decode(&ctx, &mut frame, &mut scratch, &mut sink);
            }
        }
    }
}

#[test]
fn mixed_sequence_good_bad_good_yields_both_good_events() {
    let mut scratch = Scratch::default();
    let ctx = DecodeCtx {
        provider: Provider::Okx,
    };
    let mut sink: Vec<Event> = Vec::new();
    let mut results = Vec::new();
    for (file, line) in [
        ("candle.jsonl", 1),
        ("malformed.jsonl", 1),
        ("malformed.jsonl", 3),
        ("tickers.jsonl", 1),
    ] {
        let mut frame = fixture_line(file, line);
        results.push(decode(&ctx, &mut frame, &mut scratch, &mut sink));
    }
    assert!(results[0].is_ok() && results[3].is_ok(), "{results:?}");
    assert!(results[1].is_err() && results[2].is_err(), "{results:?}");
    assert_eq!(sink.len(), 2);
    assert!(matches!(sink[0], Event::Candle(c) if c.symbol == "BTC-USDT"));
    assert!(matches!(sink[1], Event::Ticker(t) if t.last == "37010.1"));
}
