//! Binance private frames → the seed's Redis payloads (seed §5.1–§5.3, `convert` /
//! `convertFutures`). Pure; one frame in, zero or more [`UserMessage`]s out.
//!
//! * Spot (`binance`): WS-API events wrapped `{"subscriptionId":N,"event":{…}}` and bare legacy
//!   events: `executionReport`, `outboundAccountPosition`, `outboundAccountInfo` (legacy, as
//!   `eventType:"account"`), `balanceUpdate`; WS-API responses; `eventStreamTerminated`.
//! * Futures (`binanceUsdm`, `binanceCoinm`): `ORDER_TRADE_UPDATE`, `ACCOUNT_UPDATE`,
//!   `MARGIN_CALL`, `ACCOUNT_CONFIG_UPDATE`, `listenKeyExpired` → `USER_DATA_STREAM_EXPIRED`.
//!
//! Every value is copied from its original JSON text with the seed's JS semantics
//! (`JSON.parse` then `JSON.stringify`): absent members are omitted, strings stay strings,
//! numbers print as JS numbers (integers keep all their digits), and an order id `i` above
//! 2^53 − 1 becomes a JSON string with its exact digits (§5.1.1). Known event types the seed
//! does not publish (`externalLockUpdate`, `TRADE_LITE`, `ALGO_UPDATE`, spot events on a futures
//! socket, …) give [`FrameInfo::Ignored`]; frames of no Binance shape are errors.

use serde_json::value::RawValue;

use crate::error::DecodeError;
use crate::exchanges::user::{
    js_template, opt_str, parse_obj, raw_i64, raw_id, raw_kind, raw_str, req_arr, req_obj, AckOp,
    AuthSignal, FrameInfo, JsonObj, Obj, RawKind, UserKind, UserMessage,
};
use crate::types::Provider;

/// Binance error codes that count toward the auth-rejection breaker (seed §7.3).
pub const AUTH_STRIKE_CODES: [i64; 3] = [-2015, -2014, -2008];
/// A message that rejects at first sight (seed §7.3).
pub const AUTH_REJECT_MESSAGE: &str = "WebSocket session not authenticated";

/// Normalizes one Binance private frame for `provider` (`binance`, `binanceUsdm`,
/// `binanceCoinm`, or their paper variants' real providers). `now_ms` is unused by Binance
/// (every payload carries the venue's times) and kept for a uniform signature.
pub fn normalize(
    provider: Provider,
    frame: &str,
    _now_ms: u64,
    out: &mut Vec<UserMessage>,
) -> Result<FrameInfo, DecodeError> {
    let futures = match provider.real() {
        Provider::Binance => false,
        Provider::BinanceUsdm | Provider::BinanceCoinm => true,
        _ => return Err(DecodeError::Unsupported(provider)),
    };
    let obj = parse_obj(frame)?;
    if let (Some(sid), Some(event)) = (obj.get("subscriptionId"), obj.get("event")) {
        if raw_kind(event) != RawKind::Obj {
            return Err(DecodeError::BadField {
                field: "event",
                why: "not an object",
            });
        }
        let sid = raw_id(sid).and_then(|s| s.parse().ok());
        let event = parse_obj(event.get())?;
        return event_frame(futures, &event, sid, out);
    }
    if obj.contains_key("e") {
        return event_frame(futures, &obj, None, out);
    }
    if obj.contains_key("id") || obj.contains_key("status") {
        return response(&obj);
    }
    Err(DecodeError::Unknown)
}

