//! Proves the hot path allocates nothing per frame: a counting global allocator (its own test
//! binary, so no other test shares it) counts this thread's allocations while the kline and
//! ticker fixtures of both venues are decoded 1000 times each after a warm-up, by the simd-json
//! decoders, by the tape-free fast path alone and by `decode_text` (fast path + fallback copy).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use corefeed_shards::event::Event;
use corefeed_shards::exchanges::{
    binance, decode_fast, decode_text, okx, DecodeCtx, FrameKind, Scratch,
};
use corefeed_shards::types::Provider;

struct Counting;

thread_local! {
    // const-initialised, no destructor: reading them never allocates.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn lines(path: &str) -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/");
    std::fs::read_to_string(format!("{dir}{path}"))
        .unwrap()
        .lines()
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

type DecodeFn = fn(&DecodeCtx, &mut [u8], &mut Scratch, &mut dyn FnMut(Event)) -> FrameKind;

fn bin(ctx: &DecodeCtx, f: &mut [u8], s: &mut Scratch, sink: &mut dyn FnMut(Event)) -> FrameKind {
    let mut sink = |e| sink(e);
    binance::decode::decode(ctx, f, s, &mut sink).unwrap().kind
}

fn okx_(ctx: &DecodeCtx, f: &mut [u8], s: &mut Scratch, sink: &mut dyn FnMut(Event)) -> FrameKind {
    let mut sink = |e| sink(e);
    okx::decode::decode(ctx, f, s, &mut sink).unwrap().kind
}

#[test]
fn hot_path_decodes_without_allocating() {
    let sets: [(&str, Provider, DecodeFn); 7] = [
        ("binance/kline.jsonl", Provider::Binance, bin),
        ("binance/mini_ticker_arr.jsonl", Provider::Binance, bin),
        ("binance/ticker.jsonl", Provider::BinanceUsdm, bin),
        ("binance/acks.jsonl", Provider::Binance, bin),
        ("okx/candle.jsonl", Provider::Okx, okx_),
        ("okx/tickers.jsonl", Provider::OkxLinear, okx_),
        ("okx/acks.jsonl", Provider::Okx, okx_),
    ];
    let mut scratch = Scratch::default();
    // One frame buffer, big enough for every fixture: refilling it does not allocate.
    let mut buf = vec![0u8; 64 * 1024];
    for (file, provider, decode) in sets {
        let frames = lines(file);
        let ctx = DecodeCtx { provider };
        let mut events = 0u64;
        let mut sink = |_e: Event| events += 1;
        // Warm-up: grows the scratch buffers and the thread's tape once.
        for _ in 0..3 {
            for f in &frames {
                let frame = &mut buf[..f.len()];
                frame.copy_from_slice(f);
                decode(&ctx, frame, &mut scratch, &mut sink);
            }
        }
        ALLOCS.with(|n| n.set(0));
        ARMED.with(|a| a.set(true));
        for _ in 0..1000 {
            for f in &frames {
                let frame = &mut buf[..f.len()];
                frame.copy_from_slice(f);
                decode(&ctx, frame, &mut scratch, &mut sink);
            }
        }
        ARMED.with(|a| a.set(false));
        let allocs = ALLOCS.with(|n| n.get());
        println!(
            "{file}: {} frames decoded, {events} events, {allocs} allocations",
            1000 * frames.len()
        );
        assert_eq!(allocs, 0, "{file}: the hot path allocated");
        assert!(events > 0 || file.ends_with("acks.jsonl"));
    }
}

/// Runs `decode` over every frame of `frames` 3 times unarmed (warm-up), then 1000 times armed;
/// returns (events, allocations).
fn count_allocs(frames: &[Vec<u8>], mut decode: impl FnMut(&[u8]) -> u64) -> (u64, u64) {
    for _ in 0..3 {
        for f in frames {
            decode(f);
        }
    }
    let mut events = 0;
    ALLOCS.with(|n| n.set(0));
    ARMED.with(|a| a.set(true));
    for _ in 0..1000 {
        for f in frames {
            events += decode(f);
        }
    }
    ARMED.with(|a| a.set(false));
    (events, ALLOCS.with(|n| n.get()))
}

#[test]
fn fast_path_decodes_without_allocating() {
    let sets = [
        ("binance/kline.jsonl", Provider::Binance),
        ("binance/mini_ticker_arr.jsonl", Provider::Binance),
        ("binance/ticker.jsonl", Provider::BinanceUsdm),
        ("okx/candle.jsonl", Provider::Okx),
        ("okx/tickers.jsonl", Provider::OkxLinear),
    ];
    let mut scratch = Scratch::default();
    for (file, provider) in sets {
        let frames = lines(file);
        let ctx = DecodeCtx { provider };
        let (events, allocs) = count_allocs(&frames, |f| {
            let mut n = 0u64;
            let mut sink = |_e: Event| n += 1;
            // Every frame of these files is a hot shape: the fast path must take it.
            let taken = decode_fast(&ctx, f, &mut scratch, &mut sink);
            assert!(taken.is_some(), "{file}: fast path not taken");
            n
        });
        println!(
            "{file}: {} frames on the fast path, {events} events, {allocs} allocations",
            1000 * frames.len()
        );
        assert_eq!(allocs, 0, "{file}: the fast path allocated");
        assert!(events > 0, "{file}");
    }
}

#[test]
fn decode_text_decodes_without_allocating() {
    // Hot shapes (fast path) and acks (fallback through the reused copy buffer).
    let sets = [
        ("binance/kline.jsonl", Provider::Binance),
        ("binance/mini_ticker_arr.jsonl", Provider::Binance),
        ("binance/ticker.jsonl", Provider::BinanceUsdm),
        ("binance/acks.jsonl", Provider::Binance),
        ("okx/candle.jsonl", Provider::Okx),
        ("okx/tickers.jsonl", Provider::OkxLinear),
        ("okx/acks.jsonl", Provider::Okx),
    ];
    let mut scratch = Scratch::default();
    let mut copy = Vec::new();
    for (file, provider) in sets {
        let frames = lines(file);
        let ctx = DecodeCtx { provider };
        let (events, allocs) = count_allocs(&frames, |f| {
            let mut n = 0u64;
            let mut sink = |_e: Event| n += 1;
            let r = decode_text(&ctx, f, &mut copy, &mut scratch, &mut sink);
            assert!(r.is_ok(), "{file}: {r:?}");
            n
        });
        println!(
            "{file}: {} frames through decode_text, {events} events, {allocs} allocations",
            1000 * frames.len()
        );
        assert_eq!(allocs, 0, "{file}: decode_text allocated");
        assert!(events > 0 || file.ends_with("acks.jsonl"));
    }
}

#[test]
fn the_counter_sees_allocations() {
    ALLOCS.with(|n| n.set(0));
    ARMED.with(|a| a.set(true));
    let v: Vec<u64> = std::hint::black_box(Vec::with_capacity(16));
    ARMED.with(|a| a.set(false));
    drop(v);
    assert_eq!(ALLOCS.with(|n| n.get()), 1);
}
