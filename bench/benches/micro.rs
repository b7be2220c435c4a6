//! Micro-benchmarks of corefeed's hot path (criterion): each decoder on the fixture frames, the
//! ring hand-off (rtrb push + pop of an `Envelope`) and the Redis/AMQP encoders.
//!
//! `cargo bench -p corefeed-bench --bench micro` (add `-- --warm-up-time 1 --measurement-time 2`
//! for a short run). `decode` parses in place (simd-json), so each of its iterations first
//! copies the frame into a reused buffer; the copy (a few hundred bytes) is part of the number.
//! `decode_text` is what a socket runs: the tape-free fast path on the immutable frame, the
//! copy and `decode` only for frames it does not recognize (none of these).

use corefeed::publisher::encode::{amqp_event, redis_event, AmqpMessage, RedisMessage};
use corefeed_shards::event::{Envelope, Event};
use corefeed_shards::exchanges::{decode, decode_text, DecodeCtx, Scratch};
use corefeed_shards::types::Provider;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::path::Path;

/// Line `n` (1-based) of a fixture file under shards/fixtures.
fn fixture(file: &str, n: usize) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shards/fixtures")
        .join(file);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .nth(n - 1)
        .unwrap_or_else(|| panic!("{} has no line {n}", p.display()))
        .as_bytes()
        .to_vec()
}

/// (bench name, provider, fixture file, line).
const FRAMES: [(&str, Provider, &str, usize); 4] = [
    ("binance_kline", Provider::Binance, "binance/kline.jsonl", 1),
    (
        "binance_mini_ticker_arr",
        Provider::Binance,
        "binance/mini_ticker_arr.jsonl",
        2,
    ),
    ("okx_candle", Provider::Okx, "okx/candle.jsonl", 1),
    ("okx_ticker", Provider::Okx, "okx/tickers.jsonl", 1),
];

fn decoded(provider: Provider, frame: &[u8]) -> Vec<Event> {
    let mut buf = frame.to_vec();
    let mut out = Vec::new();
    decode(
        &DecodeCtx { provider },
        &mut buf,
        &mut Scratch::default(),
        &mut out,
    )
    .expect("fixture frame decodes");
    assert!(!out.is_empty(), "fixture frame gives events");
    out
}

fn decoders(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    for (name, provider, file, line) in FRAMES {
        let frame = fixture(file, line);
        let events = decoded(provider, &frame).len();
        let ctx = DecodeCtx { provider };
        let mut scratch = Scratch::default();
        let mut buf = Vec::with_capacity(frame.len() * 2);
        let mut out: Vec<Event> = Vec::with_capacity(16);
        g.throughput(Throughput::Bytes(frame.len() as u64));
        g.bench_function(format!("{name} ({} B, {events} ev)", frame.len()), |b| {
            b.iter(|| {
                buf.clear();
                buf.extend_from_slice(&frame);
                out.clear();
                let r = decode(&ctx, &mut buf, &mut scratch, &mut out);
                black_box((r.is_ok(), out.len()))
            })
        });
        g.bench_function(
            format!("{name} decode_text ({} B, {events} ev)", frame.len()),
            |b| {
                b.iter(|| {
                    out.clear();
                    let r = decode_text(&ctx, black_box(&frame), &mut buf, &mut scratch, &mut out);
                    black_box((r.is_ok(), out.len()))
                })
            },
        );
    }
    g.finish();
}

fn ring(c: &mut Criterion) {
    let ev = decoded(Provider::Binance, &fixture("binance/kline.jsonl", 1))[0];
    let env = Envelope {
        event: ev,
        recv_ns: 1,
        sent_ns: 2,
        ring_ns: 3,
        shard: 0,
    };
    let (mut tx, mut rx) = rtrb::RingBuffer::<Envelope>::new(65536);
    let mut g = c.benchmark_group("ring");
    g.bench_function(
        format!("push+pop Envelope ({} B)", std::mem::size_of::<Envelope>()),
        |b| {
            b.iter(|| {
                let _ = tx.push(black_box(env));
                black_box(rx.pop().ok().map(|e| e.recv_ns))
            })
        },
    );
    g.bench_function("push 64 then pop 64", |b| {
        b.iter(|| {
            for _ in 0..64 {
                let _ = tx.push(black_box(env));
            }
            let mut n = 0u64;
            while let Ok(e) = rx.pop() {
                n += e.recv_ns;
            }
            black_box(n)
        })
    });
    g.finish();
}

fn encoders(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    for (name, provider, file, line) in FRAMES {
        let mut ev = decoded(provider, &fixture(file, line))[0];
        // Redis publishes only closed Binance/OKX candles: benchmark the closed form.
        if let Event::Candle(c) = &mut ev {
            c.closed = true;
        }
        let mut r = RedisMessage::default();
        g.bench_function(format!("redis {name}"), |b| {
            b.iter(|| black_box(redis_event(black_box(&ev), 1_700_000_000_000, &mut r)))
        });
        let mut a = AmqpMessage::default();
        g.bench_function(format!("amqp {name}"), |b| {
            b.iter(|| {
                amqp_event(black_box(&ev), 1_700_000_000_000_000_000, &mut a);
                black_box(a.body.len())
            })
        });
    }
    g.finish();
}

criterion_group!(micro, decoders, ring, encoders);
criterion_main!(micro);
