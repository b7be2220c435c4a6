//! OKX user-stream normalization: table tests over `fixtures/okx/user/*.jsonl` (frames written
//! from the OKX docs), checking the exact payload text of every output.

use corefeed_shards::error::DecodeError;
use corefeed_shards::exchanges::okx::user::normalize as NORMALIZE;
use corefeed_shards::exchanges::user::{orders_hash_entry, FrameInfo, OrdersField};
use corefeed_shards::types::Provider;

const SPOT: &str = include_str!("../fixtures/okx/user/spot.jsonl");
const LINEAR: &str = include_str!("../fixtures/okx/user/linear.jsonl");
const INVERSE: &str = include_str!("../fixtures/okx/user/inverse.jsonl");

/// One fixture frame in, the exact payloads out (JSON text compared byte for byte, so key order,
/// numbers vs strings and omitted keys are all checked), plus what the frame was and the
/// routing metadata of each message.
struct TestCase {
    name: &'static str,
    provider: Provider,
    input: &'static str,
    /// `Ok(FrameInfo)` / `Err(DecodeError)` in Debug form.
    info: &'static str,
    expected: &'static [&'static str],
    /// `kind cid=… st=… g=<genuine> liq=<liquidation>` per message.
    meta: &'static [&'static str],
}

fn run(cases: Vec<TestCase>) {
    for c in cases {
        let mut out = Vec::new();
        let r = NORMALIZE(c.provider, c.input, 1_700_000_000_000, &mut out);
        assert_eq!(format!("{:?}", r), c.info, "{}: frame info", c.name);
        let got: Vec<&str> = out.iter().map(|m| m.json.as_str()).collect();
        assert_eq!(got, c.expected, "{}: payloads", c.name);
        let meta: Vec<String> = out
            .iter()
            .map(|m| {
                format!(
                    "{:?} cid={:?} st={:?} g={} liq={}",
                    m.kind,
                    m.client_order_id,
                    m.order_status,
                    m.genuine_account_event,
                    m.liquidation
                )
            })
            .collect();
        assert_eq!(meta, c.meta, "{}: metadata", c.name);
        for m in &out {
            // Every payload is valid JSON and carries its own uniqueMessageId.
            let v: serde_json::Value = serde_json::from_str(&m.json).expect("valid JSON");
            assert_eq!(
                v["uniqueMessageId"].as_str(),
                Some(m.unique_message_id.as_str()),
                "{}",
                c.name
            );
        }
    }
}

/// Every prefix of every fixture frame (and some garbage) gives a result, never a panic.
fn never_panics(provider: Provider, fixture: &str) {
    for l in fixture.lines() {
        for cut in 0..l.len() {
            if l.is_char_boundary(cut) {
                let mut out = Vec::new();
                let _ = NORMALIZE(provider, &l[..cut], 0, &mut out);
            }
        }
    }
}

