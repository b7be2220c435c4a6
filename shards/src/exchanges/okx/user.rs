//! OKX private frames → the seed's Redis payloads (seed §8.3/§8.4, `prepareOkxOrderMsg`,
//! `prepareOkxOutboundAccountInfo`). Pure; one frame in, zero or more [`UserMessage`]s out.
//!
//! * `orders` → `executionReport` (key order as the seed). Differences from the seed, on purpose:
//!   `totalQuoteTradeQuantity` is the EXACT decimal product `price × accFillSz` (the seed
//!   multiplies JS floats); `locked` of balances is the exact sum `fixedBal + frozenBal`, an
//!   absent/empty operand counting as 0 (the seed would print `NaN` for an absent one).
//!   `price`/`free` are the venue's digits in JS number form (`${+x}`: `"0.50"` → `"0.5"`).
//!   NEWER fields: `feePaid` (`fee`, a negative value loses its sign textually) and `feeAsset`
//!   (`feeCcy`), each present only when the venue sent a non-empty value; symbol = `instId`
//!   minus `-SWAP` or minus a `-<6+ digits>` expiry.
//! * `account` → `outboundAccountPosition` of `data[0].details` (seed: first data element only).
//! * `positions` → corefeed's own `POSITION_UPDATE` shape (the seed publishes no OKX positions):
//!   ```text
//!   {"eventType":"POSITION_UPDATE","eventTime":<max uTime>,
//!    "positions":[{"symbol","instId","instType","positionAmount":pos,"entryPrice":avgPx,
//!                  "markPrice":markPx,"liquidationPrice":liqPx,"unrealizedPnL":upl,
//!                  "accumulatedRealized":realizedPnl,"marginType":mgnMode,
//!                  "isolatedWallet":margin,"leverage":lever,
//!                  "positionSide":"BOTH|LONG|SHORT"}],
//!    "uniqueMessageId":"POSITION_UPDATE<eventTime><instId><posSide><pos><avgPx><uTime>,…"}
//!   ```
//!   Field names mirror Binance futures `ACCOUNT_UPDATE.positions` where they map; values are
//!   OKX's strings as received (absent ones omitted). The integration decides whether to publish.
//! * `login` / `subscribe` / `unsubscribe` acks, `{"event":"error"}` (auth codes → rejection),
//!   text `pong`.

use crate::error::DecodeError;
use crate::exchanges::okx::auth::inst_types;
use crate::exchanges::user::{
    decimal_add, decimal_is_negative, decimal_is_zero, decimal_js, decimal_mul, js_template,
    opt_str, parse_obj, raw_i64, raw_id, raw_kind, raw_str, req_arr, AckOp, AuthSignal, FrameInfo,
    JsonObj, Obj, RawKind, UserKind, UserMessage,
};
use crate::types::Provider;

/// Error codes after which the seed closes the client and drops the room (seed §7.2), plus
/// `60009` "Login failed" and `60005` "Invalid apiKey" (the seed matches that message text).
pub const AUTH_REJECT_CODES: [i64; 23] = [
    50100, 50101, 50103, 50104, 50105, 50106, 50107, 50108, 50109, 50110, 50111, 50112, 50113,
    50114, 50115, 50118, 50119, 50120, 50121, 60024, 60032, 60009, 60005,
];

