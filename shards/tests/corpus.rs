//! Real recorded frames (`shared/corpus/*.jsonl`, outside the repository): every line of the
//! three Binance and three OKX files must decode without error; frame kinds and events are
//! counted against the corpus README and a few known values are checked. Skips (passes) when
//! the corpus folder is absent.

use std::collections::BTreeMap;
use std::path::Path;

use corefeed_shards::event::Event;
use corefeed_shards::exchanges::{binance, okx, DecodeCtx, FrameKind, Scratch};
use corefeed_shards::types::{Exchange, Provider};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    frames: usize,
    data_frames: usize,
    candles: usize,
    tickers: usize,
    acks: usize,
    ignored: usize,
    pongs: usize,
    venue_errors: usize,
}

struct Decoded {
    counts: Counts,
    events: Vec<Event>,
    /// Channel label (kind of frame) → frames, for the failure message.
    errors: BTreeMap<String, usize>,
}

fn decode_file(file: &str, provider: Provider) -> Option<Decoded> {
    let path = Path::new(CORPUS).join(file);
    if !Path::new(CORPUS).is_dir() {
        eprintln!("skip: corpus folder {CORPUS} is absent");
        return None;
    }
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ctx = DecodeCtx { provider };
    let mut scratch = Scratch::default();
    let mut out = Decoded {
        counts: Counts::default(),
        events: Vec::new(),
        errors: BTreeMap::new(),
    };
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut frame = line.to_vec();
        let before = out.events.len();
        let r = match provider.exchange() {
            Exchange::Binance => {
                binance::decode::decode(&ctx, &mut frame, &mut scratch, &mut out.events)
            }
            Exchange::Okx => okx::decode::decode(&ctx, &mut frame, &mut scratch, &mut out.events),
            e => panic!("no decoder for {e}"),
        };
        let c = &mut out.counts;
        c.frames += 1;
        match r {
            Ok(d) => {
                assert_eq!(
                    d.sent_ns,
                    0,
                    "{file}:{}: recorded frames carry no _st",
                    i + 1
                );
                match d.kind {
                    FrameKind::Data { events } => {
                        c.data_frames += 1;
                        assert_eq!(
                            events as usize,
                            out.events.len() - before,
                            "{file}:{}",
                            i + 1
                        );
                    }
                    FrameKind::SubscribeAck { .. } => c.acks += 1,
                    FrameKind::Ignored => c.ignored += 1,
                    FrameKind::Pong => c.pongs += 1,
                    FrameKind::VenueError { .. } => c.venue_errors += 1,
                }
            }
            Err(e) => {
                let head = String::from_utf8_lossy(&line[..line.len().min(120)]);
                *out.errors
                    .entry(format!("{file}:{}: {e} — {head}", i + 1))
                    .or_default() += 1;
            }
        }
    }
    for e in &out.events {
        assert_eq!(e.provider(), provider, "{file}");
        match e {
            Event::Candle(_) => out.counts.candles += 1,
            Event::Ticker(_) => out.counts.tickers += 1,
        }
    }
    assert!(
        out.errors.is_empty(),
        "{file}: {} lines failed:\n{:#?}",
        out.errors.len(),
        out.errors
    );
    println!("{file}: {:?}", out.counts);
    Some(out)
}

#[test]
fn binance_spot() {
    let Some(d) = decode_file("binance-spot.jsonl", Provider::Binance) else {
        return;
    };
    // README: depth@100ms 177, bookTicker 84, kline_1m 2, aggTrade 2.
    assert_eq!(
        d.counts,
        Counts {
            frames: 265,
            data_frames: 2,
            candles: 2,
            ignored: 263,
            ..Counts::default()
        }
    );
    // The first NKNUSDT kline (binance.md §4).
    let Event::Candle(k) = d.events[0] else {
        panic!("{:?}", d.events[0])
    };
    assert_eq!(k.symbol, "NKNUSDT");
    assert_eq!(k.interval, "1m");
    assert_eq!(k.start_ms, 1_633_998_480_000);
    assert_eq!(k.open, "0.35270000");
    assert_eq!(k.high, "0.35280000");
    assert_eq!(k.low, "0.35220000");
    assert_eq!(k.close, "0.35280000");
    assert_eq!(k.volume, "25877.00000000");
    assert!(!k.closed);
    assert_eq!(k.event_time_ms, 1_633_998_523_963);
}