#[test]
fn okx_spot_order_life_account_and_acks() {
    let line = |n: usize| SPOT.lines().nth(n).unwrap();
    run(vec![
        TestCase {
            name: "OKX spot live",
            provider: Provider::Okx,
            input: line(0),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1746947317401,"eventTime":1746947317401,"eventType":"executionReport","newClientOrderId":"DTP001","orderId":"2497956918703120384","orderTime":1746947317401,"orderStatus":"NEW","orderType":"LIMIT","originalClientOrderId":"DTP001","price":"40000.1","quantity":"0.0100","side":"BUY","symbol":"BTC-USDT","totalQuoteTradeQuantity":"0","totalTradeQuantity":"0","uniqueMessageId":"BTC-USDTexecutionReport1746947317401BTC-USDTlive0.010040000.100limitDTP001normal","liquidation":false,"feePaid":"0","feeAsset":"BTC"}"#,
            ],
            meta: &[r#"Order cid=Some("DTP001") st=Some("NEW") g=true liq=false"#],
        },
        TestCase {
            name: "OKX spot partially_filled, negative fee",
            provider: Provider::Okx,
            input: line(1),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1746947317401,"eventTime":1746947318000,"eventType":"executionReport","newClientOrderId":"DTP001","orderId":"2497956918703120384","orderTime":1746947318000,"orderStatus":"PARTIALLY_FILLED","orderType":"LIMIT","originalClientOrderId":"DTP001","price":"40000.1","quantity":"0.0100","side":"BUY","symbol":"BTC-USDT","totalQuoteTradeQuantity":"160.0004","totalTradeQuantity":"0.0040","uniqueMessageId":"BTC-USDTexecutionReport1746947318000BTC-USDTpartially_filled0.010040000.100.0040limitDTP001normal","liquidation":false,"feePaid":"0.000004","feeAsset":"BTC"}"#,
            ],
            meta: &[r#"Order cid=Some("DTP001") st=Some("PARTIALLY_FILLED") g=true liq=false"#],
        },
        TestCase {
            name: "OKX spot filled",
            provider: Provider::Okx,
            input: line(2),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1746947317401,"eventTime":1746947319000,"eventType":"executionReport","newClientOrderId":"DTP001","orderId":"2497956918703120384","orderTime":1746947319000,"orderStatus":"FILLED","orderType":"LIMIT","originalClientOrderId":"DTP001","price":"40000.1","quantity":"0.0100","side":"BUY","symbol":"BTC-USDT","totalQuoteTradeQuantity":"400.001","totalTradeQuantity":"0.01","uniqueMessageId":"BTC-USDTexecutionReport1746947319000BTC-USDTfilled0.010040000.100.01limitDTP001normal","liquidation":false,"feePaid":"0.00001","feeAsset":"BTC"}"#,
            ],
            meta: &[r#"Order cid=Some("DTP001") st=Some("FILLED") g=true liq=false"#],
        },
        TestCase {
            name: "OKX spot market canceled, empty px/avgPx/fee",
            provider: Provider::Okx,
            input: line(3),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1746947320000,"eventTime":1746947320500,"eventType":"executionReport","newClientOrderId":"","orderId":"2497956918703120999","orderTime":1746947320500,"orderStatus":"CANCELED","orderType":"MARKET","originalClientOrderId":"","price":"0","quantity":"25","side":"SELL","symbol":"ETH-USDT","totalQuoteTradeQuantity":"0","totalTradeQuantity":"0","uniqueMessageId":"ETH-USDTexecutionReport1746947320500ETH-USDTcanceled250marketnormal","liquidation":false}"#,
            ],
            meta: &[r#"Order cid=Some("") st=Some("CANCELED") g=true liq=false"#],
        },
        TestCase {
            name: "account balances (exact locked)",
            provider: Provider::Okx,
            input: line(4),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"balances":[{"asset":"USDT","free":"100.52","locked":"0.1"},{"asset":"BTC","free":"0.5","locked":"0.3"}],"eventTime":1751526647084,"eventType":"outboundAccountPosition","lastAccountUpdate":0,"uniqueMessageId":"outboundAccountPosition1751526647084USDT100.520.1"}"#,
            ],
            meta: &[r#"Balance cid=None st=None g=true liq=false"#],
        },
        TestCase {
            name: "account without details",
            provider: Provider::Okx,
            input: line(5),
            info: r#"Ok(Data { messages: 0 })"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "login ack",
            provider: Provider::Okx,
            input: line(6),
            info: r#"Ok(Ack { op: Login, id: None, subscription_id: None, channel: None })"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "subscribe ack",
            provider: Provider::Okx,
            input: line(7),
            info: r#"Ok(Ack { op: Subscribe, id: None, subscription_id: None, channel: Some("orders") })"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "60009 login failed",
            provider: Provider::Okx,
            input: line(8),
            info: r#"Ok(Error { id: None, status: None, code: 60009, message: "Login failed.", auth: Reject })"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "50111 invalid key",
            provider: Provider::Okx,
            input: line(9),
            info: r#"Ok(Error { id: None, status: None, code: 50111, message: "Invalid OK-ACCESS-KEY.", auth: Reject })"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "60012 not auth",
            provider: Provider::Okx,
            input: line(10),
            info: r#"Ok(Error { id: None, status: None, code: 60012, message: "Invalid request: {\"op\": \"subscribe\"}", auth: None })"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "channel-conn-count ignored",
            provider: Provider::Okx,
            input: line(11),
            info: r#"Ok(Ignored)"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "SWAP push on a spot socket is filtered",
            provider: Provider::Okx,
            input: line(12),
            info: r#"Ok(Data { messages: 0 })"#,
            expected: &[],
            meta: &[],
        },
    ]);
}

