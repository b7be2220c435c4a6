//! The Redis sink: a minimal RESP client on one TCP connection that writes a whole batch of
//! `PUBLISH` commands as one pipeline (one write, then one reply per command), plus the outage
//! buffer and reconnect with backoff.
//!
//! RESP is written by hand into a reused buffer so that publishing allocates nothing per event
//! (the `redis` crate builds a `Cmd` with its own vectors per command).

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

use super::config::{RedisConfig, RedisEndpoint};
use super::encode::RedisMessage;
use super::metrics::{record, PublisherMetrics};

/// Why a Redis round trip failed. The connection is dropped and re-dialled with backoff; the
/// messages of the failed pipeline stay buffered and are written again (at-least-once).
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("cannot connect to Redis at {addr}: {source}; check redis.host/redis.port (REDIS_HOST/REDIS_PORT) and that Redis is running")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("Redis at {addr} rejected AUTH/SELECT: {reply}; check redis.password (REDIS_PASSWORD) and redis.db")]
    Auth { addr: String, reply: String },
    #[error("Redis I/O failed: {0}; reconnecting")]
    Io(#[from] std::io::Error),
    #[error("Redis did not answer within {0:?}; reconnecting")]
    Timeout(Duration),
    #[error("Redis sent an unexpected reply {0:?}; reconnecting")]
    Protocol(String),
}

/// Appends `PUBLISH channel payload` in RESP.
pub fn push_publish(out: &mut Vec<u8>, channel: &[u8], payload: &[u8]) {
    out.extend_from_slice(b"*3\r\n$7\r\nPUBLISH\r\n");
    push_bulk(out, channel);
    push_bulk(out, payload);
}

fn push_bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

pub fn push_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        push_bulk(out, a);
    }
}

