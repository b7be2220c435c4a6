//! The tape-free fast path against the simd-json decoder. For every fixture frame, every
//! recorded corpus frame (`shared/corpus`, skipped when absent), reordered / spaced / escaped /
//! duplicated variants and every truncation and byte mutation of the hot frames,
//! `decode_text` (fast path, simd-json fallback) must give exactly `decode`'s result and events,
//! and the fast path alone must either give that too or give up without emitting anything.
//! Separate tables pin which frames the fast path must take, so a fast path that silently never
//! fires fails here.

use std::path::Path;

use corefeed_shards::event::Event;
use corefeed_shards::exchanges::{
    decode, decode_fast, decode_text, DecodeCtx, Decoded, FrameKind, Scratch,
};
use corefeed_shards::types::{Exchange, Provider};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");

const BINANCE: [Provider; 4] = [
    Provider::Binance,
    Provider::BinanceUsdm,
    Provider::BinanceCoinm,
    Provider::PaperBinance,
];
const OKX: [Provider; 4] = [
    Provider::Okx,
    Provider::OkxLinear,
    Provider::OkxInverse,
    Provider::PaperOkxLinear,
];

/// Which path answered a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path_ {
    Fast,
    Fallback,
}
use Path_::{Fallback, Fast};

/// Decodes `frame` with `decode` (fresh scratch, mutable copy) and with `decode_fast` and
/// `decode_text` (the caller's reused scratch); asserts they agree; says which path answered.
fn same(scratch: &mut Scratch, provider: Provider, frame: &[u8], what: &str) -> Path_ {
    let ctx = DecodeCtx { provider };
    let mut slow_events: Vec<Event> = Vec::new();
    let slow = decode(
        &ctx,
        &mut frame.to_vec(),
        &mut Scratch::default(),
        &mut slow_events,
    );

    let mut fast_events: Vec<Event> = Vec::new();
    let fast = decode_fast(&ctx, frame, scratch, &mut fast_events);
    match fast {
        Some(d) => {
            assert_eq!(Ok(d), slow, "{what}: fast path result ({provider})");
            assert_eq!(
                fast_events, slow_events,
                "{what}: fast path events ({provider})"
            );
        }
        None => assert!(
            fast_events.is_empty(),
            "{what}: the fast path emitted {} events and then gave up ({provider})",
            fast_events.len()
        ),
    }

    let mut events: Vec<Event> = Vec::new();
    let mut copy = Vec::new();
    let got = decode_text(&ctx, frame, &mut copy, scratch, &mut events);
    assert_eq!(got, slow, "{what}: decode_text result ({provider})");
    assert_eq!(
        events, slow_events,
        "{what}: decode_text events ({provider})"
    );
    if fast.is_some() {
        Fast
    } else {
        Fallback
    }
}