#[test]
fn okx_linear_order_life_liquidation_positions() {
    let line = |n: usize| LINEAR.lines().nth(n).unwrap();
    run(vec![
        TestCase {
            name: "OKX linear live (post_only => MARKET)",
            provider: Provider::OkxLinear,
            input: line(0),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1746947317000,"eventTime":1746947317000,"eventType":"executionReport","newClientOrderId":"GRIDBO001","orderId":"2497956918703120385","orderTime":1746947317000,"orderStatus":"NEW","orderType":"MARKET","originalClientOrderId":"GRIDBO001","price":"103700","quantity":"3","side":"BUY","symbol":"BTC-USDT","totalQuoteTradeQuantity":"0","totalTradeQuantity":"0","uniqueMessageId":"BTC-USDT-SWAPexecutionReport1746947317000BTC-USDTlive3103700.00post_onlyGRIDBO001normal","liquidation":false,"feePaid":"0","feeAsset":"USDT"}"#,
            ],
            meta: &[r#"Order cid=Some("GRIDBO001") st=Some("NEW") g=true liq=false"#],
        },
        TestCase {
            name: "OKX linear partially_filled",
            provider: Provider::OkxLinear,
            input: line(1),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1746947317000,"eventTime":1746947317402,"eventType":"executionReport","newClientOrderId":"GRIDBO001","orderId":"2497956918703120385","orderTime":1746947317402,"orderStatus":"PARTIALLY_FILLED","orderType":"MARKET","originalClientOrderId":"GRIDBO001","price":"103698.9","quantity":"3","side":"BUY","symbol":"BTC-USDT","totalQuoteTradeQuantity":"103698.9","totalTradeQuantity":"1","uniqueMessageId":"BTC-USDT-SWAPexecutionReport1746947317402BTC-USDTpartially_filled3103700.01post_onlyGRIDBO001normal","liquidation":false,"feePaid":"0.021776769","feeAsset":"USDT"}"#,
            ],
            meta: &[r#"Order cid=Some("GRIDBO001") st=Some("PARTIALLY_FILLED") g=true liq=false"#],
        },
        TestCase {
            name: "OKX linear filled",
            provider: Provider::OkxLinear,
            input: line(2),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1746947317000,"eventTime":1746947317500,"eventType":"executionReport","newClientOrderId":"GRIDBO001","orderId":"2497956918703120385","orderTime":1746947317500,"orderStatus":"FILLED","orderType":"MARKET","originalClientOrderId":"GRIDBO001","price":"103698.9","quantity":"3","side":"BUY","symbol":"BTC-USDT","totalQuoteTradeQuantity":"311096.7","totalTradeQuantity":"3","uniqueMessageId":"BTC-USDT-SWAPexecutionReport1746947317500BTC-USDTfilled3103700.03post_onlyGRIDBO001normal","liquidation":false,"feePaid":"0.065330307","feeAsset":"USDT"}"#,
            ],
            meta: &[r#"Order cid=Some("GRIDBO001") st=Some("FILLED") g=true liq=false"#],
        },
        TestCase {
            name: "OKX linear canceled after partial fill",
            provider: Provider::OkxLinear,
            input: line(3),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1746947320000,"eventTime":1746947321000,"eventType":"executionReport","newClientOrderId":"GRIDBO002","orderId":"2497956918703120386","orderTime":1746947321000,"orderStatus":"CANCELED","orderType":"LIMIT","originalClientOrderId":"GRIDBO002","price":"2500.5","quantity":"10","side":"SELL","symbol":"ETH-USDT","totalQuoteTradeQuantity":"10002","totalTradeQuantity":"4","uniqueMessageId":"ETH-USDT-SWAPexecutionReport1746947321000ETH-USDTcanceled102500.54limitGRIDBO002normal","liquidation":false,"feePaid":"0.5001","feeAsset":"USDT"}"#,
            ],
            meta: &[r#"Order cid=Some("GRIDBO002") st=Some("CANCELED") g=true liq=false"#],
        },
        TestCase {
            name: "OKX FUTURES full_liquidation",
            provider: Provider::OkxLinear,
            input: line(4),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1746947330000,"eventTime":1746947330001,"eventType":"executionReport","newClientOrderId":"","orderId":"2497956918703120387","orderTime":1746947330001,"orderStatus":"FILLED","orderType":"MARKET","originalClientOrderId":"","price":"101000.5","quantity":"2","side":"SELL","symbol":"BTC-USDT","totalQuoteTradeQuantity":"202001","totalTradeQuantity":"2","uniqueMessageId":"BTC-USDT-250627executionReport1746947330001BTC-USDTfilled22marketfull_liquidation","liquidation":true,"feePaid":"0.1","feeAsset":"USDT"}"#,
            ],
            meta: &[r#"Order cid=Some("") st=Some("FILLED") g=true liq=true"#],
        },
        TestCase {
            name: "positions",
            provider: Provider::OkxLinear,
            input: line(5),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"eventType":"POSITION_UPDATE","eventTime":1693151444999,"positions":[{"symbol":"XRP-USDT","instId":"XRP-USDT-SWAP","instType":"SWAP","positionAmount":"1","entryPrice":"0.52668","markPrice":"0.52692","liquidationPrice":"0.3287514731020614","unrealizedPnL":"0.024","accumulatedRealized":"-0.01","marginType":"cross","isolatedWallet":"","leverage":"3","positionSide":"BOTH"},{"symbol":"BTC-USDT","instId":"BTC-USDT-SWAP","instType":"SWAP","positionAmount":"3","entryPrice":"103698.9","markPrice":"103700","liquidationPrice":"52000","unrealizedPnL":"1.5","accumulatedRealized":"0","marginType":"isolated","isolatedWallet":"155.55","leverage":"2","positionSide":"LONG"}],"uniqueMessageId":"POSITION_UPDATE1693151444999XRP-USDT-SWAPnet10.526681693151444408,BTC-USDT-SWAPlong3103698.91693151444999"}"#,
            ],
            meta: &[r#"Position cid=None st=None g=true liq=false"#],
        },
        TestCase {
            name: "empty positions",
            provider: Provider::OkxLinear,
            input: line(6),
            info: r#"Ok(Data { messages: 0 })"#,
            expected: &[],
            meta: &[],
        },
        TestCase {
            name: "positions subscribe ack",
            provider: Provider::OkxLinear,
            input: line(7),
            info: r#"Ok(Ack { op: Subscribe, id: None, subscription_id: None, channel: Some("positions") })"#,
            expected: &[],
            meta: &[],
        },
    ]);
}

