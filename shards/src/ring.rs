//! The ring hand-off: each shard pushes `Envelope`s into its own lock-free SPSC ring (rtrb) and
//! wakes the publisher core. A full ring is back-pressure, never a drop: the socket task waits
//! (so it stops reading its socket) and the wait is counted. Imports crate::event.

use crate::event::Envelope;
use std::sync::Arc;

/// How a shard wakes the publisher after pushing (the publisher wraps a tokio `Notify`).
pub trait Wake: Send + Sync {
    fn wake(&self);
}

/// A no-op waker for tests and tools that poll the ring themselves.
pub struct NoWake;
impl Wake for NoWake {
    fn wake(&self) {}
}

pub struct RingTx {
    producer: rtrb::Producer<Envelope>,
    wake: Arc<dyn Wake>,
}

impl RingTx {
    pub fn new(producer: rtrb::Producer<Envelope>, wake: Arc<dyn Wake>) -> Self {
        RingTx { producer, wake }
    }

    /// Pushes one envelope; gives it back when the ring is full.
    #[inline]
    pub fn try_push(&mut self, env: Envelope) -> Result<(), Envelope> {
        self.producer
            .push(env)
            .map_err(|rtrb::PushError::Full(e)| e)
    }

    #[inline]
    pub fn wake(&self) {
        self.wake.wake();
    }

    pub fn free_slots(&self) -> usize {
        self.producer.slots()
    }

    pub fn capacity(&self) -> usize {
        self.producer.buffer().capacity()
    }
}

/// Creates a ring of `capacity` envelopes.
pub fn ring(capacity: usize, wake: Arc<dyn Wake>) -> (RingTx, rtrb::Consumer<Envelope>) {
    let (p, c) = rtrb::RingBuffer::new(capacity.max(2));
    (RingTx::new(p, wake), c)
}

/// The user-event ring of a shard: owned payloads (account events are rare and large), the
/// same never-drop rule: a full ring makes the session wait.
pub struct UserRingTx {
    producer: rtrb::Producer<crate::event::UserEnvelope>,
    wake: Arc<dyn Wake>,
}

impl UserRingTx {
    #[inline]
    pub fn try_push(
        &mut self,
        env: crate::event::UserEnvelope,
    ) -> Result<(), crate::event::UserEnvelope> {
        self.producer
            .push(env)
            .map_err(|rtrb::PushError::Full(e)| e)
    }

    #[inline]
    pub fn wake(&self) {
        self.wake.wake();
    }
}

/// Creates a user ring of `capacity` items.
pub fn user_ring(
    capacity: usize,
    wake: Arc<dyn Wake>,
) -> (UserRingTx, rtrb::Consumer<crate::event::UserEnvelope>) {
    let (producer, c) = rtrb::RingBuffer::new(capacity.max(2));
    (UserRingTx { producer, wake }, c)
}
