//! One WebSocket connection: subscription bookkeeping, the push scheduler, the firehose, and
//! the venue's control protocol (Binance JSON methods + control-frame pings; OKX op/args +
//! text ping/pong + idle cut).
//!
//! Each connection is one task that owns its socket: a `select!` over control events, incoming
//! messages, the next timer deadline and (when the firehose is on) an always-ready branch.
//! Frames are rendered into a per-connection `BytesMut` arena, split off as `Bytes` (no
//! per-frame allocation until the arena chunk is used up) and written with `feed` + one
//! `flush` per batch.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use bytes::{Bytes, BytesMut};
use futures_util::SinkExt;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::fault::ConnFaults;
use super::market::{Candle, Precision, DAY_MS};
use super::render::{self, finish_object, now_ms, raw};
use super::server::{CtrlEvent, SimState};
use super::stats::ConnGuard;
use super::streams::{parse_binance, parse_okx, BinanceStream, Category, OkxChannel};
use super::universe::Venue;

/// Which protocol a socket speaks.
#[derive(Debug, Clone, Copy)]
pub enum Proto {
    Binance { cat: Category, combined: bool },
    Okx { business: bool },
}

/// What the HTTP layer hands over after the upgrade.
#[derive(Debug, Clone)]
pub struct ConnSpec {
    /// Venue path used for stats and the silence fault, e.g. `/binance/spot/stream`.
    pub path: String,
    pub proto: Proto,
    /// Streams named in the URL (Binance).
    pub url_streams: Vec<String>,
}

#[derive(Debug)]
enum Kind {
    /// Binance kline or OKX candle.
    Candle {
        sym: String,
        interval: String,
        c: Candle,
    },
    /// Binance `<sym>@ticker` / `<sym>@miniTicker`, OKX `tickers`.
    Ticker {
        sym: String,
        mini: bool,
        t: Candle,
    },
    BookTicker {
        sym: String,
        t: Candle,
        u: u64,
    },
    /// `!miniTicker@arr` / `!ticker@arr` / `!bookTicker`.
    AllMarket {
        what: AllWhat,
        items: Vec<(String, Candle)>,
        u: u64,
    },
    Silent,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum AllWhat {
    MiniTickers,
    Tickers,
    BookTickers,
}

#[derive(Debug)]
struct Sub {
    /// Binance stream name, or OKX `channel` + `instId`.
    name: String,
    /// OKX only: channel name for the push `arg`.
    channel: String,
    kind: Kind,
    next_push: Instant,
    next_close: Option<Instant>,
}

impl Sub {
    fn firehose_eligible(&self, proto: Proto) -> bool {
        match (proto, &self.kind) {
            (Proto::Binance { combined, .. }, Kind::Candle { .. }) => combined,
            (Proto::Okx { .. }, Kind::Candle { .. } | Kind::Ticker { .. }) => true,
            _ => false,
        }
    }
    fn is_candle(&self) -> bool {
        matches!(self.kind, Kind::Candle { .. })
    }
}

/// A frame waiting to be written, and what it is (faults act on data frames only).
struct Out {
    b: Bytes,
    tag: Tag,
}

#[derive(Debug, Clone, PartialEq)]
enum Tag {
    /// Ack, error, pong: never delayed, truncated or padded.
    Reply,
    Data,
    /// A closed candle, counted per stream (`"<venue path> <symbol> <interval>"`).
    Closed(String),
}

enum Exit {
    /// Drop the TCP connection without a close frame.
    Drop,
    /// Send a close frame, then end.
    Close(u16, &'static str),
}

pub struct Conn {
    st: Arc<SimState>,
    spec: ConnSpec,
    proto: Proto,
    conn_id: String,
    subs: Vec<Sub>,
    firehose_set: Vec<usize>,
    firehose_pos: usize,
    arena: BytesMut,
    pending: Vec<Out>,
    /// Frames being written (reused).
    out: Vec<Out>,
    /// The `delay` fault: data frames held until their time.
    delayed: VecDeque<(Instant, Out)>,
    /// Data frames written so far (the `truncated`/`oversized` faults count these).
    data_frames: u64,
    /// The faults this connection's path is subject to.
    cf: ConnFaults,
    guard: ConnGuard,
    started: Instant,
    // Binance keepalive / limits
    ping_period: Duration,
    pong_timeout: Duration,
    next_ping: Instant,
    unanswered_since: Option<Instant>,
    last_ping_payload: Bytes,
    msg_rate: usize,
    incoming: VecDeque<Instant>,
    // OKX
    last_activity: Instant,
    sub_requests: VecDeque<Instant>,
    sent_frames: u64,
    sent_bytes: u64,
}

const ARENA_CHUNK: usize = 256 * 1024;

impl Conn {
    pub fn new(st: Arc<SimState>, spec: ConnSpec) -> Conn {
        let now = Instant::now();
        let id = st
            .next_conn_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let conn_id = format!("{:08x}", super::universe::splitmix(id ^ st.cfg.seed) as u32);
        let futures = matches!(spec.proto, Proto::Binance { cat, .. } if cat.is_futures());
        let cfg = &st.cfg;
        let ping_period = Duration::from_secs_f64(
            cfg.binance_ping_secs
                .unwrap_or(if futures { 180.0 } else { 20.0 })
                .max(0.01),
        );
        let pong_timeout = Duration::from_secs_f64(
            cfg.binance_pong_timeout_secs
                .unwrap_or(if futures { 600.0 } else { 60.0 })
                .max(0.01),
        );
        let msg_rate = cfg.binance_msg_rate.unwrap_or(if futures { 10 } else { 5 }) as usize;
        let guard = ConnGuard::new(st.clone(), &spec.path);
        let cf = st.faults.for_path(&spec.path);
        Conn {
            proto: spec.proto,
            st,
            spec,
            conn_id,
            subs: Vec::new(),
            firehose_set: Vec::new(),
            firehose_pos: 0,
            arena: BytesMut::with_capacity(ARENA_CHUNK),
            pending: Vec::with_capacity(256),
            out: Vec::with_capacity(256),
            delayed: VecDeque::new(),
            data_frames: 0,
            cf,
            guard,
            started: now,
            ping_period,
            pong_timeout,
            next_ping: now + ping_period,
            unanswered_since: None,
            last_ping_payload: Bytes::new(),
            msg_rate,
            incoming: VecDeque::new(),
            last_activity: now,
            sub_requests: VecDeque::new(),
            sent_frames: 0,
            sent_bytes: 0,
        }
    }