/// One simple RESP reply.
#[derive(Debug, PartialEq, Eq)]
enum Reply<'a> {
    Int(i64),
    Status(&'a [u8]),
    Error(&'a [u8]),
}

/// One connection. Replies are read line by line into a reused buffer.
pub struct RedisConn {
    io: BufStream<TcpStream>,
    line: Vec<u8>,
    timeout: Duration,
    /// The server knows `HEXPIRE` (Redis ≥ 7.4); otherwise the `orders` field expiry is kept
    /// by a sweep over [`ORDERS_EXPIRY_KEY`].
    pub hexpire: bool,
}

/// ZSET of `orders` field → expiry deadline (ms), used when the server has no `HEXPIRE`.
pub const ORDERS_EXPIRY_KEY: &str = "corefeed:orders:expiry";

impl RedisConn {
    pub async fn connect(ep: &RedisEndpoint, timeout: Duration) -> Result<Self, RedisError> {
        let addr = format!("{}:{}", ep.host, ep.port);
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(&addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => return Err(RedisError::Connect { addr, source }),
            Err(_) => {
                return Err(RedisError::Connect {
                    addr,
                    source: std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
                })
            }
        };
        let _ = stream.set_nodelay(true);
        let mut conn = RedisConn {
            io: BufStream::with_capacity(64 * 1024, 64 * 1024, stream),
            line: Vec::with_capacity(256),
            timeout,
            hexpire: false,
        };
        let mut cmd = Vec::new();
        let mut n = 0;
        if !ep.password.is_empty() {
            push_command(&mut cmd, &[b"AUTH", ep.password.expose().as_bytes()]);
            n += 1;
        }
        if ep.db != 0 {
            push_command(
                &mut cmd,
                &[b"SELECT", itoa::Buffer::new().format(ep.db).as_bytes()],
            );
            n += 1;
        }
        push_command(&mut cmd, &[b"PING"]);
        n += 1;
        let mut rejected = None;
        conn.round_trip(&cmd, n, &mut 0, |r| {
            if let Err(e) = r {
                rejected.get_or_insert_with(|| String::from_utf8_lossy(e).into_owned());
            }
        })
        .await?;
        if let Some(reply) = rejected {
            return Err(RedisError::Auth { addr, reply });
        }
        // Probe HEXPIRE on a key nobody uses: an unknown-command error means an older server.
        let mut probe = Vec::new();
        push_command(
            &mut probe,
            &[
                b"HEXPIRE",
                b"corefeed:probe",
                b"60",
                b"FIELDS",
                b"1",
                b"probe",
            ],
        );
        let mut hexpire = true;
        conn.round_trip(&probe, 1, &mut 0, |r| {
            if r.is_err() {
                hexpire = false;
            }
        })
        .await?;
        conn.hexpire = hexpire;
        Ok(conn)
    }

    /// Writes `cmds` (holding `n` commands) and reads `n` replies, calling `each` with
    /// `Ok(integer or 0)` or `Err(error text)` per reply.
    pub async fn round_trip(
        &mut self,
        cmds: &[u8],
        n: usize,
        written_ns: &mut u64,
        mut each: impl FnMut(Result<i64, &[u8]>),
    ) -> Result<(), RedisError> {
        let timeout = self.timeout;
        let fut = async {
            self.io.write_all(cmds).await?;
            self.io.flush().await?;
            *written_ns = corefeed_shards::event::now_ns();
            for _ in 0..n {
                match self.read_reply().await? {
                    Reply::Int(i) => each(Ok(i)),
                    Reply::Status(_) => each(Ok(0)),
                    Reply::Error(e) => each(Err(e)),
                }
            }
            Ok::<_, RedisError>(())
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(RedisError::Timeout(timeout)),
        }
    }

    async fn read_reply(&mut self) -> Result<Reply<'_>, RedisError> {
        self.line.clear();
        let n = self.io.read_until(b'\n', &mut self.line).await?;
        if n == 0 {
            return Err(RedisError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "Redis closed the connection",
            )));
        }
        let l = self.line.strip_suffix(b"\r\n").unwrap_or(&self.line);
        match l.first() {
            Some(b':') => std::str::from_utf8(&l[1..])
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Reply::Int)
                .ok_or_else(|| RedisError::Protocol(String::from_utf8_lossy(l).into_owned())),
            Some(b'+') => Ok(Reply::Status(&l[1..])),
            Some(b'*') => {
                // An array of simple replies (HEXPIRE answers one integer per field).
                let n: i64 = std::str::from_utf8(&l[1..])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| RedisError::Protocol(String::from_utf8_lossy(l).into_owned()))?;
                let mut elem = Vec::new();
                for _ in 0..n.max(0) {
                    elem.clear();
                    self.io.read_until(b'\n', &mut elem).await?;
                    if elem.first() == Some(&b'$') {
                        // A bulk element: skip its body line too.
                        let mut body = Vec::new();
                        self.io.read_until(b'\n', &mut body).await?;
                    }
                }
                Ok(Reply::Int(n))
            }
            Some(b'$') => {
                let n: i64 = std::str::from_utf8(&l[1..])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(-1);
                if n >= 0 {
                    let mut body = Vec::new();
                    self.io.read_until(b'\n', &mut body).await?;
                }
                Ok(Reply::Int(0))
            }
            Some(b'-') => Ok(Reply::Error(&l[1..])),
            _ => Err(RedisError::Protocol(
                String::from_utf8_lossy(l).chars().take(200).collect(),
            )),
        }
    }
}

/// A message waiting for Redis, with the clocks its latency is measured from.
#[derive(Debug, Default)]
pub(crate) struct PendingRedis {
    pub msg: RedisMessage,
    pub recv_ns: u64,
    pub sent_ns: u64,
    /// Control-plane messages (serviceLog, commands) and user events are never dropped on
    /// overflow.
    pub control: bool,
    /// A command other than `PUBLISH` (user-stream state: ZADD, HSET, …) when not empty.
    /// `[b"@EXPIRE", field, ttl_s]` is resolved when written: `HEXPIRE orders` on servers that
    /// have it, else a deadline in [`ORDERS_EXPIRY_KEY`] for the sweep.
    pub args: Vec<Vec<u8>>,
}

/// Most commands per pipeline.
const MAX_PIPELINE: usize = 4096;

/// The Redis sink: buffer, connection, backoff.
pub(crate) struct RedisSink {
    cfg: RedisConfig,
    endpoint: RedisEndpoint,
    conn: Option<RedisConn>,
    pending: VecDeque<PendingRedis>,
    pool: Vec<PendingRedis>,
    out: Vec<u8>,
    backoff: Duration,
    next_attempt: Instant,
    ever_connected: bool,
    last_overflow_log: Option<Instant>,
    overflow_since_log: u64,
}

