//! Exchange adapters, one module per exchange with the same shape:
//! `endpoints` (URLs from config), `subscribe` (subscribe messages and per-socket limits),
//! `keepalive` (what the venue requires), `decode` (frame → [`Event`]).
//! Imports crate::{event, types, error}; the shared session machinery lives in crate::session.
//!
//! Two entries decode a market-data frame. [`decode`] parses a mutable copy in place with
//! simd-json (any frame, every error). [`decode_text`] first tries the tape-free fast path
//! ([`decode_fast`]: the hot kline/candle/ticker shapes read straight off the immutable text by
//! `scan`) and falls back to [`decode`] for everything it does not recognize, so both always
//! give the same result and events.

pub mod binance;
pub(crate) mod json;
pub mod okx;
pub(crate) mod scan;
pub mod user;

use crate::event::Event;
use crate::types::Provider;

/// What a frame was, besides the events it produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// Market or account data: `events` events were emitted (0 is legal: e.g. an open candle on
    /// a closed-only channel still proves the market is alive).
    Data { events: u32 },
    /// The venue accepted a subscribe/unsubscribe request (`id` when the venue echoes one).
    SubscribeAck { id: u64 },
    /// A keepalive answer (OKX text `pong`, a JSON pong).
    Pong,
    /// The venue reported an error for a request (`code` as the venue numbers it).
    VenueError { code: i64 },
    /// A frame the session knows and has nothing to do with (notices, connection counts).
    Ignored,
}

/// The result of decoding one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub kind: FrameKind,
    /// The simulator's send stamp (`"_st"`, ns since the epoch), 0 when absent.
    pub sent_ns: u64,
}

impl Decoded {
    pub fn data(events: u32, sent_ns: u64) -> Self {
        Decoded {
            kind: FrameKind::Data { events },
            sent_ns,
        }
    }
    pub fn of(kind: FrameKind) -> Self {
        Decoded { kind, sent_ns: 0 }
    }
}

/// Per-socket decode context: the socket knows which provider its frames belong to.
#[derive(Clone, Copy, Debug)]
pub struct DecodeCtx {
    pub provider: Provider,
}

/// A sink for decoded events (a ring producer in the shard, a Vec in tests and `corefeed decode`).
pub trait EventSink {
    fn emit(&mut self, event: Event);
}

impl EventSink for Vec<Event> {
    fn emit(&mut self, event: Event) {
        self.push(event);
    }
}

impl<F: FnMut(Event)> EventSink for F {
    fn emit(&mut self, event: Event) {
        self(event)
    }
}

/// Reusable parse buffers, one per socket task, so decoding allocates nothing per frame.
pub struct Scratch {
    pub buffers: simd_json::Buffers,
    /// The fast path's events of the current frame, held back until the whole frame is
    /// validated (a frame it gives up on half-way must not have emitted anything).
    pending: Vec<Event>,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            buffers: simd_json::Buffers::new(16 * 1024),
            pending: Vec::with_capacity(64),
        }
    }
}

/// Decodes one frame with the adapter of `ctx.provider`'s exchange.
pub fn decode(
    ctx: &DecodeCtx,
    frame: &mut [u8],
    scratch: &mut Scratch,
    sink: &mut impl EventSink,
) -> Result<Decoded, crate::error::DecodeError> {
    use crate::types::Exchange;
    match ctx.provider.real().exchange() {
        Exchange::Binance => binance::decode::decode(ctx, frame, scratch, sink),
        Exchange::Okx => okx::decode::decode(ctx, frame, scratch, sink),
        _ => Err(crate::error::DecodeError::Unsupported(ctx.provider)),
    }
}

/// Decodes one text frame from its immutable bytes: the fast path when it recognizes the
/// frame, else a copy into `copy` (reused, one per socket) decoded by [`decode`]. The result and
/// the events are always exactly what [`decode`] gives for the same bytes.
pub fn decode_text(
    ctx: &DecodeCtx,
    text: &[u8],
    copy: &mut Vec<u8>,
    scratch: &mut Scratch,
    sink: &mut impl EventSink,
) -> Result<Decoded, crate::error::DecodeError> {
    if let Some(decoded) = decode_fast(ctx, text, scratch, sink) {
        return Ok(decoded);
    }
    copy.clear();
    copy.extend_from_slice(text);
    decode(ctx, copy, scratch, sink)
}

/// The tape-free fast path alone (what [`decode_text`] tries first; public for tests, fuzzing
/// and benchmarks). `Some(d)`: the frame was recognized, its events were emitted to `sink` and
/// `Ok(d)` is what [`decode`] returns for it. `None`: not recognized, nothing was emitted.
/// It never returns an error: frames that fail go to [`decode`], which reports them.
pub fn decode_fast(
    ctx: &DecodeCtx,
    text: &[u8],
    scratch: &mut Scratch,
    sink: &mut impl EventSink,
) -> Option<Decoded> {
    use crate::types::Exchange;
    let pending = &mut scratch.pending;
    match ctx.provider.real().exchange() {
        Exchange::Binance => binance::decode::decode_fast(ctx, text, pending, sink),
        Exchange::Okx => okx::decode::decode_fast(ctx, text, pending, sink),
        _ => None,
    }
}

/// Emits a fully validated frame's events, in order, and leaves `pending` empty.
pub(crate) fn emit_pending(
    pending: &mut Vec<Event>,
    sent_ns: u64,
    sink: &mut impl EventSink,
) -> Decoded {
    // A frame holds far fewer than u32::MAX events (each takes dozens of bytes of text).
    let n = pending.len() as u32;
    for event in pending.drain(..) {
        sink.emit(event);
    }
    Decoded::data(n, sent_ns)
}