    // ------------------------------------------------------------------ run loop

    pub async fn run(mut self, mut ws: WebSocket) {
        let mut events = self.st.events.subscribe();
        let url_streams = std::mem::take(&mut self.spec.url_streams);
        if let Proto::Binance { .. } = self.proto {
            for s in url_streams {
                if self.subs.iter().any(|x| x.name == s) {
                    continue;
                }
                let parsed = match self.proto {
                    Proto::Binance { cat, .. } => {
                        parse_binance(&self.st.universe, cat, &s).unwrap_or(BinanceStream::Silent)
                    }
                    _ => unreachable!(),
                };
                self.add_binance(s, parsed);
            }
            self.after_sub_change();
        }
        tracing::debug!(path = %self.spec.path, conn_id = %self.conn_id, subs = self.subs.len(), "websocket connection opened");
        let lifetime = Duration::from_secs_f64(self.st.cfg.max_conn_secs.max(0.001));
        let end_of_life = self.started + lifetime;
        let exit = loop {
            let now = Instant::now();
            let deadline = self.next_deadline(now).min(end_of_life);
            let firehose_ready =
                !self.cf.silenced && self.st.rt.firehose() && !self.firehose_set.is_empty();
            tokio::select! {
                biased;
                ev = events.recv() => match ev {
                    Ok(CtrlEvent::DropAll) => break Exit::Drop,
                    Ok(CtrlEvent::ConfigChanged) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.reschedule();
                        self.refresh_faults();
                    }
                    Ok(CtrlEvent::FaultsChanged) => {
                        self.refresh_faults();
                        // A lifted delay releases what it held at once.
                        if self.send_pending(&mut ws).await.is_err() { break Exit::Drop; }
                    }
                    Err(broadcast::error::RecvError::Closed) => break Exit::Close(1001, "server shutting down"),
                },
                msg = ws.recv() => {
                    let Some(Ok(msg)) = msg else { break Exit::Drop };
                    if let Some(exit) = self.on_message(msg) {
                        let _ = self.send_pending(&mut ws).await;
                        break exit;
                    }
                    if self.send_pending(&mut ws).await.is_err() { break Exit::Drop; }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let now = Instant::now();
                    if now >= end_of_life {
                        break Exit::Close(1000, "connection lifetime reached");
                    }
                    if let Some(exit) = self.on_timer(now) {
                        break exit;
                    }
                    self.flush_stats();
                    if let Some(ping) = self.ping_due(now) {
                        if !self.cf.silenced && ws.send(Message::Ping(ping)).await.is_err() { break Exit::Drop; }
                    }
                    if self.send_pending(&mut ws).await.is_err() { break Exit::Drop; }
                }
                _ = std::future::ready(()), if firehose_ready => {
                    self.firehose_batch();
                    if self.send_pending(&mut ws).await.is_err() { break Exit::Drop; }
                }
            }
        };
        self.flush_stats();
        match exit {
            Exit::Drop => {
                tracing::debug!(path = %self.spec.path, conn_id = %self.conn_id, "websocket connection dropped");
            }
            Exit::Close(code, reason) => {
                tracing::info!(path = %self.spec.path, conn_id = %self.conn_id, code, reason, "closing websocket connection");
                let _ = ws
                    .send(Message::Close(Some(CloseFrame {
                        code,
                        reason: Utf8Bytes::from_static(reason),
                    })))
                    .await;
            }
        }
    }

