//! Exchange adapters, one module per exchange with the same shape:
//! `endpoints` (URLs from config), `subscribe` (subscribe messages and per-socket limits),
//! `keepalive` (what the venue requires), `decode` (frame → [`Event`]).
//! Imports crate::{event, types, error}; the shared session machinery lives in crate::session.

pub mod binance;
pub(crate) mod json;
pub mod okx;
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
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            buffers: simd_json::Buffers::new(16 * 1024),
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
