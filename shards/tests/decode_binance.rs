//! Binance decode tables: every fixture line under `fixtures/binance/` (plus a few inline byte
//! strings) against the exact events and frame kind it must produce.

use corefeed_shards::error::DecodeError;
use corefeed_shards::event::{Candle, Event, SeedQuantity, Ticker};
use corefeed_shards::exchanges::binance::decode::decode;
use corefeed_shards::exchanges::{DecodeCtx, Decoded, FrameKind, Scratch};
use corefeed_shards::types::{Decimal, Interval, Provider, Symbol, TooLong};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/binance");

enum Input {
    /// `fixtures/binance/<file>`, 1-based line number.
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

fn run(cases: Vec<TestCase>) {
    // One scratch for the whole table: decoding must not depend on a fresh buffer.
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
        assert_eq!(got, c.expected.result, "{}: result", c.name);
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

fn ok(kind: FrameKind, sent_ns: u64, events: Vec<Event>) -> Expected {
    Expected {
        result: Ok(Decoded { kind, sent_ns }),
        events,
    }
}

fn data(sent_ns: u64, events: Vec<Event>) -> Expected {
    ok(
        FrameKind::Data {
            events: events.len() as u32,
        },
        sent_ns,
        events,
    )
}

fn err(e: DecodeError) -> Expected {
    Expected {
        result: Err(e),
        events: vec![],
    }
}

#[allow(clippy::too_many_arguments)]
fn candle(
    provider: Provider,
    symbol: &str,
    interval: &str,
    start_ms: u64,
    ohlcv: [&str; 5],
    closed: bool,
    event_time_ms: u64,
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
        event_time_ms,
    })
}

/// `[last, volume, quote_volume]`, `[bid, bid_size, ask, ask_size]`.
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
        seed_quantity: SeedQuantity::QuoteVolume,
    })
}

const NO_BOOK: [&str; 4] = ["", "", "", ""];