    fn flush_stats(&mut self) {
        self.st.stats.add_sent(self.sent_frames, self.sent_bytes);
        self.sent_frames = 0;
        self.sent_bytes = 0;
    }

    /// Re-reads the faults of this connection's path.
    fn refresh_faults(&mut self) {
        let was_silenced = self.cf.silenced;
        self.cf = self.st.faults.for_path(&self.spec.path);
        if was_silenced && !self.cf.silenced {
            // The silence was the server's: its idle cut and pong timeout start afresh.
            let now = Instant::now();
            self.last_activity = now;
            self.unanswered_since = None;
        }
    }

    async fn send_pending(&mut self, ws: &mut WebSocket) -> Result<(), axum::Error> {
        if self.pending.is_empty() && self.delayed.is_empty() {
            return Ok(());
        }
        if self.cf.silenced {
            self.pending.clear();
            self.delayed.clear();
            return Ok(());
        }
        let now = Instant::now();
        let delay = self.cf.delay;
        let mut out = std::mem::take(&mut self.out);
        // Held data frames whose time has come (all of them once the delay is lifted) go
        // first, in order.
        while let Some((due, _)) = self.delayed.front() {
            if !delay.is_zero() && *due > now {
                break;
            }
            if let Some((_, f)) = self.delayed.pop_front() {
                out.push(f);
            }
        }
        let mut held = 0;
        for f in self.pending.drain(..) {
            if !delay.is_zero() && f.tag != Tag::Reply {
                self.delayed.push_back((now + delay, f));
                held += 1;
            } else {
                out.push(f);
            }
        }
        if held > 0 {
            self.st
                .faults
                .delayed_frames
                .fetch_add(held, std::sync::atomic::Ordering::Relaxed);
        }
        if out.is_empty() {
            self.out = out;
            return Ok(());
        }
        let every = self.st.faults.malformed_every();
        let truncate_every = self.cf.truncate_every;
        let oversize = self.cf.oversize;
        for Out { mut b, tag } in out.drain(..) {
            if tag != Tag::Reply {
                self.data_frames += 1;
                let n = self.data_frames;
                let mut truncated = false;
                if truncate_every > 0 && n % truncate_every == 0 {
                    b = self.st.faults.truncate(b);
                    truncated = true;
                } else if let Some((e, bytes)) = oversize {
                    if e > 0 && n % e == 0 {
                        b = self.st.faults.oversize(&b, bytes);
                    }
                }
                if let Tag::Closed(key) = &tag {
                    self.st.stats.add_closed_candle(key, truncated);
                }
            }
            self.sent_frames += 1;
            self.sent_bytes += b.len() as u64;
            let bad =
                (every > 0 && self.sent_frames % every == 0).then(|| self.st.faults.malformed(&b));
            let text = Utf8Bytes::try_from(b).expect("rendered frames are ASCII JSON");
            ws.feed(Message::Text(text)).await?;
            if let Some(bad) = bad {
                // Malformed on purpose: sent as text even when not UTF-8-clean JSON.
                let text = Utf8Bytes::from(String::from_utf8_lossy(&bad).into_owned());
                ws.feed(Message::Text(text)).await?;
            }
        }
        self.out = out;
        ws.flush().await?;
        if self.sent_frames >= 1024 {
            self.flush_stats();
        }
        if let Proto::Okx { .. } = self.proto {
            self.last_activity = Instant::now();
        }
        Ok(())
    }

    /// Queue a control reply (ack, error, pong) — never stamped.
    fn reply(&mut self, s: &str) {
        self.reserve();
        raw(&mut self.arena, s);
        let b = self.arena.split().freeze();
        self.pending.push(Out { b, tag: Tag::Reply });
    }

    fn reserve(&mut self) {
        if self.arena.capacity() - self.arena.len() < 16 * 1024 {
            self.arena.reserve(ARENA_CHUNK);
        }
    }

    // ------------------------------------------------------------------ timers

    fn next_deadline(&self, now: Instant) -> Instant {
        let far = now + Duration::from_secs(3600);
        let firehose = self.st.rt.firehose();
        let mut d = far;
        for s in &self.subs {
            if matches!(s.kind, Kind::Silent) {
                continue;
            }
            if !(firehose && s.firehose_eligible(self.proto)) {
                d = d.min(s.next_push);
            }
            if let Some(c) = s.next_close {
                d = d.min(c);
            }
        }
        // While silenced the idle cut and the pong timeout are suspended: their (past)
        // deadlines must not make the timer fire in a loop.
        match self.proto {
            Proto::Binance { .. } => {
                d = d.min(self.next_ping);
                if let Some(t) = self.unanswered_since.filter(|_| !self.cf.silenced) {
                    d = d.min(t + self.pong_timeout);
                }
            }
            Proto::Okx { .. } if !self.cf.silenced => {
                d = d.min(self.last_activity + self.okx_idle());
            }
            Proto::Okx { .. } => {}
        }
        if let Some((due, _)) = self.delayed.front() {
            d = d.min(*due);
        }
        d
    }