/// Normalizes one OKX private frame for `provider` (`okx`, `okxLinear`, `okxInverse`).
/// `now_ms` is the position message's `eventTime` when no entry carries `uTime`.
pub fn normalize(
    provider: Provider,
    frame: &str,
    now_ms: u64,
    out: &mut Vec<UserMessage>,
) -> Result<FrameInfo, DecodeError> {
    let allowed = inst_types(provider);
    if allowed.is_empty() {
        return Err(DecodeError::Unsupported(provider));
    }
    if frame.trim() == "pong" {
        return Ok(FrameInfo::Pong);
    }
    let obj = parse_obj(frame)?;
    if let Some(ev) = obj.get("event") {
        let ev = raw_str(ev).ok_or(DecodeError::BadField {
            field: "event",
            why: "not a string",
        })?;
        return event(&ev, &obj);
    }
    let (Some(arg), Some(_)) = (obj.get("arg"), obj.get("data")) else {
        return Err(DecodeError::Unknown);
    };
    if raw_kind(arg) != RawKind::Obj {
        return Err(DecodeError::BadField {
            field: "arg",
            why: "not an object",
        });
    }
    let arg = parse_obj(arg.get())?;
    let channel = opt_str(&arg, "channel")?.ok_or(DecodeError::MissingField("channel"))?;
    let arg_inst = opt_str(&arg, "instType")?;
    let inst_ok = |t: &Option<String>| {
        t.as_deref()
            .is_some_and(|t| t == "ANY" || allowed.contains(&t))
    };
    let data = objects(&req_arr(&obj, "data")?)?;
    let before = out.len();
    match channel.as_str() {
        "orders" => {
            if inst_ok(&arg_inst) {
                // One bad entry never costs the good orders of the same push.
                let mut bad = 0usize;
                let mut first_error = None;
                for d in &data {
                    let kept = opt_str(d, "instType")
                        .map(|t| allowed.contains(&t.unwrap_or_default().as_str()));
                    match kept.and_then(|k| if k { order(d).map(Some) } else { Ok(None) }) {
                        Ok(Some(m)) => out.push(m),
                        Ok(None) => {}
                        Err(e) => {
                            bad += 1;
                            first_error.get_or_insert(e);
                        }
                    }
                }
                if let Some(e) = first_error {
                    if out.len() == before {
                        return Err(e);
                    }
                    return Ok(FrameInfo::DataWithErrors {
                        messages: out.len() - before,
                        bad,
                        reason: e.to_string(),
                    });
                }
            }
        }
        "account" => {
            if let Some(d) = data.first() {
                if let Some(m) = account(d)? {
                    out.push(m);
                }
            }
        }
        "positions" => {
            if inst_ok(&arg_inst) {
                let kept: Vec<&Obj<'_>> = data
                    .iter()
                    .filter(|d| {
                        opt_str(d, "instType")
                            .ok()
                            .flatten()
                            .is_some_and(|t| allowed.contains(&t.as_str()))
                    })
                    .collect();
                if !kept.is_empty() {
                    out.push(positions(&kept, now_ms)?);
                }
            }
        }
        _ => return Ok(FrameInfo::Ignored),
    }
    Ok(FrameInfo::Data {
        messages: out.len() - before,
    })
}

fn event(ev: &str, obj: &Obj<'_>) -> Result<FrameInfo, DecodeError> {
    let id = obj.get("id").and_then(|r| raw_id(r));
    let code = obj.get("code").and_then(|r| raw_i64(r));
    let message = opt_str(obj, "msg").ok().flatten().unwrap_or_default();
    match ev {
        "login" if code.unwrap_or(0) == 0 => Ok(FrameInfo::Ack {
            op: AckOp::Login,
            id,
            subscription_id: None,
            channel: None,
        }),
        "subscribe" | "unsubscribe" => {
            let channel = obj
                .get("arg")
                .filter(|a| raw_kind(a) == RawKind::Obj)
                .and_then(|a| parse_obj(a.get()).ok())
                .and_then(|a| a.get("channel").and_then(|c| raw_str(c)));
            Ok(FrameInfo::Ack {
                op: if ev == "subscribe" {
                    AckOp::Subscribe
                } else {
                    AckOp::Unsubscribe
                },
                id,
                subscription_id: None,
                channel,
            })
        }
        "error" | "login" => {
            let code = code.unwrap_or(0);
            let auth = if AUTH_REJECT_CODES.contains(&code) || message == "Invalid apiKey" {
                AuthSignal::Reject
            } else {
                AuthSignal::None
            };
            Ok(FrameInfo::Error {
                id,
                status: None,
                code,
                message,
                auth,
            })
        }
        // channel-conn-count, channel-conn-count-error, notice (service upgrade), …
        _ => Ok(FrameInfo::Ignored),
    }
}

fn objects<'a>(items: &[&'a serde_json::value::RawValue]) -> Result<Vec<Obj<'a>>, DecodeError> {
    items
        .iter()
        .map(|r| {
            if raw_kind(r) != RawKind::Obj {
                Err(DecodeError::BadField {
                    field: "data",
                    why: "an element is not an object",
                })
            } else {
                parse_obj(r.get())
            }
        })
        .collect()
}

fn tpl(o: &Obj<'_>, k: &str) -> String {
    js_template(o.get(k))
}

/// A string member, `""` when absent/null.
fn s(o: &Obj<'_>, k: &'static str) -> Result<String, DecodeError> {
    Ok(opt_str(o, k)?.unwrap_or_default())
}