#[test]
fn klines() {
    use Provider::*;
    let cases = vec![
        TestCase {
            name: "combined spot kline, open, with _st",
            provider: Binance,
            input: Input::Line("kline.jsonl", 1),
            expected: data(
                1_700_000_030_124_000_000,
                vec![candle(
                    Binance,
                    "BTCUSDT",
                    "1m",
                    1_700_000_040_000,
                    [
                        "37000.10",
                        "37020.50",
                        "36990.25",
                        "37010.00",
                        "12.34500000",
                    ],
                    false,
                    1_700_000_030_123,
                )],
            ),
        },
        TestCase {
            name: "combined spot kline, closed",
            provider: Binance,
            input: Input::Line("kline.jsonl", 2),
            expected: data(
                0,
                vec![candle(
                    Binance,
                    "BTCUSDT",
                    "1m",
                    1_700_000_040_000,
                    [
                        "37000.10",
                        "37022.00",
                        "36990.25",
                        "37015.75",
                        "20.00000000",
                    ],
                    true,
                    1_700_000_100_001,
                )],
            ),
        },
        TestCase {
            name: "raw (no envelope) usdm kline",
            provider: BinanceUsdm,
            input: Input::Line("kline.jsonl", 3),
            expected: data(
                0,
                vec![candle(
                    BinanceUsdm,
                    "ETHUSDT",
                    "1h",
                    1_700_000_000_000,
                    ["2000.01", "2003.03", "1999.04", "2001.02", "1500.5"],
                    true,
                    1_700_003_600_500,
                )],
            ),
        },
        TestCase {
            name: "coinm kline: v (contracts) is the volume",
            provider: BinanceCoinm,
            input: Input::Line("kline.jsonl", 4),
            expected: data(
                0,
                vec![candle(
                    BinanceCoinm,
                    "BTCUSD_PERP",
                    "5m",
                    1_700_000_000_000,
                    ["36990.1", "36999.3", "36980.4", "36995.2", "1893"],
                    false,
                    1_700_000_005_250,
                )],
            ),
        },
        TestCase {
            name: "k.s absent: symbol from s; month interval 1M kept verbatim",
            provider: PaperBinance,
            input: Input::Line("kline.jsonl", 5),
            expected: data(
                0,
                vec![candle(
                    PaperBinance,
                    "SOLUSDT",
                    "1M",
                    1_698_796_800_000,
                    ["40.5", "60", "38.75", "58.25", "90000000"],
                    false,
                    1_700_000_000_900,
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
            name: "raw !miniTicker@arr",
            provider: Binance,
            input: Input::Line("mini_ticker_arr.jsonl", 1),
            expected: data(
                0,
                vec![
                    ticker(
                        Binance,
                        "BTCUSDT",
                        1_700_000_000_500,
                        ["37010.00", "25000.50000000", "920000000.75000000"],
                        NO_BOOK,
                    ),
                    ticker(
                        Binance,
                        "ETHUSDT",
                        1_700_000_000_501,
                        ["2000.50", "1000.5", "2001000.25"],
                        NO_BOOK,
                    ),
                ],
            ),
        },
        TestCase {
            name: "combined !miniTicker@arr with _st",
            provider: Binance,
            input: Input::Line("mini_ticker_arr.jsonl", 2),
            expected: data(
                1_700_000_001_503_000_000,
                vec![
                    ticker(
                        Binance,
                        "BNBUSDT",
                        1_700_000_001_500,
                        ["230.1", "50000", "11500000"],
                        NO_BOOK,
                    ),
                    ticker(
                        Binance,
                        "XRPUSDT",
                        1_700_000_001_501,
                        ["0.61230000", "80000000", "48984000.5"],
                        NO_BOOK,
                    ),
                    ticker(
                        Binance,
                        "DOGEUSDT",
                        1_700_000_001_502,
                        ["0.07500000", "900000000", "67500000"],
                        NO_BOOK,
                    ),
                ],
            ),
        },
        TestCase {
            name: "combined single miniTicker",
            provider: Binance,
            input: Input::Line("mini_ticker_arr.jsonl", 3),
            expected: data(
                0,
                vec![ticker(
                    Binance,
                    "BTCUSDT",
                    1_700_000_002_500,
                    ["37011.00", "25001.50000000", "920037000.75000000"],
                    NO_BOOK,
                )],
            ),
        },
        TestCase {
            name: "empty array",
            provider: Binance,
            input: Input::Line("mini_ticker_arr.jsonl", 4),
            expected: data(0, vec![]),
        },
        TestCase {
            name: "spot 24hrTicker fills the book fields",
            provider: Binance,
            input: Input::Line("ticker.jsonl", 1),
            expected: data(
                0,
                vec![ticker(
                    Binance,
                    "BNBBTC",
                    1_672_515_782_136,
                    ["0.0025", "10000", "18"],
                    ["0.0024", "11", "0.0026", "100"],
                )],
            ),
        },
        TestCase {
            name: "usdm 24hrTicker: no book fields",
            provider: BinanceUsdm,
            input: Input::Line("ticker.jsonl", 2),
            expected: data(
                0,
                vec![ticker(
                    BinanceUsdm,
                    "BTCUSDT",
                    1_672_515_782_137,
                    ["16584.60000000", "122474.816", "2036102085.69746400"],
                    NO_BOOK,
                )],
            ),
        },
        TestCase {
            name: "coinm !ticker@arr",
            provider: BinanceCoinm,
            input: Input::Line("ticker.jsonl", 3),
            expected: data(
                0,
                vec![
                    ticker(
                        BinanceCoinm,
                        "ETHUSD_PERP",
                        1_672_515_782_200,
                        ["1201.25", "4200000", "3498.81234567"],
                        NO_BOOK,
                    ),
                    ticker(
                        BinanceCoinm,
                        "BTCUSD_231229",
                        1_672_515_782_201,
                        ["16610.5", "120000", "722.44444444"],
                        NO_BOOK,
                    ),
                ],
            ),
        },
    ];
    run(cases);
}

#[test]
fn acks_errors_and_ignored() {
    let p = Provider::Binance;
    let line = |f, l| Input::Line(f, l);
    let mut cases = vec![
        TestCase {
            name: "subscribe ack",
            provider: p,
            input: line("acks.jsonl", 1),
            expected: ok(FrameKind::SubscribeAck { id: 1 }, 0, vec![]),
        },
        TestCase {
            name: "LIST_SUBSCRIPTIONS reply",
            provider: p,
            input: line("acks.jsonl", 2),
            expected: ok(FrameKind::SubscribeAck { id: 3 }, 0, vec![]),
        },
        TestCase {
            name: "numeric string id",
            provider: p,
            input: line("acks.jsonl", 3),
            expected: ok(FrameKind::SubscribeAck { id: 42 }, 0, vec![]),
        },
        TestCase {
            name: "alphanumeric id gives 0",
            provider: p,
            input: line("acks.jsonl", 4),
            expected: ok(FrameKind::SubscribeAck { id: 0 }, 0, vec![]),
        },
        TestCase {
            name: "error object",
            provider: p,
            input: line("acks.jsonl", 5),
            expected: ok(FrameKind::VenueError { code: 2 }, 0, vec![]),
        },
        TestCase {
            name: "bare code/msg",
            provider: p,
            input: line("acks.jsonl", 6),
            expected: ok(FrameKind::VenueError { code: 3 }, 0, vec![]),
        },
        TestCase {
            name: "code 0 with id and _st",
            provider: p,
            input: line("acks.jsonl", 7),
            expected: ok(
                FrameKind::VenueError { code: 0 },
                1_700_000_000_000_000_777,
                vec![],
            ),
        },
    ];
    for (l, name) in [
        (1, "spot bookTicker (no e)"),
        (2, "futures bookTicker"),
        (3, "depthUpdate"),
        (4, "aggTrade"),
        (5, "trade"),
        (6, "partial depth snapshot"),
        (7, "markPriceUpdate"),
        (8, "serverShutdown"),
    ] {
        cases.push(TestCase {
            name,
            provider: Provider::BinanceUsdm,
            input: line("ignored.jsonl", l),
            expected: ok(FrameKind::Ignored, 0, vec![]),
        });
    }
    run(cases);
}

#[test]
fn bad_input_gives_the_expected_error_and_never_panics() {
    let p = Provider::Binance;
    let line = |l| Input::Line("malformed.jsonl", l);
    let json = |c: &TestCase| matches!(c.expected.result, Err(DecodeError::Json(_)));
    let cases = vec![
        TestCase {
            name: "truncated JSON",
            provider: p,
            input: line(1),
            expected: err(DecodeError::Json(String::new())),
        },
        TestCase {
            name: "kline missing k.o",
            provider: p,
            input: line(2),
            expected: err(DecodeError::MissingField("k.o")),
        },
        TestCase {
            name: "exponent decimal",
            provider: p,
            input: line(3),
            expected: err(DecodeError::BadDecimal("k.o")),
        },
        TestCase {
            name: "E is a string of letters",
            provider: p,
            input: line(4),
            expected: err(DecodeError::BadField {
                field: "E",
                why: "expected an unsigned integer",
            }),
        },
        TestCase {
            name: "k.t is a float",
            provider: p,
            input: line(5),
            expected: err(DecodeError::BadField {
                field: "k.t",
                why: "expected an unsigned integer",
            }),
        },
        TestCase {
            name: "overlong symbol",
            provider: p,
            input: line(6),
            expected: err(DecodeError::TooLong(TooLong {
                what: "symbol",
                len: 36,
                cap: 31,
            })),
        },
        TestCase {
            name: "k.x is a string",
            provider: p,
            input: line(7),
            expected: err(DecodeError::BadField {
                field: "k.x",
                why: "expected a boolean",
            }),
        },
        TestCase {
            name: "huge integer",
            provider: p,
            input: line(8),
            // simd-json rejects integers beyond 64 bits.
            expected: err(DecodeError::Json(String::new())),
        },
        TestCase {
            name: "user-data event on a market socket",
            provider: p,
            input: line(9),
            expected: err(DecodeError::Unknown),
        },
        TestCase {
            name: "envelope without data",
            provider: p,
            input: line(10),
            expected: err(DecodeError::MissingField("data")),
        },
        TestCase {
            name: "overlong decimal",
            provider: p,
            input: line(11),
            expected: err(DecodeError::TooLong(TooLong {
                what: "c",
                len: 34,
                cap: 31,
            })),
        },
        TestCase {
            name: "array with one bad element still emits the good one",
            provider: p,
            input: line(12),
            expected: Expected {
                result: Err(DecodeError::BadDecimal("c")),
                events: vec![ticker(
                    p,
                    "BTCUSDT",
                    1_700_000_000_500,
                    ["37010.00", "25000.5", "920000000.75"],
                    NO_BOOK,
                )],
            },
        },
        TestCase {
            name: "decimal sent as a JSON number",
            provider: p,
            input: line(13),
            expected: err(DecodeError::BadField {
                field: "c",
                why: "expected a decimal string",
            }),
        },
        TestCase {
            name: "k is not an object",
            provider: p,
            input: line(14),
            expected: err(DecodeError::BadField {
                field: "k",
                why: "expected an object",
            }),
        },
        TestCase {
            name: "object of an unknown shape",
            provider: p,
            input: line(15),
            expected: err(DecodeError::Unknown),
        },
        TestCase {
            name: "empty frame",
            provider: p,
            input: Input::Raw(b""),
            expected: err(DecodeError::Json(String::new())),
        },
        TestCase {
            name: "binary garbage (not UTF-8)",
            provider: p,
            input: Input::Raw(b"\xff\xfe\x00\x81{\"e\":\"kline\"}\xc3"),
            expected: err(DecodeError::Json(String::new())),
        },
        TestCase {
            name: "invalid UTF-8 inside a string",
            provider: p,
            input: Input::Raw(b"{\"e\":\"kl\xffine\"}"),
            expected: err(DecodeError::Json(String::new())),
        },
        TestCase {
            name: "OKX text pong is not JSON here",
            provider: p,
            input: Input::Raw(b"pong"),
            expected: err(DecodeError::Json(String::new())),
        },
        TestCase {
            name: "scalar root",
            provider: p,
            input: Input::Raw(b"42"),
            expected: err(DecodeError::Unknown),
        },
        TestCase {
            name: "null root",
            provider: p,
            input: Input::Raw(b"null"),
            expected: err(DecodeError::Unknown),
        },
        TestCase {
            name: "array of numbers",
            provider: p,
            input: Input::Raw(b"[1,2]"),
            expected: err(DecodeError::MissingField("e")),
        },
        TestCase {
            name: "data is a string",
            provider: p,
            input: Input::Raw(br#"{"stream":"x","data":"y"}"#),
            expected: err(DecodeError::BadField {
                field: "data",
                why: "expected an object or an array",
            }),
        },
        TestCase {
            name: "_st is negative",
            provider: p,
            input: Input::Raw(br#"{"result":null,"id":1,"_st":-5}"#),
            expected: err(DecodeError::BadField {
                field: "_st",
                why: "expected an unsigned integer",
            }),
        },
        TestCase {
            name: "deeply nested",
            provider: p,
            input: Input::Raw(
                b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
            ),
            expected: err(DecodeError::MissingField("e")),
        },
    ];
    // JSON error messages are simd-json's; only the variant is part of the contract.
    let mut scratch = Scratch::default();
    for c in cases {
        let mut frame = match c.input {
            Input::Line(f, l) => fixture_line(f, l),
            Input::Raw(b) => b.to_vec(),
        };
        let mut sink: Vec<Event> = Vec::new();
        let got = decode(
            &DecodeCtx {
                provider: c.provider,
            },
            &mut frame,
            &mut scratch,
            &mut sink,
        );
        if json(&c) {
            assert!(
                matches!(&got, Err(DecodeError::Json(m)) if !m.is_empty()),
                "{}: {got:?}",
                c.name
            );
        } else {
            assert_eq!(got, c.expected.result, "{}", c.name);
        }
        assert_eq!(sink, c.expected.events, "{}: events", c.name);
    }
}

#[test]
fn every_prefix_of_every_fixture_is_handled_without_panic() {
    let mut scratch = Scratch::default();
    let ctx = DecodeCtx {
        provider: Provider::Binance,
    };
    for file in [
        "kline.jsonl",
        "mini_ticker_arr.jsonl",
        "ticker.jsonl",
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
        provider: Provider::Binance,
    };
    let mut sink: Vec<Event> = Vec::new();
    let mut results = Vec::new();
    for (file, line) in [
        ("kline.jsonl", 1),
        ("malformed.jsonl", 1),
        ("malformed.jsonl", 3),
        ("kline.jsonl", 2),
    ] {
        let mut frame = fixture_line(file, line);
        results.push(decode(&ctx, &mut frame, &mut scratch, &mut sink));
    }
    assert!(results[0].is_ok() && results[3].is_ok(), "{results:?}");
    assert!(results[1].is_err() && results[2].is_err(), "{results:?}");
    assert_eq!(sink.len(), 2);
    let Event::Candle(a) = sink[0] else { panic!() };
    let Event::Candle(b) = sink[1] else { panic!() };
    assert!(!a.closed && b.closed);
    assert_eq!(b.close, "37015.75");
}
