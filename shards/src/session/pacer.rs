//! Per-connection message pacing (a token bucket on outgoing requests), so subscribe bursts
//! stay inside each venue's message-rate limit. Pure: imports nothing from the crate.

use std::time::Instant;

#[derive(Clone, Debug)]
pub struct Pacer {
    burst: f64,
    per_sec: f64,
    tokens: f64,
    last: Instant,
}

impl Pacer {
    pub fn new(burst: f64, per_sec: f64) -> Self {
        Pacer {
            burst,
            per_sec,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes one token if one is available now.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn paces_after_the_burst() {
        let t0 = Instant::now();
        let mut p = Pacer::new(2.0, 4.0);
        assert!(p.try_take(t0));
        assert!(p.try_take(t0));
        assert!(!p.try_take(t0));
        assert!(p.try_take(t0 + Duration::from_millis(250)));
        assert!(!p.try_take(t0 + Duration::from_millis(260)));
    }
}
