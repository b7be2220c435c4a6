//! Private (user-data) side of corefeed-sim: Binance spot WS API, Binance futures listen keys,
//! OKX private sockets and the `/control/user/...` API. The requests are built with corefeed's
//! own client builders (`corefeed_shards::exchanges::*::auth`) and every pushed frame is run
//! through corefeed's normalizers (`…::user::normalize`), so the simulator and the client are
//! checked against each other as well as against the documented shapes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use corefeed_bench::sim::{spawn, SimConfig, SimHandle};
use corefeed_shards::exchanges::binance::auth as bauth;
use corefeed_shards::exchanges::binance::user as buser;
use corefeed_shards::exchanges::okx::auth as oauth;
use corefeed_shards::exchanges::okx::user as ouser;
use corefeed_shards::exchanges::user::FrameInfo;
use corefeed_shards::types::Provider;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SEC: Duration = Duration::from_secs(1);

/// Test-only Ed25519 keys (PKCS#8 PEM, generated with `openssl genpkey -algorithm ed25519`).
const ED_PEM_1: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAMh5OqYFvh6x8QtYbt/W/1Rb66XxQTKvz20PvAEtii0\n-----END PRIVATE KEY-----\n";
const ED_PEM_2: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOSHqHsBNgBKYCEqVGrECvejwMEDvL5r96UI93Dn/OxE\n-----END PRIVATE KEY-----\n";

async fn sim(args: &[&str]) -> SimHandle {
    let mut a = vec!["--listen", "127.0.0.1:0"];
    a.extend_from_slice(args);
    spawn(SimConfig::from_args(a.iter().map(|s| s.to_string())).unwrap())
        .await
        .unwrap()
}

async fn ws(h: &SimHandle, path: &str) -> Ws {
    connect_async(format!("{}{}", h.ws_base(), path))
        .await
        .unwrap_or_else(|e| panic!("connect {path}: {e}"))
        .0
}

/// Next text frame within `t`, skipping control frames. `None` on timeout or close.
async fn next_text(w: &mut Ws, t: Duration) -> Option<String> {
    let end = Instant::now() + t;
    loop {
        let left = end.checked_duration_since(Instant::now())?;
        match timeout(left, w.next()).await {
            Ok(Some(Ok(Message::Text(s)))) => return Some(s.to_string()),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)))) => continue,
            Ok(Some(Ok(Message::Binary(_)))) => continue,
            _ => return None,
        }
    }
}

async fn next_json(w: &mut Ws) -> (String, Value) {
    let s = next_text(w, 3 * SEC).await.expect("expected a text frame");
    let v = serde_json::from_str(&s).unwrap_or_else(|e| panic!("bad JSON {s}: {e}"));
    (s, v)
}

/// Asserts nothing arrives for `t`.
async fn quiet(w: &mut Ws, t: Duration) {
    if let Some(s) = next_text(w, t).await {
        panic!("unexpected frame {s}");
    }
}