impl RedisSink {
    pub fn new(cfg: RedisConfig, endpoint: RedisEndpoint) -> Self {
        RedisSink {
            cfg,
            endpoint,
            conn: None,
            pending: VecDeque::with_capacity(1024),
            pool: Vec::new(),
            out: Vec::with_capacity(256 * 1024),
            backoff: Duration::from_millis(100),
            next_attempt: Instant::now(),
            ever_connected: false,
            last_overflow_log: None,
            overflow_since_log: 0,
        }
    }

    /// A recycled (or new) message slot to encode into.
    pub fn slot(&mut self) -> PendingRedis {
        self.pool.pop().unwrap_or_default()
    }

    pub fn recycle(&mut self, mut p: PendingRedis) {
        p.msg.clear();
        p.control = false;
        p.args.clear();
        self.pool.push(p);
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    pub fn capacity(&self) -> usize {
        self.cfg.buffer_capacity
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// When the next reconnect attempt is due (None while connected).
    pub fn next_attempt(&self) -> Option<Instant> {
        self.conn.is_none().then_some(self.next_attempt)
    }

    /// Queues a message. Overflow policy: when `buffer_capacity` messages wait, the oldest
    /// non-control message is dropped (a newer ticker/candle supersedes it) and counted.
    pub fn push(&mut self, p: PendingRedis, m: &PublisherMetrics) {
        if self.pending.len() >= self.cfg.buffer_capacity {
            if let Some(i) = self.pending.iter().position(|x| !x.control) {
                let old = self.pending.remove(i).expect("index in range");
                self.recycle(old);
                m.redis_dropped.fetch_add(1, Relaxed);
                self.overflow_since_log += 1;
                let now = Instant::now();
                if self
                    .last_overflow_log
                    .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(10))
                {
                    tracing::warn!(
                        dropped = self.overflow_since_log,
                        capacity = self.cfg.buffer_capacity,
                        connected = self.conn.is_some(),
                        "Redis outage buffer is full; dropping the oldest price messages (see corefeed_redis_dropped_total)"
                    );
                    self.last_overflow_log = Some(now);
                    self.overflow_since_log = 0;
                }
            }
        }
        self.pending.push_back(p);
        m.redis_buffered.store(self.pending.len() as u64, Relaxed);
    }

    /// Connects when due, then writes everything pending in pipelines of at most
    /// [`MAX_PIPELINE`]. Returns the number of messages Redis answered.
    /// Latency is recorded when the pipeline's bytes were written (handed to the socket), the
    /// issue's "PUBLISH written"; the replies are then awaited before the next pipeline.
    pub async fn flush(
        &mut self,
        m: &PublisherMetrics,
        recv_h: &mut Histogram<u64>,
        sent_h: &mut Histogram<u64>,
    ) -> usize {
        if self.pending.is_empty() {
            return 0;
        }
        if self.conn.is_none() && !self.try_connect(m).await {
            return 0;
        }
        let mut done = 0;
        while !self.pending.is_empty() {
            let n = self.pending.len().min(MAX_PIPELINE);
            self.out.clear();
            let hexpire = self.conn.as_ref().is_some_and(|c| c.hexpire);
            for p in self.pending.iter().take(n) {
                if p.args.is_empty() {
                    push_publish(&mut self.out, &p.msg.channel, &p.msg.payload);
                } else {
                    push_args(&mut self.out, &p.args, hexpire);
                }
            }
            let conn = self.conn.as_mut().expect("connected");
            let mut cmd_errors = 0u64;
            let mut first_error: Option<String> = None;
            let mut written_ns = 0;
            let res = conn
                .round_trip(&self.out, n, &mut written_ns, |r| {
                    if let Err(e) = r {
                        cmd_errors += 1;
                        first_error.get_or_insert_with(|| String::from_utf8_lossy(e).into_owned());
                    }
                })
                .await;
            match res {
                Ok(()) => {
                    for _ in 0..n {
                        let p = self.pending.pop_front().expect("n <= len");
                        record(recv_h, p.recv_ns, written_ns);
                        record(sent_h, p.sent_ns, written_ns);
                        self.recycle(p);
                    }
                    m.redis_pipelines.fetch_add(1, Relaxed);
                    m.redis_messages.fetch_add(n as u64 - cmd_errors, Relaxed);
                    if cmd_errors > 0 {
                        m.redis_errors.fetch_add(cmd_errors, Relaxed);
                        tracing::error!(
                            failed = cmd_errors,
                            pipeline = n,
                            reply = first_error.as_deref().unwrap_or(""),
                            "Redis rejected PUBLISH commands; those messages are lost (counted in corefeed_redis_errors_total)"
                        );
                    }
                    done += n;
                }
                Err(e) => {
                    self.disconnect(m, &e);
                    break;
                }
            }
        }
        m.redis_buffered.store(self.pending.len() as u64, Relaxed);
        done
    }

    /// Whether the connected server has `HEXPIRE` (`None` while disconnected).
    pub fn hexpire(&self) -> Option<bool> {
        self.conn.as_ref().map(|c| c.hexpire)
    }

    fn disconnect(&mut self, m: &PublisherMetrics, e: &RedisError) {
        m.redis_errors.fetch_add(1, Relaxed);
        m.redis_connected.store(0, Relaxed);
        tracing::warn!(
            error = %e,
            buffered = self.pending.len(),
            "Redis connection lost; buffering messages and reconnecting with backoff"
        );
        self.conn = None;
        self.backoff = Duration::from_millis(100);
        self.next_attempt = Instant::now();
    }

    /// One connect attempt when the backoff allows it.
    pub async fn try_connect(&mut self, m: &PublisherMetrics) -> bool {
        if self.conn.is_some() {
            return true;
        }
        if Instant::now() < self.next_attempt {
            return false;
        }
        match RedisConn::connect(&self.endpoint, Duration::from_millis(self.cfg.timeout_ms)).await {
            Ok(c) => {
                self.conn = Some(c);
                m.redis_connected.store(1, Relaxed);
                if self.ever_connected {
                    m.redis_reconnects.fetch_add(1, Relaxed);
                }
                tracing::info!(
                    host = %self.endpoint.host,
                    port = self.endpoint.port,
                    buffered = self.pending.len(),
                    "Connected to Redis; writing buffered messages"
                );
                self.ever_connected = true;
                self.backoff = Duration::from_millis(100);
                true
            }
            Err(e) => {
                m.redis_errors.fetch_add(1, Relaxed);
                tracing::warn!(
                    error = %e,
                    retry_in_ms = self.backoff.as_millis() as u64,
                    buffered = self.pending.len(),
                    "Redis connect failed; will retry"
                );
                self.next_attempt = Instant::now() + self.backoff;
                self.backoff =
                    (self.backoff * 2).min(Duration::from_millis(self.cfg.reconnect_max_ms));
                false
            }
        }
    }

    /// Shutdown: what could not be written is counted as dropped.
    pub fn abandon(&mut self, m: &PublisherMetrics) -> u64 {
        let n = self.pending.len() as u64;
        if n > 0 {
            m.redis_dropped.fetch_add(n, Relaxed);
            tracing::error!(
                lost = n,
                "Shutting down with Redis unreachable; buffered Redis messages were not published"
            );
        }
        self.pending.clear();
        m.redis_buffered.store(0, Relaxed);
        n
    }
}

/// Writes a generic command, resolving the `@EXPIRE` pseudo-command (see [`PendingRedis`]).
fn push_args(out: &mut Vec<u8>, args: &[Vec<u8>], hexpire: bool) {
    if args.first().map(Vec::as_slice) == Some(&b"@EXPIRE"[..]) && args.len() == 3 {
        let (field, ttl) = (&args[1], &args[2]);
        if hexpire {
            push_command(out, &[b"HEXPIRE", b"orders", ttl, b"FIELDS", b"1", field]);
        } else {
            let ttl_s: u64 = std::str::from_utf8(ttl)
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(300);
            let deadline = corefeed_shards::event::now_ms() + ttl_s * 1000;
            push_command(
                out,
                &[
                    b"ZADD",
                    ORDERS_EXPIRY_KEY.as_bytes(),
                    itoa::Buffer::new().format(deadline).as_bytes(),
                    field,
                ],
            );
        }
        return;
    }
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    push_command(out, &refs);
}

/// Deletes the `orders` fields whose deadline passed (servers without `HEXPIRE`), atomically.
pub const ORDERS_SWEEP_LUA: &str =
    "local f = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000) \
if #f > 0 then redis.call('HDEL', KEYS[1], unpack(f)) redis.call('ZREM', KEYS[2], unpack(f)) end \
return #f";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_publish_encoding() {
        let mut out = Vec::new();
        push_publish(&mut out, b"serviceLog", b"{\"a\":1}");
        assert_eq!(
            out,
            b"*3\r\n$7\r\nPUBLISH\r\n$10\r\nserviceLog\r\n$7\r\n{\"a\":1}\r\n"
        );
    }
}
