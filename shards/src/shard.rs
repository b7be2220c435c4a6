//! A shard: one glommio executor pinned to one core, owning the sockets hashed to it. Control
//! messages arrive over crossbeam-channel; events leave through the shard's ring.
//! Imports crate::{ring, session, stats}.

use crate::ring::{RingTx, UserRingTx};
use crate::session::governor::Governor;
use crate::session::private::{self, UserCmd, UserSpec};
use crate::session::socket::{self, ShardCtx, SocketCmd, SocketTuning};
use crate::session::ShardReport;
use crate::session::{SocketKey, SocketSpec, Topic};
use crate::stats::{Local, ShardStats};
use futures_channel::mpsc::{unbounded, UnboundedSender};
use glommio::{LocalExecutorBuilder, Placement};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// What the control plane asks of a shard.
#[derive(Debug)]
pub enum ShardCommand {
    /// Open a socket (or add the spec's topics to it when it already runs).
    Open(SocketSpec),
    AddTopics(SocketKey, Vec<Topic>),
    RemoveTopics(SocketKey, Vec<Topic>),
    Close(SocketKey),
    /// Open a user-stream room (replacing a session of the same room id).
    OpenUser(Box<UserSpec>),
    /// Close a user-stream room's session.
    CloseUser(String),
    /// Close every socket and stop the executor.
    Shutdown,
}

#[derive(Clone, Debug)]
pub struct ShardConfig {
    pub id: u16,
    /// The CPU to pin to; `None` lets the OS place the thread.
    pub cpu: Option<usize>,
    /// How often the shard looks for control messages.
    pub control_poll: Duration,
    pub tuning: SocketTuning,
}

pub struct ShardHandle {
    pub id: u16,
    pub commands: crossbeam_channel::Sender<ShardCommand>,
    pub stats: Arc<ShardStats>,
    pub join: glommio::ExecutorJoinHandle<()>,
}

/// Errors starting a shard.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("could not start shard {id} on cpu {cpu:?}: {why}; check [runtime] shard_cpus in config.toml against `nproc`")]
    Spawn {
        id: u16,
        cpu: Option<usize>,
        why: String,
    },
}

/// What a shard writes to: its price ring, its user ring, and the control plane's report
/// channel for user-stream sessions.
pub struct ShardOutputs {
    pub ring: RingTx,
    pub user_ring: UserRingTx,
    pub reports: crossbeam_channel::Sender<ShardReport>,
}

pub fn spawn(
    cfg: ShardConfig,
    out: ShardOutputs,
    governor: Arc<Governor>,
) -> Result<ShardHandle, ShardError> {
    let ShardOutputs {
        ring,
        user_ring,
        reports,
    } = out;
    let (tx, rx) = crossbeam_channel::unbounded::<ShardCommand>();
    let stats = Arc::new(ShardStats::new(cfg.id));
    stats
        .ring_capacity
        .store(ring.capacity() as u64, Ordering::Relaxed);
    let placement = match cfg.cpu {
        Some(c) => Placement::Fixed(c),
        None => Placement::Unbound,
    };
    let id = cfg.id;
    let cpu = cfg.cpu;
    let st = stats.clone();
    let join = LocalExecutorBuilder::new(placement)
        .name(&format!("shard-{id}"))
        // corefeed does no file I/O: glommio's default 10 MiB DMA arena (registered with
        // io_uring, hence resident) would be dead weight on every shard.
        .io_memory(64 << 10)
        .spawn(move || async move { run(cfg, ring, user_ring, reports, governor, rx, st).await })
        .map_err(|e| ShardError::Spawn {
            id,
            cpu,
            why: e.to_string(),
        })?;
    Ok(ShardHandle {
        id,
        commands: tx,
        stats,
        join,
    })
}

