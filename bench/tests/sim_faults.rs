//! The simulator's fault injection (`POST /control/fault`), kind by kind, over real sockets:
//! `reject_connect`, `handshake_error`, `ping_silence`, `stall_market`, `delay`, `truncated`,
//! `oversized`, `clear`, and what `GET /control/stats` shows of them.

use std::time::Duration;

use corefeed_bench::sim::{spawn, SimConfig, SimHandle};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SEC: Duration = Duration::from_secs(1);

async fn sim(args: &[&str]) -> SimHandle {
    let mut a = vec!["--listen", "127.0.0.1:0"];
    a.extend_from_slice(args);
    let cfg = SimConfig::from_args(a.iter().map(|s| s.to_string())).unwrap();
    spawn(cfg).await.unwrap()
}

async fn ws(h: &SimHandle, path: &str) -> Ws {
    connect_async(format!("{}{}", h.ws_base(), path))
        .await
        .unwrap()
        .0
}

/// What one frame was: text (`Ok`), or the connection ended / nothing within the time (`Err`).
enum Got {
    Text(String),
    Ping,
    Nothing,
    Ended,
}

async fn next_any(w: &mut Ws, t: Duration) -> Got {
    match timeout(t, w.next()).await {
        Err(_) => Got::Nothing,
        Ok(Some(Ok(Message::Text(s)))) => Got::Text(s.to_string()),
        Ok(Some(Ok(Message::Ping(_)))) => Got::Ping,
        Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => Got::Ended,
        Ok(Some(Ok(_))) => Got::Nothing,
    }
}

/// Next text frame within `t`, skipping control frames. `None` on timeout or close.
async fn next_text(w: &mut Ws, t: Duration) -> Option<String> {
    let end = Instant::now() + t;
    loop {
        let left = end.checked_duration_since(Instant::now())?;
        match next_any(w, left).await {
            Got::Text(s) => return Some(s),
            Got::Ping => continue,
            Got::Nothing | Got::Ended => return None,
        }
    }
}

/// Every text frame arriving within `t` (the socket must stay open).
async fn collect(w: &mut Ws, t: Duration) -> Vec<String> {
    let end = Instant::now() + t;
    let mut out = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match next_any(w, left).await {
            Got::Text(s) => out.push(s),
            Got::Ping | Got::Nothing => {}
            Got::Ended => panic!("the connection ended after {} frames", out.len()),
        }
    }
    out
}

async fn send(w: &mut Ws, s: &str) {
    w.send(Message::Text(s.to_string().into())).await.unwrap();
}

/// Minimal HTTP/1.1 client; returns the status, the header block and the body.
async fn http_raw(
    h: &SimHandle,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
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
    (status, head.to_string(), body.to_string())
}

async fn fault(h: &SimHandle, body: &str) -> Value {
    let (st, _, b) = http_raw(h, "POST", "/control/fault", Some(body)).await;
    assert_eq!(st, 200, "{body} → {b}");
    serde_json::from_str::<Value>(&b).unwrap()["faults"].clone()
}

async fn stats(h: &SimHandle) -> Value {
    let (st, _, b) = http_raw(h, "GET", "/control/stats", None).await;
    assert_eq!(st, 200);
    serde_json::from_str(&b).unwrap()
}

