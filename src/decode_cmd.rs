//! `corefeed decode`: raw exchange frames in (one per line), every message corefeed would
//! publish for them out (one JSON object per line), using the publisher's own encoders and its
//! default sink routing.
//!
//! Output lines:
//! `{"sink":"redis","channel":C,"payload":P}` and `{"sink":"amqp","routingKey":K,"body":B}`
//! (P and B are JSON strings holding the exact payload text). A summary
//! `frames=N events=N ignored=N errors=N` goes to `err`, as does one line per frame that fails
//! to decode (with its line number); decoding goes on after a bad frame.

use std::io::{BufRead, Write};

use anyhow::Context as _;
use corefeed_shards::event::{now_ns, Event};
use corefeed_shards::exchanges::{decode_text, DecodeCtx, FrameKind, Scratch};
use corefeed_shards::types::Provider;

use crate::publisher::config::SinkRoutes;
use crate::publisher::encode::{amqp_event, push_json_str, redis_event, AmqpMessage, RedisMessage};

/// What `run` saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeSummary {
    /// Non-empty input lines.
    pub frames: u64,
    /// Events decoded.
    pub events: u64,
    /// Frames that decoded to no event (acks, pongs, notices, venue errors).
    pub ignored: u64,
    /// Frames that failed to decode.
    pub errors: u64,
    /// Output lines written (messages that would be published).
    pub messages: u64,
}

/// Decodes `input` as `provider` frames and writes what corefeed would publish to `out`.
/// `room`/`user` are for user streams (a later issue): accepted and ignored for now.
pub fn run(
    provider: Provider,
    room: Option<String>,
    user: Option<String>,
    input: impl BufRead,
    out: impl Write,
    err: impl Write,
) -> anyhow::Result<DecodeSummary> {
    run_at(provider, room, user, input, out, err, None)
}

/// [`run`] with a fixed clock (ns since the epoch) for the receive time and the ticker
/// `eventTime`, so that output is reproducible (tests, golden files). `None` = wall clock.
pub fn run_at(
    provider: Provider,
    _room: Option<String>,
    _user: Option<String>,
    input: impl BufRead,
    mut out: impl Write,
    mut err: impl Write,
    clock_ns: Option<u64>,
) -> anyhow::Result<DecodeSummary> {
    let ctx = DecodeCtx { provider };
    let routes = SinkRoutes::default();
    let mut scratch = Scratch::default();
    // The shard's own entry (fast path, simd-json fallback on a copy), so this replays exactly
    // what a socket does with the same frames.
    let mut copy = Vec::with_capacity(4096);
    let mut events: Vec<Event> = Vec::with_capacity(64);
    let mut redis = RedisMessage::default();
    let mut amqp = AmqpMessage::default();
    let mut line_out = Vec::with_capacity(4096);
    let mut sum = DecodeSummary::default();
    for (i, line) in input.split(b'\n').enumerate() {
        let mut frame = line.context("cannot read the input frames")?;
        if frame.last() == Some(&b'\r') {
            frame.pop();
        }
        if frame.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        sum.frames += 1;
        let now = clock_ns.unwrap_or_else(now_ns);
        events.clear();
        match decode_text(&ctx, &frame, &mut copy, &mut scratch, &mut events) {
            Err(e) => {
                sum.errors += 1;
                writeln!(err, "line {}: {provider} frame not decoded: {e}", i + 1)
                    .context("cannot write to stderr")?;
                continue;
            }
            Ok(d) => {
                if events.is_empty() {
                    sum.ignored += 1;
                    if let FrameKind::VenueError { code } = d.kind {
                        writeln!(err, "line {}: the venue reported error {code}", i + 1)
                            .context("cannot write to stderr")?;
                    }
                }
            }
        }
        for ev in &events {
            sum.events += 1;
            let kind = ev.kind();
            if routes.redis(kind) && redis_event(ev, now / 1_000_000, &mut redis) {
                line_out.clear();
                line_out.extend_from_slice(b"{\"sink\":\"redis\",\"channel\":");
                push_json_str(&mut line_out, utf8(&redis.channel));
                line_out.extend_from_slice(b",\"payload\":");
                push_json_str(&mut line_out, utf8(&redis.payload));
                line_out.extend_from_slice(b"}\n");
                out.write_all(&line_out).context("cannot write to stdout")?;
                sum.messages += 1;
            }
            if routes.amqp(kind) {
                amqp_event(ev, now, &mut amqp);
                line_out.clear();
                line_out.extend_from_slice(b"{\"sink\":\"amqp\",\"routingKey\":");
                push_json_str(&mut line_out, &amqp.routing_key);
                line_out.extend_from_slice(b",\"body\":");
                push_json_str(&mut line_out, utf8(&amqp.body));
                line_out.extend_from_slice(b"}\n");
                out.write_all(&line_out).context("cannot write to stdout")?;
                sum.messages += 1;
            }
        }
    }
    out.flush().context("cannot write to stdout")?;
    writeln!(
        err,
        "frames={} events={} ignored={} errors={}",
        sum.frames, sum.events, sum.ignored, sum.errors
    )
    .context("cannot write to stderr")?;
    Ok(sum)
}

fn utf8(b: &[u8]) -> &str {
    // The encoders write only UTF-8 (built from &str pieces).
    std::str::from_utf8(b).unwrap_or_default()
}