#[test]
fn okx_inverse_order_life() {
    let line = |n: usize| INVERSE.lines().nth(n).unwrap();
    run(vec![
        TestCase {
            name: "OKX inverse live",
            provider: Provider::OkxInverse,
            input: line(0),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1700000000000,"eventTime":1700000000000,"eventType":"executionReport","newClientOrderId":"DBO77","orderId":"611111111111111111","orderTime":1700000000000,"orderStatus":"NEW","orderType":"LIMIT","originalClientOrderId":"DBO77","price":"60000.5","quantity":"5","side":"SELL","symbol":"BTC-USD","totalQuoteTradeQuantity":"0","totalTradeQuantity":"0","uniqueMessageId":"BTC-USD-SWAPexecutionReport1700000000000BTC-USDlive560000.50limitDBO77normal","liquidation":false,"feePaid":"0","feeAsset":"BTC"}"#,
            ],
            meta: &[r#"Order cid=Some("DBO77") st=Some("NEW") g=true liq=false"#],
        },
        TestCase {
            name: "OKX inverse partially_filled",
            provider: Provider::OkxInverse,
            input: line(1),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1700000000000,"eventTime":1700000001000,"eventType":"executionReport","newClientOrderId":"DBO77","orderId":"611111111111111111","orderTime":1700000001000,"orderStatus":"PARTIALLY_FILLED","orderType":"LIMIT","originalClientOrderId":"DBO77","price":"60000.5","quantity":"5","side":"SELL","symbol":"BTC-USD","totalQuoteTradeQuantity":"120001","totalTradeQuantity":"2","uniqueMessageId":"BTC-USD-SWAPexecutionReport1700000001000BTC-USDpartially_filled560000.52limitDBO77normal","liquidation":false,"feePaid":"0.0000016666","feeAsset":"BTC"}"#,
            ],
            meta: &[r#"Order cid=Some("DBO77") st=Some("PARTIALLY_FILLED") g=true liq=false"#],
        },
        TestCase {
            name: "OKX inverse filled",
            provider: Provider::OkxInverse,
            input: line(2),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1700000000000,"eventTime":1700000002000,"eventType":"executionReport","newClientOrderId":"DBO77","orderId":"611111111111111111","orderTime":1700000002000,"orderStatus":"FILLED","orderType":"LIMIT","originalClientOrderId":"DBO77","price":"60000.5","quantity":"5","side":"SELL","symbol":"BTC-USD","totalQuoteTradeQuantity":"300002.5","totalTradeQuantity":"5","uniqueMessageId":"BTC-USD-SWAPexecutionReport1700000002000BTC-USDfilled560000.55limitDBO77normal","liquidation":false,"feePaid":"0.0000041665","feeAsset":"BTC"}"#,
            ],
            meta: &[r#"Order cid=Some("DBO77") st=Some("FILLED") g=true liq=false"#],
        },
        TestCase {
            name: "OKX inverse mmp_canceled ioc",
            provider: Provider::OkxInverse,
            input: line(3),
            info: r#"Ok(Data { messages: 1 })"#,
            expected: &[
                r#"{"creationTime":1700000003000,"eventTime":1700000003001,"eventType":"executionReport","newClientOrderId":"DBO78","orderId":"611111111111111112","orderTime":1700000003001,"orderStatus":"CANCELED","orderType":"MARKET","originalClientOrderId":"DBO78","price":"3000","quantity":"7","side":"BUY","symbol":"ETH-USD","totalQuoteTradeQuantity":"0","totalTradeQuantity":"0","uniqueMessageId":"ETH-USD-SWAPexecutionReport1700000003001ETH-USDmmp_canceled730000iocDBO78normal","liquidation":false,"feePaid":"0","feeAsset":"ETH"}"#,
            ],
            meta: &[r#"Order cid=Some("DBO78") st=Some("CANCELED") g=true liq=false"#],
        },
        TestCase {
            name: "FUTURES push on an inverse socket is filtered",
            provider: Provider::OkxInverse,
            input: line(4),
            info: r#"Ok(Data { messages: 0 })"#,
            expected: &[],
            meta: &[],
        },
    ]);
}