fn response(obj: &Obj<'_>) -> Result<FrameInfo, DecodeError> {
    let id = obj.get("id").and_then(|r| raw_id(r));
    let status = match obj.get("status") {
        Some(raw) => Some(raw_i64(raw).and_then(|v| u16::try_from(v).ok()).ok_or(
            DecodeError::BadField {
                field: "status",
                why: "not an HTTP status",
            },
        )?),
        None => None,
    };
    if let Some(err) = obj.get("error") {
        if raw_kind(err) != RawKind::Obj {
            return Err(DecodeError::BadField {
                field: "error",
                why: "not an object",
            });
        }
        let err = parse_obj(err.get())?;
        let code = err.get("code").and_then(|r| raw_i64(r)).unwrap_or(0);
        let message = opt_str(&err, "msg")?.unwrap_or_default();
        let auth = if message.contains(AUTH_REJECT_MESSAGE) {
            AuthSignal::Reject
        } else if AUTH_STRIKE_CODES.contains(&code) || status == Some(401) {
            AuthSignal::Strike
        } else {
            AuthSignal::None
        };
        return Ok(FrameInfo::Error {
            id,
            status,
            code,
            message,
            auth,
        });
    }
    match status {
        Some(200) | None if obj.contains_key("result") || status.is_some() => {
            let subscription_id = obj
                .get("result")
                .filter(|r| raw_kind(r) == RawKind::Obj)
                .and_then(|r| parse_obj(r.get()).ok())
                .and_then(|r| r.get("subscriptionId").and_then(|s| raw_id(s)))
                .and_then(|s| s.parse().ok());
            Ok(FrameInfo::Ack {
                op: AckOp::Response,
                id,
                subscription_id,
                channel: None,
            })
        }
        Some(s) => Ok(FrameInfo::Error {
            id,
            status: Some(s),
            code: 0,
            message: String::new(),
            auth: if s == 401 {
                AuthSignal::Strike
            } else {
                AuthSignal::None
            },
        }),
        None => Err(DecodeError::Unknown),
    }
}

fn event_frame(
    futures: bool,
    ev: &Obj<'_>,
    subscription_id: Option<u64>,
    out: &mut Vec<UserMessage>,
) -> Result<FrameInfo, DecodeError> {
    let e = ev
        .get("e")
        .and_then(|r| raw_str(r))
        .ok_or(DecodeError::BadField {
            field: "e",
            why: "not a string",
        })?;
    let before = out.len();
    match (futures, e.as_str()) {
        (_, "eventStreamTerminated") => {
            return Ok(FrameInfo::EventStreamTerminated { subscription_id })
        }
        (false, "listenKeyExpired") => return Ok(FrameInfo::ListenKeyExpired { messages: 0 }),
        (true, "listenKeyExpired") => {
            out.push(user_data_stream_expired(ev));
            return Ok(FrameInfo::ListenKeyExpired { messages: 1 });
        }
        (false, "executionReport") => out.push(execution_report(ev)?),
        (false, "outboundAccountPosition") => out.push(outbound_account_position(ev)?),
        (false, "outboundAccountInfo") => out.push(outbound_account_info(ev)?),
        (false, "balanceUpdate") => out.push(balance_update(ev)),
        (true, "ORDER_TRADE_UPDATE") => out.push(order_trade_update(ev)?),
        (true, "ACCOUNT_UPDATE") => out.push(account_update(ev)?),
        (true, "MARGIN_CALL") => out.push(margin_call(ev)?),
        (true, "ACCOUNT_CONFIG_UPDATE") => out.push(account_config_update(ev)?),
        _ => return Ok(FrameInfo::Ignored),
    }
    Ok(FrameInfo::Data {
        messages: out.len() - before,
    })
}

fn tpl(o: &Obj<'_>, k: &str) -> String {
    js_template(o.get(k))
}

fn client_id(o: &Obj<'_>, k: &str) -> Option<String> {
    o.get(k).and_then(|r| raw_str(r))
}

fn message(kind: UserKind, json: String, umid: String, genuine: bool) -> UserMessage {
    UserMessage {
        kind,
        json,
        unique_message_id: umid,
        client_order_id: None,
        order_status: None,
        genuine_account_event: genuine,
        liquidation: false,
    }
}