    fn okx_idle(&self) -> Duration {
        Duration::from_secs_f64(self.st.cfg.okx_idle_secs.max(0.001))
    }

    fn ping_due(&mut self, now: Instant) -> Option<Bytes> {
        if !matches!(self.proto, Proto::Binance { .. }) || now < self.next_ping {
            return None;
        }
        self.next_ping = now + self.ping_period;
        if self.cf.silenced {
            return None;
        }
        let mut b = itoa::Buffer::new();
        let payload = Bytes::copy_from_slice(b.format(now_ms()).as_bytes());
        self.last_ping_payload = payload.clone();
        if self.unanswered_since.is_none() {
            self.unanswered_since = Some(now);
        }
        Some(payload)
    }

    fn on_timer(&mut self, now: Instant) -> Option<Exit> {
        if !self.cf.silenced {
            match self.proto {
                Proto::Binance { .. } => {
                    if let Some(t) = self.unanswered_since {
                        if now >= t + self.pong_timeout {
                            return Some(Exit::Close(1008, "pong timeout"));
                        }
                    }
                }
                Proto::Okx { .. } => {
                    if now >= self.last_activity + self.okx_idle() {
                        return Some(Exit::Close(4004, "No data received in 30s."));
                    }
                }
            }
        }
        let firehose = self.st.rt.firehose();
        let kline_period = self.st.rt.kline_period();
        let ticker_period = self.st.rt.ticker_period();
        let book_period = Duration::from_millis(self.st.rt.kline_push_ms());
        let stamp = self.st.rt.stamp();
        let slack = Duration::from_millis(1);
        for i in 0..self.subs.len() {
            if let Some(close_at) = self.subs[i].next_close {
                if close_at <= now + slack {
                    if !self.cf.silenced {
                        self.render(i, true, stamp);
                    }
                    let s = &mut self.subs[i];
                    if let Kind::Candle { c, .. } = &mut s.kind {
                        let period = self.st.rt.close_period(c.interval_ms);
                        c.roll();
                        let mut next = close_at + period;
                        if next <= now {
                            next = now + period;
                        }
                        s.next_close = Some(next);
                    }
                }
            }
            let s = &self.subs[i];
            if matches!(s.kind, Kind::Silent) || (firehose && s.firehose_eligible(self.proto)) {
                continue;
            }
            if s.next_push <= now + slack {
                let period = match s.kind {
                    Kind::Candle { .. } => kline_period,
                    Kind::BookTicker { .. } => book_period,
                    Kind::AllMarket {
                        what: AllWhat::BookTickers,
                        ..
                    } => book_period,
                    _ => ticker_period,
                };
                if !self.cf.silenced {
                    self.step(i);
                    self.render(i, false, stamp);
                }
                let s = &mut self.subs[i];
                s.next_push += period;
                if s.next_push <= now {
                    s.next_push = now + period;
                }
            }
        }
        None
    }

    fn firehose_batch(&mut self) {
        let stamp = self.st.rt.stamp();
        let mut bytes = 0;
        for _ in 0..128 {
            if self.firehose_pos >= self.firehose_set.len() {
                self.firehose_pos = 0;
            }
            let i = self.firehose_set[self.firehose_pos];
            self.firehose_pos += 1;
            self.step(i);
            let before = self.pending.len();
            self.render(i, false, stamp);
            bytes += self.pending[before..]
                .iter()
                .map(|f| f.b.len())
                .sum::<usize>();
            if bytes >= 96 * 1024 {
                break;
            }
        }
    }

    /// Recompute push phases after a rate change: subscriptions are spread evenly over one
    /// period so a connection's frames are evenly spaced.
    fn reschedule(&mut self) {
        let now = Instant::now();
        let kline_period = self.st.rt.kline_period();
        let n = self.subs.len().max(1) as u32;
        for (i, s) in self.subs.iter_mut().enumerate() {
            if s.is_candle() {
                s.next_push = now + kline_period * (i as u32) / n;
            }
        }
    }

    fn after_sub_change(&mut self) {
        self.firehose_set = (0..self.subs.len())
            .filter(|&i| self.subs[i].firehose_eligible(self.proto))
            .collect();
        self.firehose_pos = 0;
        let live = self.subs.len();
        self.guard.set_subs(live);
    }

    // ------------------------------------------------------------------ rendering

    fn step(&mut self, i: usize) {
        match &mut self.subs[i].kind {
            Kind::Candle { c, .. } => c.step(),
            Kind::Ticker { t, .. } | Kind::BookTicker { t, .. } => t.step(),
            Kind::AllMarket { items, .. } => items.iter_mut().for_each(|(_, t)| t.step()),
            Kind::Silent => {}
        }
    }