#[test]
fn malformed_and_unknown_frames_are_errors_not_panics() {
    let cases: &[(&str, &str)] = &[
        ("", "Json"),
        ("ping", "Json"),
        ("{\"arg\":{\"channel\":\"orders\"}", "Json"),
        ("{\"foo\":1}", "Unknown"),
        ("{\"event\":1}", "BadField"),
        ("{\"arg\":[],\"data\":[]}", "BadField"),
        ("{\"arg\":{},\"data\":[]}", "MissingField"),
        ("{\"arg\":{\"channel\":\"orders\",\"instType\":\"SPOT\"},\"data\":{}}", "BadField"),
        ("{\"arg\":{\"channel\":\"orders\",\"instType\":\"SPOT\"},\"data\":[5]}", "BadField"),
        (
            "{\"arg\":{\"channel\":\"orders\",\"instType\":\"SPOT\"},\"data\":[{\"instType\":\"SPOT\",\"avgPx\":\"1e5\",\"accFillSz\":\"1\"}]}",
            "BadDecimal",
        ),
        (
            "{\"arg\":{\"channel\":\"account\"},\"data\":[{\"uTime\":\"1\",\"details\":[{\"ccy\":\"BTC\",\"availBal\":\"x\"}]}]}",
            "BadDecimal",
        ),
    ];
    for (frame, want) in cases {
        let mut out = Vec::new();
        let err = NORMALIZE(Provider::Okx, frame, 0, &mut out).unwrap_err();
        assert!(format!("{err:?}").starts_with(want), "{frame}: {err:?}");
        assert!(out.is_empty());
    }
    let mut out = Vec::new();
    assert_eq!(
        NORMALIZE(Provider::Binance, "pong", 0, &mut out),
        Err(DecodeError::Unsupported(Provider::Binance))
    );
    assert_eq!(
        NORMALIZE(Provider::Okx, "pong", 0, &mut out),
        Ok(FrameInfo::Pong)
    );
    // Unknown channel: ignored.
    assert_eq!(
        NORMALIZE(
            Provider::Okx,
            "{\"arg\":{\"channel\":\"balance_and_position\"},\"data\":[]}",
            0,
            &mut out
        ),
        Ok(FrameInfo::Ignored)
    );
    never_panics(Provider::Okx, SPOT);
    never_panics(Provider::OkxLinear, LINEAR);
    never_panics(Provider::OkxInverse, INVERSE);
}