/// Spot `executionReport` (seed `convert().executionReport`, key order as the seed).
fn execution_report(m: &Obj<'_>) -> Result<UserMessage, DecodeError> {
    let umid = format!(
        "executionReport{}{}{}{}{}{}{}{}",
        tpl(m, "E"),
        tpl(m, "s"),
        tpl(m, "X"),
        tpl(m, "q"),
        tpl(m, "p"),
        tpl(m, "S"),
        tpl(m, "c"),
        tpl(m, "C")
    );
    let mut j = JsonObj::new();
    j.str("eventType", "executionReport")
        .pass("eventTime", m.get("E"))
        .pass("symbol", m.get("s"))
        .pass("newClientOrderId", m.get("c"))
        .pass("originalClientOrderId", m.get("C"))
        .pass("side", m.get("S"))
        .pass("orderType", m.get("o"))
        .pass("timeInForce", m.get("f"))
        .pass("quantity", m.get("q"))
        .pass("price", m.get("p"))
        .pass("executionType", m.get("x"))
        .pass("stopPrice", m.get("P"))
        .pass("icebergQuantity", m.get("F"))
        .pass("orderStatus", m.get("X"))
        .pass("orderRejectReason", m.get("r"))
        .pass_id("orderId", m.get("i"))
        .pass("orderTime", m.get("T"))
        .pass("lastTradeQuantity", m.get("l"))
        .pass("totalTradeQuantity", m.get("z"))
        .pass("priceLastTrade", m.get("L"))
        .pass("commission", m.get("n"))
        .pass("commissionAsset", m.get("N"))
        .pass("tradeId", m.get("t"))
        .pass("isOrderWorking", m.get("w"))
        .pass("isBuyerMaker", m.get("m"))
        .pass("creationTime", m.get("O"))
        .pass("totalQuoteTradeQuantity", m.get("Z"))
        .pass("orderListId", m.get("g"))
        .pass("quoteOrderQuantity", m.get("Q"))
        .pass("lastQuoteTransacted", m.get("Y"))
        .str("uniqueMessageId", &umid);
    let mut msg = message(UserKind::Order, j.finish(), umid, true);
    msg.client_order_id = client_id(m, "c");
    msg.order_status = client_id(m, "X");
    Ok(msg)
}

fn objects<'a>(items: &[&'a RawValue], field: &'static str) -> Result<Vec<Obj<'a>>, DecodeError> {
    items
        .iter()
        .map(|r| {
            if raw_kind(r) != RawKind::Obj {
                Err(DecodeError::BadField {
                    field,
                    why: "an element is not an object",
                })
            } else {
                parse_obj(r.get())
            }
        })
        .collect()
}

/// `outboundAccountPosition` (seed §5.3).
fn outbound_account_position(m: &Obj<'_>) -> Result<UserMessage, DecodeError> {
    let balances = objects(&req_arr(m, "B")?, "B")?;
    let mut arr = String::from("[");
    for (k, b) in balances.iter().enumerate() {
        if k > 0 {
            arr.push(',');
        }
        let mut e = JsonObj::new();
        e.pass("asset", b.get("a"))
            .pass("free", b.get("f"))
            .pass("locked", b.get("l"));
        arr.push_str(&e.finish());
    }
    arr.push(']');
    let first = balances.first();
    let b0 = |k: &str| first.map_or_else(|| "undefined".to_owned(), |b| tpl(b, k));
    let umid = format!(
        "outboundAccountPosition{}{}{}{}",
        tpl(m, "E"),
        b0("a"),
        b0("f"),
        b0("l")
    );
    let mut j = JsonObj::new();
    j.raw("balances", &arr)
        .pass("eventTime", m.get("E"))
        .str("eventType", "outboundAccountPosition")
        .pass("lastAccountUpdate", m.get("u"))
        .str("uniqueMessageId", &umid);
    Ok(message(UserKind::Balance, j.finish(), umid, true))
}

/// Whether a JS property key is an array index (such keys come first, ascending, in
/// `JSON.stringify` of a plain object).
fn is_index_key(k: &str) -> bool {
    (k == "0" || (!k.starts_with('0') && !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit())))
        && k.parse::<u64>().is_ok_and(|v| v < u32::MAX as u64)
}

