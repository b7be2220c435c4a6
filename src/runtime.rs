//! Runtime wiring: rings, the publisher core, the pinned shard executors, and the control plane;
//! SIGINT/SIGTERM stop the sockets, drain the rings and flush the sinks.
//! Imports crate::{config, control, publisher}, corefeed_shards::{ring, shard, session}.

use crate::config::Config;
use crate::control::{self, prices::PriceRegistry, ControlState};
use crate::publisher::{self, PublisherCommand, PublisherInputs, PublisherMetrics};
use anyhow::Context;
use corefeed_shards::ring::{self, Wake};
use corefeed_shards::session::governor::Governor;
use corefeed_shards::session::socket::SocketTuning;
use corefeed_shards::session::ShardReport;
use corefeed_shards::shard::{self, ShardCommand, ShardConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tracing::{error, info, warn};

/// Wakes the publisher (a tokio `Notify`) from the shards.
struct NotifyWake(Arc<Notify>);
impl Wake for NotifyWake {
    fn wake(&self) {
        self.0.notify_one();
    }
}

/// Runs corefeed until SIGINT/SIGTERM; returns after a clean drain.
pub fn run(cfg: Config) -> anyhow::Result<()> {
    let cfg = Arc::new(cfg);
    let n = cfg.shard_count();
    let notify = Arc::new(Notify::new());
    let wake: Arc<dyn Wake> = Arc::new(NotifyWake(notify.clone()));
    let (mut txs, mut rxs) = (Vec::new(), Vec::new());
    let (mut utxs, mut urxs) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (tx, rx) = ring::ring(cfg.core.runtime.ring_capacity, wake.clone());
        txs.push(tx);
        rxs.push(rx);
        let (tx, rx) = ring::user_ring(4096, wake.clone());
        utxs.push(tx);
        urxs.push(rx);
    }
    let (report_tx, report_rx) = crossbeam_channel::unbounded();

    let pub_metrics = Arc::new(PublisherMetrics::new());
    let shutdown = Arc::new(AtomicBool::new(false));
    let (pub_cmd_tx, pub_cmd_rx) = crossbeam_channel::unbounded::<PublisherCommand>();
    let publisher = publisher::spawn(
        cfg.publisher.clone(),
        PublisherInputs {
            rings: rxs,
            user_rings: urxs,
            wake: notify,
            commands: pub_cmd_rx,
            shutdown: shutdown.clone(),
        },
        pub_metrics.clone(),
        cfg.publisher_cpu(),
    );

    let governor = Governor::new(&cfg.governor_rates());
    let s = &cfg.core.socket;
    let tuning = SocketTuning {
        connect_timeout: Duration::from_millis(s.connect_timeout_ms),
        backoff_base: Duration::from_millis(s.backoff_base_ms),
        backoff_cap: Duration::from_millis(s.backoff_cap_ms),
        healthy_after: Duration::from_millis(s.healthy_after_ms),
        keepalive: cfg.keepalive_overrides(),
        market_stall: Duration::from_secs(s.market_stall_s),
        read_buffer: s.read_buffer_kib << 10,
    };
    let mut shards = Vec::with_capacity(n);
    for (i, (tx, utx)) in txs.into_iter().zip(utxs).enumerate() {
        let sc = ShardConfig {
            id: i as u16,
            cpu: cfg.shard_cpu(i),
            control_poll: Duration::from_millis(cfg.core.runtime.control_poll_ms),
            tuning: tuning.clone(),
        };
        let out = shard::ShardOutputs {
            ring: tx,
            user_ring: utx,
            reports: report_tx.clone(),
        };
        shards.push(shard::spawn(sc, out, governor.clone()).context("starting shards")?);
    }
    info!(shards = n, shard_cpus = ?(0..n).map(|i| cfg.shard_cpu(i)).collect::<Vec<_>>(),
        publisher_cpu = ?cfg.publisher_cpu(), "corefeed started.");

    let registry = PriceRegistry::new(
        cfg.clone(),
        shards.iter().map(|s| s.commands.clone()).collect(),
    );
    let rooms = control::rooms::Rooms::new(
        cfg.clone(),
        shards.iter().map(|s| s.commands.clone()).collect(),
        pub_cmd_tx.clone(),
    );
    let publish = pub_cmd_tx.clone();
    let rooms_metrics = rooms.metrics.clone();
    let state = Arc::new(ControlState {
        cfg: cfg.clone(),
        started: Instant::now(),
        prices: Mutex::new(registry),
        rooms: Mutex::new(rooms),
        rooms_metrics,
        publish,
        stalls: Default::default(),
        shards: shards.iter().map(|s| s.stats.clone()).collect(),
        publisher: pub_metrics,
        governor,
        metrics: Default::default(),
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("corefeed-control")
        .enable_all()
        .build()
        .context("cannot build the control plane's tokio runtime")?;
    let control_result = rt.block_on(control_plane(cfg.clone(), state.clone(), report_rx));
    drop(pub_cmd_tx);

    // Stop: sockets first (no new frames), then the publisher drains the rings and flushes.
    info!("Shutting down: closing sockets, then draining the rings.");
    for s in &shards {
        let _ = s.commands.send(ShardCommand::Shutdown);
    }
    for s in shards {
        if s.join.join().is_err() {
            error!(shard = s.id, "Shard thread panicked during shutdown.");
        }
    }
    shutdown.store(true, Ordering::Release);
    match publisher.join() {
        Ok(Ok(report)) => info!(
            events = report.events_in,
            redis = report.redis_messages,
            amqp_confirmed = report.amqp_confirmed,
            dropped = report.dropped,
            "Publisher drained; corefeed stopped."
        ),
        Ok(Err(e)) => error!(error = %format!("{e:#}"), "Publisher stopped with an error."),
        Err(_) => error!("Publisher thread panicked."),
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    control_result
}

/// The control plane until a stop signal: HTTP, commands, listings, registry flushes.
async fn control_plane(
    cfg: Arc<Config>,
    state: Arc<ControlState>,
    reports: crossbeam_channel::Receiver<corefeed_shards::session::ShardReport>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&cfg.core.http.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on http.listen = {}; is another process using it?",
                cfg.core.http.listen
            )
        })?;
    info!(listen = %cfg.core.http.listen, "HTTP server listening (/health, /ready, /metrics, /v1).");
    let app = control::http::router(state.clone());
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            error!(%error, "HTTP server stopped.");
        }
    });
    if cfg.core.commands.enabled && cfg.core.prices.candles {
        tokio::spawn(control::commands::run_candle_consumer(
            cfg.clone(),
            state.clone(),
        ));
    }
    if cfg.core.prices.tickers {
        tokio::spawn(refresh_listings(cfg.clone(), state.clone()));
    }
    if cfg.core.users.enabled && cfg.core.commands.enabled {
        tokio::spawn(control::commands::run_user_consumer(
            cfg.clone(),
            state.clone(),
        ));
    }
    // The shards' reports (user-stream auth and flaps to the rooms, market stalls to
    // serviceLog), and the rooms' timers: paced opens, restarts, self-heals.
    // 20 ms while opens or restarts wait (their pacing), 100 ms otherwise (idle cost: the
    // registry is scanned per tick).
    let st = state.clone();
    tokio::spawn(async move {
        let mut busy = true;
        loop {
            tokio::time::sleep(Duration::from_millis(if busy { 20 } else { 100 })).await;
            let mut rooms = st.rooms.lock().unwrap_or_else(|p| p.into_inner());
            while let Ok(r) = reports.try_recv() {
                match r {
                    ShardReport::User(u) => rooms.report(u),
                    ShardReport::Stall(s) => st.stall(&s),
                }
            }
            rooms.tick();
            busy = rooms.busy();
        }
    });
    let st = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            st.prices.lock().unwrap_or_else(|p| p.into_inner()).flush();
        }
    });
    wait_for_signal().await;
    // One last flush so nothing accepted is left unsent to the shards.
    state
        .prices
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .flush();
    Ok(())
}

