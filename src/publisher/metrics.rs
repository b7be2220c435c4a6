//! Publisher counters (atomics, updated per batch or per event without locks) and latency
//! quantiles (hdrhistogram on the publisher thread, exported into atomics once per second).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use corefeed_shards::event::EventKind;
use hdrhistogram::Histogram;

/// The quantiles exported for each latency histogram.
pub const QUANTILES: [f64; 5] = [0.5, 0.9, 0.99, 0.999, 1.0];

/// One exported latency series: quantiles in µs plus count.
#[derive(Debug, Default)]
pub struct LatencyGauge {
    pub quantiles_us: [AtomicU64; 5],
    pub count: AtomicU64,
}

/// Which latency: from which clock to which sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencySeries {
    /// `recv_ns` (frame read) → Redis pipeline written and answered.
    RecvToRedis = 0,
    /// `recv_ns` → AMQP publish written to the broker socket.
    RecvToAmqp = 1,
    /// `sent_ns` (simulator send stamp) → Redis.
    SentToRedis = 2,
    /// `sent_ns` → AMQP.
    SentToAmqp = 3,
    /// `sent_ns` → the event entering its shard's ring (`ring_ns`).
    SentToRing = 4,
    /// `recv_ns` → the publisher taking the event off the ring (the hand-off's share).
    RecvToTake = 5,
}

/// How many latency series there are.
pub const SERIES: usize = 6;

impl LatencySeries {
    pub const ALL: [LatencySeries; SERIES] = [
        LatencySeries::RecvToRedis,
        LatencySeries::RecvToAmqp,
        LatencySeries::SentToRedis,
        LatencySeries::SentToAmqp,
        LatencySeries::SentToRing,
        LatencySeries::RecvToTake,
    ];
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            LatencySeries::RecvToRedis => ("recv", "redis"),
            LatencySeries::RecvToAmqp => ("recv", "amqp"),
            LatencySeries::SentToRedis => ("sent", "redis"),
            LatencySeries::SentToAmqp => ("sent", "amqp"),
            LatencySeries::SentToRing => ("sent", "ring"),
            LatencySeries::RecvToTake => ("recv", "publisher"),
        }
    }
}

/// Shared publisher metrics. Cheap to update (relaxed atomics), read by `/metrics`.
#[derive(Debug, Default)]
pub struct PublisherMetrics {
    /// Envelopes taken from the rings, by [`EventKind`] (index in `EventKind::ALL`).
    pub events_in: [AtomicU64; 6],
    /// Open candles of closed-only providers (no Redis message, by contract).
    pub redis_skipped_open_candles: AtomicU64,
    pub redis_messages: AtomicU64,
    pub redis_pipelines: AtomicU64,
    pub redis_errors: AtomicU64,
    pub redis_dropped: AtomicU64,
    pub redis_buffered: AtomicU64,
    pub redis_reconnects: AtomicU64,
    pub redis_connected: AtomicU64,
    pub amqp_published: AtomicU64,
    pub amqp_confirmed: AtomicU64,
    pub amqp_nacked: AtomicU64,
    pub amqp_republished: AtomicU64,
    pub amqp_dropped_overflow: AtomicU64,
    pub amqp_dropped_retries: AtomicU64,
    pub amqp_buffered: AtomicU64,
    pub amqp_in_flight: AtomicU64,
    pub amqp_errors: AtomicU64,
    pub amqp_reconnects: AtomicU64,
    pub amqp_connected: AtomicU64,
    pub commands: AtomicU64,
    /// Turns the publisher left the rings alone because a connected sink's buffer was full.
    pub backpressure_turns: AtomicU64,
    pub latency: [LatencyGauge; SERIES],
}

