//! Integration tests: start corefeed-sim in-process on port 0 and talk to it over real
//! sockets with tokio-tungstenite and a tiny HTTP/1.1 client.

use std::time::Duration;

use corefeed_bench::sim::{spawn, SimConfig, SimHandle};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

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

async fn next_json(w: &mut Ws, t: Duration) -> Value {
    let s = next_text(w, t).await.expect("expected a text frame");
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("bad JSON {s}: {e}"))
}

async fn send(w: &mut Ws, s: &str) {
    w.send(Message::Text(s.to_string().into())).await.unwrap();
}

/// Minimal HTTP/1.1 client (responses from the sim carry content-length).
async fn http(h: &SimHandle, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        h.addr,
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

async fn http_json(h: &SimHandle, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let (st, b) = http(h, method, path, body).await;
    (st, serde_json::from_str(&b).unwrap_or(Value::Null))
}

/// Keys of a JSON object in textual order (serde_json sorts maps, so read them from the text).
fn top_level_keys(s: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let b = s.as_bytes();
    let (mut depth, mut i, mut in_str) = (0i32, 0usize, false);
    let mut start = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_str = false;
                if depth == 1 && b.get(i + 1) == Some(&b':') {
                    keys.push(s[start..i].to_string());
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

const SEC: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_combined_kline_frames() {
    let h = sim(&["--kline-push-ms", "50"]).await;
    let mut w = ws(
        &h,
        "/binance/spot/stream?streams=btcusdt@kline_1m/ethusdt@kline_5m",
    )
    .await;
    let s = next_text(&mut w, 2 * SEC).await.unwrap();
    assert_eq!(top_level_keys(&s), ["stream", "data"]);
    let v: Value = serde_json::from_str(&s).unwrap();
    let stream = v["stream"].as_str().unwrap();
    assert!(stream == "btcusdt@kline_1m" || stream == "ethusdt@kline_5m");
    let d = &v["data"];
    assert_eq!(d["e"], "kline");
    assert!(d["E"].as_i64().unwrap() > 1_600_000_000_000);
    let data_text = &s[s.find("\"data\":").unwrap() + 7..s.len() - 1];
    assert_eq!(top_level_keys(data_text), ["e", "E", "s", "k"]);
    let k_text = &data_text[data_text.find("\"k\":").unwrap() + 4..data_text.len() - 1];
    assert_eq!(
        top_level_keys(k_text),
        ["t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"]
    );
    let k = &d["k"];
    assert_eq!(k["s"], d["s"]);
    let iv = k["i"].as_str().unwrap();
    let len = if iv == "1m" { 60_000 } else { 300_000 };
    assert_eq!(k["T"].as_i64().unwrap(), k["t"].as_i64().unwrap() + len - 1);
    assert_eq!(k["t"].as_i64().unwrap() % len, 0);
    assert_eq!(k["x"], false);
    // Spot prices: fixed 8 decimals, as strings.
    let o = k["o"].as_str().unwrap();
    assert_eq!(o.split('.').nth(1).unwrap().len(), 8, "{o}");
    assert!(k["n"].is_u64());
    assert_eq!(k["B"], "0");
    // Both subscriptions are fed.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let v = next_json(&mut w, 2 * SEC).await;
        seen.insert(v["data"]["s"].as_str().unwrap().to_string());
    }
    assert!(
        seen.contains("BTCUSDT") && seen.contains("ETHUSDT"),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_subscribe_ack_list_and_errors() {
    let h = sim(&["--kline-push-ms", "50"]).await;
    let mut w = ws(&h, "/binance/spot/ws").await;
    send(
        &mut w,
        r#"{"method":"SUBSCRIBE","params":["btcusdt@kline_1m","btcusdt@bookTicker"],"id":7}"#,
    )
    .await;
    let ack = next_text(&mut w, 2 * SEC).await.unwrap();
    assert_eq!(ack, r#"{"result":null,"id":7}"#);
    send(
        &mut w,
        r#"{"method":"GET_PROPERTY","params":["nope"],"id":6}"#,
    )
    .await;
    assert_eq!(
        next_text(&mut w, 2 * SEC).await.unwrap(),
        r#"{"error":{"code":0,"msg":"Unknown property"},"id":6}"#
    );
    send(&mut w, r#"{"method":"LIST_SUBSCRIPTIONS","id":8}"#).await;
    let mut got_list = false;
    let mut got_raw_kline = false;
    let mut got_book = false;
    for _ in 0..200 {
        let v = next_json(&mut w, 2 * SEC).await;
        if v["id"] == 8 {
            assert_eq!(
                v["result"],
                serde_json::json!(["btcusdt@kline_1m", "btcusdt@bookTicker"])
            );
            got_list = true;
        } else if v["e"] == "kline" {
            // Raw /ws framing: the bare payload.
            assert!(v.get("stream").is_none());
            got_raw_kline = true;
        } else if v.get("u").is_some() {
            assert!(v.get("e").is_none(), "spot bookTicker has no e: {v}");
            assert_eq!(v["s"], "BTCUSDT");
            got_book = true;
        }
        if got_list && got_raw_kline && got_book {
            break;
        }
    }
    assert!(got_list && got_raw_kline && got_book);
    // Errors use Binance's shape.
    send(
        &mut w,
        r#"{"method":"SUBSCRIBE","params":["btcusdt@nope"],"id":9}"#,
    )
    .await;
    send(&mut w, r#"{"method":"SUBSCRIBEE","params":[],"id":10}"#).await;
    let mut errs = Vec::new();
    for _ in 0..200 {
        let v = next_json(&mut w, 2 * SEC).await;
        if v.get("error").is_some() {
            errs.push(v);
            if errs.len() == 2 {
                break;
            }
        }
    }
    assert_eq!(errs[0]["id"], 9);
    assert_eq!(errs[0]["error"]["code"], 2);
    assert_eq!(errs[0]["error"]["msg"], "Invalid request: invalid stream");
    assert_eq!(errs[1]["id"], 10);
    assert!(errs[1]["error"]["msg"]
        .as_str()
        .unwrap()
        .starts_with("Invalid request: unknown variant `SUBSCRIBEE`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_more_than_1024_streams_refused() {
    let h = sim(&["--symbols", "60"]).await;
    let intervals = [
        "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M",
    ];
    let mut names = Vec::new();
    'outer: for i in 0..60 {
        let sym = h
            .state
            .universe
            .symbol(corefeed_bench::sim::universe::Venue::BinanceSpot, i);
        for ev in [
            "ticker",
            "bookTicker",
            "miniTicker",
            "aggTrade",
            "trade",
            "depth",
        ] {
            names.push(format!("{}@{ev}", sym.to_lowercase()));
        }
        for iv in intervals {
            names.push(format!("{}@kline_{iv}", sym.to_lowercase()));
            if names.len() == 1025 {
                break 'outer;
            }
        }
    }
    assert_eq!(names.len(), 1025);
    // In the URL: the handshake is refused.
    let url = format!(
        "{}/binance/spot/stream?streams={}",
        h.ws_base(),
        names.join("/")
    );
    let err = connect_async(url).await.expect_err("handshake must fail");
    assert!(err.to_string().contains("400"), "{err}");
    // Exactly 1024 is fine.
    let url = format!(
        "{}/binance/spot/stream?streams={}",
        h.ws_base(),
        names[..1024].join("/")
    );
    let (mut w, _) = connect_async(url).await.unwrap();
    // One more by SUBSCRIBE is refused with an error reply.
    let req = serde_json::json!({"method":"SUBSCRIBE","params":[names[1024]],"id":1}).to_string();
    send(&mut w, &req).await;
    loop {
        let v = next_json(&mut w, 3 * SEC).await;
        if v.get("id").is_some() {
            assert_eq!(v["error"]["code"], 2, "{v}");
            assert!(v["error"]["msg"].as_str().unwrap().contains("1024"));
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_sends_control_frame_pings() {
    let h = sim(&["--binance-ping-secs", "0.2"]).await;
    let mut w = ws(&h, "/binance/spot/ws").await;
    let got = timeout(3 * SEC, async {
        loop {
            match w.next().await {
                Some(Ok(Message::Ping(p))) => return p,
                Some(Ok(_)) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await
    .expect("no ping within 3 s");
    assert!(!got.is_empty());
    // tungstenite answers with a pong; the connection stays open past several periods.
    tokio::time::sleep(Duration::from_millis(300)).await;
    send(&mut w, r#"{"method":"LIST_SUBSCRIPTIONS","id":1}"#).await;
    assert_eq!(
        next_text(&mut w, 2 * SEC).await.unwrap(),
        r#"{"result":[],"id":1}"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_message_rate_limit_closes() {
    let h = sim(&[]).await;
    let mut w = ws(&h, "/binance/spot/ws").await;
    for i in 0..7 {
        let _ = w
            .send(Message::Text(
                format!(r#"{{"method":"LIST_SUBSCRIPTIONS","id":{i}}}"#).into(),
            ))
            .await;
    }
    let closed = timeout(3 * SEC, async {
        loop {
            match w.next().await {
                Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("connection should be closed");
    assert_eq!(closed, Some(1008));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usdm_legacy_and_wrong_category_send_no_klines() {
    let h = sim(&["--kline-push-ms", "50"]).await;
    let mut legacy = ws(&h, "/binance/usdm/stream?streams=btcusdt@kline_1m").await;
    let mut legacy_raw = ws(&h, "/binance/usdm/ws/btcusdt@kline_1m").await;
    let mut public = ws(&h, "/binance/usdm/public/stream?streams=btcusdt@kline_1m").await;
    let mut market = ws(&h, "/binance/usdm/market/stream?streams=btcusdt@kline_1m").await;
    let v = next_json(&mut market, 2 * SEC).await;
    assert_eq!(v["stream"], "btcusdt@kline_1m");
    assert_eq!(v["data"]["k"]["s"], "BTCUSDT");
    // Futures prices use the tick decimals, not 8.
    let o = v["data"]["k"]["o"].as_str().unwrap();
    assert_eq!(o.split('.').nth(1).unwrap().len(), 2, "{o}");
    assert!(next_text(&mut legacy, Duration::from_millis(600))
        .await
        .is_none());
    assert!(next_text(&mut legacy_raw, Duration::from_millis(100))
        .await
        .is_none());
    assert!(next_text(&mut public, Duration::from_millis(100))
        .await
        .is_none());
    // The legacy socket still answers requests (the handshake and session are fine).
    send(&mut legacy, r#"{"method":"LIST_SUBSCRIPTIONS","id":3}"#).await;
    assert_eq!(
        next_text(&mut legacy, 2 * SEC).await.unwrap(),
        r#"{"result":["btcusdt@kline_1m"],"id":3}"#
    );
    // bookTicker belongs on /public, in the futures shape.
    let mut book = ws(&h, "/binance/usdm/public/stream?streams=btcusdt@bookTicker").await;
    let s = next_text(&mut book, 2 * SEC).await.unwrap();
    let data = &s[s.find("\"data\":").unwrap() + 7..s.len() - 1];
    assert_eq!(
        top_level_keys(data),
        ["e", "u", "s", "b", "B", "a", "A", "T", "E"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_candles_close_at_configured_period() {
    let h = sim(&["--kline-push-ms", "100", "--candle-close-ms", "1000"]).await;
    let mut w = ws(&h, "/binance/coinm/stream?streams=btcusd_perp@kline_1m").await;
    let first = next_json(&mut w, 2 * SEC).await;
    let t0 = first["data"]["k"]["t"].as_i64().unwrap();
    let mut closed_seen = false;
    let end = Instant::now() + 4 * SEC;
    while Instant::now() < end {
        let v = next_json(&mut w, 2 * SEC).await;
        let k = &v["data"]["k"];
        if k["x"] == true {
            assert_eq!(k["t"].as_i64().unwrap(), t0);
            closed_seen = true;
        } else if closed_seen {
            assert_eq!(k["t"].as_i64().unwrap(), t0 + 60_000);
            assert_eq!(v["data"]["s"], "BTCUSD_PERP");
            return;
        }
    }
    panic!("no closed kline followed by a new candle (closed_seen={closed_seen})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_acks_errors_and_ping() {
    let h = sim(&[]).await;
    let mut public = ws(&h, "/okx/ws/v5/public").await;
    send(
        &mut public,
        r#"{"op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"},{"channel":"tickers","instId":"ETH-USDT-SWAP"},{"channel":"candle1m","instId":"BTC-USDT"},{"channel":"tickers","instId":"NOPE-USDT"}]}"#,
    )
    .await;
    let mut acks = Vec::new();
    let mut errors = Vec::new();
    while acks.len() + errors.len() < 4 {
        let s = next_text(&mut public, 2 * SEC).await.unwrap();
        let v: Value = serde_json::from_str(&s).unwrap();
        match v["event"].as_str() {
            Some("subscribe") => {
                assert_eq!(top_level_keys(&s), ["event", "arg", "connId"]);
                acks.push(v)
            }
            Some("error") => {
                assert_eq!(top_level_keys(&s), ["event", "code", "msg", "connId"]);
                errors.push(v)
            }
            _ => {}
        }
    }
    assert_eq!(acks.len(), 2);
    assert_eq!(
        acks[0]["arg"],
        serde_json::json!({"channel":"tickers","instId":"BTC-USDT"})
    );
    let conn_id = acks[0]["connId"].as_str().unwrap();
    assert_eq!(conn_id.len(), 8);
    assert!(conn_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["code"], "60018");
    assert_eq!(
        errors[0]["msg"],
        "Wrong URL or channel:candle1m,instId:BTC-USDT doesn't exist. Please use the correct URL, channel and parameters referring to API document."
    );
    assert_eq!(errors[1]["code"], "60018");
    // Ticker pushes in the recorded shape.
    let mut tick = None;
    for _ in 0..10 {
        let s = next_text(&mut public, 3 * SEC).await.unwrap();
        if s.contains("\"channel\":\"tickers\"") && s.contains("BTC-USDT\"}") {
            tick = Some(s);
            break;
        }
    }
    let s = tick.expect("a BTC-USDT ticker push");
    let v: Value = serde_json::from_str(&s).unwrap();
    let d = &v["data"][0];
    let data_text = &s[s.find("\"data\":[").unwrap() + 8..s.len() - 2];
    assert_eq!(
        top_level_keys(data_text),
        [
            "instType",
            "instId",
            "last",
            "lastSz",
            "askPx",
            "askSz",
            "bidPx",
            "bidSz",
            "open24h",
            "high24h",
            "low24h",
            "sodUtc0",
            "sodUtc8",
            "volCcy24h",
            "vol24h",
            "ts"
        ]
    );
    assert_eq!(d["instType"], "SPOT");
    assert!(d["ts"].is_string());
    // Literal text ping → literal pong.
    send(&mut public, "ping").await;
    let mut got_pong = false;
    for _ in 0..10 {
        if next_text(&mut public, 2 * SEC).await.unwrap() == "pong" {
            got_pong = true;
            break;
        }
    }
    assert!(got_pong);
    // tickers on /business is the wrong URL too.
    let mut business = ws(&h, "/okx/ws/v5/business").await;
    send(
        &mut business,
        r#"{"op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"}]}"#,
    )
    .await;
    let v = next_json(&mut business, 2 * SEC).await;
    assert_eq!(v["event"], "error");
    assert_eq!(v["code"], "60018");
    // Unsubscribe acks per arg.
    send(
        &mut business,
        r#"{"op":"unsubscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"}]}"#,
    )
    .await;
    let v = next_json(&mut business, 2 * SEC).await;
    assert_eq!(v["event"], "unsubscribe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_idle_connection_is_closed() {
    let h = sim(&["--okx-idle-secs", "0.4"]).await;
    let mut w = ws(&h, "/okx/ws/v5/public").await;
    let start = Instant::now();
    let ended = timeout(3 * SEC, async {
        loop {
            match w.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "idle socket was not closed");
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_closed_candles_with_confirm_1() {
    let h = sim(&["--kline-push-ms", "100", "--candle-close-ms", "1000"]).await;
    let mut w = ws(&h, "/okx/ws/v5/business").await;
    send(
        &mut w,
        r#"{"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USD-SWAP"}]}"#,
    )
    .await;
    let ack = next_json(&mut w, 2 * SEC).await;
    assert_eq!(ack["event"], "subscribe");
    let mut confirmed_ts = None;
    let end = Instant::now() + 4 * SEC;
    while Instant::now() < end {
        let v = next_json(&mut w, 2 * SEC).await;
        assert_eq!(v["arg"]["channel"], "candle1m");
        assert_eq!(v["arg"]["instId"], "BTC-USD-SWAP");
        let row = v["data"][0].as_array().unwrap();
        assert_eq!(row.len(), 9);
        assert!(row.iter().all(Value::is_string));
        let ts: i64 = row[0].as_str().unwrap().parse().unwrap();
        assert_eq!(ts % 60_000, 0);
        match (row[8].as_str().unwrap(), confirmed_ts) {
            ("1", None) => confirmed_ts = Some(ts),
            ("0", Some(prev)) => {
                assert_eq!(ts, prev + 60_000);
                return;
            }
            ("0", None) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("no confirm=\"1\" candle followed by the next one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_listings_and_exchange_service() {
    let h = sim(&["--symbols", "30"]).await;
    let (st, v) = http_json(&h, "GET", "/exchange/all?exchange=binance", None).await;
    assert_eq!(st, 200);
    assert_eq!(v["status"], "OK");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 30);
    assert_eq!(
        data[0],
        serde_json::json!({"pair":"BTCUSDT","baseAsset":{"name":"BTC"},"quoteAsset":{"name":"USDT"}})
    );
    assert_eq!(data[24]["pair"], "S001USDT");
    let (_, v) = http_json(&h, "GET", "/exchange/all?exchange=okxLinear", None).await;
    assert_eq!(v["data"][0]["pair"], "BTC-USDT");
    let (_, v) = http_json(&h, "GET", "/exchange/all?exchange=okxInverse", None).await;
    assert_eq!(v["data"][0]["pair"], "BTC-USD");
    assert_eq!(v["data"][0]["quoteAsset"]["name"], "USD");
    let (_, v) = http_json(&h, "GET", "/exchange/all?exchange=kraken", None).await;
    assert_eq!(v["status"], "NOTOK");
    assert!(v["reason"].is_string());

    let (st, v) = http_json(&h, "GET", "/binance/spot/api/v3/exchangeInfo", None).await;
    assert_eq!(st, 200);
    assert_eq!(v["timezone"], "UTC");
    assert!(v["serverTime"].is_i64());
    let s0 = &v["symbols"][0];
    assert_eq!(s0["symbol"], "BTCUSDT");
    assert_eq!(s0["status"], "TRADING");
    assert_eq!(s0["baseAsset"], "BTC");
    assert_eq!(s0["quoteAsset"], "USDT");
    let (_, v) = http_json(&h, "GET", "/binance/usdm/fapi/v1/exchangeInfo", None).await;
    let s0 = &v["symbols"][1];
    assert_eq!(s0["symbol"], "ETHUSDT");
    assert_eq!(s0["pair"], "ETHUSDT");
    assert_eq!(s0["contractType"], "PERPETUAL");
    assert_eq!(s0["marginAsset"], "USDT");
    let (_, v) = http_json(&h, "GET", "/binance/coinm/dapi/v1/exchangeInfo", None).await;
    let s0 = &v["symbols"][0];
    assert_eq!(s0["symbol"], "BTCUSD_PERP");
    assert_eq!(s0["pair"], "BTCUSD");
    assert_eq!(s0["contractStatus"], "TRADING");
    let (_, v) = http_json(
        &h,
        "GET",
        "/okx/api/v5/public/instruments?instType=SWAP",
        None,
    )
    .await;
    assert_eq!(v["code"], "0");
    let d = v["data"].as_array().unwrap();
    assert_eq!(d.len(), 60);
    assert_eq!(d[0]["instId"], "BTC-USDT-SWAP");
    assert_eq!(d[0]["ctType"], "linear");
    assert_eq!(d[0]["state"], "live");
    assert_eq!(d[30]["instId"], "BTC-USD-SWAP");
    assert_eq!(d[30]["ctType"], "inverse");
    assert_eq!(d[30]["settleCcy"], "BTC");
    assert_eq!(d[30]["uly"], "BTC-USD");
    let (_, v) = http_json(
        &h,
        "GET",
        "/okx/api/v5/public/instruments?instType=SPOT",
        None,
    )
    .await;
    assert_eq!(v["data"][0]["instId"], "BTC-USDT");
    assert_eq!(v["data"][0]["ctType"], "");
    assert_eq!(v["data"][0]["baseCcy"], "BTC");

    // Fault: the exchange service answers 500.
    let (st, _) = http_json(
        &h,
        "POST",
        "/control/fault",
        Some(r#"{"kind":"exchange_service","fail":true}"#),
    )
    .await;
    assert_eq!(st, 200);
    let (st, _) = http(&h, "GET", "/exchange/all?exchange=binance", None).await;
    assert_eq!(st, 500);
    http(
        &h,
        "POST",
        "/control/fault",
        Some(r#"{"kind":"exchange_service","fail":false}"#),
    )
    .await;
    let (st, _) = http(&h, "GET", "/exchange/all?exchange=binance", None).await;
    assert_eq!(st, 200);
    let (st, _) = http(&h, "GET", "/health", None).await;
    assert_eq!(st, 200);
}

fn assert_stamp_last(s: &str) {
    let keys = top_level_keys(s);
    assert_eq!(keys.last().map(String::as_str), Some("_st"), "{s}");
    let v: Value = serde_json::from_str(s).unwrap();
    let st = v["_st"].as_u64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(st <= now && now - st < 10_000_000_000, "{st} vs {now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stamp_is_the_last_field() {
    let h = sim(&["--stamp", "--kline-push-ms", "50"]).await;
    let mut w = ws(&h, "/binance/spot/stream?streams=btcusdt@kline_1m").await;
    let s = next_text(&mut w, 2 * SEC).await.unwrap();
    assert_eq!(top_level_keys(&s), ["stream", "data", "_st"]);
    assert_stamp_last(&s);
    // Acks carry no stamp.
    send(&mut w, r#"{"method":"LIST_SUBSCRIPTIONS","id":4}"#).await;
    loop {
        let s = next_text(&mut w, 2 * SEC).await.unwrap();
        if s.contains("\"id\":4") {
            assert!(!s.contains("_st"));
            break;
        }
    }
    // Raw stream payload and OKX pushes too.
    let mut raw = ws(&h, "/binance/spot/ws/btcusdt@kline_1m").await;
    let s = next_text(&mut raw, 2 * SEC).await.unwrap();
    assert_eq!(top_level_keys(&s).first().map(String::as_str), Some("e"));
    assert_stamp_last(&s);
    let mut okx = ws(&h, "/okx/ws/v5/business").await;
    send(
        &mut okx,
        r#"{"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"}]}"#,
    )
    .await;
    let ack = next_text(&mut okx, 2 * SEC).await.unwrap();
    assert!(!ack.contains("_st"));
    let s = next_text(&mut okx, 2 * SEC).await.unwrap();
    assert_eq!(top_level_keys(&s), ["arg", "data", "_st"]);

    // Switch it off at runtime.
    let (st, v) = http_json(&h, "POST", "/control/config", Some(r#"{"stamp":false}"#)).await;
    assert_eq!(st, 200);
    assert_eq!(v["stamp"], false);
    let mut fresh = ws(&h, "/binance/spot/stream?streams=ethusdt@kline_1m").await;
    let s = next_text(&mut fresh, 2 * SEC).await.unwrap();
    assert!(!s.contains("_st"), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firehose_streams_frames() {
    let h = sim(&["--firehose", "--candle-close-ms", "300"]).await;
    let mut w = ws(
        &h,
        "/binance/usdm/market/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m/solusdt@kline_1m",
    )
    .await;
    let end = Instant::now() + SEC;
    let mut frames = 0u64;
    let mut bytes = 0usize;
    let mut closed = 0;
    let mut syms = std::collections::HashSet::new();
    while Instant::now() < end {
        let s = next_text(&mut w, 2 * SEC).await.unwrap();
        frames += 1;
        bytes += s.len();
        if frames % 97 == 0 || s.contains("\"x\":true") {
            let v: Value = serde_json::from_str(&s).unwrap();
            syms.insert(v["data"]["s"].as_str().unwrap().to_string());
            if v["data"]["k"]["x"] == true {
                closed += 1;
            }
        }
    }
    assert!(frames > 500, "only {frames} frames in ~1 s");
    let avg = bytes as u64 / frames;
    assert!((250..=450).contains(&avg), "avg frame {avg} bytes");
    assert_eq!(syms.len(), 3, "{syms:?}");
    assert!(
        closed >= 3,
        "closed candles still appear in firehose mode ({closed})"
    );
    let (_, v) = http_json(&h, "GET", "/control/stats", None).await;
    assert_eq!(v["firehose"], true);
    assert_eq!(v["connections"]["/binance/usdm/market/stream"], 1);
    assert_eq!(v["subscriptions"], 3);
    assert!(v["frames_sent"].as_u64().unwrap() > 0);

    // OKX candle sockets stream too, and the firehose can be switched off at runtime.
    let mut okx = ws(&h, "/okx/ws/v5/business").await;
    send(
        &mut okx,
        r#"{"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"}]}"#,
    )
    .await;
    let mut n = 0;
    let end = Instant::now() + Duration::from_millis(300);
    while Instant::now() < end {
        next_text(&mut okx, 2 * SEC).await.unwrap();
        n += 1;
    }
    assert!(n > 100, "okx firehose sent {n}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_faults_drop_and_silence() {
    let h = sim(&["--kline-push-ms", "50"]).await;
    let mut a = ws(&h, "/binance/spot/stream?streams=btcusdt@kline_1m").await;
    let mut b = ws(&h, "/okx/ws/v5/business").await;
    send(
        &mut b,
        r#"{"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"}]}"#,
    )
    .await;
    next_text(&mut b, 2 * SEC).await.unwrap();
    next_text(&mut a, 2 * SEC).await.unwrap();
    let (st, v) = http_json(
        &h,
        "POST",
        "/control/fault",
        Some(r#"{"kind":"silence","path":"/okx/ws/v5/business"}"#),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    // Drain what was in flight, then nothing arrives on the silenced path.
    while next_text(&mut b, Duration::from_millis(200))
        .await
        .is_some()
    {}
    assert!(next_text(&mut b, Duration::from_millis(400))
        .await
        .is_none());
    assert!(next_text(&mut a, 2 * SEC).await.is_some());
    let (_, v) = http_json(&h, "GET", "/control/stats", None).await;
    assert_eq!(v["connections"]["/okx/ws/v5/business"], 1);
    assert_eq!(v["connections"]["/binance/spot/stream"], 1);

    let (st, _) = http(&h, "POST", "/control/fault", Some(r#"{"kind":"drop_all"}"#)).await;
    assert_eq!(st, 200);
    for w in [&mut a, &mut b] {
        let ended = timeout(3 * SEC, async {
            loop {
                match w.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => continue,
                }
            }
        })
        .await;
        assert!(ended.is_ok());
    }
    let (st, _) = http(&h, "POST", "/control/fault", Some(r#"{"kind":"bogus"}"#)).await;
    assert_eq!(st, 400);
}