    /// Render the push(es) of subscription `i` into `pending`. A symbol under the
    /// `stall_market` fault renders nothing (and is left out of all-market arrays).
    fn render(&mut self, i: usize, closed: bool, stamp: bool) {
        self.reserve();
        let b = &mut self.arena;
        let s = &mut self.subs[i];
        let cf = &self.cf;
        let mut withheld = 0u64;
        let closed_tag = |path: &str, sym: &str, interval: &str| {
            if closed {
                Tag::Closed(format!("{path} {sym} {interval}"))
            } else {
                Tag::Data
            }
        };
        match self.proto {
            Proto::Okx { .. } => {
                let tag = match &mut s.kind {
                    Kind::Candle { sym, c, interval } => {
                        if cf.is_stalled(sym) {
                            withheld += 1;
                        } else {
                            render::okx_candle(b, &s.channel, sym, c, closed);
                        }
                        closed_tag(&self.spec.path, sym, interval)
                    }
                    Kind::Ticker { sym, t, .. } => {
                        if cf.is_stalled(sym) {
                            withheld += 1;
                        } else {
                            render::okx_ticker(b, sym, t);
                        }
                        Tag::Data
                    }
                    _ => return,
                };
                if withheld == 0 {
                    finish_object(b, stamp);
                    self.pending.push(Out {
                        b: b.split().freeze(),
                        tag,
                    });
                }
            }
            Proto::Binance { combined, .. } => {
                let e = now_ms();
                let one = |b: &mut BytesMut,
                           pending: &mut Vec<Out>,
                           name: &str,
                           tag: Tag,
                           body: &mut dyn FnMut(&mut BytesMut) -> u8| {
                    if combined {
                        raw(b, "{\"stream\":\"");
                        raw(b, name);
                        raw(b, "\",\"data\":");
                        let close = body(b);
                        b.extend_from_slice(&[close]);
                        finish_object(b, stamp);
                    } else {
                        let close = body(b);
                        if close == b'}' {
                            finish_object(b, stamp);
                        } else {
                            b.extend_from_slice(&[close]);
                        }
                    }
                    pending.push(Out {
                        b: b.split().freeze(),
                        tag,
                    });
                };
                let name = s.name.as_str();
                match &mut s.kind {
                    Kind::Candle { sym, interval, c } => {
                        if cf.is_stalled(sym) {
                            withheld += 1;
                        } else {
                            let tag = closed_tag(&self.spec.path, sym, interval);
                            one(b, &mut self.pending, name, tag, &mut |b| {
                                render::binance_kline(b, sym, interval, c, closed)
                            });
                        }
                    }
                    Kind::Ticker { sym, mini, t } => {
                        if cf.is_stalled(sym) {
                            withheld += 1;
                        } else {
                            one(b, &mut self.pending, name, Tag::Data, &mut |b| {
                                if *mini {
                                    render::binance_mini_ticker(b, sym, t, e);
                                } else {
                                    render::binance_ticker(b, sym, t, e);
                                }
                                // The object renderers close themselves; re-open for the stamp.
                                b.truncate(b.len() - 1);
                                b'}'
                            });
                        }
                    }
                    Kind::BookTicker { sym, t, u } => {
                        *u += 1 + (t.n % 7);
                        let uu = *u;
                        if cf.is_stalled(sym) {
                            withheld += 1;
                        } else {
                            one(b, &mut self.pending, name, Tag::Data, &mut |b| {
                                render::binance_book_ticker(b, sym, t, uu)
                            });
                        }
                    }
                    Kind::AllMarket { what, items, u } => match what {
                        AllWhat::BookTickers => {
                            for (sym, t) in items.iter_mut() {
                                *u += 1 + (t.n % 7);
                                let uu = *u;
                                if cf.is_stalled(sym) {
                                    withheld += 1;
                                    continue;
                                }
                                if b.capacity() - b.len() < 4096 {
                                    b.reserve(ARENA_CHUNK);
                                }
                                one(b, &mut self.pending, name, Tag::Data, &mut |b| {
                                    render::binance_book_ticker(b, sym, t, uu)
                                });
                            }
                        }
                        AllWhat::MiniTickers | AllWhat::Tickers => {
                            let what = *what;
                            let need = items.len() * 420 + 256;
                            if b.capacity() - b.len() < need {
                                b.reserve(need.max(ARENA_CHUNK));
                            }
                            let left_out =
                                items.iter().filter(|(sym, _)| cf.is_stalled(sym)).count();
                            withheld += left_out as u64;
                            if left_out < items.len() {
                                one(b, &mut self.pending, name, Tag::Data, &mut |b| {
                                    b.extend_from_slice(b"[");
                                    let mut first = true;
                                    for (sym, t) in items.iter_mut() {
                                        if cf.is_stalled(sym) {
                                            continue;
                                        }
                                        if !first {
                                            b.extend_from_slice(b",");
                                        }
                                        first = false;
                                        if what == AllWhat::MiniTickers {
                                            render::binance_mini_ticker(b, sym, t, e);
                                        } else {
                                            render::binance_ticker(b, sym, t, e);
                                        }
                                    }
                                    b']'
                                });
                            }
                        }
                    },
                    Kind::Silent => {}
                }
            }
        }
        if withheld > 0 {
            self.st
                .faults
                .stalled_withheld
                .fetch_add(withheld, std::sync::atomic::Ordering::Relaxed);
        }
    }