#[test]
fn positions_without_utime_use_now() {
    let frame = "{\"arg\":{\"channel\":\"positions\",\"instType\":\"SWAP\"},\"data\":[{\"instType\":\"SWAP\",\"instId\":\"BTC-USD-SWAP\",\"posSide\":\"short\",\"pos\":\"-2\"}]}";
    let mut out = Vec::new();
    NORMALIZE(Provider::OkxInverse, frame, 42, &mut out).unwrap();
    assert_eq!(
        out[0].json,
        r#"{"eventType":"POSITION_UPDATE","eventTime":42,"positions":[{"symbol":"BTC-USD","instId":"BTC-USD-SWAP","instType":"SWAP","positionAmount":"-2","positionSide":"SHORT"}],"uniqueMessageId":"POSITION_UPDATE42BTC-USD-SWAPshort-2undefinedundefined"}"#
    );
}

#[test]
fn orders_hash_rule() {
    let norm = |p: Provider, frame: &str| {
        let mut out = Vec::new();
        NORMALIZE(p, frame, 0, &mut out).unwrap();
        out.pop().unwrap()
    };
    let live = norm(Provider::Okx, SPOT.lines().next().unwrap());
    assert_eq!(
        orders_hash_entry(&live),
        Some((OrdersField::ClientOrderId("DTP001".into()), 86_400))
    );
    let filled = norm(Provider::Okx, SPOT.lines().nth(2).unwrap());
    assert_eq!(orders_hash_entry(&filled).unwrap().1, 300);
    // Empty client id, not a liquidation: not stored.
    let canceled = norm(Provider::Okx, SPOT.lines().nth(3).unwrap());
    assert_eq!(orders_hash_entry(&canceled), None);
    // Liquidation without a client id: `liq_<uuid>`.
    let liq = norm(Provider::OkxLinear, LINEAR.lines().nth(4).unwrap());
    assert_eq!(
        orders_hash_entry(&liq),
        Some((OrdersField::Liquidation, 300))
    );
}

