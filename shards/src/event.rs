//! The compact event enum that crosses the rings. Pure: imports crate::types.
//!
//! Every variant is `Copy` and heap-free: a decoder fills one on the stack from a borrowed frame
//! and pushes it by value. Decimal fields hold the exchange's own digits.

use crate::types::{Decimal, Interval, Provider, Symbol};

/// One normalized market-data event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Candle(Candle),
    Ticker(Ticker),
}

impl Event {
    pub fn provider(&self) -> Provider {
        match self {
            Event::Candle(c) => c.provider,
            Event::Ticker(t) => t.provider,
        }
    }

    pub fn kind(&self) -> EventKind {
        match self {
            Event::Candle(_) => EventKind::Candle,
            Event::Ticker(_) => EventKind::Ticker,
        }
    }
}

/// The routing kinds of `contract.md` §4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    Order,
    Balance,
    Position,
    Candle,
    Ticker,
    Status,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::Order,
        EventKind::Balance,
        EventKind::Position,
        EventKind::Candle,
        EventKind::Ticker,
        EventKind::Status,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Order => "order",
            EventKind::Balance => "balance",
            EventKind::Position => "position",
            EventKind::Candle => "candle",
            EventKind::Ticker => "ticker",
            EventKind::Status => "status",
        }
    }
}

/// A kline update. `closed` is the venue's own flag (Binance `k.x`, OKX `confirm == "1"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candle {
    pub provider: Provider,
    pub symbol: Symbol,
    /// The interval as the venue reports it back (Binance `k.i`, OKX `arg.channel`).
    pub interval: Interval,
    /// Candle open time, ms.
    pub start_ms: u64,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    /// Base volume as the seed publishes it (Binance `v`, OKX `vol`).
    pub volume: Decimal,
    pub closed: bool,
    /// The venue's event time, ms (OKX candles carry none: 0).
    pub event_time_ms: u64,
}

/// Which venue field the seed put into `bestAskQnt`/`bestBidQnt` (`seed-contract.md` §10.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedQuantity {
    /// Binance: the 24 h quote volume `q` in both.
    QuoteVolume,
    /// OKX: `askSz` / `bidSz`.
    BookSizes,
}

/// A 24 h ticker. Book fields are empty when the venue's ticker carries none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticker {
    pub provider: Provider,
    pub symbol: Symbol,
    /// The venue's event time, ms.
    pub event_time_ms: u64,
    pub last: Decimal,
    /// 24 h base volume as the seed publishes it (Binance `v`, OKX `vol24h`).
    pub volume: Decimal,
    /// 24 h quote volume (Binance `q`, OKX `volCcy24h`).
    pub quote_volume: Decimal,
    pub bid: Decimal,
    pub bid_size: Decimal,
    pub ask: Decimal,
    pub ask_size: Decimal,
    pub seed_quantity: SeedQuantity,
}

impl Candle {
    /// A candle with no price fields set yet (decoders fill it field by field).
    pub const fn empty(provider: Provider, symbol: Symbol, interval: Interval) -> Candle {
        Candle {
            provider,
            symbol,
            interval,
            start_ms: 0,
            open: Decimal::EMPTY,
            high: Decimal::EMPTY,
            low: Decimal::EMPTY,
            close: Decimal::EMPTY,
            volume: Decimal::EMPTY,
            closed: false,
            event_time_ms: 0,
        }
    }
}

impl Ticker {
    /// A ticker with no fields set yet (decoders fill it field by field).
    pub const fn empty(provider: Provider, seed_quantity: SeedQuantity) -> Ticker {
        Ticker {
            provider,
            symbol: Symbol::EMPTY,
            event_time_ms: 0,
            last: Decimal::EMPTY,
            volume: Decimal::EMPTY,
            quote_volume: Decimal::EMPTY,
            bid: Decimal::EMPTY,
            bid_size: Decimal::EMPTY,
            ask: Decimal::EMPTY,
            ask_size: Decimal::EMPTY,
            seed_quantity,
        }
    }
}

/// What travels through a shard's ring: the event plus the clocks latency is measured with.
#[derive(Clone, Copy, Debug)]
pub struct Envelope {
    pub event: Event,
    /// Wall clock (ns since the Unix epoch) when the frame was read from the socket.
    pub recv_ns: u64,
    /// The simulator's send stamp (ns since the epoch) when the frame carried one, else 0.
    pub sent_ns: u64,
    /// When the event entered the ring (ns since the epoch), stamped only for frames that carry
    /// a send stamp (the bench's send → ring latency); 0 otherwise, so production pays no
    /// extra clock read.
    pub ring_ns: u64,
    /// Which shard produced it.
    pub shard: u16,
}

/// Wall clock in ns since the Unix epoch.
#[inline]
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Wall clock in ms since the Unix epoch.
#[inline]
pub fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_stays_small_enough_to_copy() {
        // A regression guard on the ring slot size, not a performance claim.
        assert!(
            std::mem::size_of::<Envelope>() <= 320,
            "{}",
            std::mem::size_of::<Envelope>()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// User streams: low-rate, owned payloads on their own ring (never on the price hot path).
// ---------------------------------------------------------------------------------------------

/// A user-stream room as the publisher sees it: never any credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomTag {
    /// The room id (`uuid` of the open command, or the seed's sha1 rule): the Redis channel.
    pub room_id: String,
    pub user_id: String,
    pub provider: Provider,
}

/// What a user-stream session hands to the publisher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserItem {
    /// One normalized account event: `PUBLISH <roomId>`, `stream:lastEventTime`, the `orders`
    /// hash, and the RabbitMQ `order|balance|position|status` message.
    Message(crate::exchanges::user::UserMessage),
    /// The venue accepted the room's subscriptions (first open or after a reconnect):
    /// `PUBLISH userStreamInfo<roomId> "Subscribed to user <roomId>"` (consumers reconcile).
    Subscribed { reconnect: bool },
}

/// One item on a shard's user ring.
#[derive(Clone, Debug)]
pub struct UserEnvelope {
    pub room: std::sync::Arc<RoomTag>,
    pub item: UserItem,
    /// When the frame was read (ns since the epoch).
    pub recv_ns: u64,
}
