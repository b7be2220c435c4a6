//! Exponential backoff with full jitter and a cap. Pure: imports nothing from the crate.

use std::time::Duration;

/// Per-socket reconnect delays: `random(0, min(cap, base·2^attempt))` ("full jitter"), so a
/// fleet of sockets dropped together spreads its retries instead of stampeding.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Self {
        Backoff {
            base,
            cap,
            attempt: 0,
            rng: seed | 1,
        }
    }

    /// The delay before the next attempt; each call doubles the ceiling up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift64*: cheap and good enough for jitter.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let nanos = ceiling.as_nanos() as u64;
        Duration::from_nanos(if nanos == 0 { 0 } else { r % (nanos + 1) })
    }

    /// Called once a connection has proven healthy.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_doubling_ceiling_and_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5), 7);
        for attempt in 0..12u32 {
            let ceiling =
                Duration::from_millis(100 * (1u64 << attempt)).min(Duration::from_secs(5));
            let d = b.next_delay();
            assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..50 {
            let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1), seed);
            seen.insert(b.next_delay().as_millis());
        }
        assert!(
            seen.len() > 10,
            "full jitter should spread delays, got {seen:?}"
        );
    }
}
