//! `corefeed decode` on small fixtures written from the protocol docs
//! (/work/shared/exchanges/binance.md §4–§5, okx.md §4–§5).
//!
//! DECODER-DEPENDENT: the expected outputs below need the real Binance/OKX decoders in
//! `corefeed_shards::exchanges` (landed in fbcceda); with the old stubs every frame is an error.
//! The error-path and summary checks do not depend on them.

use corefeed::decode_cmd::{run, run_at, DecodeSummary};
use corefeed_shards::types::Provider;
use serde_json::{json, Value};

const NOW_NS: u64 = 1_700_000_000_123_456_789;

fn decode(provider: Provider, input: &str) -> (DecodeSummary, Vec<Value>, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let sum = run_at(
        provider,
        None,
        None,
        input.as_bytes(),
        &mut out,
        &mut err,
        Some(NOW_NS),
    )
    .unwrap();
    let lines = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (sum, lines, String::from_utf8(err).unwrap())
}

const BINANCE: &str = r#"{"stream":"nknusdt@kline_1m","data":{"e":"kline","E":1633998523963,"s":"NKNUSDT","k":{"t":1633998480000,"T":1633998539999,"s":"NKNUSDT","i":"1m","f":19862761,"L":19862790,"o":"0.35270000","c":"0.35280000","h":"0.35280000","l":"0.35220000","v":"25877.00000000","n":30,"x":false,"q":"9116.04600000","V":"58.00000000","Q":"20.46240000","B":"0"}}}
{"stream":"nknusdt@kline_1m","data":{"e":"kline","E":1633998540001,"s":"NKNUSDT","k":{"t":1633998480000,"T":1633998539999,"s":"NKNUSDT","i":"1m","f":19862761,"L":19862795,"o":"0.35270000","c":"0.35290000","h":"0.35290000","l":"0.35220000","v":"26000.00000000","n":35,"x":true,"q":"9160.04600000","V":"58.00000000","Q":"20.46240000","B":"0"}}}
{"result":null,"id":1}
this is not json

{"stream":"bnbbtc@ticker","data":{"e":"24hrTicker","E":1672515782136,"s":"BNBBTC","p":"0.0015","P":"250.00","w":"0.0018","x":"0.0009","c":"0.0025","Q":"10","b":"0.0024","B":"11","a":"0.0026","A":"100","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":86400000,"F":0,"L":18150,"n":18151}}
"#;