#[test]
fn integers_beyond_a_double_are_null_like_js() {
    // Found by the `user_okx` fuzz target (fuzz/README.md): a 310-digit `uTime` was written as
    // a bare JSON number, which `JSON.parse` reads as Infinity and serde_json refuses ("number
    // out of range"). The seed's `parseInt` gives Infinity and `JSON.stringify` writes `null`.
    let huge = format!("1{}", "0".repeat(309)); // 1e309 > f64::MAX
    let big = format!("1{}", "0".repeat(308)); // 1e308: finite, every digit kept
    let frame = SPOT
        .lines()
        .next()
        .unwrap()
        .replace(
            "\"cTime\":\"1746947317401\"",
            &format!("\"cTime\":\"-{huge}\""),
        )
        .replace(
            "\"uTime\":\"1746947317401\"",
            &format!("\"uTime\":\"{big}\""),
        );
    let mut out = Vec::new();
    NORMALIZE(Provider::Okx, &frame, 0, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out[0].json).expect("valid JSON");
    assert!(v["creationTime"].is_null(), "{}", out[0].json);
    assert!(
        out[0].json.contains(&format!("\"eventTime\":{big},")),
        "{}",
        out[0].json
    );

    let frame = frame.replace(
        &format!("\"uTime\":\"{big}\""),
        &format!("\"uTime\":\"{huge}\""),
    );
    let mut out = Vec::new();
    NORMALIZE(Provider::Okx, &frame, 0, &mut out).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out[0].json).expect("valid JSON");
    assert!(
        v["eventTime"].is_null() && v["orderTime"].is_null(),
        "{}",
        out[0].json
    );
}

#[test]
fn a_fee_with_two_signs_is_kept_as_sent() {
    // Found by the `user_okx` fuzz target: fee "--0536030307" made the exact-decimal parser
    // subtract b'0' from b'-' (a panic with overflow checks, garbage digits without). JS
    // `Number("--0.000004") < 0` is false, so the seed publishes the text as it came.
    let frame = SPOT
        .lines()
        .nth(1)
        .unwrap()
        .replace("\"fee\":\"-0.000004\"", "\"fee\":\"--0.000004\"");
    assert!(frame.contains("--0.000004"));
    let mut out = Vec::new();
    NORMALIZE(Provider::Okx, &frame, 0, &mut out).unwrap();
    assert!(
        out[0].json.contains(r#""feePaid":"--0.000004""#),
        "{}",
        out[0].json
    );
}

#[test]
fn one_bad_order_never_costs_the_good_ones_of_the_same_push() {
    let good = SPOT
        .lines()
        .find(|l| l.contains("\"channel\":\"orders\"") && l.contains("\"data\":[{"))
        .expect("an orders push in the fixture");
    let mut v: serde_json::Value = serde_json::from_str(good).unwrap();
    let data = v["data"].as_array_mut().unwrap();
    let n_good = data.len();
    data.insert(
        0,
        serde_json::json!({"instType":"SPOT","avgPx":"1e5","accFillSz":"1"}),
    );
    let frame = v.to_string();
    let mut out = Vec::new();
    match NORMALIZE(Provider::Okx, &frame, 0, &mut out) {
        Ok(FrameInfo::DataWithErrors {
            messages,
            bad,
            reason,
        }) => {
            assert_eq!((messages, bad), (n_good, 1));
            assert!(reason.contains("decimal"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(out.len(), n_good);
}
