//! The control plane: price-subscription registry, RabbitMQ commands, listings, HTTP. It runs on
//! its own small tokio runtime, off the shard and publisher cores, and talks to shards only
//! through crossbeam channels. Imports crate::{config, publisher}, corefeed_shards.

pub mod commands;
pub mod http;
pub mod listing;
pub mod prices;
pub mod rooms;

use crate::config::Config;
use crate::publisher::PublisherMetrics;
use corefeed_shards::session::governor::Governor;
use corefeed_shards::stats::{ShardStats, SocketStatus};
use corefeed_shards::types::Provider;
use prices::PriceRegistry;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Control-plane counters.
#[derive(Default)]
pub struct ControlMetrics {
    pub candle_requests_added: AtomicU64,
    pub candle_requests_duplicate: AtomicU64,
    pub candle_requests_invalid: AtomicU64,
    pub command_consumer_up: AtomicU64,
    pub command_consumer_errors: AtomicU64,
    pub listing_failures: AtomicU64,
    pub listed_markets: AtomicU64,
}

/// What the HTTP handlers and the command consumer share.
pub struct ControlState {
    pub cfg: Arc<Config>,
    pub started: Instant,
    pub prices: Mutex<PriceRegistry>,
    pub rooms: Mutex<rooms::Rooms>,
    pub rooms_metrics: Arc<rooms::RoomMetrics>,
    /// serviceLog and other control messages to the publisher.
    pub publish: crossbeam_channel::Sender<crate::publisher::PublisherCommand>,
    /// Market stalls by (provider, kind, action).
    pub stalls: Mutex<std::collections::BTreeMap<(Provider, &'static str, &'static str), u64>>,
    pub shards: Vec<Arc<ShardStats>>,
    pub publisher: Arc<PublisherMetrics>,
    pub governor: Arc<Governor>,
    pub metrics: ControlMetrics,
}