/// Legacy `outboundAccountInfo` → `eventType: "account"` with balances keyed by asset.
/// The seed's `uniqueMessageId` reads `m.B[0]?.cur?.a` (always `undefined`): reproduced.
/// (Marked a genuine account event: the seed's check names `outboundAccountInfo`, which never
/// matches the published `account`; corefeed follows the intent.)
fn outbound_account_info(m: &Obj<'_>) -> Result<UserMessage, DecodeError> {
    let balances = objects(&req_arr(m, "B")?, "B")?;
    let mut entries: Vec<(String, String)> = Vec::new();
    for b in &balances {
        let asset = js_template(b.get("a"));
        let mut e = JsonObj::new();
        e.pass("available", b.get("f")).pass("locked", b.get("l"));
        let v = e.finish();
        match entries.iter_mut().find(|(a, _)| *a == asset) {
            Some(slot) => slot.1 = v,
            None => entries.push((asset, v)),
        }
    }
    let (mut idx, named): (Vec<_>, Vec<_>) =
        entries.into_iter().partition(|(a, _)| is_index_key(a));
    idx.sort_by_key(|(a, _)| a.parse::<u64>().unwrap_or(0));
    let mut bal = JsonObj::new();
    for (a, v) in idx.iter().chain(named.iter()) {
        bal.raw(a, v);
    }
    let umid = format!("account{}undefinedundefinedundefined", tpl(m, "E"));
    let mut j = JsonObj::new();
    j.str("eventType", "account")
        .pass("eventTime", m.get("E"))
        .pass("makerCommissionRate", m.get("m"))
        .pass("takerCommissionRate", m.get("t"))
        .pass("buyerCommissionRate", m.get("b"))
        .pass("sellerCommissionRate", m.get("s"))
        .pass("canTrade", m.get("T"))
        .pass("canWithdraw", m.get("W"))
        .pass("canDeposit", m.get("D"))
        .pass("lastAccountUpdate", m.get("u"))
        .raw("balances", &bal.finish())
        .str("uniqueMessageId", &umid);
    Ok(message(UserKind::Balance, j.finish(), umid, true))
}

/// `balanceUpdate` (seed §5.3).
fn balance_update(m: &Obj<'_>) -> UserMessage {
    let umid = format!("balanceUpdate{}{}{}", tpl(m, "E"), tpl(m, "a"), tpl(m, "d"));
    let mut j = JsonObj::new();
    j.pass("asset", m.get("a"))
        .pass("balanceDelta", m.get("d"))
        .pass("clearTime", m.get("T"))
        .pass("eventTime", m.get("E"))
        .str("eventType", "balanceUpdate")
        .str("uniqueMessageId", &umid);
    message(UserKind::Balance, j.finish(), umid, true)
}

/// `listenKeyExpired` → `USER_DATA_STREAM_EXPIRED` (futures).
fn user_data_stream_expired(m: &Obj<'_>) -> UserMessage {
    let umid = format!("USER_DATA_STREAM_EXPIRED{}", tpl(m, "E"));
    let mut j = JsonObj::new();
    j.pass("eventTime", m.get("E"))
        .str("eventType", "USER_DATA_STREAM_EXPIRED")
        .str("uniqueMessageId", &umid);
    message(UserKind::Info, j.finish(), umid, false)
}