fn fixture_lines(file: &str) -> Vec<Vec<u8>> {
    let path = format!("{FIXTURES}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines().map(|l| l.as_bytes().to_vec()).collect()
}

fn fixture_line(file: &str, line: usize) -> Vec<u8> {
    fixture_lines(file)
        .into_iter()
        .nth(line - 1)
        .unwrap_or_else(|| panic!("{file} has no line {line}"))
}

const BINANCE_FILES: [&str; 6] = [
    "binance/acks.jsonl",
    "binance/ignored.jsonl",
    "binance/kline.jsonl",
    "binance/malformed.jsonl",
    "binance/mini_ticker_arr.jsonl",
    "binance/ticker.jsonl",
];
const OKX_FILES: [&str; 5] = [
    "okx/acks.jsonl",
    "okx/candle.jsonl",
    "okx/ignored.jsonl",
    "okx/malformed.jsonl",
    "okx/tickers.jsonl",
];

/// The frames the fast path exists for.
const HOT: [(&str, Provider); 5] = [
    ("binance/kline.jsonl", Provider::Binance),
    ("binance/mini_ticker_arr.jsonl", Provider::Binance),
    ("binance/ticker.jsonl", Provider::BinanceUsdm),
    ("okx/candle.jsonl", Provider::Okx),
    ("okx/tickers.jsonl", Provider::OkxLinear),
];

#[test]
fn every_fixture_frame_decodes_the_same_both_ways() {
    let mut scratch = Scratch::default();
    let mut fast = 0;
    let mut total = 0;
    for (files, providers, others) in [
        (&BINANCE_FILES[..], BINANCE, OKX),
        (&OKX_FILES[..], OKX, BINANCE),
    ] {
        for file in files {
            for (i, frame) in fixture_lines(file).iter().enumerate() {
                let what = format!("{file}:{}", i + 1);
                // The socket's venue, and the other venue's decoder on the same bytes.
                for p in providers.iter().chain(others.iter()) {
                    total += 1;
                    if same(&mut scratch, *p, frame, &what) == Fast {
                        fast += 1;
                    }
                }
                // A provider without a decoder: both say Unsupported.
                same(&mut scratch, Provider::Bybit, frame, &what);
            }
        }
    }
    println!("{fast} of {total} fixture decodes took the fast path");
    assert!(fast > 0);
}

#[test]
fn odd_inputs_decode_the_same_both_ways() {
    let mut scratch = Scratch::default();
    let inputs: [&[u8]; 16] = [
        b"",
        b" ",
        b"pong",
        b"pong ",
        b"ping",
        b"\xff\xfe",
        b"null",
        b"[]",
        b"{}",
        b"[[]]",
        b"[{}]",
        b"[null]",
        b"{\"data\":[]}",
        b"{\"data\":[],\"_st\":7}",
        b"{\"arg\":{\"channel\":\"candle1m\",\"instId\":\"X\"},\"data\":[]}",
        b"{\"arg\":{\"channel\":\"tickers\"},\"data\":[]}",
    ];
    for input in inputs {
        let what = String::from_utf8_lossy(input).into_owned();
        for p in BINANCE.iter().chain(OKX.iter()) {
            same(&mut scratch, *p, input, &what);
        }
    }
}

#[test]
fn the_fast_path_takes_the_hot_shapes_and_leaves_the_rest() {
    struct TestCase {
        input: (&'static str, usize),
        provider: Provider,
        expected: Path_,
    }
    let case = |file, line, provider, expected| TestCase {
        input: (file, line),
        provider,
        expected,
    };
    let mut cases = Vec::new();
    for line in 1..=5 {
        cases.push(case("binance/kline.jsonl", line, Provider::Binance, Fast));
    }
    for line in 1..=4 {
        cases.push(case(
            "binance/mini_ticker_arr.jsonl",
            line,
            Provider::Binance,
            Fast,
        ));
    }
    for line in 1..=3 {
        cases.push(case(
            "binance/ticker.jsonl",
            line,
            Provider::BinanceCoinm,
            Fast,
        ));
    }
    for line in 1..=4 {
        cases.push(case("okx/candle.jsonl", line, Provider::Okx, Fast));
    }
    for line in 1..=3 {
        cases.push(case("okx/tickers.jsonl", line, Provider::OkxInverse, Fast));
    }
    // The text pong.
    cases.push(case("okx/acks.jsonl", 8, Provider::Okx, Fast));
    // Acks, ignored channels and errors are the simd-json path's.
    for line in 1..=7 {
        cases.push(case(
            "binance/acks.jsonl",
            line,
            Provider::Binance,
            Fallback,
        ));
        cases.push(case("okx/acks.jsonl", line, Provider::Okx, Fallback));
    }
    for line in 1..=8 {
        cases.push(case(
            "binance/ignored.jsonl",
            line,
            Provider::Binance,
            Fallback,
        ));
        cases.push(case("okx/ignored.jsonl", line, Provider::Okx, Fallback));
    }
    for line in 1..=15 {
        cases.push(case(
            "binance/malformed.jsonl",
            line,
            Provider::Binance,
            Fallback,
        ));
    }
    for line in 1..=14 {
        cases.push(case("okx/malformed.jsonl", line, Provider::Okx, Fallback));
    }
    let mut scratch = Scratch::default();
    for c in cases {
        let (file, line) = c.input;
        let what = format!("{file}:{line}");
        let frame = fixture_line(file, line);
        assert_eq!(
            same(&mut scratch, c.provider, &frame, &what),
            c.expected,
            "{what}"
        );
    }
}

/// Every line of `file` in the recorded corpus, both ways; `None` when the corpus is absent.
/// Returns (frames, frames the slow path decodes to events, of those taken by the fast path).
fn corpus_file(file: &str, provider: Provider) -> Option<(usize, usize, usize)> {
    if !Path::new(CORPUS).is_dir() {
        eprintln!("skip: corpus folder {CORPUS} is absent");
        return None;
    }
    let path = Path::new(CORPUS).join(file);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut scratch = Scratch::default();
    let ctx = DecodeCtx { provider };
    let (mut frames, mut data, mut fast) = (0, 0, 0);
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        frames += 1;
        let what = format!("{file}:{}", i + 1);
        let path = same(&mut scratch, provider, line, &what);
        let mut events = Vec::new();
        let slow = decode(
            &ctx,
            &mut line.to_vec(),
            &mut Scratch::default(),
            &mut events,
        );
        if matches!(slow, Ok(Decoded { kind: FrameKind::Data { events: n }, .. }) if n > 0) {
            data += 1;
            if path == Fast {
                fast += 1;
            }
        }
    }
    println!("{file}: {frames} frames, {data} with events, {fast} of them on the fast path");
    Some((frames, data, fast))
}

#[test]
fn corpus_frames_decode_the_same_both_ways() {
    let files = [
        ("binance-spot.jsonl", Provider::Binance),
        ("binance-usdm.jsonl", Provider::BinanceUsdm),
        ("binance-coinm.jsonl", Provider::BinanceCoinm),
        ("okx-spot.jsonl", Provider::Okx),
        ("okx-swap-inverse.jsonl", Provider::OkxInverse),
        ("okx-futures-inverse.jsonl", Provider::OkxInverse),
    ];
    for (file, provider) in files {
        let Some((frames, data, fast)) = corpus_file(file, provider) else {
            return;
        };
        assert!(frames > 0, "{file}");
        // Every recorded kline and ticker frame is a hot shape.
        assert!(data > 0, "{file}: no data frame");
        assert_eq!(
            fast, data,
            "{file}: data frames the fast path left to simd-json"
        );
    }
}

/// How a variant must be decoded.
enum Expected {
    /// Taken by the fast path, with the same result and events as this reference frame.
    FastLike(&'static str),
    /// Left to the simd-json path (which the harness compares against anyway).
    Fallback,
}

struct TestCase {
    name: &'static str,
    provider: Provider,
    input: &'static str,
    expected: Expected,
}

const KLINE: &str = r#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1700000030123,"s":"BTCUSDT","k":{"t":1700000040000,"T":1700000099999,"s":"BTCUSDT","i":"1m","f":3000001,"L":3000042,"o":"37000.10","c":"37010.00","h":"37020.50","l":"36990.25","v":"12.34500000","n":42,"x":false,"q":"456789.01000000","V":"6.10000000","Q":"225000.50000000","B":"0"}},"_st":1700000030124000000}"#;
const RAW_KLINE: &str = r#"{"e":"kline","E":1700003600500,"s":"ETHUSDT","k":{"t":1700000000000,"T":1700003599999,"s":"ETHUSDT","i":"1h","f":900,"L":950,"o":"2000.01","c":"2001.02","h":"2003.03","l":"1999.04","v":"1500.5","n":51,"x":true,"q":"3001000.25","V":"700.1","Q":"1400000.5","B":"0"}}"#;
const TICKER: &str = r#"{"stream":"bnbbtc@ticker","data":{"e":"24hrTicker","E":1672515782136,"s":"BNBBTC","p":"0.0015","P":"250.00","w":"0.0018","x":"0.0009","c":"0.0025","Q":"10","b":"0.0024","B":"11","a":"0.0026","A":"100","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}}"#;
const MINI_ARR: &str = r#"[{"e":"24hrMiniTicker","E":1700000000500,"s":"BTCUSDT","c":"37010.00","o":"36500.00","h":"37100.00","l":"36400.00","v":"25000.50000000","q":"920000000.75000000"},{"e":"24hrMiniTicker","E":1700000000501,"s":"ETHUSDT","c":"2000.50","o":"1950.00","h":"2010.00","l":"1940.00","v":"1000.5","q":"2001000.25"}]"#;
const CANDLE: &str = r#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1700000040000","37000.1","37020.5","36990.25","37010","12.345","456789.01","456789.01","0"]],"_st":1700000041000000123}"#;
const OKX_TICKER: &str = r#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"37010.1","lastSz":"0.0002","askPx":"37010.2","askSz":"1.55896972","bidPx":"37010","bidSz":"0.23393","open24h":"36500.4","high24h":"37100","low24h":"36400.3","sodUtc0":"36600.8","sodUtc8":"36700.7","volCcy24h":"925802090.62716611","vol24h":"25002.13085371","ts":"1700000000956"}]}"#;

#[test]
fn variants_of_the_hot_shapes() {
    use Expected::{Fallback as Slow, FastLike};
    let cases = [
        // ---- Binance klines ----
        TestCase {
            name: "kline as recorded",
            provider: Provider::Binance,
            input: KLINE,
            expected: FastLike(KLINE),
        },
        TestCase {
            name: "kline, every object's keys reordered, _st first",
            provider: Provider::Binance,
            input: r#"{"_st":1700000030124000000,"data":{"k":{"B":"0","Q":"225000.50000000","V":"6.10000000","q":"456789.01000000","x":false,"n":42,"v":"12.34500000","l":"36990.25","h":"37020.50","c":"37010.00","o":"37000.10","L":3000042,"f":3000001,"i":"1m","s":"BTCUSDT","T":1700000099999,"t":1700000040000},"s":"BTCUSDT","E":1700000030123,"e":"kline"},"stream":"btcusdt@kline_1m"}"#,
            expected: FastLike(KLINE),
        },
        TestCase {
            name: "kline with whitespace between every token",
            provider: Provider::Binance,
            input: " \r\n{ \"stream\" :\t\"btcusdt@kline_1m\" ,\n \"data\" : { \"e\" : \"kline\" , \"E\" : 1700000030123 , \"s\" : \"BTCUSDT\" , \"k\" : { \"t\" : 1700000040000 , \"s\" : \"BTCUSDT\" , \"i\" : \"1m\" , \"o\" : \"37000.10\" , \"c\" : \"37010.00\" , \"h\" : \"37020.50\" , \"l\" : \"36990.25\" , \"v\" : \"12.34500000\" , \"x\" : false } } , \"_st\" : 1700000030124000000 } \n",
            expected: FastLike(KLINE),
        },
        TestCase {
            name: "kline with nested unknown fields everywhere",
            provider: Provider::Binance,
            input: r#"{"zz":{"a":[1,{"b":[null,true,false,-5,"x\"}]"]}],"c":{}},"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1700000030123,"yy":[[[]],{"k":"not this one"}],"s":"BTCUSDT","k":{"t":1700000040000,"s":"BTCUSDT","i":"1m","o":"37000.10","c":"37010.00","h":"37020.50","l":"36990.25","v":"12.34500000","x":false,"xx":{"o":"1","s":["\\"]}}},"_st":1700000030124000000}"#,
            expected: FastLike(KLINE),
        },
        TestCase {
            name: "kline with escapes and non-ASCII in fields nobody reads",
            provider: Provider::Binance,
            input: r#"{"stream":"btcusdt\/kline\u005f1m","data":{"e":"kline","E":1700000030123,"s":"BTC\u0055SDT","m":"Größe \"€\"","k":{"t":1700000040000,"s":"BTCUSDT","i":"1m","o":"37000.10","c":"37010.00","h":"37020.50","l":"36990.25","v":"12.34500000","x":false,"B":"\t"}},"_st":1700000030124000000}"#,
            expected: FastLike(KLINE),
        },
        TestCase {
            name: "raw kline",
            provider: Provider::BinanceUsdm,
            input: RAW_KLINE,
            expected: FastLike(RAW_KLINE),
        },
        TestCase {
            name: "raw kline, k first, symbol only outside k",
            provider: Provider::BinanceUsdm,
            input: r#"{"k":{"i":"1h","t":1700000000000,"o":"2000.01","c":"2001.02","h":"2003.03","l":"1999.04","v":"1500.5","x":true},"s":"ETHUSDT","E":1700003600500,"e":"kline"}"#,
            expected: FastLike(RAW_KLINE),
        },
        TestCase {
            name: "kline times as digit strings",
            provider: Provider::BinanceUsdm,
            input: r#"{"e":"kline","E":"1700003600500","s":"ETHUSDT","k":{"t":"1700000000000","s":"ETHUSDT","i":"1h","o":"2000.01","c":"2001.02","h":"2003.03","l":"1999.04","v":"1500.5","x":true}}"#,
            expected: FastLike(RAW_KLINE),
        },
        TestCase {
            name: "kline _st as a digit string",
            provider: Provider::Binance,
            input: r#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1700000030123,"s":"BTCUSDT","k":{"t":1700000040000,"s":"BTCUSDT","i":"1m","o":"37000.10","c":"37010.00","h":"37020.50","l":"36990.25","v":"12.34500000","x":false}},"_st":"1700000030124000000"}"#,
            expected: FastLike(KLINE),
        },
        TestCase {
            name: "an escape in a field that is read: simd-json unescapes it",
            provider: Provider::Binance,
            input: r#"{"e":"kline","E":1700003600500,"s":"ETHUSDT","k":{"t":1700000000000,"s":"ETH\u0055SDT","i":"1h","o":"2000.01","c":"2001.02","h":"2003.03","l":"1999.04","v":"1500.5","x":true}}"#,
            expected: Slow,
        },
        TestCase {
            name: "an escaped key may spell a key that is read",
            provider: Provider::Binance,
            input: r#"{"e":"kline","E":1700003600500,"s":"ETHUSDT","\u006b":{"t":1700000000000,"s":"ETHUSDT","i":"1h","o":"2000.01","c":"2001.02","h":"2003.03","l":"1999.04","v":"1500.5","x":true}}"#,
            expected: Slow,
        },
        TestCase {
            name: "a duplicate key that is read",
            provider: Provider::Binance,
            input: r#"{"e":"kline","E":1700003600500,"s":"ETHUSDT","k":{"t":1700000000000,"s":"ETHUSDT","i":"1h","o":"1","o":"2000.01","c":"2001.02","h":"2003.03","l":"1999.04","v":"1500.5","x":true}}"#,
            expected: Slow,
        },
        TestCase {
            name: "a duplicate key nobody reads",
            provider: Provider::BinanceUsdm,
            input: r#"{"e":"kline","E":1700003600500,"s":"ETHUSDT","n":1,"n":2,"k":{"t":1700000000000,"s":"ETHUSDT","i":"1h","o":"2000.01","c":"2001.02","h":"2003.03","l":"1999.04","v":"1500.5","x":true}}"#,
            expected: FastLike(RAW_KLINE),
        },
        TestCase {
            name: "a float anywhere is simd-json's",
            provider: Provider::Binance,
            input: r#"{"e":"kline","E":1700003600500,"s":"ETHUSDT","z":0.5,"k":{"t":1700000000000,"s":"ETHUSDT","i":"1h","o":"2000.01","c":"2001.02","h":"2003.03","l":"1999.04","v":"1500.5","x":true}}"#,
            expected: Slow,
        },
        TestCase {
            name: "a negative integer nobody reads",
            provider: Provider::BinanceUsdm,
            input: r#"{"e":"kline","E":1700003600500,"s":"ETHUSDT","k":{"t":1700000000000,"f":-1,"L":-1,"s":"ETHUSDT","i":"1h","o":"2000.01","c":"2001.02","h":"2003.03","l":"1999.04","v":"1500.5","x":true}}"#,
            expected: FastLike(RAW_KLINE),
        },
        TestCase {
            name: "trailing bytes after the frame",
            provider: Provider::Binance,
            input: r#"{"e":"kline","E":1700003600500,"s":"ETHUSDT","k":{"t":1700000000000,"s":"ETHUSDT","i":"1h","o":"2000.01","c":"2001.02","h":"2003.03","l":"1999.04","v":"1500.5","x":true}} x"#,
            expected: Slow,
        },
        TestCase {
            name: "a raw payload beside data: the payload wins",
            provider: Provider::BinanceUsdm,
            input: r#"{"data":{"e":"kline"},"e":"kline","E":1700003600500,"s":"ETHUSDT","k":{"t":1700000000000,"s":"ETHUSDT","i":"1h","o":"2000.01","c":"2001.02","h":"2003.03","l":"1999.04","v":"1500.5","x":true}}"#,
            expected: FastLike(RAW_KLINE),
        },
        // ---- Binance tickers ----
        TestCase {
            name: "ticker as recorded",
            provider: Provider::Binance,
            input: TICKER,
            expected: FastLike(TICKER),
        },
        TestCase {
            name: "ticker with null and absent book fields",
            provider: Provider::Binance,
            input: r#"{"e":"24hrMiniTicker","E":1700000000500,"s":"BTCUSDT","c":"37010.00","v":"25000.5","q":"920000000.75","b":null,"B":""}"#,
            expected: FastLike(r#"{"e":"24hrMiniTicker","E":1700000000500,"s":"BTCUSDT","c":"37010.00","v":"25000.5","q":"920000000.75"}"#),
        },
        TestCase {
            name: "mini ticker array, keys reordered",
            provider: Provider::Binance,
            input: r#"[{"q":"920000000.75000000","v":"25000.50000000","c":"37010.00","s":"BTCUSDT","E":1700000000500,"e":"24hrMiniTicker"},{"s":"ETHUSDT","q":"2001000.25","c":"2000.50","E":1700000000501,"v":"1000.5","e":"24hrMiniTicker"}]"#,
            expected: FastLike(MINI_ARR),
        },
        TestCase {
            name: "an array element that is not a ticker",
            provider: Provider::Binance,
            input: r#"[{"e":"24hrMiniTicker","E":1700000000500,"s":"BTCUSDT","c":"37010.00","v":"25000.5","q":"920000000.75"},{"e":"kline"}]"#,
            expected: Slow,
        },
        // ---- OKX candles ----
        TestCase {
            name: "candle as recorded",
            provider: Provider::Okx,
            input: CANDLE,
            expected: FastLike(CANDLE),
        },
        TestCase {
            name: "candle with data and _st before arg, arg keys reordered",
            provider: Provider::Okx,
            input: r#"{"_st":1700000041000000123,"data":[["1700000040000","37000.1","37020.5","36990.25","37010","12.345","456789.01","456789.01","0"]],"arg":{"instId":"BTC-USDT","channel":"candle1m"}}"#,
            expected: FastLike(CANDLE),
        },
        TestCase {
            name: "candle with whitespace and unknown root fields",
            provider: Provider::Okx,
            input: "{ \"arg\" : { \"channel\" : \"candle1m\" , \"instId\" : \"BTC-USDT\" , \"x\" : [ ] } ,\n \"data\" : [ [ \"1700000040000\" , \"37000.1\" , \"37020.5\" , \"36990.25\" , \"37010\" , \"12.345\" , { } , null , \"0\" , [ 1 ] ] ] , \"w\" : { \"v\" : \"\\\\\" } , \"_st\" : 1700000041000000123 }",
            expected: FastLike(CANDLE),
        },
        TestCase {
            name: "candle ts as a number",
            provider: Provider::Okx,
            input: r#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[[1700000040000,"37000.1","37020.5","36990.25","37010","12.345","456789.01","456789.01","0"]],"_st":1700000041000000123}"#,
            expected: FastLike(CANDLE),
        },
        TestCase {
            name: "candle confirm as a number",
            provider: Provider::Okx,
            input: r#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1700000040000","37000.1","37020.5","36990.25","37010","12.345","456789.01","456789.01",1]]}"#,
            expected: Slow,
        },
        TestCase {
            name: "candle confirm escaped",
            provider: Provider::Okx,
            input: r#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1700000040000","37000.1","37020.5","36990.25","37010","12.345","456789.01","456789.01","\u0031"]]}"#,
            expected: Slow,
        },
        TestCase {
            name: "an event frame",
            provider: Provider::Okx,
            input: r#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[],"event":"subscribe"}"#,
            expected: Slow,
        },
        TestCase {
            name: "a channel the fast path does not read",
            provider: Provider::Okx,
            input: r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"data":[]}"#,
            expected: Slow,
        },
        // ---- OKX tickers ----
        TestCase {
            name: "ticker as recorded",
            provider: Provider::OkxLinear,
            input: OKX_TICKER,
            expected: FastLike(OKX_TICKER),
        },
        TestCase {
            name: "ticker keys reordered, instId only in arg, data before arg",
            provider: Provider::OkxLinear,
            input: r#"{"data":[{"ts":"1700000000956","vol24h":"25002.13085371","volCcy24h":"925802090.62716611","bidSz":"0.23393","bidPx":"37010","askSz":"1.55896972","askPx":"37010.2","last":"37010.1"}],"arg":{"instId":"BTC-USDT","channel":"tickers"}}"#,
            expected: FastLike(OKX_TICKER),
        },
        TestCase {
            name: "ticker with a duplicate read key",
            provider: Provider::OkxLinear,
            input: r#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","last":"1","last":"37010.1","askPx":"37010.2","askSz":"1.55896972","bidPx":"37010","bidSz":"0.23393","volCcy24h":"925802090.62716611","vol24h":"25002.13085371","ts":"1700000000956"}]}"#,
            expected: Slow,
        },
    ];
    let mut scratch = Scratch::default();
    for c in cases {
        let path = same(&mut scratch, c.provider, c.input.as_bytes(), c.name);
        match c.expected {
            Expected::Fallback => assert_eq!(path, Fallback, "{}", c.name),
            Expected::FastLike(reference) => {
                assert_eq!(path, Fast, "{}", c.name);
                let ctx = DecodeCtx {
                    provider: c.provider,
                };
                let (mut want, mut got) = (Vec::new(), Vec::new());
                let want_r = decode(
                    &ctx,
                    &mut reference.as_bytes().to_vec(),
                    &mut Scratch::default(),
                    &mut want,
                );
                let got_r = decode_fast(&ctx, c.input.as_bytes(), &mut scratch, &mut got);
                assert_eq!(got_r.map(Ok), Some(want_r), "{}: result", c.name);
                assert_eq!(got, want, "{}: events", c.name);
                assert!(!got.is_empty(), "{}", c.name);
            }
        }
    }
}

/// Every prefix, every single-byte change, deletion and duplication of the hot frames.
#[test]
fn every_truncation_and_byte_mutation_of_the_hot_frames() {
    let mut scratch = Scratch::default();
    let replacements = [
        b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b' ', b'0', b'9', b'-', b'.', b'e', b'x',
        b'u', 0x00, 0x1f, 0x80, 0xff,
    ];
    let mut frames = 0;
    for (file, provider) in HOT {
        for (i, frame) in fixture_lines(file).iter().enumerate() {
            let what = format!("{file}:{}", i + 1);
            assert_eq!(same(&mut scratch, provider, frame, &what), Fast, "{what}");
            for cut in 0..frame.len() {
                same(
                    &mut scratch,
                    provider,
                    &frame[..cut],
                    &format!("{what} cut at {cut}"),
                );
                frames += 1;
            }
            for at in 0..frame.len() {
                let mut m = frame.clone();
                for r in replacements {
                    m[at] = r;
                    same(
                        &mut scratch,
                        provider,
                        &m,
                        &format!("{what} byte {at} = {r:#x}"),
                    );
                }
                let mut del = frame.clone();
                del.remove(at);
                same(
                    &mut scratch,
                    provider,
                    &del,
                    &format!("{what} without byte {at}"),
                );
                let mut dup = frame.clone();
                dup.insert(at, frame[at]);
                same(
                    &mut scratch,
                    provider,
                    &dup,
                    &format!("{what} byte {at} twice"),
                );
                frames += replacements.len() + 2;
            }
        }
    }
    println!("{frames} truncated or mutated frames");
}

/// A deterministic random walk of multi-byte mutations (a poor man's fuzzer, always run).
#[test]
fn random_mutations_of_the_hot_frames() {
    let mut frames: Vec<(Provider, Vec<u8>)> = Vec::new();
    for (file, provider) in HOT {
        for f in fixture_lines(file) {
            frames.push((provider, f));
        }
    }
    for s in [KLINE, RAW_KLINE, TICKER, MINI_ARR, CANDLE, OKX_TICKER] {
        let p = if s.contains("\"arg\"") {
            Provider::Okx
        } else {
            Provider::Binance
        };
        frames.push((p, s.as_bytes().to_vec()));
    }
    let alphabet = b"\"\\{}[],: \t0123456789-.eEtrufalsn_kxsSiE";
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut scratch = Scratch::default();
    let mut fast = 0;
    let rounds = 20_000;
    for round in 0..rounds {
        let (provider, base) = &frames[(next() % frames.len() as u64) as usize];
        let mut m = base.clone();
        for _ in 0..1 + next() % 3 {
            let at = (next() % m.len() as u64) as usize;
            match next() % 4 {
                0 => m[at] = alphabet[(next() % alphabet.len() as u64) as usize],
                1 => {
                    m.remove(at);
                }
                2 => m.insert(at, alphabet[(next() % alphabet.len() as u64) as usize]),
                _ => {
                    // Swap two bytes (reorders, e.g. digits inside a decimal).
                    let other = (next() % m.len() as u64) as usize;
                    m.swap(at, other);
                }
            }
            if m.is_empty() {
                break;
            }
        }
        if same(&mut scratch, *provider, &m, &format!("round {round}")) == Fast {
            fast += 1;
        }
    }
    println!("{fast} of {rounds} mutated frames took the fast path");
    // Many mutations hit a byte nobody reads (or an equivalent one): both paths must see them.
    assert!(fast > rounds / 20, "{fast}");
}

#[test]
fn venues_without_a_fast_path_fall_back() {
    let mut scratch = Scratch::default();
    for p in Provider::ALL {
        if matches!(p.exchange(), Exchange::Binance | Exchange::Okx) {
            continue;
        }
        assert_eq!(
            same(&mut scratch, p, KLINE.as_bytes(), "kline"),
            Fallback,
            "{p}"
        );
    }
}