impl ControlState {
    pub fn all_sockets(&self) -> Vec<SocketStatus> {
        let mut v: Vec<SocketStatus> = self
            .shards
            .iter()
            .flat_map(|s| s.sockets.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect();
        v.sort_by_key(|s| s.key);
        v
    }

    /// A market stall reported by a shard: counted and announced on serviceLog as the seed's
    /// `watchdogStall` (plus the market and the repair taken).
    pub fn stall(&self, s: &corefeed_shards::session::StallReport) {
        *self
            .stalls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((s.socket.provider, s.kind, s.action.as_str()))
            .or_insert(0) += 1;
        let mut body = serde_json::json!({
            "exchange": s.socket.provider.as_str(),
            "kind": s.kind,
            "staleSeconds": s.stale_s,
            "market": s.market,
            "action": s.action.as_str(),
        });
        // The seed writes "role" only when PRICEROLE is set.
        if let Ok(role) = std::env::var("PRICEROLE") {
            if !role.is_empty() {
                body["role"] = serde_json::json!(role);
            }
        }
        let _ = self
            .publish
            .send(crate::publisher::PublisherCommand::Publish {
                channel: "serviceLog".into(),
                payload: serde_json::json!({ "watchdogStall": body }).to_string(),
            });
    }

    /// User-stream sessions of every shard.
    pub fn all_users(&self) -> Vec<corefeed_shards::stats::UserStatus> {
        self.shards
            .iter()
            .flat_map(|s| s.users.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }

    /// Event loops that have not ticked within `max_ms`.
    pub fn stalled_loops(&self, now_ms: u64, max_ms: u64) -> Vec<String> {
        self.shards
            .iter()
            .filter(|s| now_ms.saturating_sub(s.heartbeat_ms.load(Relaxed)) > max_ms)
            .map(|s| format!("shard-{}", s.shard))
            .collect()
    }

    /// Prometheus text for everything the process counts.
    pub fn render_metrics(&self, out: &mut String) {
        let counters: [(
            &str,
            &str,
            fn(&corefeed_shards::stats::PerProvider) -> &AtomicU64,
        ); 10] = [
            (
                "corefeed_frames_total",
                "Frames read from venue sockets.",
                |p| &p.frames,
            ),
            ("corefeed_frame_bytes_total", "Bytes of frames read.", |p| {
                &p.bytes
            }),
            (
                "corefeed_events_total",
                "Events decoded into the rings.",
                |p| &p.events,
            ),
            (
                "corefeed_frames_ignored_total",
                "Frames of channels corefeed does not publish.",
                |p| &p.ignored,
            ),
            (
                "corefeed_subscribe_acks_total",
                "Subscribe/unsubscribe acknowledgements.",
                |p| &p.acks,
            ),
            ("corefeed_pongs_total", "Keepalive answers.", |p| &p.pongs),
            (
                "corefeed_venue_errors_total",
                "Error answers from venues.",
                |p| &p.venue_errors,
            ),
            (
                "corefeed_decode_errors_total",
                "Frames that could not be decoded (counted and skipped).",
                |p| &p.decode_errors,
            ),
            ("corefeed_reconnects_total", "Socket re-dials.", |p| {
                &p.reconnects
            }),
            (
                "corefeed_connect_failures_total",
                "Failed connection attempts.",
                |p| &p.connect_failures,
            ),
        ];
        for (name, help, f) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for p in Provider::ALL {
                let v: u64 = self
                    .shards
                    .iter()
                    .map(|s| f(s.provider(p)).load(Relaxed))
                    .sum();
                if v > 0 {
                    let _ = writeln!(out, "{name}{{provider=\"{p}\"}} {v}");
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP corefeed_connections Open venue sockets.\n# TYPE corefeed_connections gauge"
        );
        for p in Provider::ALL {
            let v: i64 = self
                .shards
                .iter()
                .map(|s| s.provider(p).open_sockets.load(Relaxed))
                .sum();
            if v != 0 {
                let _ = writeln!(
                    out,
                    "corefeed_connections{{provider=\"{p}\",state=\"open\"}} {v}"
                );
            }
        }
        let mut by_state = std::collections::BTreeMap::new();
        for s in self.all_sockets() {
            *by_state
                .entry((s.key.provider.as_str(), s.state.as_str()))
                .or_insert(0u64) += 1;
        }
        let _ = writeln!(
            out,
            "# HELP corefeed_sockets Sockets by provider and state.\n# TYPE corefeed_sockets gauge"
        );
        for ((p, st), n) in by_state {
            let _ = writeln!(
                out,
                "corefeed_sockets{{provider=\"{p}\",state=\"{st}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP corefeed_ring_occupancy Envelopes waiting in a shard's ring.\n# TYPE corefeed_ring_occupancy gauge");
        let _ = writeln!(out, "# HELP corefeed_ring_full_waits_total Times a shard waited on a full ring (back-pressure).\n# TYPE corefeed_ring_full_waits_total counter");
        for s in &self.shards {
            let cap = s.ring_capacity.load(Relaxed);
            let free = s.ring_free.load(Relaxed);
            let _ = writeln!(
                out,
                "corefeed_ring_occupancy{{shard=\"{}\"}} {}",
                s.shard,
                cap.saturating_sub(free)
            );
            let _ = writeln!(
                out,
                "corefeed_ring_full_waits_total{{shard=\"{}\"}} {}",
                s.shard,
                s.ring_full_waits.load(Relaxed)
            );
        }
        let (grants, waits, waited_ns) = self.governor.stats();
        let _ = writeln!(out, "# TYPE corefeed_governor_grants_total counter\ncorefeed_governor_grants_total {grants}");
        let _ = writeln!(
            out,
            "# TYPE corefeed_governor_waits_total counter\ncorefeed_governor_waits_total {waits}"
        );
        let _ = writeln!(out, "# TYPE corefeed_governor_wait_seconds_total counter\ncorefeed_governor_wait_seconds_total {}", waited_ns as f64 / 1e9);
        let m = &self.metrics;
        for (name, v) in [
            (
                "corefeed_candle_requests_total{result=\"added\"}",
                &m.candle_requests_added,
            ),
            (
                "corefeed_candle_requests_total{result=\"duplicate\"}",
                &m.candle_requests_duplicate,
            ),
            (
                "corefeed_candle_requests_total{result=\"invalid\"}",
                &m.candle_requests_invalid,
            ),
            ("corefeed_command_consumer_up", &m.command_consumer_up),
            (
                "corefeed_command_consumer_errors_total",
                &m.command_consumer_errors,
            ),
            ("corefeed_listing_failures_total", &m.listing_failures),
            ("corefeed_listed_markets", &m.listed_markets),
        ] {
            let _ = writeln!(out, "{name} {}", v.load(Relaxed));
        }
        let _ = writeln!(out, "# HELP corefeed_market_stalls_total Markets whose data stopped while their socket lived, by repair action.\n# TYPE corefeed_market_stalls_total counter");
        for ((p, kind, action), n) in self.stalls.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "corefeed_market_stalls_total{{provider=\"{p}\",kind=\"{kind}\",action=\"{action}\"}} {n}");
        }
        let stalled: u64 = self
            .all_sockets()
            .iter()
            .map(|s| s.stalled_markets as u64)
            .sum();
        let _ = writeln!(
            out,
            "# TYPE corefeed_stalled_markets gauge\ncorefeed_stalled_markets {stalled}"
        );
        let r = &self.rooms_metrics;
        let _ = writeln!(out, "# HELP corefeed_room_commands_total usersStreamAction commands by result.\n# TYPE corefeed_room_commands_total counter");
        for (name, v) in [
            (
                "corefeed_room_commands_total{result=\"ok\"}",
                &r.commands_ok,
            ),
            (
                "corefeed_room_commands_total{result=\"invalid\"}",
                &r.commands_invalid,
            ),
            ("corefeed_room_opens_total", &r.opens),
            ("corefeed_room_closes_total", &r.closes),
            ("corefeed_room_restarts_total", &r.restarts),
            ("corefeed_auth_strikes_total", &r.auth_strikes),
            ("corefeed_auth_trips_total", &r.auth_trips),
            ("corefeed_auth_gated_opens_total", &r.auth_gated),
            ("corefeed_auth_recovered_total", &r.auth_recovered),
            ("corefeed_user_stream_flaps_total", &r.flaps),
            ("corefeed_room_self_heals_total", &r.self_heals),
        ] {
            let _ = writeln!(out, "{name} {}", v.load(Relaxed));
        }
        let mut by_state = std::collections::BTreeMap::new();
        for u in self.all_users() {
            *by_state
                .entry((u.provider.as_str(), u.state.as_str()))
                .or_insert(0u64) += 1;
        }
        let _ = writeln!(out, "# HELP corefeed_user_streams User-stream sessions by provider and state.\n# TYPE corefeed_user_streams gauge");
        for ((p, st), n) in by_state {
            let _ = writeln!(
                out,
                "corefeed_user_streams{{provider=\"{p}\",state=\"{st}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# TYPE corefeed_user_events_total counter");
        for s in &self.shards {
            let _ = writeln!(
                out,
                "corefeed_user_events_total{{shard=\"{}\"}} {}\ncorefeed_user_ring_full_waits_total{{shard=\"{}\"}} {}",
                s.shard,
                s.user_events.load(Relaxed),
                s.shard,
                s.user_ring_full_waits.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "corefeed_uptime_seconds {}",
            self.started.elapsed().as_secs_f64()
        );
        self.publisher.render_prometheus(out);
    }
}