#[test]
fn binance_usdm() {
    let Some(d) = decode_file("binance-usdm.jsonl", Provider::BinanceUsdm) else {
        return;
    };
    // README: depth@100ms 764, bookTicker 613, aggTrade 91, kline_1m 67.
    assert_eq!(
        d.counts,
        Counts {
            frames: 1535,
            data_frames: 67,
            candles: 67,
            ignored: 1468,
            ..Counts::default()
        }
    );
    assert!(d
        .events
        .iter()
        .all(|e| matches!(e, Event::Candle(c) if c.interval == "1m")));
    // Both open and closed updates are emitted.
    assert!(d
        .events
        .iter()
        .any(|e| matches!(e, Event::Candle(c) if c.closed)));
    assert!(d
        .events
        .iter()
        .any(|e| matches!(e, Event::Candle(c) if !c.closed)));
}

#[test]
fn binance_coinm() {
    let Some(d) = decode_file("binance-coinm.jsonl", Provider::BinanceCoinm) else {
        return;
    };
    // README: bookTicker 2240, depth@100ms 602, aggTrade 51, kline_1m 33.
    assert_eq!(
        d.counts,
        Counts {
            frames: 2926,
            data_frames: 33,
            candles: 33,
            ignored: 2893,
            ..Counts::default()
        }
    );
    // binance.md §4: the ETHUSD_210924 kline, v in contracts.
    let found = d.events.iter().any(|e| {
        matches!(e, Event::Candle(c) if c.symbol == "ETHUSD_210924"
            && c.start_ms == 1_626_916_380_000
            && c.event_time_ms == 1_626_916_405_054
            && c.open == "1992.70" && c.close == "1992.17" && c.volume == "1893")
    });
    assert!(found, "ETHUSD_210924 kline of binance.md §4 not decoded");
}

#[test]
fn okx_spot() {
    let Some(d) = decode_file("okx-spot.jsonl", Provider::Okx) else {
        return;
    };
    // README: books 98, trades 69, tickers 25, subscribe acks 6.
    assert_eq!(
        d.counts,
        Counts {
            frames: 198,
            data_frames: 25,
            tickers: 25,
            acks: 6,
            ignored: 167,
            ..Counts::default()
        }
    );
    // okx.md §5 real frame.
    let found = d.events.iter().any(|e| {
        matches!(e, Event::Ticker(t) if t.symbol == "BTC-USDT"
            && t.event_time_ms == 1_652_459_224_956
            && t.last == "30236" && t.volume == "17602.13085371"
            && t.quote_volume == "525802090.62716611"
            && t.bid == "30228.6" && t.bid_size == "0.23393"
            && t.ask == "30228.7" && t.ask_size == "1.55896972")
    });
    assert!(found, "BTC-USDT ticker of okx.md §5 not decoded");
}

#[test]
fn okx_swap_inverse() {
    let Some(d) = decode_file("okx-swap-inverse.jsonl", Provider::OkxInverse) else {
        return;
    };
    // README: books 93, tickers 1, trades 1, acks 6.
    assert_eq!(
        d.counts,
        Counts {
            frames: 101,
            data_frames: 1,
            tickers: 1,
            acks: 6,
            ignored: 94,
            ..Counts::default()
        }
    );
    let Event::Ticker(t) = d.events[0] else {
        panic!("{:?}", d.events[0])
    };
    assert_eq!(t.symbol, "UNI-USD-SWAP");
    assert_eq!(t.last, "5.123");
    assert_eq!(t.volume, "289425");
    assert_eq!(t.quote_volume, "577730.7823");
    assert_eq!(t.bid, "5.134");
    assert_eq!(t.bid_size, "96");
    assert_eq!(t.ask, "5.142");
    assert_eq!(t.ask_size, "25");
    assert_eq!(t.event_time_ms, 1_652_459_223_143);
}

#[test]
fn okx_futures_inverse() {
    let Some(d) = decode_file("okx-futures-inverse.jsonl", Provider::OkxInverse) else {
        return;
    };
    // README: books 99, trades 4, tickers 2, acks 6.
    assert_eq!(
        d.counts,
        Counts {
            frames: 111,
            data_frames: 2,
            tickers: 2,
            acks: 6,
            ignored: 103,
            ..Counts::default()
        }
    );
    assert!(d
        .events
        .iter()
        .all(|e| matches!(e, Event::Ticker(t) if t.symbol == "BTC-USD-220527")));
}