    // ------------------------------------------------------------------ subscriptions

    fn new_candle(&self, venue: Venue, asset: usize, interval_ms: i64, salt: &str) -> Candle {
        let u = &self.st.universe;
        Candle::new(
            &u.assets[asset],
            Precision::new(u, venue, asset),
            interval_ms,
            now_ms(),
            salt,
            u.seed,
        )
    }

    fn day_state(&self, venue: Venue, asset: usize, salt: &str) -> Candle {
        let mut t = self.new_candle(venue, asset, DAY_MS, salt);
        // Give the 24 h window some history so volumes are non-zero.
        for _ in 0..50 {
            t.step();
        }
        t
    }

    fn make_sub(&self, name: String, channel: String, kind: Kind, phase: u32) -> Sub {
        let now = Instant::now();
        let next_close = match &kind {
            Kind::Candle { c, .. } => Some(match self.st.rt.candle_close_ms() {
                0 => {
                    let left = (c.open_time + c.interval_ms - now_ms()).max(1);
                    now + Duration::from_millis(left as u64)
                }
                ms => now + Duration::from_millis(ms),
            }),
            _ => None,
        };
        let first = match &kind {
            Kind::Candle { .. } => {
                let p = self.st.rt.kline_period();
                now + p * (phase % 64) / 64
            }
            _ => now,
        };
        Sub {
            name,
            channel,
            kind,
            next_push: first,
            next_close,
        }
    }

    fn add_binance(&mut self, name: String, parsed: BinanceStream) {
        let Proto::Binance { cat, .. } = self.proto else {
            return;
        };
        let venue = cat.venue();
        let u = &self.st.universe;
        let sym_of = |a: usize| u.symbol(venue, a);
        let kind = match parsed {
            BinanceStream::Kline {
                asset,
                interval,
                interval_ms,
            } => Kind::Candle {
                sym: sym_of(asset),
                c: self.new_candle(venue, asset, interval_ms, &interval),
                interval,
            },
            BinanceStream::Ticker { asset } => Kind::Ticker {
                sym: sym_of(asset),
                mini: false,
                t: self.day_state(venue, asset, "24h"),
            },
            BinanceStream::MiniTicker { asset } => Kind::Ticker {
                sym: sym_of(asset),
                mini: true,
                t: self.day_state(venue, asset, "24h"),
            },
            BinanceStream::BookTicker { asset } => Kind::BookTicker {
                sym: sym_of(asset),
                t: self.new_candle(venue, asset, DAY_MS, "book"),
                u: 100_000_000 + asset as u64 * 1000,
            },
            BinanceStream::MiniTickerArr
            | BinanceStream::TickerArr
            | BinanceStream::AllBookTicker => {
                let what = match parsed {
                    BinanceStream::MiniTickerArr => AllWhat::MiniTickers,
                    BinanceStream::TickerArr => AllWhat::Tickers,
                    _ => AllWhat::BookTickers,
                };
                let items = (0..u.len())
                    .map(|a| {
                        let t = if what == AllWhat::BookTickers {
                            self.new_candle(venue, a, DAY_MS, "book")
                        } else {
                            self.day_state(venue, a, "24h")
                        };
                        (sym_of(a), t)
                    })
                    .collect();
                Kind::AllMarket {
                    what,
                    items,
                    u: 100_000_000,
                }
            }
            BinanceStream::Silent => Kind::Silent,
        };
        let phase = self.subs.len() as u32;
        let sub = self.make_sub(name, String::new(), kind, phase);
        self.subs.push(sub);
    }

    // ------------------------------------------------------------------ incoming

    fn on_message(&mut self, msg: Message) -> Option<Exit> {
        match self.proto {
            Proto::Binance { .. } => self.on_binance(msg),
            Proto::Okx { .. } => self.on_okx(msg),
        }
    }

    fn count_incoming(&mut self) -> bool {
        let now = Instant::now();
        self.incoming.push_back(now);
        while let Some(&t) = self.incoming.front() {
            if now.duration_since(t) >= Duration::from_secs(1) {
                self.incoming.pop_front();
            } else {
                break;
            }
        }
        self.incoming.len() > self.msg_rate
    }