async fn refresh_listings(cfg: Arc<Config>, state: Arc<ControlState>) {
    loop {
        for provider in cfg.price_providers() {
            if corefeed_shards::session::Venue::new(provider).topics_in_url() {
                // Binance: the all-market ticker stream covers every listed market.
                state
                    .prices
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .set_tickers(provider, &[]);
                continue;
            }
            let c = cfg.clone();
            let res =
                tokio::task::spawn_blocking(move || control::listing::list_markets(&c, provider))
                    .await;
            match res {
                Ok(Ok((symbols, source))) => {
                    let (added, removed) = state
                        .prices
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .set_tickers(provider, &symbols);
                    info!(%provider, markets = symbols.len(), ?source, added, removed, "Ticker markets listed.");
                }
                Ok(Err(error)) => {
                    // Keep the markets we already stream; try again at the next refresh.
                    state
                        .metrics
                        .listing_failures
                        .fetch_add(1, Ordering::Relaxed);
                    warn!(%provider, %error, "Could not list markets; keeping the current ones and retrying later.");
                }
                Err(error) => warn!(%provider, %error, "Listing task failed."),
            }
        }
        let total: usize = state
            .prices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .rows()
            .iter()
            .filter(|r| r.kind == "tickers")
            .map(|r| r.topics)
            .sum();
        state
            .metrics
            .listed_markets
            .store(total as u64, Ordering::Relaxed);
        let mins = cfg.core.prices.listing_refresh_min;
        if mins == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(mins * 60)).await;
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(error) => {
            warn!(%error, "Cannot listen for SIGTERM; only Ctrl-C stops corefeed.");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT received."),
        _ = term.recv() => info!("SIGTERM received."),
    }
}
