//! User streams end to end (issue 3), with real processes and real services: corefeed-sim's
//! private side (Binance WS-API and listen keys, OKX login) → corefeed → real Redis
//! (PSUBSCRIBE) and real RabbitMQ. Rooms are opened by `usersStreamAction` commands over
//! RabbitMQ; accounts are driven through the simulator's `/control/user/*` API.
//!
//! Needs `cargo build --bins` first (`make test` does it) and Redis/RabbitMQ on localhost.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
mod common;
use common::users::*;
use common::*;

/// Decimal texts equal as numbers ("50.250" == "50.25").
fn dec_eq(a: &Value, b: &str) -> bool {
    let a = match a {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return false,
    };
    let norm = |s: &str| {
        let s = s.trim();
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s.to_owned()
        }
    };
    norm(&a) == norm(b)
}

struct Venue {
    provider: &'static str,
    symbol: &'static str,
    secret: &'static str,
    passphrase: Option<&'static str>,
    /// `executionReport` (spot shape) or `ORDER_TRADE_UPDATE` (Binance futures).
    order_event: &'static str,
}

const VENUES: [Venue; 6] = [
    Venue {
        provider: "binance",
        symbol: "BTCUSDT",
        secret: ED25519_PEM,
        passphrase: None,
        order_event: "executionReport",
    },
    Venue {
        provider: "binanceUsdm",
        symbol: "BTCUSDT",
        secret: "usdm-hmac-secret",
        passphrase: None,
        order_event: "ORDER_TRADE_UPDATE",
    },
    Venue {
        provider: "binanceCoinm",
        symbol: "BTCUSD_PERP",
        secret: "coinm-hmac-secret",
        passphrase: None,
        order_event: "ORDER_TRADE_UPDATE",
    },
    Venue {
        provider: "okx",
        symbol: "BTC-USDT",
        secret: "okx-secret",
        passphrase: Some("okx-pass"),
        order_event: "executionReport",
    },
    Venue {
        provider: "okxLinear",
        symbol: "BTC-USDT-SWAP",
        secret: "okx-lin-secret",
        passphrase: Some("okx-pass-2"),
        order_event: "executionReport",
    },
    Venue {
        provider: "okxInverse",
        symbol: "BTC-USD-SWAP",
        secret: "okx-inv-secret",
        passphrase: Some("okx-pass-3"),
        order_event: "executionReport",
    },
];