/// Reads until the close frame; returns its code (`None`: closed without a close frame).
async fn close_code(w: &mut Ws, t: Duration) -> Option<u16> {
    timeout(t, async {
        loop {
            match w.next().await {
                Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("the socket was not closed in time")
}

async fn send(w: &mut Ws, s: &str) {
    w.send(Message::Text(s.to_string().into())).await.unwrap();
}

/// Minimal HTTP/1.1 client with extra headers.
async fn http(
    h: &SimHandle,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Value) {
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    let body = body.unwrap_or("");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        h.addr,
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    timeout(5 * SEC, s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn control(h: &SimHandle, path: &str, body: Value) -> Value {
    let (st, v) = http(h, "POST", path, &[], Some(&body.to_string())).await;
    assert_eq!(st, 200, "POST {path} {body} → {st} {v}");
    v
}

async fn user_stats(h: &SimHandle) -> Value {
    http(h, "GET", "/control/user/stats", &[], None).await.1
}

fn account_stats<'a>(stats: &'a Value, provider: &str) -> &'a Value {
    stats["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["provider"] == provider)
        .unwrap_or_else(|| panic!("no {provider} account in {stats}"))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Keys of the top-level object of `s` in textual order.
fn keys_in_order(v: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let b = v.as_bytes();
    let (mut depth, mut i, mut in_str, mut start) = (0i32, 0usize, false, 0usize);
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_str = false;
                if depth == 1 && b.get(i + 1) == Some(&b':') {
                    keys.push(v[start..i].to_string());
                }
            }
        } else {
            match c {
                b'"' => {
                    in_str = true;
                    start = i + 1;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth -= 1,
                _ => {}
            }
        }
        i += 1;
    }
    keys
}

/// The text of the `"event":{…}` member of a spot frame.
fn inner_event(frame: &str) -> &str {
    let start = frame.find("\"event\":").unwrap() + 8;
    &frame[start..frame.len() - 1]
}

/// Runs a frame through corefeed's normalizer and returns the frame info and messages.
fn normalize(provider: Provider, frame: &str) -> (FrameInfo, Vec<String>) {
    let mut out = Vec::new();
    let info = match provider {
        Provider::Binance | Provider::BinanceUsdm | Provider::BinanceCoinm => {
            buser::normalize(provider, frame, now_ms(), &mut out)
        }
        _ => ouser::normalize(provider, frame, now_ms(), &mut out),
    }
    .unwrap_or_else(|e| panic!("corefeed cannot normalize {frame}: {e:?}"));
    (info, out.into_iter().map(|m| m.json).collect())
}

// ====================================================================== Binance spot

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_spot_ed25519_logon_and_a_whole_order_life() {
    let h = sim(&[]).await;
    // The PEM travels with spaces instead of newlines, as from a form field.
    let pem_spaces = ED_PEM_1.replace('\n', " ");
    let r = control(
        &h,
        "/control/user/accounts",
        json!({"provider":"binance","key":"edKey1","secret":pem_spaces}),
    )
    .await;
    assert_eq!(r["keyType"], "ed25519");
    assert_eq!(r["key"], "edKe…");

    let mut w = ws(&h, "/binance/spot/ws-api/v3").await;
    let signer = bauth::Ed25519Signer::from_pem(ED_PEM_1).unwrap();
    send(
        &mut w,
        &bauth::session_logon("logon-1", "edKey1", &signer, now_ms(), None),
    )
    .await;
    let (_, v) = next_json(&mut w).await;
    assert_eq!(v["id"], "logon-1");
    assert_eq!(v["status"], 200, "{v}");
    assert_eq!(v["result"]["apiKey"], "edKey1");
    assert_eq!(v["result"]["userDataStream"], false);
    assert!(v["result"]["authorizedSince"].is_i64());
    assert_eq!(v["rateLimits"][0]["rateLimitType"], "REQUEST_WEIGHT");

    send(&mut w, &bauth::user_data_stream_subscribe("sub-1")).await;
    let (text, v) = next_json(&mut w).await;
    assert_eq!(v["result"]["subscriptionId"], 0, "{v}");
    match normalize(Provider::Binance, &text).0 {
        FrameInfo::Ack {
            subscription_id, ..
        } => assert_eq!(subscription_id, Some(0)),
        other => panic!("{other:?}"),
    }
    // Numeric ids are echoed as numbers.
    send(&mut w, r#"{"id":7,"method":"ping"}"#).await;
    let (_, v) = next_json(&mut w).await;
    assert_eq!(
        (v["id"].clone(), v["status"].clone()),
        (json!(7), json!(200))
    );

    // NEW
    let r = control(
        &h,
        "/control/user/order",
        json!({"provider":"binance","key":"edKey1","symbol":"BTCUSDT","side":"BUY","type":"LIMIT","qty":"0.5","price":"100.5","clientOrderId":"D-TP-1"}),
    )
    .await;
    assert_eq!(r["sockets"], 1);
    let oid = r["orderId"].as_str().unwrap().to_string();
    let (text, v) = next_json(&mut w).await;
    assert_eq!(v["subscriptionId"], 0);
    let ev = &v["event"];
    assert_eq!(
        keys_in_order(inner_event(&text)),
        "e E s c S o f q p P F g C x X r i l z L n N T t I w m M O Z Y Q W V"
            .split(' ')
            .collect::<Vec<_>>()
    );
    assert_eq!(ev["e"], "executionReport");
    assert_eq!(ev["s"], "BTCUSDT");
    assert_eq!(ev["c"], "D-TP-1");
    assert_eq!(ev["S"], "BUY");
    assert_eq!(ev["o"], "LIMIT");
    assert_eq!(ev["q"], "0.50000000");
    assert_eq!(ev["p"], "100.50000000");
    assert_eq!(
        (ev["x"].as_str(), ev["X"].as_str()),
        (Some("NEW"), Some("NEW"))
    );
    assert_eq!(ev["i"].to_string(), oid);
    assert_eq!(ev["z"], "0.00000000");
    assert_eq!(ev["n"], "0");
    assert!(ev["N"].is_null());
    assert_eq!(ev["t"], -1);
    assert_eq!(ev["w"], true);
    assert_eq!(ev["Z"], "0.00000000");
    let (info, msgs) = normalize(Provider::Binance, &text);
    assert_eq!(info, FrameInfo::Data { messages: 1 });
    assert!(msgs[0].contains("\"orderStatus\":\"NEW\""), "{}", msgs[0]);

    // Partial fill, then the balance event.
    control(
        &h,
        "/control/user/fill",
        json!({"provider":"binance","key":"edKey1","orderId":oid,"qty":"0.2","fee":"0.0002","feeAsset":"BTC"}),
    )
    .await;
    let (text, v) = next_json(&mut w).await;
    let ev = &v["event"];
    assert_eq!(
        (ev["x"].as_str(), ev["X"].as_str()),
        (Some("TRADE"), Some("PARTIALLY_FILLED"))
    );
    assert_eq!(ev["l"], "0.20000000");
    assert_eq!(ev["z"], "0.20000000");
    assert_eq!(ev["L"], "100.50000000");
    assert_eq!(ev["n"], "0.00020000");
    assert_eq!(ev["N"], "BTC");
    assert_eq!(ev["Z"], "20.10000000");
    assert_eq!(ev["Y"], "20.10000000");
    assert_eq!(ev["m"], true);
    let t1 = ev["t"].as_i64().unwrap();
    assert!(t1 > 0);
    assert_eq!(
        normalize(Provider::Binance, &text).0,
        FrameInfo::Data { messages: 1 }
    );
    let (text, v) = next_json(&mut w).await;
    let ev = &v["event"];
    assert_eq!(ev["e"], "outboundAccountPosition");
    assert_eq!(
        ev["B"],
        json!([{"a":"BTC","f":"0.19980000","l":"0.00000000"},{"a":"USDT","f":"-20.10000000","l":"0.00000000"}])
    );
    assert_eq!(
        normalize(Provider::Binance, &text).0,
        FrameInfo::Data { messages: 1 }
    );

    // The rest at another price: cumulative quote is the exact sum.
    control(
        &h,
        "/control/user/fill",
        json!({"provider":"binance","key":"edKey1","orderId":oid,"qty":"0.3","price":"100.6","fee":"0.0003"}),
    )
    .await;
    let (_, v) = next_json(&mut w).await;
    let ev = &v["event"];
    assert_eq!(ev["X"], "FILLED");
    assert_eq!(ev["z"], "0.50000000");
    assert_eq!(ev["Z"], "50.28000000");
    assert_eq!(ev["Y"], "30.18000000");
    assert_eq!(ev["t"].as_i64().unwrap(), t1 + 1);
    assert_eq!(ev["w"], false);
    let (_, v) = next_json(&mut w).await;
    assert_eq!(v["event"]["e"], "outboundAccountPosition");

    // Cancel: `C` carries the original client id; a Binance id above 2^53 keeps its digits.
    control(
        &h,
        "/control/user/order",
        json!({"provider":"binance","key":"edKey1","symbol":"ETHBTC","side":"SELL","type":"LIMIT","qty":"1","price":"0.05","orderId":"9223372036854775001","clientOrderId":"GRID-7"}),
    )
    .await;
    let (text, _) = next_json(&mut w).await;
    assert!(text.contains("\"i\":9223372036854775001,"), "{text}");
    control(
        &h,
        "/control/user/cancel",
        json!({"provider":"binance","key":"edKey1","orderId":"9223372036854775001","cancelClientOrderId":"web_cancel_1"}),
    )
    .await;
    let (text, v) = next_json(&mut w).await;
    let ev = &v["event"];
    assert_eq!(
        (ev["x"].as_str(), ev["X"].as_str()),
        (Some("CANCELED"), Some("CANCELED"))
    );
    assert_eq!(
        (ev["c"].as_str(), ev["C"].as_str()),
        (Some("web_cancel_1"), Some("GRID-7"))
    );
    let (_, msgs) = normalize(Provider::Binance, &text);
    assert!(
        msgs[0].contains("\"orderId\":\"9223372036854775001\""),
        "{}",
        msgs[0]
    );

    // A deposit: balanceUpdate then outboundAccountPosition.
    control(
        &h,
        "/control/user/balance",
        json!({"provider":"binance","key":"edKey1","asset":"USDT","free":"1000","locked":"5"}),
    )
    .await;
    let (_, v) = next_json(&mut w).await;
    assert_eq!(v["event"]["e"], "balanceUpdate");
    assert_eq!(v["event"]["d"], "1050.28000000"); // from -50.28 to 1000
    let (_, v) = next_json(&mut w).await;
    assert_eq!(
        v["event"]["B"],
        json!([{"a":"USDT","f":"1000.00000000","l":"5.00000000"}])
    );

    // Unsubscribe: `{}` then eventStreamTerminated; later events are undelivered.
    send(&mut w, &bauth::user_data_stream_unsubscribe("u-1", None)).await;
    let (_, v) = next_json(&mut w).await;
    assert_eq!(
        (v["status"].clone(), v["result"].clone()),
        (json!(200), json!({}))
    );
    let (text, v) = next_json(&mut w).await;
    assert_eq!(v["event"]["e"], "eventStreamTerminated");
    assert_eq!(
        normalize(Provider::Binance, &text).0,
        FrameInfo::EventStreamTerminated {
            subscription_id: Some(0)
        }
    );
    control(
        &h,
        "/control/user/order",
        json!({"provider":"binance","key":"edKey1","symbol":"BTCUSDT","side":"BUY","type":"MARKET","qty":"1"}),
    )
    .await;
    quiet(&mut w, Duration::from_millis(200)).await;

    let s = user_stats(&h).await;
    let a = account_stats(&s, "binance");
    assert_eq!(a["key"], "edKe…");
    assert_eq!(a["logins"]["ok"], 1);
    assert_eq!(a["subscribes"], 1);
    assert_eq!(a["events"]["generated"], 10);
    assert_eq!(a["events"]["sent"], 9);
    assert_eq!(a["events"]["undelivered"], 1);
    assert_eq!(a["sockets"]["/binance/spot/ws-api/v3"], 1);
    assert!(
        !s.to_string().contains("edKey1"),
        "stats must not show whole keys: {s}"
    );
    h.shutdown().await;
}

/// One spot WS-API request and the expected answer.
struct Case {
    name: &'static str,
    request: String,
    status: u16,
    code: Option<i64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_spot_signature_table() {
    let h = sim(&[]).await;
    let hmac_secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    control(
        &h,
        "/control/user/accounts",
        json!({"provider":"binance","key":"hmacKey","secret":hmac_secret}),
    )
    .await;
    control(
        &h,
        "/control/user/accounts",
        json!({"provider":"binance","key":"edKey2","secret":ED_PEM_2}),
    )
    .await;
    let hmac = bauth::Signer::from_secret(hmac_secret).unwrap();
    let wrong_hmac = bauth::Signer::from_secret("not-the-secret").unwrap();
    let ed2 = bauth::Ed25519Signer::from_pem(ED_PEM_2).unwrap();
    let ed1 = bauth::Ed25519Signer::from_pem(ED_PEM_1).unwrap();
    let now = now_ms();
    let cases = vec![
        Case {
            name: "HMAC subscribe.signature",
            request: bauth::user_data_stream_subscribe_signature("a", "hmacKey", &hmac, now, None),
            status: 200,
            code: None,
        },
        Case {
            name: "Ed25519 subscribe.signature with recvWindow",
            request: bauth::user_data_stream_subscribe_signature(
                "b",
                "edKey2",
                &bauth::Signer::Ed25519(ed2.clone()),
                now - 30_000,
                Some(60_000),
            ),
            status: 200,
            code: None,
        },
        Case {
            name: "wrong HMAC signature",
            request: bauth::user_data_stream_subscribe_signature("c", "hmacKey", &wrong_hmac, now, None),
            status: 400,
            code: Some(-1022),
        },
        Case {
            name: "Ed25519 logon signed by another key",
            request: bauth::session_logon("d", "edKey2", &ed1, now, None),
            status: 400,
            code: Some(-1022),
        },
        Case {
            name: "unknown key",
            request: bauth::user_data_stream_subscribe_signature("e", "nobody", &hmac, now, None),
            status: 401,
            code: Some(-2015),
        },
        Case {
            name: "timestamp outside recvWindow",
            request: bauth::user_data_stream_subscribe_signature("f", "hmacKey", &hmac, now - 10_000, None),
            status: 400,
            code: Some(-1021),
        },
        Case {
            name: "session.logon with an HMAC key",
            request: r#"{"id":"g","method":"session.logon","params":{"apiKey":"hmacKey","timestamp":TS,"signature":"00"}}"#
                .replace("TS", &now.to_string()),
            status: 400,
            code: Some(-2028),
        },
        Case {
            name: "session.logon without params",
            request: r#"{"id":"h","method":"session.logon"}"#.into(),
            status: 400,
            code: Some(-1102),
        },
        Case {
            name: "userDataStream.subscribe without logon",
            request: bauth::user_data_stream_subscribe("i"),
            status: 400,
            code: Some(-1193),
        },
    ];
    for c in cases {
        // A fresh session per case (subscription ids start at 0, no logon).
        let mut w = ws(&h, "/binance/spot/ws-api/v3?returnRateLimits=false").await;
        send(&mut w, &c.request).await;
        let (text, v) = next_json(&mut w).await;
        assert_eq!(v["status"], c.status, "{}: {v}", c.name);
        assert!(
            v.get("rateLimits").is_none(),
            "{}: returnRateLimits=false",
            c.name
        );
        match c.code {
            None => assert_eq!(v["result"]["subscriptionId"], 0, "{}: {v}", c.name),
            Some(code) => {
                assert_eq!(v["error"]["code"], code, "{}: {v}", c.name);
                if let FrameInfo::Error { auth, .. } = normalize(Provider::Binance, &text).0 {
                    // corefeed's breaker sees -2015/401 as a strike and the session message
                    // as a rejection.
                    if code == -2015 || code == -1193 {
                        assert_ne!(
                            auth,
                            corefeed_shards::exchanges::user::AuthSignal::None,
                            "{}",
                            c.name
                        );
                    }
                } else {
                    panic!("{}: not an error frame for corefeed", c.name);
                }
            }
        }
    }
    let s = user_stats(&h).await;
    let a = s["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "hmac…")
        .unwrap();
    assert_eq!(a["logins"]["ok"], 1);
    assert_eq!(a["logins"]["failed"], 2); // wrong signature, HMAC logon (the stale timestamp fails before the key is read)
    assert_eq!(s["unknown_key_failures"]["binance"], 1);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_spot_rejected_credentials_terminate_the_stream() {
    let h = sim(&[]).await;
    control(
        &h,
        "/control/user/accounts",
        json!({"provider":"binance","key":"edKey1","secret":ED_PEM_1}),
    )
    .await;
    let signer = bauth::Ed25519Signer::from_pem(ED_PEM_1).unwrap();
    let mut w = ws(&h, "/binance/spot/ws-api/v3").await;
    send(
        &mut w,
        &bauth::session_logon("1", "edKey1", &signer, now_ms(), None),
    )
    .await;
    assert_eq!(next_json(&mut w).await.1["status"], 200);
    send(&mut w, &bauth::user_data_stream_subscribe("2")).await;
    assert_eq!(next_json(&mut w).await.1["result"]["subscriptionId"], 0);

    let r = control(
        &h,
        "/control/user/reject",
        json!({"provider":"binance","key":"edKey1","reject":true}),
    )
    .await;
    assert_eq!(r["terminated"], 1);
    let (_, v) = next_json(&mut w).await;
    assert_eq!(v["subscriptionId"], 0);
    assert_eq!(v["event"]["e"], "eventStreamTerminated");
    // The socket stays; the next request reports the revocation (id null), then its own answer.
    send(&mut w, &bauth::user_data_stream_subscribe("3")).await;
    let (_, v) = next_json(&mut w).await;
    assert_eq!(
        (v["id"].clone(), v["status"].clone()),
        (Value::Null, json!(401))
    );
    assert_eq!(v["error"]["code"], -2015);
    let (_, v) = next_json(&mut w).await;
    assert_eq!(v["id"], "3");
    assert_eq!(v["error"]["code"], -1193);
    // A new logon with the rejected key fails with -2015.
    send(
        &mut w,
        &bauth::session_logon("4", "edKey1", &signer, now_ms(), None),
    )
    .await;
    let (_, v) = next_json(&mut w).await;
    assert_eq!(
        (v["status"].clone(), v["error"]["code"].clone()),
        (json!(401), json!(-2015))
    );
    // Lifted: works again.
    control(
        &h,
        "/control/user/reject",
        json!({"provider":"binance","key":"edKey1","reject":false}),
    )
    .await;
    send(
        &mut w,
        &bauth::session_logon("5", "edKey1", &signer, now_ms(), None),
    )
    .await;
    assert_eq!(next_json(&mut w).await.1["status"], 200);
    send(&mut w, &bauth::user_data_stream_subscribe("6")).await;
    assert_eq!(next_json(&mut w).await.1["result"]["subscriptionId"], 1);
    // No id → the connection is dropped.
    send(&mut w, r#"{"method":"ping"}"#).await;
    assert_eq!(close_code(&mut w, 3 * SEC).await, None);
    h.shutdown().await;
}

// ====================================================================== Binance futures

struct Fut {
    provider: &'static str,
    rest: &'static str,
    ws_path: fn(&str) -> String,
    symbol: &'static str,
    qty: &'static str,
    norm: Provider,
}

fn usdm() -> Fut {
    Fut {
        provider: "binanceUsdm",
        rest: "/binance/usdm/fapi/v1/listenKey",
        ws_path: |k| format!("/binance/usdm/private/ws?listenKey={k}"),
        symbol: "BTCUSDT",
        qty: "0.002",
        norm: Provider::BinanceUsdm,
    }
}

fn coinm() -> Fut {
    Fut {
        provider: "binanceCoinm",
        rest: "/binance/coinm/dapi/v1/listenKey",
        ws_path: |k| format!("/binance/coinm/ws/{k}"),
        symbol: "BTCUSD_PERP",
        qty: "3",
        norm: Provider::BinanceCoinm,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_futures_listen_key_life() {
    for f in [usdm(), coinm()] {
        let h = sim(&["--listen-key-ttl-ms", "60000"]).await;
        let hdr = [("X-MBX-APIKEY", "futKey")];
        // Unknown key, missing header.
        let (st, v) = http(&h, "POST", f.rest, &hdr, None).await;
        assert_eq!(
            (st, v["code"].clone()),
            (401, json!(-2015)),
            "{}",
            f.provider
        );
        let (st, v) = http(&h, "POST", f.rest, &[], None).await;
        assert_eq!((st, v["code"].clone()), (401, json!(-2014)));
        control(
            &h,
            "/control/user/accounts",
            json!({"provider":f.provider,"key":"futKey","secret":"futSecret"}),
        )
        .await;
        let (st, v) = http(&h, "POST", f.rest, &hdr, None).await;
        assert_eq!(st, 200, "{v}");
        let key = v["listenKey"].as_str().unwrap().to_string();
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()));
        // POST again: the same key, extended.
        assert_eq!(
            http(&h, "POST", f.rest, &hdr, None).await.1["listenKey"],
            key
        );
        assert_eq!(
            http(&h, "PUT", f.rest, &hdr, None).await.1["listenKey"],
            key
        );

        let mut w = ws(&h, &(f.ws_path)(&key)).await;
        // A second socket on the same key (make-before-break) gets the same events.
        let mut w2 = ws(&h, &(f.ws_path)(&key)).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let r = control(
            &h,
            "/control/user/order",
            json!({"provider":f.provider,"key":"futKey","symbol":f.symbol,"side":"SELL","type":"LIMIT","qty":f.qty,"price":"9500.0","clientOrderId":"GA-F-9"}),
        )
        .await;
        assert_eq!(r["sockets"], 2);
        let oid = r["orderId"].as_str().unwrap().to_string();
        let (text, v) = next_json(&mut w).await;
        let (text2, _) = next_json(&mut w2).await;
        assert_eq!(text, text2);
        let o = &v["o"];
        assert_eq!(v["e"], "ORDER_TRADE_UPDATE");
        let okeys = if f.norm == Provider::BinanceUsdm {
            "s c S o f q p ap sp x X i l z L n T t b a m R wt ot ps cp rp pP si ss V pm gtd"
        } else {
            "s c S o f q p ap sp x X i l z L ma n T t rp b a m R wt ot ps cp pP si ss"
        };
        let inner = &text[text.find("\"o\":{").unwrap() + 4..text.len() - 1];
        assert_eq!(keys_in_order(inner), okeys.split(' ').collect::<Vec<_>>());
        assert_eq!(
            (o["x"].as_str(), o["X"].as_str()),
            (Some("NEW"), Some("NEW"))
        );
        assert_eq!(o["q"], f.qty);
        assert_eq!(o["p"], "9500.0");
        assert_eq!(o["ap"], "0");
        assert_eq!(o["i"].to_string(), oid);
        assert_eq!(normalize(f.norm, &text).0, FrameInfo::Data { messages: 1 });

        control(
            &h,
            "/control/user/fill",
            json!({"provider":f.provider,"key":"futKey","orderId":oid,"qty":f.qty,"fee":"0.01"}),
        )
        .await;
        let (text, v) = next_json(&mut w).await;
        let o = &v["o"];
        assert_eq!(
            (o["x"].as_str(), o["X"].as_str()),
            (Some("TRADE"), Some("FILLED"))
        );
        assert_eq!(o["l"], f.qty);
        assert_eq!(o["z"], f.qty);
        assert_eq!(o["ap"], "9500.0");
        assert_eq!(o["n"], "0.01");
        assert!(o["t"].as_u64().unwrap() > 0);
        assert_eq!(normalize(f.norm, &text).0, FrameInfo::Data { messages: 1 });
        let (text, v) = next_json(&mut w).await;
        assert_eq!(v["e"], "ACCOUNT_UPDATE");
        assert_eq!(v["a"]["m"], "ORDER");
        assert_eq!(v["a"]["P"][0]["s"], f.symbol);
        assert_eq!(v["a"]["P"][0]["pa"], format!("-{}", f.qty));
        assert_eq!(v["a"]["P"][0]["ep"], "9500");
        assert_eq!(v["a"]["B"][0]["wb"], "-0.01000000");
        assert_eq!(normalize(f.norm, &text).0, FrameInfo::Data { messages: 1 });
        for _ in 0..2 {
            next_json(&mut w2).await;
        }

        // Position and balance scenarios.
        control(
            &h,
            "/control/user/position",
            json!({"provider":f.provider,"key":"futKey","symbol":f.symbol,"amount":"1","entryPrice":"9000","unrealizedPnl":"1.5"}),
        )
        .await;
        let (_, v) = next_json(&mut w).await;
        assert_eq!(v["a"]["P"][0]["pa"], "1");
        assert_eq!(v["a"]["P"][0]["up"], "1.5");
        next_json(&mut w2).await;

        // A liquidation: `autoclose-` client id, CALCULATED/FILLED, then ACCOUNT_UPDATE.
        control(
            &h,
            "/control/user/liquidation",
            json!({"provider":f.provider,"key":"futKey","symbol":f.symbol,"side":"SELL","qty":"1","price":"8000","fee":"0.001"}),
        )
        .await;
        let (text, v) = next_json(&mut w).await;
        let o = &v["o"];
        assert!(o["c"].as_str().unwrap().starts_with("autoclose-"), "{text}");
        assert_eq!(
            (o["o"].as_str(), o["f"].as_str()),
            (Some("LIQUIDATION"), Some("IOC"))
        );
        assert_eq!(
            (o["x"].as_str(), o["X"].as_str()),
            (Some("CALCULATED"), Some("FILLED"))
        );
        let (_, msgs) = normalize(f.norm, &text);
        assert!(msgs[0].ends_with("\"liquidation\":true}"), "{}", msgs[0]);
        let (_, v) = next_json(&mut w).await;
        assert_eq!(v["a"]["P"][0]["pa"], "0");
        for _ in 0..2 {
            next_json(&mut w2).await;
        }

        // Forced expiry: listenKeyExpired on both sockets, then close; PUT → -1125.
        let r = control(
            &h,
            "/control/user/expire_listen_key",
            json!({"provider":f.provider,"key":"futKey"}),
        )
        .await;
        assert_eq!(r["closedSockets"], 2);
        for sock in [&mut w, &mut w2] {
            let (text, v) = next_json(sock).await;
            assert_eq!(v["e"], "listenKeyExpired");
            assert!(matches!(
                normalize(f.norm, &text).0,
                FrameInfo::ListenKeyExpired { messages: 1 }
            ));
            assert_eq!(close_code(sock, 3 * SEC).await, Some(1000));
        }
        let (st, v) = http(&h, "PUT", f.rest, &hdr, None).await;
        assert_eq!((st, v["code"].clone()), (400, json!(-1125)));
        assert_eq!(v["msg"], "This listenKey does not exist.");
        // The expired key cannot open a socket.
        assert!(
            connect_async(format!("{}{}", h.ws_base(), (f.ws_path)(&key)))
                .await
                .is_err()
        );
        let s = user_stats(&h).await;
        let a = account_stats(&s, f.provider);
        assert_eq!(a["listen_keys"]["created"], 1);
        assert_eq!(a["listen_keys"]["kept_alive"], 1);
        assert_eq!(a["listen_keys"]["expired"], 1);
        assert_eq!(a["events"]["undelivered"], 0);
        assert_eq!(a["events"]["generated"], 6);
        assert_eq!(a["events"]["sent"], 12);
        h.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_listen_key_ttl_and_events_filter() {
    let h = sim(&["--listen-key-ttl-ms", "60000"]).await;
    control(
        &h,
        "/control/user/accounts",
        json!({"provider":"binanceUsdm","key":"k1","secret":"s1"}),
    )
    .await;
    let hdr = [("X-MBX-APIKEY", "k1")];
    let (_, v) = http(&h, "POST", "/binance/usdm/fapi/v1/listenKey", &hdr, None).await;
    let key = v["listenKey"].as_str().unwrap().to_string();
    let mut all = ws(&h, &format!("/binance/usdm/private/ws?listenKey={key}")).await;
    let mut acct_only = ws(
        &h,
        &format!("/binance/usdm/private/ws?listenKey={key}&events=ACCOUNT_UPDATE"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    control(
        &h,
        "/control/user/balance",
        json!({"provider":"binanceUsdm","key":"k1","asset":"USDT","free":"100"}),
    )
    .await;
    control(
        &h,
        "/control/user/order",
        json!({"provider":"binanceUsdm","key":"k1","symbol":"ETHUSDT","side":"BUY","type":"MARKET","qty":"1"}),
    )
    .await;
    let (_, v) = next_json(&mut all).await;
    assert_eq!(v["e"], "ACCOUNT_UPDATE");
    assert_eq!(v["a"]["m"], "DEPOSIT");
    assert_eq!(v["a"]["B"][0]["bc"], "100");
    assert_eq!(next_json(&mut all).await.1["e"], "ORDER_TRADE_UPDATE");
    assert_eq!(next_json(&mut acct_only).await.1["e"], "ACCOUNT_UPDATE");
    quiet(&mut acct_only, Duration::from_millis(150)).await;

    // Shorten the validity at runtime: the key (last extended just now) expires by itself.
    let (st, v) = http(
        &h,
        "POST",
        "/control/config",
        &[],
        Some(r#"{"listen_key_ttl_ms":600}"#),
    )
    .await;
    assert_eq!((st, v["listen_key_ttl_ms"].clone()), (200, json!(600)));
    let t0 = Instant::now();
    let (_, v) = next_json(&mut all).await;
    assert_eq!(v["e"], "listenKeyExpired");
    assert_eq!(v["listenKey"], key);
    assert!(t0.elapsed() < 2 * SEC);
    assert_eq!(close_code(&mut all, 3 * SEC).await, Some(1000));
    // The events filter applies to listenKeyExpired too; the socket still closes.
    assert_eq!(close_code(&mut acct_only, 3 * SEC).await, Some(1000));
    let (st, v) = http(&h, "PUT", "/binance/usdm/fapi/v1/listenKey", &hdr, None).await;
    assert_eq!((st, v["code"].clone()), (400, json!(-1125)));
    // A keepalive within the validity keeps it.
    let (_, v) = http(&h, "POST", "/binance/usdm/fapi/v1/listenKey", &hdr, None).await;
    let key2 = v["listenKey"].as_str().unwrap().to_string();
    assert_ne!(key2, key);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (st, _) = http(&h, "PUT", "/binance/usdm/fapi/v1/listenKey", &hdr, None).await;
        assert_eq!(st, 200);
    }
    let (_, cfg) = http(&h, "GET", "/control/config", &[], None).await;
    assert_eq!(cfg["listen_key_ttl_ms"], 600);
    // Long validity again for the rest (no race with a loaded machine).
    http(
        &h,
        "POST",
        "/control/config",
        &[],
        Some(r#"{"listen_key_ttl_ms":60000}"#),
    )
    .await;
    // Rejecting the account expires its key.
    let mut w = ws(&h, &format!("/binance/usdm/private/ws?listenKey={key2}")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    control(
        &h,
        "/control/user/reject",
        json!({"provider":"binanceUsdm","key":"k1"}),
    )
    .await;
    assert_eq!(next_json(&mut w).await.1["e"], "listenKeyExpired");
    assert_eq!(close_code(&mut w, 3 * SEC).await, Some(1000));
    let (st, v) = http(&h, "POST", "/binance/usdm/fapi/v1/listenKey", &hdr, None).await;
    assert_eq!((st, v["code"].clone()), (401, json!(-2015)));
    h.shutdown().await;
}

// ====================================================================== OKX

fn okx_ts() -> String {
    (now_ms() / 1000).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_login_table() {
    let h = sim(&[]).await;
    control(
        &h,
        "/control/user/accounts",
        json!({"provider":"okx","key":"okKey","secret":"okSecret","passphrase":"pass1"}),
    )
    .await;
    // (name, login request, expected code, closed 4001 afterwards)
    let stale = ((now_ms() / 1000) - 120).to_string();
    let cases: Vec<(&str, String, &str, bool)> = vec![
        (
            "ok",
            oauth::login_request("okKey", "pass1", "okSecret", &okx_ts()),
            "0",
            false,
        ),
        (
            "bad sign",
            oauth::login_request("okKey", "pass1", "wrong", &okx_ts()),
            "60009",
            true,
        ),
        (
            "wrong passphrase",
            oauth::login_request("okKey", "nope", "okSecret", &okx_ts()),
            "60024",
            true,
        ),
        (
            "unknown key",
            oauth::login_request("ghost", "pass1", "okSecret", &okx_ts()),
            "60005",
            true,
        ),
        (
            "expired timestamp",
            oauth::login_request("okKey", "pass1", "okSecret", &stale),
            "60006",
            true,
        ),
        (
            "bad timestamp",
            oauth::login_request("okKey", "pass1", "okSecret", "soon"),
            "60004",
            true,
        ),
    ];
    for (name, req, code, closed) in cases {
        let mut w = ws(&h, "/okx/ws/v5/private").await;
        // Before login, private channels need a login.
        send(
            &mut w,
            r#"{"op":"subscribe","args":[{"channel":"orders","instType":"ANY"}]}"#,
        )
        .await;
        let (_, v) = next_json(&mut w).await;
        assert_eq!(
            (v["event"].as_str(), v["code"].as_str()),
            (Some("error"), Some("60011"))
        );
        assert_eq!(v["msg"], "Please log in");
        send(&mut w, &req).await;
        let (text, v) = next_json(&mut w).await;
        assert_eq!(v["code"], code, "{name}: {v}");
        assert_eq!(v["connId"].as_str().unwrap().len(), 8);
        if code == "0" {
            assert_eq!(v["event"], "login");
            assert!(matches!(
                normalize(Provider::Okx, &text).0,
                FrameInfo::Ack { .. }
            ));
        } else {
            assert_eq!(v["event"], "error");
        }
        if closed {
            assert_eq!(close_code(&mut w, 3 * SEC).await, Some(4001), "{name}");
        } else {
            send(&mut w, "ping").await;
            assert_eq!(next_text(&mut w, 3 * SEC).await.as_deref(), Some("pong"));
            // A second login on the same socket.
            send(&mut w, &req).await;
            assert_eq!(next_json(&mut w).await.1["code"], "60031");
        }
    }
    let s = user_stats(&h).await;
    let a = account_stats(&s, "okx");
    assert_eq!(a["logins"]["ok"], 1);
    // bad sign, wrong passphrase (timestamp errors fail before the key is read)
    assert_eq!(a["logins"]["failed"], 2);
    assert_eq!(s["unknown_key_failures"]["okx"], 1);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_pushes_filtered_by_inst_type() {
    let h = sim(&[]).await;
    for p in ["okx", "okxLinear"] {
        control(
            &h,
            "/control/user/accounts",
            json!({"provider":p,"key":"okKey","secret":"okSecret","passphrase":"pass1"}),
        )
        .await;
    }
    control(
        &h,
        "/control/user/balance",
        json!({"provider":"okx","key":"okKey","asset":"USDT","free":"1000","locked":"10"}),
    )
    .await;
    // EEA host path.
    let mut w = ws(&h, "/okx/eea/ws/v5/private").await;
    send(
        &mut w,
        &oauth::login_request("okKey", "pass1", "okSecret", &okx_ts()),
    )
    .await;
    assert_eq!(next_json(&mut w).await.1["event"], "login");
    // The client's own subscribe request for okxLinear (account + orders SWAP/FUTURES +
    // positions SWAP/FUTURES), then a SPOT orders subscription.
    send(&mut w, &oauth::subscribe_request(Provider::OkxLinear, true)).await;
    let mut acks = 0;
    let mut conn_counts = 0;
    let mut account_snapshot = None;
    let mut positions_snapshots = 0;
    for _ in 0..11 {
        let (text, v) = next_json(&mut w).await;
        match (v["event"].as_str(), v["arg"]["channel"].as_str()) {
            (Some("subscribe"), _) => acks += 1,
            (Some("channel-conn-count"), _) => {
                assert_eq!(v["connCount"], "1");
                conn_counts += 1
            }
            (None, Some("account")) => account_snapshot = Some(text),
            (None, Some("positions")) => {
                assert_eq!(v["data"], json!([]));
                positions_snapshots += 1
            }
            other => panic!("unexpected {other:?}: {text}"),
        }
    }
    assert_eq!((acks, conn_counts, positions_snapshots), (5, 3, 2));
    let snap = account_snapshot.unwrap();
    let v: Value = serde_json::from_str(&snap).unwrap();
    assert_eq!(v["data"][0]["details"][0]["ccy"], "USDT");
    assert_eq!(v["data"][0]["details"][0]["availBal"], "1000");
    assert_eq!(v["data"][0]["details"][0]["frozenBal"], "10");
    assert_eq!(v["data"][0]["details"][0]["cashBal"], "1010");
    assert!(v["arg"]["uid"].is_string());
    let (_, msgs) = normalize(Provider::OkxLinear, &snap);
    assert!(
        msgs[0].contains("\"free\":\"1000\",\"locked\":\"10\""),
        "{}",
        msgs[0]
    );
    send(
        &mut w,
        r#"{"op":"subscribe","args":[{"channel":"orders","instType":"SPOT"}]}"#,
    )
    .await;
    assert_eq!(next_json(&mut w).await.1["event"], "subscribe");

    // A SPOT order reaches only the SPOT subscription.
    let r = control(
        &h,
        "/control/user/order",
        json!({"provider":"okx","key":"okKey","symbol":"BTC-USDT","side":"BUY","type":"LIMIT","qty":"0.01","price":"40000.1","clientOrderId":"DTP001"}),
    )
    .await;
    assert_eq!(r["sockets"], 1);
    let spot_id = r["orderId"].as_str().unwrap().to_string();
    let (text, v) = next_json(&mut w).await;
    assert_eq!(v["arg"]["instType"], "SPOT");
    let d = &v["data"][0];
    assert_eq!(
        (d["instId"].as_str(), d["state"].as_str()),
        (Some("BTC-USDT"), Some("live"))
    );
    assert_eq!(
        (d["px"].as_str(), d["sz"].as_str()),
        (Some("40000.1"), Some("0.01"))
    );
    assert_eq!(d["ordId"], spot_id);
    assert_eq!(d["clOrdId"], "DTP001");
    assert_eq!(d["tdMode"], "cash");
    assert_eq!(
        normalize(Provider::Okx, &text).0,
        FrameInfo::Data { messages: 1 }
    );

    // A SWAP order: the SWAP orders subscription only; fills push orders, account, positions.
    let r = control(
        &h,
        "/control/user/order",
        json!({"provider":"okxLinear","key":"okKey","symbol":"BTC-USDT-SWAP","side":"BUY","type":"LIMIT","qty":"3","price":"103700.0"}),
    )
    .await;
    let swap_id = r["orderId"].as_str().unwrap().to_string();
    assert!(swap_id.parse::<u64>().unwrap() > 1 << 53);
    let (_, v) = next_json(&mut w).await;
    assert_eq!(v["arg"]["instType"], "SWAP");
    assert_eq!(v["data"][0]["clOrdId"], "");
    for (qty, price, fee, state, acc, fee_total) in [
        (
            "1",
            "103698.9",
            "0.021776769",
            "partially_filled",
            "1",
            "-0.021776769",
        ),
        (
            "2",
            "103699.9",
            "0.043553538",
            "filled",
            "3",
            "-0.065330307",
        ),
    ] {
        control(
            &h,
            "/control/user/fill",
            json!({"provider":"okxLinear","key":"okKey","orderId":swap_id,"qty":qty,"price":price,"fee":fee}),
        )
        .await;
        let (text, v) = next_json(&mut w).await;
        let d = &v["data"][0];
        assert_eq!(d["state"], state);
        assert_eq!(d["accFillSz"], acc);
        assert_eq!(d["fillSz"], qty);
        assert_eq!(d["fillPx"], price);
        assert_eq!(d["fee"], fee_total);
        assert_eq!(d["fillFee"], format!("-{fee}"));
        assert_eq!(d["feeCcy"], "USDT");
        assert_eq!(d["execType"], "M");
        // avgPx: (1×103698.9 + 2×103699.9) / 3, truncated to price scale + 8 decimals.
        let avg = if acc == "1" {
            "103698.9"
        } else {
            "103699.566666666"
        };
        assert_eq!(d["avgPx"], avg);
        let (_, msgs) = normalize(Provider::OkxLinear, &text);
        assert_eq!(msgs.len(), 1);
        let (text, v) = next_json(&mut w).await;
        assert_eq!(v["arg"]["channel"], "account");
        assert_eq!(
            normalize(Provider::OkxLinear, &text).0,
            FrameInfo::Data { messages: 1 }
        );
        let (text, v) = next_json(&mut w).await;
        assert_eq!(v["arg"]["channel"], "positions");
        assert_eq!(v["arg"]["instType"], "SWAP");
        assert_eq!(v["data"][0]["pos"], acc);
        assert_eq!(
            normalize(Provider::OkxLinear, &text).0,
            FrameInfo::Data { messages: 1 }
        );
    }
    control(
        &h,
        "/control/user/position",
        json!({"provider":"okxLinear","key":"okKey","symbol":"ETH-USDT-SWAP","amount":"-2","entryPrice":"2500.5"}),
    )
    .await;
    let (_, v) = next_json(&mut w).await;
    assert_eq!(v["data"][0]["instId"], "ETH-USDT-SWAP");
    assert_eq!(v["data"][0]["pos"], "-2");
    // A liquidation.
    control(
        &h,
        "/control/user/liquidation",
        json!({"provider":"okxLinear","key":"okKey","symbol":"ETH-USDT-SWAP","side":"BUY","qty":"2","price":"2600","fee":"0.5"}),
    )
    .await;
    let (text, v) = next_json(&mut w).await;
    assert_eq!(v["data"][0]["category"], "full_liquidation");
    assert_eq!(v["data"][0]["state"], "filled");
    assert!(normalize(Provider::OkxLinear, &text).1[0].contains("\"liquidation\":true"));
    next_json(&mut w).await; // account
    let (_, v) = next_json(&mut w).await; // positions
    assert_eq!(v["data"][0]["pos"], "0");

    // Unsubscribe SPOT orders: a SPOT order is now undelivered.
    send(
        &mut w,
        r#"{"op":"unsubscribe","args":[{"channel":"orders","instType":"SPOT"}]}"#,
    )
    .await;
    assert_eq!(next_json(&mut w).await.1["event"], "unsubscribe");
    let r = control(
        &h,
        "/control/user/cancel",
        json!({"provider":"okx","key":"okKey","orderId":spot_id}),
    )
    .await;
    assert_eq!(r["sockets"], 0);
    quiet(&mut w, Duration::from_millis(150)).await;

    let s = user_stats(&h).await;
    let a = account_stats(&s, "okx");
    assert_eq!(a["sockets"]["/okx/eea/ws/v5/private"], 1);
    assert_eq!(a["logins"]["by_path"], json!({"/okx/eea/ws/v5/private": 1}));
    assert_eq!(a["events"]["undelivered"], 2); // the balance before login, the last cancel
    assert_eq!(a["providers"], json!(["okx", "okxLinear"]));

    // Rejecting the key closes the socket with 4007.
    control(
        &h,
        "/control/user/reject",
        json!({"provider":"okxLinear","key":"okKey"}),
    )
    .await;
    assert_eq!(close_code(&mut w, 3 * SEC).await, Some(4007));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_private_idle_cut_and_drop() {
    let h = sim(&["--okx-idle-secs", "0.4"]).await;
    control(
        &h,
        "/control/user/accounts",
        json!({"provider":"okxInverse","key":"k","secret":"s","passphrase":"p"}),
    )
    .await;
    let mut w = ws(&h, "/okx/us/ws/v5/private").await;
    send(&mut w, &oauth::login_request("k", "p", "s", &okx_ts())).await;
    assert_eq!(next_json(&mut w).await.1["code"], "0");
    let t0 = Instant::now();
    assert_eq!(close_code(&mut w, 3 * SEC).await, Some(4004));
    assert!(t0.elapsed() >= Duration::from_millis(300));

    let mut w = ws(&h, "/okx/us/ws/v5/private").await;
    send(&mut w, &oauth::login_request("k", "p", "s", &okx_ts())).await;
    assert_eq!(next_json(&mut w).await.1["code"], "0");
    let r = control(
        &h,
        "/control/user/drop",
        json!({"provider":"okxInverse","key":"k"}),
    )
    .await;
    assert_eq!(r["dropped"], 1);
    assert_eq!(close_code(&mut w, 3 * SEC).await, None);
    h.shutdown().await;
}

// ====================================================================== control API

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api_rejects_bad_input() {
    let h = sim(&[]).await;
    control(
        &h,
        "/control/user/accounts",
        json!({"provider":"binance","key":"k","secret":"s"}),
    )
    .await;
    let cases: Vec<(&str, &str, &str)> = vec![
        ("/control/user/accounts", "not json", "invalid JSON"),
        (
            "/control/user/accounts",
            r#"{"provider":"kraken","key":"k","secret":"s"}"#,
            "unknown provider",
        ),
        (
            "/control/user/accounts",
            r#"{"provider":"okx","key":"k","secret":"s"}"#,
            "passphrase",
        ),
        (
            "/control/user/accounts",
            r#"{"provider":"binance","key":"k","secret":"-----BEGIN RSA PRIVATE KEY-----\nAA\n-----END RSA PRIVATE KEY-----"}"#,
            "RSA",
        ),
        (
            "/control/user/order",
            r#"{"provider":"binance","key":"nobody","symbol":"BTCUSDT","side":"BUY","qty":"1","price":"1"}"#,
            "register it first",
        ),
        (
            "/control/user/order",
            r#"{"provider":"binance","key":"k","symbol":"BTCUSDT","side":"UP","qty":"1","price":"1"}"#,
            "BUY or SELL",
        ),
        (
            "/control/user/order",
            r#"{"provider":"binance","key":"k","symbol":"BTCUSDT","side":"BUY","qty":"1e3","price":"1"}"#,
            "decimal",
        ),
        (
            "/control/user/order",
            r#"{"provider":"binance","key":"k","symbol":"BTCUSDT","side":"BUY","qty":"1"}"#,
            "`price` is required",
        ),
        (
            "/control/user/order",
            r#"{"provider":"binance","key":"k","symbol":"BTC-USDT","side":"BUY","qty":"1","price":"1"}"#,
            "does not fit",
        ),
        (
            "/control/user/order",
            r#"{"provider":"binance","key":"k","symbol":"BTCUSDT","side":"BUY","qty":"0.000000001","price":"1"}"#,
            "8 decimals",
        ),
        (
            "/control/user/fill",
            r#"{"provider":"binance","key":"k","orderId":"42","qty":"1"}"#,
            "no order 42",
        ),
        (
            "/control/user/position",
            r#"{"provider":"binance","key":"k","symbol":"BTCUSDT","amount":"1"}"#,
            "futures/swaps only",
        ),
        (
            "/control/user/expire_listen_key",
            r#"{"provider":"binance","key":"k"}"#,
            "binanceUsdm and binanceCoinm",
        ),
    ];
    for (path, body, needle) in cases {
        let (st, v) = http(&h, "POST", path, &[], Some(body)).await;
        assert_eq!(st, 400, "{path} {body}: {v}");
        let e = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error text: {v}"));
        assert!(
            e.contains(needle),
            "{path} {body}: {e:?} should mention {needle:?}"
        );
    }
    // Over-fill.
    let r = control(
        &h,
        "/control/user/order",
        json!({"provider":"binance","key":"k","symbol":"BTCUSDT","side":"BUY","qty":"1","price":"1"}),
    )
    .await;
    let (st, v) = http(
        &h,
        "POST",
        "/control/user/fill",
        &[],
        Some(
            &json!({"provider":"binance","key":"k","orderId":r["orderId"],"qty":"1.5"}).to_string(),
        ),
    )
    .await;
    assert_eq!(st, 400);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("exceeds the remaining"));
    // Stats shape.
    let s = user_stats(&h).await;
    for k in [
        "listen_key_ttl_ms",
        "sockets",
        "accounts",
        "unknown_key_failures",
    ] {
        assert!(s.get(k).is_some(), "stats lacks {k}: {s}");
    }
    let a = account_stats(&s, "binance");
    for k in [
        "providers",
        "key",
        "keyType",
        "rejected",
        "logins",
        "subscribes",
        "subscriptions_active",
        "sockets",
        "listen_keys",
        "orders",
        "events",
    ] {
        assert!(a.get(k).is_some(), "account stats lack {k}: {a}");
    }
    assert_eq!(a["events"]["undelivered"], 1);
    // The public stats and config carry the listen-key validity.
    let (_, v) = http(&h, "GET", "/control/stats", &[], None).await;
    assert_eq!(v["config"]["listen_key_ttl_ms"], 3_600_000);
    let (st, _) = http(
        &h,
        "POST",
        "/control/config",
        &[],
        Some(r#"{"listen_key_ttl_ms":0}"#),
    )
    .await;
    assert_eq!(st, 400);
    let (st, v) = http(
        &h,
        "POST",
        "/control/config",
        &[],
        Some(r#"{"ticker_push_ms":500}"#),
    )
    .await;
    assert_eq!((st, v["ticker_push_ms"].clone()), (200, json!(500)));
    h.shutdown().await;
}
