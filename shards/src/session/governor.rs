//! Connection-rate governor: one token bucket per exchange, shared by every shard, so a mass
//! reconnect never dials faster than the venue's documented limit. Pure: imports crate::types.

use crate::types::Exchange;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A token bucket: `burst` tokens, refilled at `per_sec`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub burst: f64,
    pub per_sec: f64,
}

#[derive(Debug)]
struct Bucket {
    rate: Rate,
    tokens: f64,
    last: Instant,
    /// The venue said "come back later" (429/418 Retry-After): no dial before this, from any
    /// shard — a Binance 418 ban is per IP, not per socket.
    held_until: Option<Instant>,
}

impl Bucket {
    /// Reserves one token and returns how long the caller must wait before using it.
    fn reserve(&mut self, now: Instant) -> Duration {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate.per_sec).min(self.rate.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 || self.rate.per_sec <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate.per_sec)
        }
    }
}

/// Shared by all shards (`Arc`). Connects are rare, so a mutex per exchange is cheap.
#[derive(Debug)]
pub struct Governor {
    buckets: Vec<(Exchange, Mutex<Bucket>)>,
    waits: AtomicU64,
    waited_ns: AtomicU64,
    grants: AtomicU64,
}

impl Governor {
    pub fn new(rates: &[(Exchange, Rate)]) -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Governor {
            buckets: rates
                .iter()
                .map(|(e, r)| {
                    (
                        *e,
                        Mutex::new(Bucket {
                            rate: *r,
                            tokens: r.burst,
                            last: now,
                            held_until: None,
                        }),
                    )
                })
                .collect(),
            waits: AtomicU64::new(0),
            waited_ns: AtomicU64::new(0),
            grants: AtomicU64::new(0),
        })
    }

    /// Holds every dial to `exchange` for `d` (a Retry-After the venue sent to any socket).
    pub fn hold(&self, exchange: Exchange, d: Duration) {
        if let Some((_, bucket)) = self.buckets.iter().find(|(e, _)| *e == exchange) {
            let mut b = bucket.lock().unwrap_or_else(|p| p.into_inner());
            let until = Instant::now() + d;
            b.held_until = Some(b.held_until.map_or(until, |t| t.max(until)));
        }
    }

    /// How long to wait before dialling `exchange` (the token is already taken).
    pub fn reserve(&self, exchange: Exchange) -> Duration {
        self.grants.fetch_add(1, Ordering::Relaxed);
        let Some((_, bucket)) = self.buckets.iter().find(|(e, _)| *e == exchange) else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let mut b = bucket.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = b.reserve(now);
        if let Some(t) = b.held_until {
            wait = wait.max(t.saturating_duration_since(now));
        }
        drop(b);
        if !wait.is_zero() {
            self.waits.fetch_add(1, Ordering::Relaxed);
            self.waited_ns
                .fetch_add(wait.as_nanos() as u64, Ordering::Relaxed);
        }
        wait
    }

    /// (grants, waits, total wait ns) for metrics.
    pub fn stats(&self) -> (u64, u64, u64) {
        (
            self.grants.load(Ordering::Relaxed),
            self.waits.load(Ordering::Relaxed),
            self.waited_ns.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_after_holds_every_dial_of_the_exchange() {
        let r = Rate {
            burst: 100.0,
            per_sec: 100.0,
        };
        let g = Governor::new(&[(Exchange::Binance, r), (Exchange::Okx, r)]);
        assert_eq!(g.reserve(Exchange::Binance), Duration::ZERO);
        g.hold(Exchange::Binance, Duration::from_secs(30));
        let w = g.reserve(Exchange::Binance);
        assert!(
            w > Duration::from_secs(29) && w <= Duration::from_secs(30),
            "{w:?}"
        );
        // A shorter hold never shortens a longer one; other exchanges are not held.
        g.hold(Exchange::Binance, Duration::from_secs(1));
        assert!(g.reserve(Exchange::Binance) > Duration::from_secs(29));
        assert_eq!(g.reserve(Exchange::Okx), Duration::ZERO);
    }

    #[test]
    fn bucket_grants_the_burst_then_paces_at_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket {
            rate: Rate {
                burst: 3.0,
                per_sec: 2.0,
            },
            tokens: 3.0,
            last: t0,
            held_until: None,
        };
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        assert_eq!(b.reserve(t0), Duration::ZERO);
        // Fourth and fifth at the same instant wait 0.5 s and 1 s.
        assert_eq!(b.reserve(t0), Duration::from_millis(500));
        assert_eq!(b.reserve(t0), Duration::from_millis(1000));
        // N dials at once never exceed burst + rate·t by time t.
        let g = Governor::new(&[(
            Exchange::Okx,
            Rate {
                burst: 3.0,
                per_sec: 3.0,
            },
        )]);
        let waits: Vec<_> = (0..30).map(|_| g.reserve(Exchange::Okx)).collect();
        for (i, w) in waits.iter().enumerate() {
            let allowed_by_then = 3.0 + 3.0 * w.as_secs_f64();
            assert!((i as f64) < allowed_by_then + 1e-6, "dial {i} at {w:?}");
        }
        assert_eq!(
            g.reserve(Exchange::Binance),
            Duration::ZERO,
            "unknown exchange is not throttled"
        );
    }
}