impl PublisherMetrics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn event_in(&self, kind: EventKind) {
        let i = EventKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.events_in[i].fetch_add(1, Relaxed);
    }

    pub fn events_in_total(&self) -> u64 {
        self.events_in.iter().map(|a| a.load(Relaxed)).sum()
    }

    /// Copies the quantiles of the publisher's histograms into the gauges.
    pub(crate) fn export_latency(&self, hists: &[Histogram<u64>; SERIES]) {
        for (g, h) in self.latency.iter().zip(hists) {
            for (slot, q) in g.quantiles_us.iter().zip(QUANTILES) {
                slot.store(
                    if h.is_empty() {
                        0
                    } else {
                        h.value_at_quantile(q)
                    },
                    Relaxed,
                );
            }
            g.count.store(h.len(), Relaxed);
        }
    }

    /// Appends the Prometheus text exposition of every publisher metric to `out`.
    pub fn render_prometheus(&self, out: &mut String) {
        let l = |a: &AtomicU64| a.load(Relaxed);
        let _ = writeln!(
            out,
            "# HELP corefeed_publisher_events_total Events taken from the shard rings, by kind.\n# TYPE corefeed_publisher_events_total counter"
        );
        for (k, a) in EventKind::ALL.iter().zip(&self.events_in) {
            let _ = writeln!(
                out,
                "corefeed_publisher_events_total{{kind=\"{}\"}} {}",
                k.as_str(),
                l(a)
            );
        }
        let counters: [(&str, &str, &AtomicU64); 18] = [
            ("corefeed_publisher_backpressure_turns_total", "Turns the rings were left to fill because a connected sink was behind (back-pressure to the shards).", &self.backpressure_turns),
            ("corefeed_redis_skipped_open_candles_total", "Open candles of closed-only providers, not published on Redis (contract).", &self.redis_skipped_open_candles),
            ("corefeed_redis_messages_total", "Redis PUBLISH commands answered by Redis.", &self.redis_messages),
            ("corefeed_redis_pipelines_total", "Redis pipelines written.", &self.redis_pipelines),
            ("corefeed_redis_errors_total", "Redis connection, I/O and command errors.", &self.redis_errors),
            ("corefeed_redis_dropped_total", "Redis messages dropped because the outage buffer was full or shutdown could not flush.", &self.redis_dropped),
            ("corefeed_redis_reconnects_total", "Redis connections established after the first.", &self.redis_reconnects),
            ("corefeed_amqp_published_total", "AMQP messages written to the broker (republishes included).", &self.amqp_published),
            ("corefeed_amqp_confirmed_total", "AMQP publishes acknowledged by the broker.", &self.amqp_confirmed),
            ("corefeed_amqp_nacked_total", "AMQP publishes nacked by the broker.", &self.amqp_nacked),
            ("corefeed_amqp_republished_total", "AMQP messages published again after a nack, a confirm timeout or a lost connection.", &self.amqp_republished),
            ("corefeed_amqp_dropped_overflow_total", "AMQP price messages dropped because the outage buffer was full.", &self.amqp_dropped_overflow),
            ("corefeed_amqp_dropped_retries_total", "AMQP messages given up after max_republish attempts or an unflushable shutdown.", &self.amqp_dropped_retries),
            ("corefeed_amqp_errors_total", "AMQP connection, channel and publish errors.", &self.amqp_errors),
            ("corefeed_amqp_reconnects_total", "AMQP connections established after the first.", &self.amqp_reconnects),
            ("corefeed_publisher_commands_total", "Control-plane publish commands handled.", &self.commands),
            ("corefeed_redis_connected", "1 while the Redis connection is up.", &self.redis_connected),
            ("corefeed_amqp_connected", "1 while the AMQP connection is up.", &self.amqp_connected),
        ];
        for (name, help, a) in counters {
            let ty = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {ty}\n{name} {}",
                l(a)
            );
        }
        for (name, help, a) in [
            (
                "corefeed_redis_buffered",
                "Redis messages waiting to be written.",
                &self.redis_buffered,
            ),
            (
                "corefeed_amqp_buffered",
                "AMQP messages waiting to be published.",
                &self.amqp_buffered,
            ),
            (
                "corefeed_amqp_in_flight",
                "AMQP publishes awaiting a confirm.",
                &self.amqp_in_flight,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                l(a)
            );
        }
        let _ = writeln!(
            out,
            "# HELP corefeed_publish_latency_us Latency from the frame read (from=recv) or the simulator send stamp (from=sent) to the sink write (sink=redis|amqp) to the event entering its shard's ring (sink=ring) or to the publisher taking it off the ring (sink=publisher), µs.\n# TYPE corefeed_publish_latency_us summary"
        );
        for (s, g) in LatencySeries::ALL.iter().zip(&self.latency) {
            let (from, sink) = s.labels();
            for (q, v) in QUANTILES.iter().zip(&g.quantiles_us) {
                let _ = writeln!(
                    out,
                    "corefeed_publish_latency_us{{from=\"{from}\",sink=\"{sink}\",quantile=\"{q}\"}} {}",
                    l(v)
                );
            }
            let _ = writeln!(
                out,
                "corefeed_publish_latency_us_count{{from=\"{from}\",sink=\"{sink}\"}} {}",
                l(&g.count)
            );
        }
    }
}

/// Latency histograms owned by the publisher thread (µs, 1 µs – 1 h, 3 significant digits).
pub(crate) fn new_histograms() -> [Histogram<u64>; SERIES] {
    std::array::from_fn(|_| Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"))
}

/// Records `now - from` in µs when `from` is set (nonzero) and not in the future.
#[inline]
pub(crate) fn record(h: &mut Histogram<u64>, from_ns: u64, now_ns: u64) {
    if from_ns != 0 && now_ns >= from_ns {
        let _ = h.record(((now_ns - from_ns) / 1_000).max(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = PublisherMetrics::new();
        m.event_in(EventKind::Ticker);
        m.amqp_nacked.fetch_add(2, Relaxed);
        let mut h = new_histograms();
        record(&mut h[0], 1_000_000, 3_000_000);
        m.export_latency(&h);
        let mut out = String::new();
        m.render_prometheus(&mut out);
        assert!(out.contains("corefeed_publisher_events_total{kind=\"ticker\"} 1\n"));
        assert!(out.contains("corefeed_amqp_nacked_total 2\n"));
        assert!(out.contains(
            "corefeed_publish_latency_us{from=\"recv\",sink=\"redis\",quantile=\"0.5\"} 2000\n"
        ));
    }
}
