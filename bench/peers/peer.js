#!/usr/bin/env node
// The replaced service's client stack on corefeed's ingest workload (`make bench-peers`):
// the `binance` SDK's WebsocketClient subscribes Binance combined-stream klines on
// corefeed-sim, each frame is parsed by the SDK, turned into the seed's candle object and —
// in `publish` mode — published to RabbitMQ with amqplib as the seed publishes (a plain
// channel, no confirms, persistent messages, JSON body, to a topic exchange).
//
// Driven by `corefeed-bench --peers` (bench/src/harness/peers.rs), which measures this
// process's CPU from /proc/<pid>/stat and its RSS; this script only counts and writes
// {"frames","events","published","reconnects","errors"} to --stats FILE every 250 ms.
//
//   node peer.js --ws ws://127.0.0.1:PORT/binance/spot --symbols BTCUSDT,ETHUSDT,...
//                --interval 1m --mode parse|publish [--amqp URL --exchange NAME --queue NAME]
//                --stats /tmp/peer.json
'use strict';

const fs = require('fs');
const { WebsocketClient } = require('binance');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const wsUrl = arg('ws');
const symbols = (arg('symbols', '') || '').split(',').filter(Boolean);
const interval = arg('interval', '1m');
const mode = arg('mode', 'parse');
const amqpUrl = arg('amqp', 'amqp://guest:guest@127.0.0.1:5672');
const exchange = arg('exchange', 'corefeed.bench.peer.events');
const queue = arg('queue', '');
const statsPath = arg('stats', '/tmp/corefeed-peer-stats.json');
if (!wsUrl || symbols.length === 0) {
  console.error('usage: peer.js --ws URL --symbols A,B,... [--mode parse|publish] --stats FILE');
  process.exit(2);
}

const stats = { frames: 0, events: 0, published: 0, publishBlocked: 0, reconnects: 0, errors: 0 };
let channel = null;

function writeStats() {
  const tmp = `${statsPath}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ ...stats, t_ms: Date.now() }));
  fs.renameSync(tmp, statsPath);
}

// The seed's candle object from a Binance kline event (seed-contract §5.6: start = k.t,
// symbol = s; the OHLCV text as the venue sends it).
function candleOf(e) {
  const k = e.k;
  return {
    symbol: e.s,
    start: k.t,
    open: k.o,
    high: k.h,
    low: k.l,
    close: k.c,
    volume: k.v,
    closed: k.x,
    interval: k.i,
    eventTime: e.E,
    exchange: 'binance',
  };
}

function onMessage(e) {
  stats.frames += 1;
  if (!e || e.e !== 'kline' || !e.k) {
    return;
  }
  const c = candleOf(e);
  stats.events += 1;
  const body = Buffer.from(JSON.stringify(c));
  if (channel) {
    // As the seed: fire and forget (the return value only says the write buffer is full).
    const ok = channel.publish(exchange, `candle.binance.${c.symbol}.${c.interval}`, body, {
      persistent: true,
      contentType: 'application/json',
    });
    stats.published += 1;
    if (!ok) stats.publishBlocked += 1;
  }
}

async function main() {
  if (mode === 'publish') {
    const amqp = require('amqplib');
    const conn = await amqp.connect(amqpUrl);
    channel = await conn.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    if (queue) {
      // A bounded queue bound '#', as the Rust harness binds to corefeed's exchange.
      await channel.assertQueue(queue, { autoDelete: true, arguments: { 'x-max-length': 200000 } });
      await channel.bindQueue(queue, exchange, '#');
    }
    conn.on('error', () => { stats.errors += 1; });
  }
  const client = new WebsocketClient({ wsUrl, beautify: false });
  client.on('message', onMessage);
  client.on('reconnecting', () => { stats.reconnects += 1; });
  client.on('exception', () => { stats.errors += 1; });
  client.on('error', () => { stats.errors += 1; });
  const topics = symbols.map((s) => `${s.toLowerCase()}@kline_${interval}`);
  // One SUBSCRIBE request for all topics (the SDK splits at 250 per request).
  client.subscribe(topics, 'main');
  setInterval(writeStats, 250);
  writeStats();
  const stop = () => {
    try { writeStats(); } catch (_) { /* ignore */ }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error('peer failed:', e);
  process.exit(1);
});