/// JS `parseInt(text)` as JSON: the leading integer, or `null` (NaN) when there is none, and
/// `null` when it is beyond the largest double (JS: `Infinity`, which `JSON.stringify` writes as
/// `null`; as a bare number it is text most JSON parsers refuse, e.g. serde_json "number out of
/// range"). Found by the `user_okx` fuzz target.
fn parse_int_json(text: Option<&str>) -> String {
    let t = text.unwrap_or("").trim_start();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits: String = body.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() {
        return "null".to_owned();
    }
    let d = digits.trim_start_matches('0');
    let d = if d.is_empty() { "0" } else { d };
    if d.parse::<f64>().map_or(true, f64::is_infinite) {
        return "null".to_owned();
    }
    if neg && d != "0" {
        format!("-{d}")
    } else {
        d.to_owned()
    }
}

/// `instId` minus `-SWAP`, or minus a `-<6+ digits>` expiry (`BTC-USD-250627` → `BTC-USD`).
pub fn clear_symbol(inst_id: &str) -> &str {
    if let Some(s) = inst_id.strip_suffix("-SWAP") {
        return s;
    }
    if let Some(i) = inst_id.rfind('-') {
        let tail = &inst_id[i + 1..];
        if tail.len() >= 6 && tail.bytes().all(|b| b.is_ascii_digit()) {
            return &inst_id[..i];
        }
    }
    inst_id
}

fn bad_dec(field: &'static str) -> DecodeError {
    DecodeError::BadDecimal(field)
}

/// One `orders` entry → `executionReport`.
fn order(d: &Obj<'_>) -> Result<UserMessage, DecodeError> {
    let inst_id = s(d, "instId")?;
    let symbol = clear_symbol(&inst_id).to_owned();
    let state = s(d, "state")?;
    let status = match state.as_str() {
        "live" => "NEW",
        "partially_filled" => "PARTIALLY_FILLED",
        "filled" => "FILLED",
        _ => "CANCELED",
    };
    let avg_px = s(d, "avgPx")?;
    let px = s(d, "px")?;
    let acc = s(d, "accFillSz")?;
    // `${+avgPx || +px}`: avgPx unless it is 0/empty.
    let src = if decimal_is_zero(&avg_px).ok_or(bad_dec("avgPx"))? {
        decimal_is_zero(&px).ok_or(bad_dec("px"))?;
        &px
    } else {
        &avg_px
    };
    let price = decimal_js(src).ok_or(bad_dec("px"))?;
    let quote = decimal_mul(src, &acc).ok_or(bad_dec("accFillSz"))?;
    let category = s(d, "category")?;
    let liquidation = category == "full_liquidation";
    let umid = format!(
        "{}executionReport{}{}{}{}{}{}{}{}{}",
        tpl(d, "instId"),
        tpl(d, "uTime"),
        symbol,
        tpl(d, "state"),
        tpl(d, "sz"),
        tpl(d, "px"),
        tpl(d, "accFillSz"),
        tpl(d, "ordType"),
        tpl(d, "clOrdId"),
        tpl(d, "category")
    );
    let u_time = parse_int_json(opt_str(d, "uTime")?.as_deref());
    let mut j = JsonObj::new();
    j.raw(
        "creationTime",
        &parse_int_json(opt_str(d, "cTime")?.as_deref()),
    )
    .raw("eventTime", &u_time)
    .str("eventType", "executionReport")
    .pass("newClientOrderId", d.get("clOrdId"))
    .pass("orderId", d.get("ordId"))
    .raw("orderTime", &u_time)
    .str("orderStatus", status)
    .str(
        "orderType",
        if s(d, "ordType")? == "limit" {
            "LIMIT"
        } else {
            "MARKET"
        },
    )
    .pass("originalClientOrderId", d.get("clOrdId"))
    .str("price", &price)
    .pass("quantity", d.get("sz"))
    .str(
        "side",
        if s(d, "side")? == "buy" {
            "BUY"
        } else {
            "SELL"
        },
    )
    .str("symbol", &symbol)
    .str("totalQuoteTradeQuantity", &quote)
    .pass("totalTradeQuantity", d.get("accFillSz"))
    .str("uniqueMessageId", &umid)
    .bool("liquidation", liquidation);
    let fee = s(d, "fee")?;
    if !fee.is_empty() {
        let paid = if decimal_is_negative(&fee) {
            fee.trim().trim_start_matches('-').to_owned()
        } else {
            fee.clone()
        };
        j.str("feePaid", &paid);
    }
    let fee_ccy = s(d, "feeCcy")?;
    if !fee_ccy.is_empty() {
        j.str("feeAsset", &fee_ccy);
    }
    let client = opt_str(d, "clOrdId")?;
    Ok(UserMessage {
        kind: UserKind::Order,
        json: j.finish(),
        unique_message_id: umid,
        client_order_id: client,
        order_status: Some(status.to_owned()),
        genuine_account_event: true,
        liquidation,
    })
}