    fn on_binance(&mut self, msg: Message) -> Option<Exit> {
        // PING, PONG and JSON messages all count towards the per-second limit.
        if self.count_incoming() {
            return Some(Exit::Close(1008, "Too many requests"));
        }
        let text = match msg {
            Message::Text(t) => t,
            Message::Binary(b) => match Utf8Bytes::try_from(b) {
                Ok(t) => t,
                Err(_) => return None,
            },
            Message::Pong(p) => {
                let futures = matches!(self.proto, Proto::Binance { cat, .. } if cat.is_futures());
                // Spot: a pong must echo the ping payload; unsolicited pongs don't count.
                if futures || p == self.last_ping_payload {
                    self.unanswered_since = None;
                }
                return None;
            }
            Message::Ping(_) => return None,
            Message::Close(_) => return Some(Exit::Drop),
        };
        let v: Value = match serde_json::from_str(text.as_str()) {
            Ok(v) => v,
            Err(e) => {
                self.reply(&binance_error(
                    3,
                    &format!("Invalid JSON: {e}"),
                    &Value::Null,
                ));
                return None;
            }
        };
        let id = v.get("id").cloned().unwrap_or(Value::Null);
        let err =
            |msg: &str| -> String { binance_error(2, &format!("Invalid request: {msg}"), &id) };
        let id_ok = match &id {
            Value::Null => v.get("id").is_some(),
            Value::Number(n) => n.is_i64() || n.is_u64(),
            Value::String(s) => {
                s.len() <= 36 && !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
            }
            _ => false,
        };
        let Some(method) = v.get("method") else {
            let e = err("missing field `method`");
            self.reply(&e);
            return None;
        };
        if !id_ok {
            let e = err("request ID must be an unsigned integer");
            self.reply(&e);
            return None;
        }
        let ok = |result: Value| format!("{{\"result\":{result},\"id\":{id}}}");
        let params: Vec<Value> = match v.get("params") {
            Some(Value::Array(a)) => a.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => {
                let e = err("invalid type: expected a sequence for `params`");
                self.reply(&e);
                return None;
            }
        };
        let Proto::Binance { cat, combined } = self.proto else {
            return None;
        };
        match method.as_str().unwrap_or("") {
            "SUBSCRIBE" => {
                let mut names = Vec::with_capacity(params.len());
                for p in &params {
                    let Some(name) = p.as_str() else {
                        self.reply(&err("invalid stream"));
                        return None;
                    };
                    match parse_binance(&self.st.universe, cat, name) {
                        Ok(parsed) => names.push((name.to_string(), parsed)),
                        Err(_) => {
                            self.reply(&err("invalid stream"));
                            return None;
                        }
                    }
                }
                let new: Vec<_> = names
                    .into_iter()
                    .filter(|(n, _)| !self.subs.iter().any(|s| &s.name == n))
                    .collect();
                let mut uniq: Vec<(String, BinanceStream)> = Vec::with_capacity(new.len());
                for (n, p) in new {
                    if !uniq.iter().any(|(m, _)| m == &n) {
                        uniq.push((n, p));
                    }
                }
                if self.subs.len() + uniq.len() > self.st.cfg.binance_max_streams {
                    let e = err(&format!(
                        "too many streams: a connection can listen to a maximum of {} streams",
                        self.st.cfg.binance_max_streams
                    ));
                    self.reply(&e);
                    return None;
                }
                for (n, p) in uniq {
                    self.add_binance(n, p);
                }
                self.after_sub_change();
                self.reply(&ok(Value::Null));
            }
            "UNSUBSCRIBE" => {
                let names: Vec<&str> = params.iter().filter_map(|p| p.as_str()).collect();
                self.subs.retain(|s| !names.contains(&s.name.as_str()));
                self.after_sub_change();
                self.reply(&ok(Value::Null));
            }
            "LIST_SUBSCRIPTIONS" => {
                let list: Vec<Value> = self
                    .subs
                    .iter()
                    .map(|s| Value::String(s.name.clone()))
                    .collect();
                self.reply(&ok(Value::Array(list)));
            }
            "SET_PROPERTY" => match (params.first().and_then(Value::as_str), params.get(1)) {
                (Some("combined"), Some(Value::Bool(b))) => {
                    self.proto = Proto::Binance { cat, combined: *b };
                    self.after_sub_change();
                    self.reply(&ok(Value::Null));
                }
                (Some("combined"), _) => {
                    self.reply(&binance_error(
                        1,
                        "Invalid value type: expected Boolean",
                        &id,
                    ));
                }
                (Some(_), _) => {
                    self.reply(&binance_error(0, "Unknown property", &id));
                }
                (None, _) => self.reply(&err("property name must be a string")),
            },
            "GET_PROPERTY" => match params.first().and_then(Value::as_str) {
                Some("combined") => self.reply(&ok(Value::Bool(combined))),
                Some(_) => {
                    self.reply(&binance_error(0, "Unknown property", &id));
                }
                None => self.reply(&err("property name must be a string")),
            },
            other => {
                let e = err(&format!(
                    "unknown variant `{other}`, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"
                ));
                self.reply(&e);
            }
        }
        None
    }

    fn okx_error(&mut self, code: &str, msg: &str) {
        // Field order as OKX sends it: event, code, msg, connId.
        let r = format!(
            "{{\"event\":\"error\",\"code\":\"{code}\",\"msg\":{},\"connId\":\"{}\"}}",
            Value::String(msg.to_string()),
            self.conn_id
        );
        self.reply(&r);
    }