/// `ORDER_TRADE_UPDATE` (seed §5.2).
fn order_trade_update(m: &Obj<'_>) -> Result<UserMessage, DecodeError> {
    let o = req_obj(m, "o")?;
    let umid = format!(
        "ORDER_TRADE_UPDATE{}{}{}{}{}{}{}",
        tpl(m, "E"),
        tpl(m, "T"),
        tpl(&o, "s"),
        tpl(&o, "X"),
        tpl(&o, "q"),
        tpl(&o, "c"),
        tpl(&o, "i")
    );
    let liquidation = tpl(&o, "c").starts_with("autoclose-");
    let mut j = JsonObj::new();
    j.str("eventType", "ORDER_TRADE_UPDATE")
        .pass("eventTime", m.get("E"))
        .pass("transactionTime", m.get("T"))
        .pass("symbol", o.get("s"))
        .pass("clientOrderId", o.get("c"))
        .pass("side", o.get("S"))
        .pass("orderType", o.get("o"))
        .pass("timeInForce", o.get("f"))
        .pass("quantity", o.get("q"))
        .pass("price", o.get("p"))
        .pass("averagePrice", o.get("ap"))
        .pass("stopPrice", o.get("sp"))
        .pass("executionType", o.get("x"))
        .pass("orderStatus", o.get("X"))
        .pass_id("orderId", o.get("i"))
        .pass("lastTradeQuantity", o.get("l"))
        .pass("totalTradeQuantity", o.get("z"))
        .pass("priceLastTrade", o.get("L"))
        .pass("commissionAsset", o.get("N"))
        .pass("commission", o.get("n"))
        .pass("orderTime", o.get("T"))
        .pass("tradeId", o.get("t"))
        .pass("bidsNotional", o.get("b"))
        .pass("asksNotional", o.get("a"))
        .pass("isMaker", o.get("m"))
        .pass("isReduceOnly", o.get("R"))
        .pass("workingType", o.get("wt"))
        .pass("originalOrderType", o.get("ot"))
        .pass("positionSide", o.get("ps"))
        .pass("closePosition", o.get("cp"))
        .pass("activationPrice", o.get("AP"))
        .pass("callbackRate", o.get("cr"))
        .pass("realizedProfit", o.get("rp"))
        .str("uniqueMessageId", &umid)
        .bool("liquidation", liquidation);
    let mut msg = message(UserKind::Order, j.finish(), umid, true);
    msg.client_order_id = client_id(&o, "c");
    msg.order_status = client_id(&o, "X");
    msg.liquidation = liquidation;
    Ok(msg)
}

/// `ACCOUNT_UPDATE` (seed §5.2): balances and positions.
fn account_update(m: &Obj<'_>) -> Result<UserMessage, DecodeError> {
    let a = req_obj(m, "a")?;
    let balances = objects(&req_arr(&a, "B")?, "B")?;
    let positions = objects(&req_arr(&a, "P")?, "P")?;
    let mut barr = String::from("[");
    for (k, b) in balances.iter().enumerate() {
        if k > 0 {
            barr.push(',');
        }
        let mut e = JsonObj::new();
        e.pass("asset", b.get("a"))
            .pass("walletBalance", b.get("wb"))
            .pass("crossWalletBalance", b.get("cw"))
            .pass("balanceChange", b.get("bc"));
        barr.push_str(&e.finish());
    }
    barr.push(']');
    let mut parr = String::from("[");
    for (k, p) in positions.iter().enumerate() {
        if k > 0 {
            parr.push(',');
        }
        let mut e = JsonObj::new();
        e.pass("symbol", p.get("s"))
            .pass("positionAmount", p.get("pa"))
            .pass("entryPrice", p.get("ep"))
            .pass("accumulatedRealized", p.get("cr"))
            .pass("unrealizedPnL", p.get("up"))
            .pass("marginType", p.get("mt"))
            .pass("isolatedWallet", p.get("iw"))
            .pass("positionSide", p.get("ps"));
        parr.push_str(&e.finish());
    }
    parr.push(']');
    let first = balances.first();
    let b0 = |k: &str| first.map_or_else(|| "undefined".to_owned(), |b| tpl(b, k));
    let umid = format!(
        "ACCOUNT_UPDATE{}{}{}{}{}{}",
        tpl(m, "E"),
        tpl(m, "T"),
        b0("a"),
        b0("wb"),
        b0("cw"),
        b0("bc")
    );
    let mut j = JsonObj::new();
    j.pass("eventTime", m.get("E"))
        .pass("transactionTime", m.get("T"))
        .str("eventType", "ACCOUNT_UPDATE")
        .pass("eventReasonType", a.get("m"))
        .raw("balances", &barr)
        .raw("positions", &parr)
        .str("uniqueMessageId", &umid);
    Ok(message(UserKind::Balance, j.finish(), umid, true))
}