/// `account` `data[0]` → `outboundAccountPosition`; `None` without details.
fn account(d: &Obj<'_>) -> Result<Option<UserMessage>, DecodeError> {
    let details = match d.get("details") {
        None => return Ok(None),
        Some(_) => objects(&req_arr(d, "details")?)?,
    };
    if details.is_empty() {
        return Ok(None);
    }
    let mut arr = String::from("[");
    let mut first: Option<(String, String, String)> = None;
    for (k, b) in details.iter().enumerate() {
        let free = decimal_js(&s(b, "availBal")?).ok_or(bad_dec("availBal"))?;
        let locked =
            decimal_add(&s(b, "fixedBal")?, &s(b, "frozenBal")?).ok_or(bad_dec("frozenBal"))?;
        if k > 0 {
            arr.push(',');
        }
        let mut e = JsonObj::new();
        e.pass("asset", b.get("ccy"))
            .str("free", &free)
            .str("locked", &locked);
        arr.push_str(&e.finish());
        if first.is_none() {
            first = Some((tpl(b, "ccy"), free, locked));
        }
    }
    arr.push(']');
    let (a0, f0, l0) = first.unwrap_or_default();
    let umid = format!("outboundAccountPosition{}{a0}{f0}{l0}", tpl(d, "uTime"));
    let mut j = JsonObj::new();
    j.raw("balances", &arr)
        .raw(
            "eventTime",
            &parse_int_json(opt_str(d, "uTime")?.as_deref()),
        )
        .str("eventType", "outboundAccountPosition")
        .u64("lastAccountUpdate", 0)
        .str("uniqueMessageId", &umid);
    Ok(Some(UserMessage {
        kind: UserKind::Balance,
        json: j.finish(),
        unique_message_id: umid,
        client_order_id: None,
        order_status: None,
        genuine_account_event: true,
        liquidation: false,
    }))
}

/// `positions` entries → one `POSITION_UPDATE` (corefeed shape, see the module docs).
fn positions(data: &[&Obj<'_>], now_ms: u64) -> Result<UserMessage, DecodeError> {
    let mut event_time: Option<u64> = None;
    let mut arr = String::from("[");
    let mut ids = Vec::new();
    for (k, p) in data.iter().enumerate() {
        let inst_id = s(p, "instId")?;
        if let Some(t) = opt_str(p, "uTime")?.and_then(|t| t.parse::<u64>().ok()) {
            event_time = Some(event_time.map_or(t, |e| e.max(t)));
        }
        let side = match s(p, "posSide")?.as_str() {
            "long" => "LONG",
            "short" => "SHORT",
            _ => "BOTH",
        };
        if k > 0 {
            arr.push(',');
        }
        let mut e = JsonObj::new();
        e.str("symbol", clear_symbol(&inst_id))
            .pass("instId", p.get("instId"))
            .pass("instType", p.get("instType"))
            .pass("positionAmount", p.get("pos"))
            .pass("entryPrice", p.get("avgPx"))
            .pass("markPrice", p.get("markPx"))
            .pass("liquidationPrice", p.get("liqPx"))
            .pass("unrealizedPnL", p.get("upl"))
            .pass("accumulatedRealized", p.get("realizedPnl"))
            .pass("marginType", p.get("mgnMode"))
            .pass("isolatedWallet", p.get("margin"))
            .pass("leverage", p.get("lever"))
            .str("positionSide", side);
        arr.push_str(&e.finish());
        ids.push(format!(
            "{}{}{}{}{}",
            tpl(p, "instId"),
            tpl(p, "posSide"),
            tpl(p, "pos"),
            tpl(p, "avgPx"),
            tpl(p, "uTime")
        ));
    }
    arr.push(']');
    let event_time = event_time.unwrap_or(now_ms);
    let umid = format!("POSITION_UPDATE{event_time}{}", ids.join(","));
    let mut j = JsonObj::new();
    j.str("eventType", "POSITION_UPDATE")
        .u64("eventTime", event_time)
        .raw("positions", &arr)
        .str("uniqueMessageId", &umid);
    Ok(UserMessage {
        kind: UserKind::Position,
        json: j.finish(),
        unique_message_id: umid,
        client_order_id: None,
        order_status: None,
        // Private data that only flows after a successful login.
        genuine_account_event: true,
        liquidation: false,
    })
}