async fn run(
    cfg: ShardConfig,
    ring: RingTx,
    user_ring: UserRingTx,
    reports: crossbeam_channel::Sender<ShardReport>,
    governor: Arc<Governor>,
    rx: crossbeam_channel::Receiver<ShardCommand>,
    stats: Arc<ShardStats>,
) {
    let ctx = Rc::new(ShardCtx {
        shard: cfg.id,
        ring: RefCell::new(ring),
        governor,
        local: Local::default(),
        status: RefCell::new(HashMap::new()),
        tuning: cfg.tuning.clone(),
        wake_pending: std::cell::Cell::new(false),
        user_ring: RefCell::new(user_ring),
        user_counts: Default::default(),
        users: RefCell::new(HashMap::new()),
        reports: reports.clone(),
    });
    let mut rooms: HashMap<String, (UnboundedSender<UserCmd>, glommio::task::JoinHandle<()>)> =
        HashMap::new();
    let mut sockets: HashMap<
        SocketKey,
        (UnboundedSender<SocketCmd>, glommio::task::JoinHandle<()>),
    > = HashMap::new();
    info!(shard = cfg.id, cpu = ?cfg.cpu, "Shard started.");
    let mut last_tick = Instant::now();
    let mut last_flush = Instant::now();
    let mut shutting_down = false;
    loop {
        // Control messages: crossbeam is polled on a short timer (no core spins when idle).
        while let Ok(cmd) = rx.try_recv() {
            match cmd {
                ShardCommand::Open(spec) => {
                    if let Some((tx, _)) = sockets.get(&spec.key) {
                        let _ = tx.unbounded_send(SocketCmd::AddTopics(spec.topics));
                    } else {
                        let key = spec.key;
                        let (stx, srx) = unbounded();
                        let task =
                            glommio::spawn_local(socket::run(spec, ctx.clone(), srx)).detach();
                        sockets.insert(key, (stx, task));
                    }
                }
                ShardCommand::AddTopics(key, t) => match sockets.get(&key) {
                    Some((tx, _)) => {
                        let _ = tx.unbounded_send(SocketCmd::AddTopics(t));
                    }
                    None => {
                        warn!(shard = cfg.id, socket = %key, "AddTopics for a socket this shard does not own; ignored.")
                    }
                },
                ShardCommand::RemoveTopics(key, t) => {
                    if let Some((tx, _)) = sockets.get(&key) {
                        let _ = tx.unbounded_send(SocketCmd::RemoveTopics(t));
                    }
                }
                ShardCommand::Close(key) => {
                    if let Some((tx, task)) = sockets.remove(&key) {
                        let _ = tx.unbounded_send(SocketCmd::Close);
                        task.await;
                    }
                }
                ShardCommand::OpenUser(spec) => {
                    let id = spec.room.room_id.clone();
                    if let Some((tx, task)) = rooms.remove(&id) {
                        // One session per room: the old one is closed before the new one dials.
                        let _ = tx.unbounded_send(UserCmd::Close);
                        task.await;
                    }
                    let (utx, urx) = unbounded();
                    let task = glommio::spawn_local(private::run(
                        *spec,
                        ctx.clone(),
                        reports.clone(),
                        urx,
                    ))
                    .detach();
                    rooms.insert(id, (utx, task));
                }
                ShardCommand::CloseUser(id) => {
                    if let Some((tx, task)) = rooms.remove(&id) {
                        let _ = tx.unbounded_send(UserCmd::Close);
                        task.await;
                    }
                }
                ShardCommand::Shutdown => shutting_down = true,
            }
        }
        if ctx.wake_pending.replace(false) {
            ctx.ring.borrow().wake();
        }
        if shutting_down {
            break;
        }
        let now = Instant::now();
        if now.duration_since(last_tick) >= Duration::from_secs(1) {
            last_tick = now;
            sockets.retain(|_, (tx, _)| tx.unbounded_send(SocketCmd::Tick).is_ok());
            // User sessions run their own timers (see `session::private`); only forget ended ones.
            rooms.retain(|_, (tx, _)| !tx.is_closed());
        }
        if now.duration_since(last_flush) >= Duration::from_millis(250) {
            last_flush = now;
            flush(&ctx, &stats);
        }
        glommio::timer::sleep(cfg.control_poll).await;
    }
    info!(
        shard = cfg.id,
        sockets = sockets.len(),
        "Shard stopping; closing sockets."
    );
    let mut tasks: Vec<_> = sockets
        .drain()
        .map(|(_, (tx, task))| {
            let _ = tx.unbounded_send(SocketCmd::Close);
            task
        })
        .collect();
    tasks.extend(rooms.drain().map(|(_, (tx, task))| {
        let _ = tx.unbounded_send(UserCmd::Close);
        task
    }));
    let all = futures_util::future::join_all(tasks);
    if glommio::timer::timeout(Duration::from_secs(5), async { Ok(all.await) })
        .await
        .is_err()
    {
        warn!(
            shard = cfg.id,
            "Some sockets did not close within 5 s; leaving them to the OS."
        );
    }
    flush(&ctx, &stats);
    info!(shard = cfg.id, "Shard stopped.");
}

fn flush(ctx: &ShardCtx, stats: &ShardStats) {
    ctx.local.flush(stats);
    stats
        .heartbeat_ms
        .store(crate::event::now_ms(), Ordering::Relaxed);
    let ring = ctx.ring.borrow();
    stats
        .ring_free
        .store(ring.free_slots() as u64, Ordering::Relaxed);
    drop(ring);
    let snapshot: Vec<_> = ctx.status.borrow().values().cloned().collect();
    *stats.sockets.lock().unwrap_or_else(|p| p.into_inner()) = snapshot;
    let users: Vec<_> = ctx.users.borrow().values().cloned().collect();
    *stats.users.lock().unwrap_or_else(|p| p.into_inner()) = users;
    stats
        .user_events
        .fetch_add(ctx.user_counts.events.take(), Ordering::Relaxed);
    stats
        .user_ring_full_waits
        .fetch_add(ctx.user_counts.ring_full_waits.take(), Ordering::Relaxed);
}