#[test]
fn binance_frames_to_published_messages() {
    let (sum, lines, err) = decode(Provider::Binance, BINANCE);
    assert_eq!(
        sum,
        DecodeSummary {
            frames: 5,
            events: 3,
            ignored: 1,
            errors: 1,
            messages: 5
        },
        "{err}"
    );
    assert!(
        err.contains("line 4: binance frame not decoded"),
        "names the line: {err}"
    );
    assert!(
        err.ends_with("frames=5 events=3 ignored=1 errors=1\n"),
        "{err}"
    );
    let expected = [
        // open candle: RabbitMQ only (closed-only on Redis for Binance)
        json!({"sink":"amqp","routingKey":"candle.binance.NKNUSDT.1m",
               "body":r#"{"provider":"binance","symbol":"NKNUSDT","interval":"1m","timestamp":1700000000123,"data":{"start":1633998480000,"open":"0.35270000","high":"0.35280000","low":"0.35220000","close":"0.35280000","volume":"25877.00000000","closed":false,"eventTime":1633998523963}}"#}),
        json!({"sink":"redis","channel":"NKNUSDT@binance@1mCandle",
               "payload":r#"{"start":1633998480000,"open":"0.35270000","high":"0.35290000","low":"0.35220000","close":"0.35290000","volume":"26000.00000000","uniqueMessageId":"NKNUSDT16339984800000.352700000.352900000.352200000.3529000026000.000000001m@binance"}"#}),
        json!({"sink":"amqp","routingKey":"candle.binance.NKNUSDT.1m",
               "body":r#"{"provider":"binance","symbol":"NKNUSDT","interval":"1m","timestamp":1700000000123,"data":{"start":1633998480000,"open":"0.35270000","high":"0.35290000","low":"0.35220000","close":"0.35290000","volume":"26000.00000000","closed":true,"eventTime":1633998540001}}"#}),
        json!({"sink":"redis","channel":"trade@BNBBTC@binance",
               "payload":r#"{"symbol":"BNBBTC","time":1672515782136,"price":0.0025,"volume":10000,"bestAsk":0.0025,"bestBid":0.0025,"bestAskQnt":18,"bestBidQnt":18,"uniqueMessageId":"BNBBTC@1672515782136@binance0.0025100000.00250.00251818","eventTime":1700000000123,"exchange":"binance"}"#}),
        json!({"sink":"amqp","routingKey":"ticker.binance.BNBBTC",
               "body":r#"{"provider":"binance","symbol":"BNBBTC","timestamp":1700000000123,"data":{"last":"0.0025","volume":"10000","quoteVolume":"18","bid":"0.0024","bidSize":"11","ask":"0.0026","askSize":"100","eventTime":1672515782136}}"#}),
    ];
    assert_eq!(lines, expected);
}

const OKX: &str = r#"{"event":"subscribe","arg":{"channel":"tickers","instId":"BTC-USDT"},"connId":"accb8e21"}
{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"30236","lastSz":"0.0002","askPx":"30228.7","askSz":"1.55896972","bidPx":"30228.6","bidSz":"0.23393","open24h":"29700.4","high24h":"31073","low24h":"28020.3","sodUtc0":"29028.8","sodUtc8":"30337.7","volCcy24h":"525802090.62716611","vol24h":"17602.13085371","ts":"1652459224956"}]}
{"arg":{"channel":"candle1D","instId":"BTC-USDT"},"data":[["1597026383085","8533.02","8553.74","8527.17","8548.26","45247","529.5858061","5529.5858061","1"]]}
{"arg":{"channel":"candle1D","instId":"BTC-USDT"},"data":[["1597026383085","8533.02","8553.74","8527.17","8548.26","45247","529.5858061","5529.5858061","0"]]}
"#;

#[test]
fn okx_frames_to_published_messages() {
    let (sum, lines, err) = decode(Provider::Okx, OKX);
    assert_eq!(
        sum,
        DecodeSummary {
            frames: 4,
            events: 3,
            ignored: 1,
            errors: 0,
            messages: 5
        },
        "{err}"
    );
    let expected = [
        json!({"sink":"redis","channel":"trade@BTC-USDT@okx",
               "payload":r#"{"symbol":"BTC-USDT","time":1652459224956,"price":30236,"volume":17602.13085371,"bestAsk":30236,"bestBid":30236,"bestAskQnt":1.55896972,"bestBidQnt":0.23393,"uniqueMessageId":"BTC-USDT@1652459224956@okx3023617602.1308537130236302361.558969720.23393","eventTime":1700000000123,"exchange":"okx"}"#}),
        json!({"sink":"amqp","routingKey":"ticker.okx.BTC-USDT",
               "body":r#"{"provider":"okx","symbol":"BTC-USDT","timestamp":1700000000123,"data":{"last":"30236","volume":"17602.13085371","quoteVolume":"525802090.62716611","bid":"30228.6","bidSize":"0.23393","ask":"30228.7","askSize":"1.55896972","eventTime":1652459224956}}"#}),
        json!({"sink":"redis","channel":"BTC-USDT@okx@candle1DCandle",
               "payload":r#"{"start":1597026383085,"open":"8533.02","high":"8553.74","low":"8527.17","close":"8548.26","volume":"45247","uniqueMessageId":"BTC-USDT15970263830858533.028553.748527.178548.2645247candle1D@okx"}"#}),
        json!({"sink":"amqp","routingKey":"candle.okx.BTC-USDT.candle1D",
               "body":r#"{"provider":"okx","symbol":"BTC-USDT","interval":"candle1D","timestamp":1700000000123,"data":{"start":1597026383085,"open":"8533.02","high":"8553.74","low":"8527.17","close":"8548.26","volume":"45247","closed":true,"eventTime":null}}"#}),
        // the forming candle: RabbitMQ only
        json!({"sink":"amqp","routingKey":"candle.okx.BTC-USDT.candle1D",
               "body":r#"{"provider":"okx","symbol":"BTC-USDT","interval":"candle1D","timestamp":1700000000123,"data":{"start":1597026383085,"open":"8533.02","high":"8553.74","low":"8527.17","close":"8548.26","volume":"45247","closed":false,"eventTime":null}}"#}),
    ];
    assert_eq!(lines, expected);
}

#[test]
fn unsupported_provider_reports_every_line_and_goes_on() {
    // Not decoder-dependent: Kucoin has no decoder, every frame is an error line.
    let mut out = Vec::new();
    let mut err = Vec::new();
    let sum = run(
        Provider::Kucoin,
        Some("room".into()),
        Some("user".into()),
        "{}\n\n{}\n".as_bytes(),
        &mut out,
        &mut err,
    )
    .unwrap();
    assert_eq!((sum.frames, sum.errors, sum.events), (2, 2, 0));
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("line 1:") && err.contains("line 3:"), "{err}");
    assert!(err.ends_with("frames=2 events=0 ignored=0 errors=2\n"));
    assert!(out.is_empty());
}