    fn on_okx(&mut self, msg: Message) -> Option<Exit> {
        let text = match msg {
            Message::Text(t) => t,
            Message::Close(_) => return Some(Exit::Drop),
            _ => return None,
        };
        if text.as_str() == "ping" {
            self.reply("pong");
            return None;
        }
        let Proto::Okx { business } = self.proto else {
            return None;
        };
        let v: Value = match serde_json::from_str(text.as_str()) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                self.okx_error("60012", &format!("Invalid request: {}", text.as_str()));
                return None;
            }
        };
        let op = v.get("op").and_then(Value::as_str).unwrap_or("");
        if op != "subscribe" && op != "unsubscribe" {
            if op == "login" {
                self.okx_error("60012", &format!("Invalid request: {}", text.as_str()));
            } else {
                self.okx_error("60019", &format!("Invalid op: {op}"));
            }
            return None;
        }
        // 480 subscribe/unsubscribe/login requests per connection-hour.
        let now = Instant::now();
        self.sub_requests.push_back(now);
        while let Some(&t) = self.sub_requests.front() {
            if now.duration_since(t) >= Duration::from_secs(3600) {
                self.sub_requests.pop_front();
            } else {
                break;
            }
        }
        if self.sub_requests.len() > self.st.cfg.okx_sub_limit as usize {
            self.okx_error("60014", "Requests too frequent.");
            return Some(Exit::Close(4003, "Requests too frequent."));
        }
        let Some(Value::Array(args)) = v.get("args") else {
            self.okx_error("60012", &format!("Invalid request: {}", text.as_str()));
            return None;
        };
        let args_len = v.get("args").map(|a| a.to_string().len()).unwrap_or(0);
        if args_len > 64 * 1024 {
            self.okx_error(
                "60012",
                "Invalid request: the total length of args exceeds 64 KB",
            );
            return None;
        }
        let mut changed = false;
        for arg in args {
            let channel = arg.get("channel").and_then(Value::as_str).unwrap_or("");
            let inst_id = arg.get("instId").and_then(Value::as_str).unwrap_or("");
            if channel.is_empty() {
                self.okx_error("60013", "Invalid args");
                continue;
            }
            // Echo the arg in OKX order: channel, instType, instFamily, instId.
            let mut echo = serde_json::Map::new();
            echo.insert("channel".into(), channel.into());
            for k in ["instType", "instFamily", "instId"] {
                if let Some(x) = arg.get(k) {
                    echo.insert(k.into(), x.clone());
                }
            }
            let echo_s = okx_arg_json(&echo);
            let parsed = parse_okx(&self.st.universe, business, channel, inst_id);
            let Ok(parsed) = parsed else {
                self.okx_error(
                    "60018",
                    &format!(
                        "Wrong URL or channel:{channel},instId:{inst_id} doesn't exist. Please use the correct URL, channel and parameters referring to API document."
                    ),
                );
                continue;
            };
            let key = format!("{channel}\u{1}{inst_id}");
            if op == "subscribe" {
                if !self.subs.iter().any(|s| s.name == key) {
                    let kind = match parsed {
                        OkxChannel::Candle {
                            venue,
                            asset,
                            interval_ms,
                        } => Kind::Candle {
                            sym: inst_id.to_string(),
                            interval: channel.to_string(),
                            c: self.new_candle(venue, asset, interval_ms, channel),
                        },
                        OkxChannel::Ticker { venue, asset } => Kind::Ticker {
                            sym: inst_id.to_string(),
                            mini: false,
                            t: self.day_state(venue, asset, "24h"),
                        },
                        OkxChannel::Silent => Kind::Silent,
                    };
                    let phase = self.subs.len() as u32;
                    let sub = self.make_sub(key, channel.to_string(), kind, phase);
                    self.subs.push(sub);
                    changed = true;
                }
                self.last_activity = Instant::now();
            } else {
                let before = self.subs.len();
                self.subs.retain(|s| s.name != key);
                changed |= before != self.subs.len();
            }
            let ack = format!(
                "{{\"event\":\"{op}\",\"arg\":{echo_s},\"connId\":\"{}\"}}",
                self.conn_id
            );
            self.reply(&ack);
        }
        if changed {
            self.after_sub_change();
        }
        None
    }
}

/// Binance's WebSocket error reply, fields in the server's order.
fn binance_error(code: i64, msg: &str, id: &Value) -> String {
    format!(
        "{{\"error\":{{\"code\":{code},\"msg\":{}}},\"id\":{id}}}",
        Value::String(msg.to_string())
    )
}

fn okx_arg_json(m: &serde_json::Map<String, Value>) -> String {
    // serde_json's map is sorted; write in insertion order ourselves.
    let mut s = String::from("{");
    for (i, k) in ["channel", "instType", "instFamily", "instId"]
        .iter()
        .filter(|k| m.contains_key(**k))
        .enumerate()
    {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&Value::String(k.to_string()).to_string());
        s.push(':');
        s.push_str(&m[*k].to_string());
    }
    s.push('}');
    s
}