/// A WebSocket upgrade over a raw TCP stream: returns the stream and the response head.
async fn raw_upgrade(h: &SimHandle, path: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        h.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = timeout(3 * SEC, s.read(&mut byte)).await.unwrap().unwrap();
        assert_eq!(n, 1, "closed before the response head ended: {head:?}");
        head.push(byte[0]);
    }
    (s, String::from_utf8(head).unwrap())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_connect_answers_status_and_retry_after_then_lets_through() {
    let h = sim(&[]).await;
    let f = fault(
        &h,
        r#"{"kind":"reject_connect","status":429,"retry_after_s":7,"count":2,"path_prefix":"/binance/spot"}"#,
    )
    .await;
    assert_eq!(f["active"], serde_json::json!(["reject_connect"]));
    assert_eq!(f["reject_connect"][0]["remaining"], 2);
    let url = format!(
        "{}/binance/spot/stream?streams=btcusdt@kline_1m",
        h.ws_base()
    );
    for _ in 0..2 {
        match connect_async(&url).await {
            Err(tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 429);
                assert_eq!(resp.headers()["retry-after"], "7");
                let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap()).unwrap();
                assert_eq!(body["code"], -1003);
            }
            other => panic!("expected a 429, got {:?}", other.map(|_| ())),
        }
    }
    // Other paths were never affected; the third spot upgrade goes through.
    let mut okx = ws(&h, "/okx/ws/v5/public").await;
    send(&mut okx, "ping").await;
    assert_eq!(next_text(&mut okx, 2 * SEC).await.unwrap(), "pong");
    let mut w = ws(&h, "/binance/spot/stream?streams=btcusdt@kline_1m").await;
    assert!(next_text(&mut w, 2 * SEC).await.unwrap().contains("kline"));

    let s = stats(&h).await;
    assert_eq!(s["faults"]["rejected"], 2);
    assert!(s["faults"]["reject_connect"].as_array().unwrap().is_empty());
    let recent = s["upgrades"]["recent"].as_array().unwrap();
    let outcomes: Vec<(&str, &str)> = recent
        .iter()
        .map(|u| (u["path"].as_str().unwrap(), u["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("/binance/spot/stream", "rejected 429"),
            ("/binance/spot/stream", "rejected 429"),
            ("/okx/ws/v5/public", "passed"),
            ("/binance/spot/stream", "passed"),
        ]
    );
    assert_eq!(recent[0]["query"], "streams=btcusdt@kline_1m");
    assert!(recent[1]["at_ms"].as_i64().unwrap() >= recent[0]["at_ms"].as_i64().unwrap());

    // 418: Retry-After defaults to 1 s and the ban time is in the body; 503 carries no
    // Retry-After unless asked; without count the rule stands until cleared.
    fault(&h, r#"{"kind":"reject_connect","status":418,"count":1}"#).await;
    let (_, head) = raw_upgrade(&h, "/okx/ws/v5/public").await;
    assert!(head.starts_with("HTTP/1.1 418"), "{head}");
    assert_eq!(header(&head, "retry-after"), Some("1"));
    fault(
        &h,
        r#"{"kind":"reject_connect","status":503,"path_prefix":"/okx"}"#,
    )
    .await;
    for _ in 0..3 {
        let (_, head) = raw_upgrade(&h, "/okx/ws/v5/business").await;
        assert!(head.starts_with("HTTP/1.1 503"), "{head}");
        assert_eq!(header(&head, "retry-after"), None);
    }
    let f = fault(&h, r#"{"kind":"clear"}"#).await;
    assert_eq!(f["active"], serde_json::json!([]));
    let _ok = ws(&h, "/okx/ws/v5/business").await;
    // Only 429, 418 and 503.
    let (st, _, _) = http_raw(
        &h,
        "POST",
        "/control/fault",
        Some(r#"{"kind":"reject_connect","status":500}"#),
    )
    .await;
    assert_eq!(st, 400);
    // REST is never rejected.
    let (st, _, _) = http_raw(&h, "GET", "/binance/spot/api/v3/exchangeInfo", None).await;
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_error_breaks_the_upgrade_and_counts_who_closed() {
    let h = sim(&[]).await;
    fault(
        &h,
        r#"{"kind":"handshake_error","count":2,"path_prefix":"/okx/ws/v5/business"}"#,
    )
    .await;
    // A real client refuses the answer (wrong Sec-WebSocket-Accept) and hangs up.
    match connect_async(format!("{}/okx/ws/v5/business", h.ws_base())).await {
        Err(tungstenite::Error::Protocol(p)) => {
            assert!(
                matches!(
                    p,
                    tungstenite::error::ProtocolError::SecWebSocketAcceptKeyMismatch
                ),
                "{p:?}"
            )
        }
        other => panic!("expected a handshake error, got {:?}", other.map(|_| ())),
    }
    // By hand: 101 with a key that is not RFC 6455's answer, then junk.
    let (mut s, head) = raw_upgrade(&h, "/okx/ws/v5/business").await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let accept = header(&head, "sec-websocket-accept").unwrap();
    assert_ne!(
        accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        "the RFC's correct answer"
    );
    let mut junk = [0u8; 64];
    let n = timeout(2 * SEC, s.read(&mut junk)).await.unwrap().unwrap();
    assert!(n > 0);
    assert!(
        stats(&h).await["faults"]["handshake_errors"]["open"]
            .as_i64()
            .unwrap()
            >= 1
    );
    drop(s);
    let t0 = Instant::now();
    loop {
        let f = stats(&h).await["faults"]["handshake_errors"].clone();
        if f["closed_by_client"] == 2 && f["open"] == 0 {
            assert_eq!(f["injected"], 2);
            assert_eq!(f["closed_by_sim"], 0);
            break;
        }
        assert!(t0.elapsed() < 3 * SEC, "{f}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Count used up: the next upgrade works.
    let mut w = ws(&h, "/okx/ws/v5/business").await;
    send(&mut w, "ping").await;
    assert_eq!(next_text(&mut w, 2 * SEC).await.unwrap(), "pong");
    let s = stats(&h).await;
    let outcomes: Vec<&str> = s["upgrades"]["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["handshake_error", "handshake_error", "passed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_silence_keeps_sockets_open_and_answers_nothing() {
    let h = sim(&[
        "--kline-push-ms",
        "50",
        "--okx-idle-secs",
        "0.5",
        "--binance-ping-secs",
        "0.3",
        "--binance-pong-timeout-secs",
        "1.2",
        // Pings queue up while the test reads the other socket; their pongs then go out in
        // a burst, which the default 5 messages/s limit would punish.
        "--binance-msg-rate",
        "50",
    ])
    .await;
    let mut okx = ws(&h, "/okx/ws/v5/business").await;
    send(
        &mut okx,
        r#"{"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"}]}"#,
    )
    .await;
    assert!(next_text(&mut okx, 2 * SEC)
        .await
        .unwrap()
        .contains("subscribe"));
    let mut bn = ws(&h, "/binance/spot/stream?streams=btcusdt@kline_1m").await;
    assert!(next_text(&mut bn, 2 * SEC).await.is_some());

    let f = fault(&h, r#"{"kind":"ping_silence","path_prefix":"/okx"}"#).await;
    assert_eq!(
        f["ping_silence"],
        serde_json::json!([{"path_prefix":"/okx"}])
    );
    // Drain what was in flight, then: no data, no pong, and no idle cut although the idle
    // limit (0.5 s) passes four times over.
    while next_text(&mut okx, Duration::from_millis(200))
        .await
        .is_some()
    {}
    for _ in 0..4 {
        send(&mut okx, "ping").await;
        // Meanwhile Binance is not affected (reading it also answers its pings).
        assert!(!collect(&mut bn, Duration::from_millis(500))
            .await
            .is_empty());
        // Whatever OKX sent in those 500 ms would be waiting now.
        match next_any(&mut okx, Duration::from_millis(50)).await {
            Got::Nothing => {}
            Got::Text(t) => panic!("silenced socket sent {t}"),
            Got::Ping => panic!("silenced socket sent a ping"),
            Got::Ended => panic!("silenced socket was closed"),
        }
    }

    // Binance spot silenced: no ping control frames, no data, no pong-timeout close.
    fault(
        &h,
        r#"{"kind":"ping_silence","path_prefix":"/binance/spot"}"#,
    )
    .await;
    while next_text(&mut bn, Duration::from_millis(200))
        .await
        .is_some()
    {}
    let t0 = Instant::now();
    while t0.elapsed() < 2 * SEC {
        match next_any(&mut bn, Duration::from_millis(300)).await {
            Got::Nothing => {}
            Got::Ping => panic!("a ping while silenced"),
            Got::Text(t) => panic!("silenced socket sent {t}"),
            Got::Ended => panic!("silenced socket was closed"),
        }
    }
    assert_eq!(stats(&h).await["connections_open"], 2);

    // Lifted: data, pongs and pings again, and the connections survive (the idle and pong
    // clocks restart at the lift).
    let f = fault(&h, r#"{"kind":"clear"}"#).await;
    assert!(f["ping_silence"].as_array().unwrap().is_empty());
    send(&mut okx, "ping").await;
    let mut pinged = false;
    let mut data = false;
    let t0 = Instant::now();
    while t0.elapsed() < SEC {
        match next_any(&mut bn, Duration::from_millis(200)).await {
            Got::Ping => pinged = true,
            Got::Text(_) => data = true,
            Got::Nothing => {}
            Got::Ended => panic!("closed after the lift"),
        }
    }
    assert!(pinged && data);
    let got = collect(&mut okx, Duration::from_millis(300)).await;
    assert!(
        got.iter().any(|t| t == "pong"),
        "{} frames, no pong",
        got.len()
    );
    assert!(got.iter().any(|t| t.contains("candle1m")));
    // The deprecated spelling still works and is the same fault.
    fault(&h, r#"{"kind":"silence","path":"/okx/ws/v5/business"}"#).await;
    while next_text(&mut okx, Duration::from_millis(200))
        .await
        .is_some()
    {}
    send(&mut okx, "ping").await;
    assert!(next_text(&mut okx, Duration::from_millis(500))
        .await
        .is_none());
}

fn mentions(frame: &str, sym_lower: &str, sym_upper: &str) -> bool {
    frame.contains(sym_lower) || frame.contains(&format!("\"{sym_upper}\""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_market_withholds_one_symbol_only() {
    let h = sim(&[
        "--kline-push-ms",
        "50",
        "--ticker-push-ms",
        "100",
        "--candle-close-ms",
        "300",
        "--binance-ping-secs",
        "0.3",
        "--binance-pong-timeout-secs",
        "5",
        "--binance-msg-rate",
        "50",
    ])
    .await;
    let mut bn = ws(
        &h,
        "/binance/spot/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m/btcusdt@ticker/!miniTicker@arr",
    )
    .await;
    let mut okx = ws(&h, "/okx/ws/v5/public").await;
    send(
        &mut okx,
        r#"{"op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"},{"channel":"tickers","instId":"ETH-USDT"}]}"#,
    )
    .await;
    let before = collect(&mut bn, Duration::from_millis(500)).await;
    assert!(before
        .iter()
        .any(|f| mentions(f, "btcusdt@kline", "BTCUSDT")));

    let f = fault(
        &h,
        r#"{"kind":"stall_market","symbol":"BTCUSDT","path_prefix":"/binance/spot"}"#,
    )
    .await;
    assert_eq!(
        f["stall_market"],
        serde_json::json!([{"symbol":"BTCUSDT","path_prefix":"/binance/spot"}])
    );
    let _ = fault(&h, r#"{"kind":"stall_market","symbol":"BTC-USDT"}"#).await;
    // Frames rendered before the fault may still be in flight.
    let _ = collect(&mut bn, Duration::from_millis(150)).await;
    let _ = collect(&mut okx, Duration::from_millis(150)).await;

    // Binance: pings keep coming (and are answered), ETH klines and closes keep flowing, the
    // mini-ticker array lacks BTCUSDT.
    let mut pings = 0;
    let mut frames = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < 2 * SEC {
        match next_any(&mut bn, Duration::from_millis(100)).await {
            Got::Ping => pings += 1,
            Got::Text(t) => frames.push(t),
            Got::Nothing => {}
            Got::Ended => panic!("the stalled socket was closed"),
        }
    }
    assert!(pings >= 4, "{pings} pings in 2 s");
    assert!(
        frames.iter().all(|f| !mentions(f, "btcusdt@", "BTCUSDT")),
        "BTCUSDT still sent"
    );
    let eth_klines = frames
        .iter()
        .filter(|f| f.contains("ethusdt@kline_1m"))
        .count();
    let eth_closed = frames
        .iter()
        .filter(|f| f.contains("ethusdt@kline_1m") && f.contains("\"x\":true"))
        .count();
    assert!(
        eth_klines > 20 && eth_closed >= 4,
        "{eth_klines} ETH klines, {eth_closed} closed"
    );
    let arrays: Vec<&String> = frames
        .iter()
        .filter(|f| f.contains("!miniTicker@arr"))
        .collect();
    assert!(arrays.len() >= 10);
    assert!(arrays.iter().all(|f| f.contains("\"ETHUSDT\"")));

    // OKX (no prefix, so every path): ETH tickers and pongs, no BTC.
    send(&mut okx, "ping").await;
    let got = collect(&mut okx, SEC).await;
    assert!(got.iter().any(|t| t == "pong"));
    assert!(got.iter().any(|t| t.contains("\"ETH-USDT\"")));
    assert!(got.iter().all(|t| !t.contains("\"BTC-USDT\"")));
    let s = stats(&h).await;
    assert!(s["faults"]["stalled_withheld"].as_u64().unwrap() > 30);
    assert_eq!(s["connections_open"], 2);

    // Lifting one stall by its key (`enabled:false`) brings that symbol back alone.
    fault(
        &h,
        r#"{"kind":"stall_market","symbol":"BTCUSDT","path_prefix":"/binance/spot","enabled":false}"#,
    )
    .await;
    let after = collect(&mut bn, SEC).await;
    assert!(after.iter().any(|f| f.contains("btcusdt@kline_1m")));
    assert!(after
        .iter()
        .any(|f| f.contains("!miniTicker@arr") && f.contains("\"BTCUSDT\"")));
    let still = collect(&mut okx, Duration::from_millis(500)).await;
    assert!(still.iter().all(|t| !t.contains("\"BTC-USDT\"")));
    fault(&h, r#"{"kind":"clear"}"#).await;
    let back = collect(&mut okx, SEC).await;
    assert!(back.iter().any(|t| t.contains("\"BTC-USDT\"")));
    // An empty symbol is refused.
    let (st, _, _) = http_raw(
        &h,
        "POST",
        "/control/fault",
        Some(r#"{"kind":"stall_market","symbol":""}"#),
    )
    .await;
    assert_eq!(st, 400);
}

/// Lag of a Binance combined kline frame: now − its event time `E` (ms, set when rendered).
fn lag_ms(frame: &str) -> i64 {
    let v: Value = serde_json::from_str(frame).unwrap();
    let e = v["data"]["E"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    now - e
}

/// Lags of the kline frames arriving within `t`, measured on arrival.
async fn collect_lags(w: &mut Ws, t: Duration) -> Vec<i64> {
    let end = Instant::now() + t;
    let mut out = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match next_any(w, left).await {
            Got::Text(s) => out.push(lag_ms(&s)),
            Got::Ping | Got::Nothing => {}
            Got::Ended => panic!("the connection ended"),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_holds_data_frames_in_order_but_not_replies() {
    let h = sim(&["--kline-push-ms", "50", "--binance-msg-rate", "50"]).await;
    let mut bn = ws(&h, "/binance/spot/stream?streams=btcusdt@kline_1m").await;
    let quick = collect_lags(&mut bn, Duration::from_millis(500)).await;
    assert!(
        quick.iter().all(|l| *l < 250),
        "lags without a delay {quick:?}"
    );

    fault(&h, r#"{"kind":"delay","ms":400}"#).await;
    let _ = collect(&mut bn, Duration::from_millis(450)).await;
    let t0 = Instant::now();
    send(&mut bn, r#"{"method":"LIST_SUBSCRIPTIONS","id":7}"#).await;
    let mut reply_after = None;
    let mut lags = Vec::new();
    let mut opens = Vec::new();
    while t0.elapsed() < SEC + SEC / 2 {
        let Some(t) = next_text(&mut bn, SEC).await else {
            break;
        };
        if t.contains("\"id\":7") {
            reply_after = Some(t0.elapsed());
        } else {
            lags.push(lag_ms(&t));
            let v: Value = serde_json::from_str(&t).unwrap();
            opens.push(v["data"]["E"].as_i64().unwrap());
        }
    }
    let reply_after = reply_after.expect("no reply to LIST_SUBSCRIPTIONS");
    assert!(
        reply_after < Duration::from_millis(200),
        "the reply was delayed: {reply_after:?}"
    );
    assert!(lags.len() > 10, "{lags:?}");
    assert!(lags.iter().all(|l| (390..900).contains(l)), "lags {lags:?}");
    assert!(opens.windows(2).all(|w| w[0] <= w[1]), "order kept");
    let s = stats(&h).await;
    assert!(s["faults"]["delayed_frames"].as_u64().unwrap() >= lags.len() as u64);
    assert_eq!(
        s["faults"]["delay"],
        serde_json::json!([{"ms":400,"path_prefix":null}])
    );

    // Lifted: what is held comes at once, then no lag.
    fault(&h, r#"{"kind":"delay","ms":0}"#).await;
    let _ = collect(&mut bn, Duration::from_millis(200)).await;
    let later = collect_lags(&mut bn, Duration::from_millis(500)).await;
    assert!(
        !later.is_empty() && later.iter().all(|l| *l < 250),
        "lags after the lift {later:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_cuts_every_nth_data_frame_never_a_reply() {
    let h = sim(&["--kline-push-ms", "50", "--candle-close-ms", "200"]).await;
    fault(&h, r#"{"kind":"truncated","every":3}"#).await;
    let mut bn = ws(&h, "/binance/spot/stream").await;
    send(
        &mut bn,
        r#"{"method":"SUBSCRIBE","params":["btcusdt@kline_1m"],"id":1}"#,
    )
    .await;
    assert_eq!(
        next_text(&mut bn, 2 * SEC).await.unwrap(),
        r#"{"result":null,"id":1}"#
    );
    let frames = collect(&mut bn, Duration::from_millis(1500)).await;
    assert!(frames.len() >= 15, "{}", frames.len());
    let mut good_closed = 0;
    for (i, f) in frames.iter().enumerate() {
        let parsed = serde_json::from_str::<Value>(f);
        if (i + 1) % 3 == 0 {
            assert!(parsed.is_err(), "frame {i} should be cut: {f}");
            assert!(f.starts_with("{\"stream\":\"btcusdt@kline_1m\""));
        } else {
            let v = parsed.unwrap_or_else(|e| panic!("frame {i} should be whole: {e}: {f}"));
            if v["data"]["k"]["x"] == true {
                good_closed += 1;
            }
        }
    }
    // The LIST reply is never cut.
    send(&mut bn, r#"{"method":"LIST_SUBSCRIPTIONS","id":2}"#).await;
    let mut replies = 0;
    for f in collect(&mut bn, Duration::from_millis(300)).await {
        if f.contains("\"id\":2") {
            assert_eq!(f, r#"{"result":["btcusdt@kline_1m"],"id":2}"#);
            replies += 1;
        }
    }
    assert_eq!(replies, 1);
    fault(&h, r#"{"kind":"clear"}"#).await;
    drop(bn);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let s = stats(&h).await;
    assert!(s["faults"]["truncated_sent"].as_u64().unwrap() >= (frames.len() / 3) as u64);
    let closed = &s["closed_candles"]["/binance/spot/stream BTCUSDT 1m"];
    assert!(closed["sent"].as_u64().unwrap() >= good_closed, "{closed}");
    assert!(closed["sent"].as_u64().unwrap() + closed["truncated"].as_u64().unwrap() >= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_pads_every_nth_data_frame_to_valid_json() {
    let h = sim(&["--kline-push-ms", "50"]).await;
    fault(
        &h,
        r#"{"kind":"oversized","every":4,"bytes":300000,"path_prefix":"/okx"}"#,
    )
    .await;
    let mut okx = ws(&h, "/okx/ws/v5/business").await;
    send(
        &mut okx,
        r#"{"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"}]}"#,
    )
    .await;
    let ack = next_text(&mut okx, 2 * SEC).await.unwrap();
    assert!(ack.len() < 200 && ack.contains("\"subscribe\""));
    let frames = collect(&mut okx, SEC).await;
    assert!(frames.len() >= 12, "{}", frames.len());
    for (i, f) in frames.iter().enumerate() {
        let v: Value = serde_json::from_str(f).unwrap();
        assert_eq!(v["arg"]["channel"], "candle1m");
        assert_eq!(v["data"][0].as_array().unwrap().len(), 9);
        if (i + 1) % 4 == 0 {
            assert_eq!(f.len(), 300_000, "frame {i}");
            assert!(v["_pad"].as_str().unwrap().bytes().all(|b| b == b'x'));
        } else {
            assert!(f.len() < 1000, "frame {i}: {} bytes", f.len());
        }
    }
    // Binance (outside the prefix) untouched.
    let mut bn = ws(&h, "/binance/spot/stream?streams=btcusdt@kline_1m").await;
    assert!(collect(&mut bn, Duration::from_millis(500))
        .await
        .iter()
        .all(|f| f.len() < 1000));
    let s = stats(&h).await;
    assert!(s["faults"]["oversized_sent"].as_u64().unwrap() >= 3);
    assert_eq!(
        s["faults"]["oversized"],
        serde_json::json!({"every":4,"bytes":300000,"path_prefix":"/okx"})
    );
    let (st, _, _) = http_raw(
        &h,
        "POST",
        "/control/fault",
        Some(r#"{"kind":"oversized","every":2,"bytes":0}"#),
    )
    .await;
    assert_eq!(st, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_lifts_every_fault_and_stats_list_them() {
    let h = sim(&[]).await;
    for body in [
        r#"{"kind":"exchange_service","fail":true}"#,
        r#"{"kind":"silence","path":"/okx/ws/v5/business"}"#,
        r#"{"kind":"malformed","every":5}"#,
        r#"{"kind":"reject_connect","status":429,"retry_after_s":3}"#,
        r#"{"kind":"handshake_error","path_prefix":"/binance/usdm"}"#,
        r#"{"kind":"ping_silence"}"#,
        r#"{"kind":"stall_market","symbol":"ETHUSDT"}"#,
        r#"{"kind":"delay","ms":300,"path_prefix":"/okx"}"#,
        r#"{"kind":"truncated","every":7}"#,
        r#"{"kind":"oversized","every":9,"bytes":2097152}"#,
    ] {
        fault(&h, body).await;
    }
    let s = stats(&h).await;
    assert_eq!(
        s["faults"]["active"],
        serde_json::json!([
            "exchange_service",
            "silence",
            "malformed",
            "reject_connect",
            "handshake_error",
            "ping_silence",
            "stall_market",
            "delay",
            "truncated",
            "oversized"
        ])
    );
    assert_eq!(
        s["faults"]["reject_connect"],
        serde_json::json!([{"status":429,"retry_after_s":3,"remaining":null,"path_prefix":null}])
    );
    let f = fault(&h, r#"{"kind":"clear"}"#).await;
    assert_eq!(f["active"], serde_json::json!([]));
    assert_eq!(f["truncated"], Value::Null);
    assert_eq!(f["oversized"], Value::Null);
    // And the sockets behave normally again.
    let mut okx = ws(&h, "/okx/ws/v5/business").await;
    send(&mut okx, "ping").await;
    assert_eq!(next_text(&mut okx, 2 * SEC).await.unwrap(), "pong");
    let (st, _, _) = http_raw(&h, "GET", "/exchange/all?exchange=okx", None).await;
    assert_eq!(st, 200);
}