/// The order's own client id: a Binance spot cancel carries the cancel request's id in `c`
/// and the order's in `C` (`originalClientOrderId`).
fn client_id_of(v: &Value) -> String {
    if let Some(orig) = v
        .get("originalClientOrderId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        return orig.to_owned();
    }
    v.get("newClientOrderId")
        .or_else(|| v.get("clientOrderId"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// Every provider: a room opened over RabbitMQ receives one order's whole life (new, partial
/// fill, fill) and another's cancel, in the seed's shapes, on Redis and on RabbitMQ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_lives_reach_redis_and_rabbitmq_for_every_provider() {
    let h = Harness::start("users", &[], "", &[]).await;
    for (i, v) in VENUES.iter().enumerate() {
        let key = format!("key-{}-{i}", v.provider);
        let mut acct = json!({"provider": v.provider, "key": key, "secret": v.secret});
        if let Some(p) = v.passphrase {
            acct["passphrase"] = json!(p);
        }
        h.sim("/control/user/accounts", acct);
        let room = format!("room-{}-{}", v.provider, std::process::id());
        h.open(
            &room,
            &format!("user-{i}"),
            v.provider,
            &key,
            v.secret,
            v.passphrase,
        )
        .await;
        h.wait_subscribed(&room, 1).await;

        // Binance ids beyond 2^53 stay exact (seed §5.1.1).
        let big = v.provider.starts_with("binance");
        let mut order = json!({"provider": v.provider, "key": key, "symbol": v.symbol, "side": "BUY",
            "type": "LIMIT", "qty": "0.5", "price": "100.5", "clientOrderId": format!("D-TP-{i}-a")});
        if big {
            order["orderId"] = json!(format!("922337203685477{i}001"));
        }
        let a = h.sim("/control/user/order", order);
        let oid_a = a["orderId"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| a["orderId"].to_string());
        h.sim("/control/user/fill", json!({"provider": v.provider, "key": key, "orderId": oid_a, "qty": "0.2", "price": "100.5", "fee": "0.01"}));
        h.sim("/control/user/fill", json!({"provider": v.provider, "key": key, "orderId": oid_a, "qty": "0.3", "price": "100.5", "fee": "0.015"}));
        let b = h.sim(
            "/control/user/order",
            json!({"provider": v.provider, "key": key, "symbol": v.symbol, "side": "SELL",
            "type": "LIMIT", "qty": "1", "price": "200", "clientOrderId": format!("D-TP-{i}-b")}),
        );
        let oid_b = b["orderId"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| b["orderId"].to_string());
        h.sim(
            "/control/user/cancel",
            json!({"provider": v.provider, "key": key, "orderId": oid_b}),
        );

        let r = room.clone();
        let ev = v.order_event;
        let got = h
            .wait_redis(5, 15, move |c, p| c == r && p.contains(ev))
            .await;
        assert_eq!(
            got.len(),
            5,
            "{}: order events on Redis: {got:?}; log {}",
            v.provider,
            h.log_path.display()
        );
        let events = h.room_events(&room, v.order_event);
        let life: Vec<(String, String)> = events
            .iter()
            .map(|e| {
                (
                    client_id_of(e),
                    e["orderStatus"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let (ca, cb) = (format!("D-TP-{i}-a"), format!("D-TP-{i}-b"));
        assert_eq!(
            life,
            vec![
                (ca.clone(), "NEW".into()),
                (ca.clone(), "PARTIALLY_FILLED".into()),
                (ca.clone(), "FILLED".into()),
                (cb.clone(), "NEW".into()),
                (cb.clone(), "CANCELED".into()),
            ],
            "{}",
            v.provider
        );
        let filled = &events[2];
        assert_eq!(
            filled["symbol"].as_str().unwrap_or(""),
            v.symbol.trim_end_matches("-SWAP"),
            "{}: {filled}",
            v.provider
        );
        assert_eq!(filled["side"], "BUY");
        assert!(
            dec_eq(&filled["totalTradeQuantity"], "0.5"),
            "{}: {filled}",
            v.provider
        );
        assert!(
            dec_eq(&filled["quantity"], "0.5"),
            "{}: {filled}",
            v.provider
        );
        if v.order_event == "executionReport" {
            assert!(
                dec_eq(&filled["totalQuoteTradeQuantity"], "50.25"),
                "{}: {filled}",
                v.provider
            );
            assert_eq!(filled["orderType"], "LIMIT");
        } else {
            assert!(
                dec_eq(&filled["averagePrice"], "100.5"),
                "{}: {filled}",
                v.provider
            );
        }
        if big {
            assert_eq!(
                filled["orderId"],
                json!(format!("922337203685477{i}001")),
                "{}: ids above 2^53 are exact strings",
                v.provider
            );
        } else {
            assert_eq!(
                filled["orderId"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| filled["orderId"].to_string()),
                oid_a
            );
        }
        for e in &events {
            assert!(
                e["uniqueMessageId"].as_str().is_some_and(|s| !s.is_empty()),
                "{e}"
            );
            assert!(
                e["eventTime"]
                    .as_u64()
                    .is_some_and(|t| t > 1_700_000_000_000),
                "{e}"
            );
        }

        // RabbitMQ: the same five order messages, data identical to the Redis payloads.
        let rk = format!("order.{}.{}", v.provider, room.replace('.', "_"));
        let t0 = Instant::now();
        let orders = loop {
            let o: Vec<AmqpMsg> = h
                .amqp
                .lock()
                .unwrap()
                .iter()
                .filter(|m| m.routing_key == rk)
                .cloned()
                .collect();
            if o.len() >= 5 || t0.elapsed() > Duration::from_secs(10) {
                break o;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        assert_eq!(orders.len(), 5, "{}: AMQP order messages", v.provider);
        for (m, e) in orders.iter().zip(&events) {
            assert_eq!(&m.body["data"], e, "{}", v.provider);
            assert_eq!(m.body["roomId"], json!(room));
            assert_eq!(m.body["userId"], json!(format!("user-{i}")));
            assert_eq!(m.body["provider"], json!(v.provider));
            assert_eq!(m.message_id, e["uniqueMessageId"].as_str().unwrap());
            assert!(m.persistent);
        }
        // Balances after the fills (every venue pushes one per fill).
        let balances = h
            .redis
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, p)| *c == room && !p.contains(ev))
            .count();
        assert!(balances >= 1, "{}: no balance event", v.provider);
    }
    // The admin API lists every room; never a secret.
    // (The shards publish their session status every 250 ms.)
    let t0 = Instant::now();
    let (code, body) = loop {
        let (code, body) = http_get_auth(h.http_port, "/v1/rooms", "e2e-token").unwrap();
        let settled = body.matches("\"subscribed\"").count() == VENUES.len()
            && !body.contains("\"lastEventMs\":0");
        if settled || t0.elapsed() > Duration::from_secs(3) {
            break (code, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(code, 200, "{body}");
    let rooms: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        rooms["rooms"].as_array().map(Vec::len),
        Some(VENUES.len()),
        "{body}"
    );
    for r in rooms["rooms"].as_array().unwrap() {
        assert_eq!(r["state"], "subscribed", "{r}");
        assert!(r["lastEventMs"].as_u64().unwrap_or(0) > 0, "{r}");
    }
    assert!(!body.contains("secret") && !body.contains("key-"), "{body}");
    // No undelivered events in the simulator: corefeed was subscribed for every one.
    let stats = h.sim_stats().to_string();
    assert!(!stats.contains("\"undelivered\":1"), "{stats}");
    h.stop();
}

/// A Binance futures listen key kept alive by PUT never expires; one that expires mid-stream
/// is replaced at once, the reconcile signal is sent again, and nothing sent while corefeed was
/// subscribed is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_key_keepalive_and_expiry_lose_nothing() {
    let h = Harness::start(
        "listenkey",
        &["--listen-key-ttl-ms", "3000"],
        "[users]\nlisten_key_keepalive_s = 1\n",
        &[],
    )
    .await;
    let key = "lk-usdm-key";
    h.sim(
        "/control/user/accounts",
        json!({"provider": "binanceUsdm", "key": key, "secret": "lk-secret"}),
    );
    let room = format!("room-lk-{}", std::process::id());
    h.open(&room, "user-lk", "binanceUsdm", key, "lk-secret", None)
        .await;
    h.wait_subscribed(&room, 1).await;
    // Longer than the 3 s validity: only the PUTs keep it alive.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stats = h.sim_stats();
    let acct = find_account(&stats, "binanceUsdm");
    assert!(
        acct["listen_keys"]["kept_alive"].as_u64().unwrap_or(0) >= 2,
        "{acct}"
    );
    assert_eq!(
        acct["listen_keys"]["expired"].as_u64().unwrap_or(0),
        0,
        "{acct}"
    );

    let mut sent = 0;
    let mut place = |n: usize, tag: &str| {
        for j in 0..n {
            h.sim("/control/user/order", json!({"provider": "binanceUsdm", "key": key, "symbol": "BTCUSDT", "side": "BUY",
                "type": "LIMIT", "qty": "1", "price": "10", "clientOrderId": format!("lk-{tag}-{j}")}));
            sent += 1;
        }
    };
    place(3, "before");
    h.sim(
        "/control/user/expire_listen_key",
        json!({"provider": "binanceUsdm", "key": key}),
    );
    let expired = h
        .wait_redis(1, 10, |c, p| {
            c == room && p.contains("USER_DATA_STREAM_EXPIRED")
        })
        .await;
    assert_eq!(expired.len(), 1, "USER_DATA_STREAM_EXPIRED published");
    h.wait_subscribed(&room, 2).await;
    place(3, "after");
    let got = h
        .wait_redis(sent, 10, |c, p| {
            c == room && p.contains("ORDER_TRADE_UPDATE")
        })
        .await;
    assert_eq!(
        got.len(),
        sent,
        "every order event published; log {}",
        h.log_path.display()
    );
    let stats = h.sim_stats();
    let acct = find_account(&stats, "binanceUsdm");
    assert_eq!(
        acct["events"]["undelivered"].as_u64().unwrap_or(0),
        0,
        "{acct}"
    );
    h.stop();
}

/// Rejected credentials trip the breaker (reported once, no reconnect loop, opens with the
/// same credentials gated); new credentials lift it at once and the first account event
/// reports the recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_key_trips_the_breaker_and_a_new_key_lifts_it() {
    let h = Harness::start("breaker", &[], "", &[]).await;
    // OKX: a wrong secret fails login (60009): rejected at first sight.
    h.sim(
        "/control/user/accounts",
        json!({"provider": "okx", "key": "okx-k", "secret": "right-secret", "passphrase": "pp"}),
    );
    let room = format!("room-breaker-{}", std::process::id());
    h.open(&room, "user-b", "okx", "okx-k", "wrong-secret", Some("pp"))
        .await;
    let rejects = {
        let t0 = Instant::now();
        loop {
            let r = h.service_log("userStreamAuthReject");
            if !r.is_empty() || t0.elapsed() > Duration::from_secs(15) {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0]["exchangeUUID"], json!(room));
    assert_eq!(rejects[0]["exchange"], "okx");
    assert_eq!(rejects[0]["userId"], "user-b");
    assert_eq!(rejects[0]["kind"], "authReject");
    // The same credentials again: gated, no new login attempt.
    h.open(&room, "user-b", "okx", "okx-k", "wrong-secret", Some("pp"))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let m = h.metrics();
    assert_eq!(metric(&m, "corefeed_auth_trips_total"), 1.0, "{m}");
    assert_eq!(metric(&m, "corefeed_auth_gated_opens_total"), 1.0);
    let stats = h.sim_stats();
    let acct = find_account(&stats, "okx");
    assert_eq!(
        acct["logins"]["failed"].as_u64(),
        Some(1),
        "no reconnect loop: {acct}"
    );
    assert_eq!(
        h.service_log("userStreamAuthReject").len(),
        1,
        "reported once"
    );
    let (_, rooms) = http_get_auth(h.http_port, "/v1/rooms", "e2e-token").unwrap();
    assert!(rooms.contains("authCooldown"), "{rooms}");

    // New credentials (a different fingerprint) lift the gate at once.
    h.open(&room, "user-b", "okx", "okx-k", "right-secret", Some("pp"))
        .await;
    h.wait_subscribed(&room, 1).await;
    h.sim(
        "/control/user/order",
        json!({"provider": "okx", "key": "okx-k", "symbol": "BTC-USDT", "side": "BUY",
        "type": "LIMIT", "qty": "1", "price": "10", "clientOrderId": "after-lift"}),
    );
    let t0 = Instant::now();
    while h.service_log("userStreamAuthRecovered").is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no userStreamAuthRecovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        h.service_log("userStreamAuthRecovered")[0],
        json!({"exchangeUUID": room})
    );

    // Binance futures: a refused key (HTTP 401 / -2015 on the listen key) strikes three times
    // within the window, then trips; the REST calls stop.
    h.sim(
        "/control/user/accounts",
        json!({"provider": "binanceUsdm", "key": "bad-usdm", "secret": "s"}),
    );
    h.sim(
        "/control/user/reject",
        json!({"provider": "binanceUsdm", "key": "bad-usdm", "reject": true}),
    );
    let room2 = format!("room-strikes-{}", std::process::id());
    h.open(&room2, "user-s", "binanceUsdm", "bad-usdm", "s", None)
        .await;
    let t0 = Instant::now();
    while h.service_log("userStreamAuthReject").len() < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "binanceUsdm strikes never tripped; log {}",
            h.log_path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = h.service_log("userStreamAuthReject");
    assert_eq!(r[1]["exchangeUUID"], json!(room2));
    assert_eq!(
        metric(&h.metrics(), "corefeed_auth_strikes_total"),
        4.0,
        "1 OKX reject + 3 Binance strikes"
    );
    h.stop();
}

/// Secrets (key, secret, passphrase, listen key) never appear in a log line (debug level),
/// `/metrics`, the admin API, a Redis message or key, or a RabbitMQ message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_any_output() {
    let h = Harness::start("secrets", &[], "", &[("LOG_LEVEL", "debug")]).await;
    let secrets = [
        (
            "binanceUsdm",
            "SECRETKEYusdm7f3a9",
            "SECRETSECRETusdm2b81",
            None,
        ),
        ("binance", "SECRETKEYspot0c4d1", ED25519_PEM, None),
        (
            "okx",
            "SECRETKEYokx55e2a",
            "SECRETSECRETokx9d0c",
            Some("SECRETPASSokx13f7"),
        ),
    ];
    let mut needles: Vec<String> = Vec::new();
    for (i, (p, key, secret, pass)) in secrets.iter().enumerate() {
        let mut acct = json!({"provider": p, "key": key, "secret": secret});
        if let Some(pp) = pass {
            acct["passphrase"] = json!(pp);
        }
        h.sim("/control/user/accounts", acct);
        let room = format!("room-secret-{i}-{}", std::process::id());
        h.open(&room, "user-x", p, key, secret, *pass).await;
        h.wait_subscribed(&room, 1).await;
        let sym = match *p {
            "okx" => "BTC-USDT",
            _ => "BTCUSDT",
        };
        h.sim("/control/user/order", json!({"provider": p, "key": key, "symbol": sym, "side": "BUY",
            "type": "LIMIT", "qty": "1", "price": "10", "clientOrderId": format!("D-TP-secret-{i}")}));
        needles.push(key.to_string());
        if !secret.contains("PRIVATE KEY") {
            needles.push(secret.to_string());
        } else {
            needles.push("MC4CAQAwBQYDK2VwBCIEIDe3TbsFZ4YtHVAA3AIcKW3QanVPyZ3XoIZfso0cC2eB".into());
        }
        if let Some(pp) = pass {
            needles.push(pp.to_string());
        }
    }
    // The listen key: the venue returns the active key to a second POST with the same API key.
    let lk: Value = ureq::post(&format!("http://{}/binance/usdm/fapi/v1/listenKey", h.sim))
        .set("X-MBX-APIKEY", "SECRETKEYusdm7f3a9")
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let lk = lk["listenKey"].as_str().unwrap().to_owned();
    assert!(lk.len() >= 32);
    needles.push(lk);
    h.wait_redis(3, 10, |c, p| {
        c.starts_with("room-secret-") && p.contains("D-TP-secret-")
    })
    .await;

    let mut outputs: Vec<(String, String)> = Vec::new();
    outputs.push(("metrics".into(), h.metrics()));
    for path in ["/v1/rooms", "/v1/sockets", "/v1/subscriptions"] {
        outputs.push((
            path.into(),
            http_get_auth(h.http_port, path, "e2e-token").unwrap().1,
        ));
    }
    outputs.push(("ready".into(), http_get(h.http_port, "/ready").unwrap().1));
    for (c, p) in h.redis.lock().unwrap().iter() {
        outputs.push((format!("redis {c}"), format!("{c} {p}")));
    }
    let mut r = redis::Client::open("redis://127.0.0.1:6379")
        .unwrap()
        .get_connection()
        .unwrap();
    let orders: Vec<String> = redis::cmd("HVALS").arg("orders").query(&mut r).unwrap();
    outputs.push(("orders hash".into(), orders.join("\n")));
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg("stream:lastEventTime")
        .arg(0)
        .arg(-1)
        .query(&mut r)
        .unwrap();
    outputs.push(("lastEventTime".into(), members.join("\n")));
    for m in h.amqp.lock().unwrap().iter() {
        outputs.push((
            format!("amqp {}", m.routing_key),
            format!("{} {} {}", m.routing_key, m.message_id, m.body),
        ));
    }
    let log_path = h.log_path.clone();
    let log = h.stop();
    outputs.push(("log".into(), log));
    let _ = std::fs::remove_file(log_path);
    assert!(
        outputs.iter().any(|(n, _)| n.starts_with("amqp order")),
        "the stream ran"
    );
    for (name, text) in &outputs {
        for n in &needles {
            if let Some(i) = text.find(n.as_str()) {
                let ctx: String = text[i.saturating_sub(300)..i].chars().collect();
                panic!("a secret ({}…) leaked into {name}, after: {ctx}", &n[..6]);
            }
        }
    }
    let _: () = redis::cmd("HDEL")
        .arg("orders")
        .arg("D-TP-secret-0")
        .arg("D-TP-secret-1")
        .arg("D-TP-secret-2")
        .query(&mut r)
        .unwrap_or(());
}

/// The admin API drives rooms like the RabbitMQ commands (open, reference, restart with a new
/// reconcile signal, release, close and forget), and `okxSource` picks the regional host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_rooms_and_okx_regional_host() {
    let h = Harness::start("admin", &[], "", &[]).await;
    h.sim(
        "/control/user/accounts",
        json!({"provider": "okx", "key": "adm-key", "secret": "adm-secret", "passphrase": "adm-pass"}),
    );
    let room = format!("room-admin-{}", std::process::id());
    let open = json!({"event": "open stream", "uuid": room, "data": {"userId": "u-adm",
        "api": {"key": "adm-key", "secret": "adm-secret", "passphrase": "adm-pass", "provider": "okx", "okxSource": "my"}}})
    .to_string();
    assert_eq!(
        http_post(h.http_port, "/v1/rooms", Some("wrong"), &open)
            .unwrap()
            .0,
        401
    );
    let (code, body) = http_post(h.http_port, "/v1/rooms", Some("e2e-token"), &open).unwrap();
    assert_eq!((code, body.as_str()), (201, r#"{"result":"opened"}"#));
    h.wait_subscribed(&room, 1).await;
    let stats = h.sim_stats();
    let acct = find_account(&stats, "okx");
    assert_eq!(
        acct["logins"]["by_path"]["/okx/eea/ws/v5/private"].as_u64(),
        Some(1),
        "okxSource my ⇒ the EEA host: {acct}"
    );
    h.sim(
        "/control/user/order",
        json!({"provider": "okx", "key": "adm-key", "symbol": "BTC-USDT",
        "side": "BUY", "type": "LIMIT", "qty": "1", "price": "10", "clientOrderId": "adm-1"}),
    );
    let r = room.clone();
    assert_eq!(h.wait_redis(1, 10, move |c, _| c == r).await.len(), 1);
    // Restart: close, pause, re-open, and a second reconcile signal.
    let (code, _) = http_post(
        h.http_port,
        &format!("/v1/rooms/{room}/restart"),
        Some("e2e-token"),
        "",
    )
    .unwrap();
    assert_eq!(code, 202);
    h.wait_subscribed(&room, 2).await;
    // A second open is a reference; two deletes release then close.
    let (code, body) = http_post(h.http_port, "/v1/rooms", Some("e2e-token"), &open).unwrap();
    assert_eq!((code, body.as_str()), (200, r#"{"result":"referenced"}"#));
    assert_eq!(
        http_delete(h.http_port, &format!("/v1/rooms/{room}"), "e2e-token"),
        (200, r#"{"result":"released"}"#.to_owned())
    );
    assert_eq!(
        http_delete(h.http_port, &format!("/v1/rooms/{room}"), "e2e-token"),
        (200, r#"{"result":"closed"}"#.to_owned())
    );
    assert_eq!(
        http_delete(h.http_port, &format!("/v1/rooms/{room}"), "e2e-token").0,
        404
    );
    let (_, rooms) = http_get_auth(h.http_port, "/v1/rooms", "e2e-token").unwrap();
    assert_eq!(rooms, r#"{"rooms":[]}"#);
    // The closed room left the liveness set, and its socket is gone at the venue.
    let mut c = redis::Client::open("redis://127.0.0.1:6379")
        .unwrap()
        .get_connection()
        .unwrap();
    let t0 = Instant::now();
    loop {
        let s: Option<u64> = redis::cmd("ZSCORE")
            .arg("stream:lastEventTime")
            .arg(&room)
            .query(&mut c)
            .unwrap();
        if s.is_none() {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "ZREM on close");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t0 = Instant::now();
    loop {
        let stats = h.sim_stats();
        let open_sockets: u64 = find_account(&stats, "okx")["sockets"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        if open_sockets == 0 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "socket still open at the venue: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.stop();
}

fn http_delete(port: u16, path: &str, token: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "DELETE {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let code = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, buf.split("\r\n\r\n").nth(1).unwrap_or("").to_owned())
}

/// Seed §11 spec 008: after the Binance WS-API connection drops, corefeed logs on and
/// subscribes again, sends the reconcile signal only after the venue accepted, and events flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_ws_api_resubscribes_after_a_reconnect() {
    let h = Harness::start("wsapi", &[], "", &[]).await;
    let key = "wsapi-key";
    h.sim(
        "/control/user/accounts",
        json!({"provider": "binance", "key": key, "secret": ED25519_PEM}),
    );
    let room = format!("room-wsapi-{}", std::process::id());
    h.open(&room, "u-wsapi", "binance", key, ED25519_PEM, None)
        .await;
    h.wait_subscribed(&room, 1).await;
    for round in 0..2 {
        h.sim(
            "/control/user/drop",
            json!({"provider": "binance", "key": key}),
        );
        h.wait_subscribed(&room, 2 + round).await;
        h.sim("/control/user/order", json!({"provider": "binance", "key": key, "symbol": "BTCUSDT",
            "side": "BUY", "type": "LIMIT", "qty": "1", "price": "10", "clientOrderId": format!("ws-{round}")}));
        let r = room.clone();
        let want = format!("ws-{round}");
        let got = h
            .wait_redis(1, 10, move |c, p| c == r && p.contains(&want))
            .await;
        assert_eq!(got.len(), 1, "events flow after reconnect {round}");
    }
    let stats = h.sim_stats();
    let acct = find_account(&stats, "binance");
    assert_eq!(
        acct["logins"]["ok"].as_u64(),
        Some(3),
        "a logon per connection: {acct}"
    );
    assert_eq!(acct["events"]["undelivered"].as_u64(), Some(0), "{acct}");
    let m = h.metrics();
    assert_eq!(metric(&m, "corefeed_auth_trips_total"), 0.0);
    h.stop();
}