/// `MARGIN_CALL` (seed §5.2). Not a genuine account event in the seed's list.
fn margin_call(m: &Obj<'_>) -> Result<UserMessage, DecodeError> {
    let positions = objects(&req_arr(m, "p")?, "p")?;
    let mut parr = String::from("[");
    let mut ups = Vec::new();
    for (k, p) in positions.iter().enumerate() {
        if k > 0 {
            parr.push(',');
        }
        let mut e = JsonObj::new();
        e.pass("symbol", p.get("s"))
            .pass("positionSide", p.get("ps"))
            .pass("positionAmount", p.get("pa"))
            .pass("marginType", p.get("mt"))
            .pass("isolatedWallet", p.get("iw"))
            .pass("markPrice", p.get("mp"))
            .pass("unrealizedPnL", p.get("up"))
            .pass("maintenanceMarginRequired", p.get("mm"));
        parr.push_str(&e.finish());
        // Array.prototype.join renders undefined/null as "".
        ups.push(match p.get("up") {
            None => String::new(),
            Some(r) if raw_kind(r) == RawKind::Null => String::new(),
            Some(r) => js_template(Some(r)),
        });
    }
    parr.push(']');
    let umid = format!(
        "MARGIN_CALL{}{}{}",
        tpl(m, "E"),
        tpl(m, "cw"),
        ups.join(",")
    );
    let mut j = JsonObj::new();
    j.pass("eventTime", m.get("E"))
        .pass("crossWalletBalance", m.get("cw"))
        .str("eventType", "MARGIN_CALL")
        .raw("positions", &parr)
        .str("uniqueMessageId", &umid);
    Ok(message(UserKind::Position, j.finish(), umid, false))
}

fn truthy(raw: Option<&&RawValue>) -> bool {
    match raw {
        None => false,
        Some(r) => match raw_kind(r) {
            RawKind::Null => false,
            RawKind::Bool => r.get().trim() == "true",
            RawKind::Str => r.get().trim() != "\"\"",
            RawKind::Num => !matches!(r.get().trim().trim_start_matches('-'), "0" | "0.0"),
            _ => true,
        },
    }
}

/// `ACCOUNT_CONFIG_UPDATE` (seed §5.2): leverage (`ac`) or multi-assets mode (`ai`).
fn account_config_update(m: &Obj<'_>) -> Result<UserMessage, DecodeError> {
    let ac = if truthy(m.get("ac")) {
        Some(req_obj(m, "ac")?)
    } else {
        None
    };
    let ai = match &ac {
        Some(_) => None,
        None => Some(req_obj(m, "ai")?),
    };
    let tail = match (&ac, &ai) {
        (Some(ac), _) => format!("{}{}", tpl(ac, "s"), tpl(ac, "l")),
        (None, Some(ai)) => tpl(ai, "j"),
        _ => String::new(),
    };
    let umid = format!(
        "ACCOUNT_CONFIG_UPDATE{}{}{}",
        tpl(m, "E"),
        tpl(m, "T"),
        tail
    );
    let mut j = JsonObj::new();
    j.str("eventType", "ACCOUNT_CONFIG_UPDATE")
        .pass("eventTime", m.get("E"))
        .pass("transactionTime", m.get("T"))
        .str(
            "type",
            if ac.is_some() {
                "ACCOUNT_CONFIG"
            } else {
                "MULTI_ASSETS"
            },
        )
        .str("uniqueMessageId", &umid);
    match (&ac, &ai) {
        (Some(ac), _) => {
            j.pass("symbol", ac.get("s")).pass("leverage", ac.get("l"));
        }
        (None, Some(ai)) => {
            j.pass("multiAssets", ai.get("j"));
        }
        _ => {}
    }
    Ok(message(UserKind::Info, j.finish(), umid, true))
}
