//! `/control/user/...`: register accounts and drive their private events (orders, fills,
//! cancels, balances, positions, liquidations), reject credentials, expire listen keys, drop
//! private sockets, and read per-account counters. Also wraps `/control/config` and
//! `/control/stats` to add `listen_key_ttl_ms`.
//!
//! Every answer is JSON; bad input is `400 {"error":"what is wrong and what to send"}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::accounts::{
    instrument, provider_family, redact, Account, AcctId, ConnKind, Family, InstKind, OrdStatus,
    Order, Outgoing, Push, Registry, Secret, PROVIDERS,
};
use super::binance::{self, end_listen_key, EndReason, Exec, PosRow};
use super::decimal::Dec;
use super::okx::{self, OkxFill};
use crate::sim::render::now_ms;
use crate::sim::server::SimState;

type Res = Result<Response, Bad>;

/// A 400 answer `{"error":"..."}` (small, so `Result`s stay small).
pub struct Bad(String);

impl IntoResponse for Bad {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, Json(json!({ "error": self.0 }))).into_response()
    }
}

fn bad(msg: impl Into<String>) -> Bad {
    Bad(msg.into())
}

/// A JSON object body with typed accessors that explain what is missing.
struct Body {
    m: Map<String, Value>,
    what: &'static str,
}

impl Body {
    fn parse(bytes: &Bytes, what: &'static str, example: &str) -> Result<Body, Bad> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(m)) => Ok(Body { m, what }),
            Ok(_) => Err(bad(format!(
                "{what}: the body must be a JSON object, e.g. {example}"
            ))),
            Err(e) => Err(bad(format!(
                "{what}: invalid JSON ({e}); send e.g. {example}"
            ))),
        }
    }

    fn opt_str(&self, k: &str) -> Result<Option<String>, Bad> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(bad(format!("{}: `{k}` must be a string", self.what))),
        }
    }

    fn str(&self, k: &str) -> Result<String, Bad> {
        match self.opt_str(k)? {
            Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            _ => Err(bad(format!(
                "{}: `{k}` is required (a non-empty string)",
                self.what
            ))),
        }
    }

    fn opt_dec(&self, k: &str) -> Result<Option<Dec>, Bad> {
        match self.opt_str(k)? {
            None => Ok(None),
            Some(s) => Dec::parse(s.trim()).map(Some).ok_or_else(|| {
                bad(format!(
                    "{}: `{k}` must be a plain decimal string like \"0.5\" (got {s:?})",
                    self.what
                ))
            }),
        }
    }

    fn dec(&self, k: &str) -> Result<Dec, Bad> {
        self.opt_dec(k)?.ok_or_else(|| {
            bad(format!(
                "{}: `{k}` is required (a decimal string like \"0.5\")",
                self.what
            ))
        })
    }

    fn positive(&self, k: &str) -> Result<Dec, Bad> {
        let d = self.dec(k)?;
        if !d.is_positive() {
            return Err(bad(format!("{}: `{k}` must be > 0", self.what)));
        }
        Ok(d)
    }

    fn opt_bool(&self, k: &str) -> Result<Option<bool>, Bad> {
        match self.m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(bad(format!("{}: `{k}` must be true or false", self.what))),
        }
    }

    /// `provider` → family (with the provider name kept for symbol checks).
    fn provider(&self) -> Result<(String, Family), Bad> {
        let p = self.str("provider")?;
        match provider_family(&p) {
            Some(f) => Ok((p, f)),
            None => Err(bad(format!(
                "{}: unknown provider {p:?}; use one of {PROVIDERS}",
                self.what
            ))),
        }
    }
}

fn account<'a>(reg: &'a mut Registry, id: &AcctId, provider: &str) -> Result<&'a mut Account, Bad> {
    reg.accounts.get_mut(id).ok_or_else(|| {
        bad(format!(
            "no account with key {} for provider {provider}; register it first with POST /control/user/accounts {{\"provider\":\"{provider}\",\"key\":\"...\",\"secret\":\"...\"}}",
            redact(&id.1)
        ))
    })
}

fn ok(v: Value) -> Res {
    Ok(Json(v).into_response())
}

fn done(r: Res) -> Response {
    match r {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

// ------------------------------------------------------------------ accounts / reject

/// `POST /control/user/accounts {"provider","key","secret","passphrase"?}`
pub async fn accounts(State(st): State<Arc<SimState>>, body: Bytes) -> Response {
    done(accounts_inner(&st, &body))
}

fn accounts_inner(st: &SimState, body: &Bytes) -> Res {
    let b = Body::parse(
        body,
        "POST /control/user/accounts",
        r#"{"provider":"binance","key":"K","secret":"S or an Ed25519 PEM","passphrase":"(OKX only)"}"#,
    )?;
    let (provider, family) = b.provider()?;
    let key = b.str("key")?;
    let secret_text = b.str("secret")?;
    let passphrase = b.opt_str("passphrase")?;
    if family == Family::Okx && passphrase.as_deref().unwrap_or("").is_empty() {
        return Err(bad(
            "POST /control/user/accounts: OKX accounts need a `passphrase`",
        ));
    }
    let secret = Secret::new(family, &secret_text)
        .map_err(|e| bad(format!("POST /control/user/accounts: {e}")))?;
    let kind = secret.kind();
    let mut reg = st.private.lock();
    let id: AcctId = (family, key.clone());
    let replaced = reg.accounts.contains_key(&id);
    // Registering a key again replaces its credentials and lifts a rejection; orders,
    // balances, positions and counters stay.
    let acct = match reg.accounts.entry(id) {
        std::collections::btree_map::Entry::Occupied(e) => {
            let a = e.into_mut();
            a.secret = secret;
            a.passphrase = passphrase;
            a.rejected = false;
            a
        }
        std::collections::btree_map::Entry::Vacant(e) => {
            e.insert(Account::new(family, key.clone(), secret, passphrase))
        }
    };
    acct.providers.insert(provider.clone());
    tracing::info!(key = %redact(&key), %provider, key_type = kind.name(), replaced, "account registered");
    ok(json!({
        "provider": family.name(),
        "providers": acct.providers,
        "key": redact(&key),
        "keyType": kind.name(),
        "uid": acct.uid,
        "replaced": replaced,
    }))
}

/// `POST /control/user/reject {"provider","key","reject":true|false}`
pub async fn reject(State(st): State<Arc<SimState>>, body: Bytes) -> Response {
    done(reject_inner(&st, &body))
}

fn reject_inner(st: &SimState, body: &Bytes) -> Res {
    let b = Body::parse(
        body,
        "POST /control/user/reject",
        r#"{"provider":"okx","key":"K","reject":true}"#,
    )?;
    let (provider, family) = b.provider()?;
    let key = b.str("key")?;
    let on = b.opt_bool("reject")?.unwrap_or(true);
    let mut reg = st.private.lock();
    let id: AcctId = (family, key.clone());
    account(&mut reg, &id, &provider)?.rejected = on;
    let mut terminated = 0usize;
    if on {
        let now = now_ms();
        match family {
            Family::BinanceSpot => {
                // Subscriptions end with eventStreamTerminated; a session logged on with the key
                // is revoked at its next request (-2015, id null). The socket stays open.
                for c in reg.conns.values_mut() {
                    if let ConnKind::Spot { logon, subs } = &mut c.kind {
                        let (gone, kept): (Vec<_>, Vec<_>) =
                            subs.drain(..).partition(|s| s.acct == id);
                        *subs = kept;
                        for s in &gone {
                            let _ = c.tx.send(Push::Frame(binance::wrap(
                                s.id,
                                &binance::event_stream_terminated(now),
                            )));
                            terminated += 1;
                        }
                        if logon.as_ref() == Some(&id) {
                            let _ = c.tx.send(Push::Revoked);
                        }
                    }
                }
            }
            Family::BinanceUsdm | Family::BinanceCoinm => {
                if let Some(k) = reg.accounts.get(&id).and_then(|a| a.listen_key.clone()) {
                    terminated += end_listen_key(&mut reg, &k, EndReason::Forced);
                }
            }
            Family::Okx => {
                terminated += reg.push_bound(Some(&id), || {
                    Push::Close(okx::CLOSE_KEY_CHANGED.0, okx::CLOSE_KEY_CHANGED.1)
                });
            }
        }
    }
    tracing::info!(key = %redact(&key), %provider, rejected = on, terminated, "credentials rejection set");
    ok(
        json!({"key": redact(&key), "provider": family.name(), "rejected": on, "terminated": terminated}),
    )
}

// ------------------------------------------------------------------ orders

fn check_scale(family: Family, what: &str, d: Dec) -> Result<(), Bad> {
    if family == Family::BinanceSpot && d.scale() > 8 {
        return Err(bad(format!(
            "{what}: Binance spot prints 8 decimals; {d} has {}",
            d.scale()
        )));
    }
    Ok(())
}

fn next_exec(a: &mut Account) -> u64 {
    let e = a.next_exec_id;
    a.next_exec_id += 1;
    e
}

/// The order event of `o` for the account's venue.
fn order_event(family: Family, o: &Order, e: &Exec, okx_fill: Option<&OkxFill>) -> Outgoing {
    match family {
        Family::BinanceSpot => Outgoing::Spot(binance::execution_report(o, e)),
        Family::BinanceUsdm | Family::BinanceCoinm => Outgoing::Futures {
            name: "ORDER_TRADE_UPDATE",
            body: binance::order_trade_update(family, o, e),
        },
        Family::Okx => okx::order_push(o, okx_fill, e.now),
    }
}

/// `POST /control/user/order {"provider","key","symbol","side","type","qty","price"?,
/// "clientOrderId"?,"orderId"?}`
pub async fn order(State(st): State<Arc<SimState>>, body: Bytes) -> Response {
    done(order_inner(&st, &body))
}

fn order_inner(st: &SimState, body: &Bytes) -> Res {
    let what = "POST /control/user/order";
    let b = Body::parse(
        body,
        what,
        r#"{"provider":"binance","key":"K","symbol":"BTCUSDT","side":"BUY","type":"LIMIT","qty":"0.5","price":"100.5"}"#,
    )?;
    let (provider, family) = b.provider()?;
    let key = b.str("key")?;
    let inst = instrument(&provider, &b.str("symbol")?).map_err(|e| bad(format!("{what}: {e}")))?;
    let buy = match b.str("side")?.to_ascii_uppercase().as_str() {
        "BUY" => true,
        "SELL" => false,
        s => {
            return Err(bad(format!(
                "{what}: `side` must be BUY or SELL (got {s:?})"
            )))
        }
    };
    let limit = match b
        .opt_str("type")?
        .unwrap_or("LIMIT".into())
        .to_ascii_uppercase()
        .as_str()
    {
        "LIMIT" => true,
        "MARKET" => false,
        s => {
            return Err(bad(format!(
                "{what}: `type` must be LIMIT or MARKET (got {s:?})"
            )))
        }
    };
    let qty = b.positive("qty")?;
    check_scale(family, what, qty)?;
    let price = if limit {
        let p = b.positive("price")?;
        check_scale(family, what, p)?;
        Some(p)
    } else {
        b.opt_dec("price")?.filter(|p| p.is_positive())
    };
    let given_id = b.opt_str("orderId")?;
    if let Some(id) = &given_id {
        if id.is_empty() || id.len() > 20 || !id.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad(format!(
                "{what}: `orderId` must be 1-20 digits (e.g. \"9223372036854775001\")"
            )));
        }
    }
    let client_id = b.opt_str("clientOrderId")?;
    let mut reg = st.private.lock();
    let id: AcctId = (family, key);
    let a = account(&mut reg, &id, &provider)?;
    let order_id = match given_id {
        Some(i) => {
            if a.orders.contains_key(&i) {
                return Err(bad(format!(
                    "{what}: orderId {i} already exists on this account"
                )));
            }
            i
        }
        None => {
            let i = a.next_order_id.to_string();
            a.next_order_id += 1;
            i
        }
    };
    let client_id = client_id.unwrap_or_else(|| {
        if family == Family::Okx {
            String::new()
        } else {
            format!("sim-{order_id}")
        }
    });
    let now = now_ms();
    let o = Order {
        id: order_id.clone(),
        client_id: client_id.clone(),
        inst,
        buy,
        limit,
        qty,
        price,
        filled: Dec::ZERO,
        quote: Dec::ZERO,
        fee_total: Dec::ZERO,
        fee_asset: None,
        status: OrdStatus::New,
        created_ms: now,
        liquidation: false,
        last_realized: Dec::ZERO,
        realized_total: Dec::ZERO,
    };
    let e = Exec {
        x: "NEW",
        fill: None,
        fee: None,
        trade_id: None,
        exec_id: next_exec(a),
        now,
        cancel_client_id: None,
    };
    let ev = order_event(family, &o, &e, None);
    a.orders.insert(order_id.clone(), o);
    let sockets = reg.deliver(&id, &ev);
    ok(
        json!({"orderId": order_id, "clientOrderId": client_id, "status": "NEW", "sockets": sockets}),
    )
}

/// Balance/position events after a fill, in venue form. Returns frames queued.
fn after_fill_events(
    reg: &mut Registry,
    id: &AcctId,
    inst: &super::accounts::Instrument,
    changed: &[String],
    reason: &str,
    now: i64,
) -> usize {
    let Some(a) = reg.accounts.get(id) else {
        return 0;
    };
    let mut evs = Vec::new();
    match id.0 {
        Family::BinanceSpot => {
            let rows: Vec<(String, Dec, Dec)> = changed
                .iter()
                .map(|c| {
                    let b = a.balances.get(c).cloned().unwrap_or_default();
                    (c.clone(), b.free, b.locked)
                })
                .collect();
            evs.push(Outgoing::Spot(binance::outbound_account_position(
                &rows, now,
            )));
        }
        Family::BinanceUsdm | Family::BinanceCoinm => {
            let rows: Vec<(String, Dec, Dec)> = changed
                .iter()
                .map(|c| {
                    let b = a.balances.get(c).cloned().unwrap_or_default();
                    (c.clone(), b.free, Dec::ZERO)
                })
                .collect();
            let pos: Vec<PosRow> = a
                .positions
                .get(&inst.symbol)
                .map(pos_row)
                .into_iter()
                .collect();
            evs.push(Outgoing::Futures {
                name: "ACCOUNT_UPDATE",
                body: binance::account_update(id.0, reason, &rows, &pos, now),
            });
        }
        Family::Okx => {
            evs.push(okx::account_push(a, Some(changed), now));
            if inst.kind != InstKind::Spot {
                evs.push(okx::positions_push(
                    a,
                    Some(std::slice::from_ref(&inst.symbol)),
                ));
            }
        }
    }
    evs.iter().map(|ev| reg.deliver(id, ev)).sum()
}

fn pos_row(p: &super::accounts::Position) -> PosRow {
    PosRow {
        symbol: p.inst.symbol.clone(),
        amount: p.amount,
        entry: p.entry,
        realized: p.realized,
        unrealized: p.unrealized.clone().unwrap_or("0".into()),
        margin_type: p.margin_type.clone(),
        side: p.side.clone(),
    }
}

/// Applies a fill of `qty` at `price` to order `oid`; renders and delivers the order event and
/// the balance/position events. `liquidation`: Binance `CALCULATED`.
#[allow(clippy::too_many_arguments)]
fn apply_fill(
    reg: &mut Registry,
    id: &AcctId,
    oid: &str,
    qty: Dec,
    price: Dec,
    fee: Dec,
    fee_asset: Option<String>,
    what: &str,
) -> Result<(Value, usize), Bad> {
    let overflow = || bad(format!("{what}: arithmetic overflow"));
    let family = id.0;
    let now = now_ms();
    let a = reg
        .accounts
        .get_mut(id)
        .ok_or_else(|| bad(format!("{what}: unknown account")))?;
    let o = a
        .orders
        .get(oid)
        .ok_or_else(|| bad(format!("{what}: no order {oid} on this account")))?;
    if !o.status.is_open() {
        return Err(bad(format!(
            "{what}: order {oid} is {} and cannot fill",
            o.status.binance()
        )));
    }
    let rem = o.remaining();
    if qty > rem {
        return Err(bad(format!(
            "{what}: qty {qty} exceeds the remaining {rem} of order {oid}"
        )));
    }
    let inst = o.inst.clone();
    let buy = o.buy;
    let fee_asset = fee_asset
        .or_else(|| o.fee_asset.clone())
        .unwrap_or_else(|| {
            if inst.kind != InstKind::Spot {
                inst.settle.clone()
            } else if buy {
                inst.base.clone()
            } else {
                inst.quote.clone()
            }
        });
    let notional = qty.checked_mul(price).ok_or_else(overflow)?;
    // Balances and positions.
    let mut changed: Vec<String> = Vec::new();
    let mut realized = Dec::ZERO;
    if inst.kind == InstKind::Spot {
        let (base_d, quote_d) = if buy {
            (qty, notional.negated())
        } else {
            (qty.negated(), notional)
        };
        a.add_free(&inst.base, base_d).map_err(bad)?;
        a.add_free(&inst.quote, quote_d).map_err(bad)?;
        changed.push(inst.base.clone());
        changed.push(inst.quote.clone());
    } else {
        realized = a
            .apply_position_fill(&inst, buy, qty, price, now)
            .map_err(bad)?;
        a.add_free(&inst.settle, realized).map_err(bad)?;
        changed.push(inst.settle.clone());
    }
    if !fee.is_zero() {
        a.add_free(&fee_asset, fee.negated()).map_err(bad)?;
        if !changed.contains(&fee_asset) {
            changed.push(fee_asset.clone());
        }
    }
    let trade_id = a.next_trade_id;
    a.next_trade_id += 1;
    let exec_id = next_exec(a);
    let o = a.orders.get_mut(oid).expect("checked above");
    o.filled = o.filled.checked_add(qty).ok_or_else(overflow)?;
    o.quote = o.quote.checked_add(notional).ok_or_else(overflow)?;
    o.fee_total = o.fee_total.checked_add(fee).ok_or_else(overflow)?;
    o.fee_asset = Some(fee_asset.clone());
    o.last_realized = realized;
    o.realized_total = o
        .realized_total
        .checked_add(realized)
        .ok_or_else(overflow)?;
    o.status = if o.filled == o.qty {
        OrdStatus::Filled
    } else {
        OrdStatus::PartiallyFilled
    };
    let e = Exec {
        x: if o.liquidation { "CALCULATED" } else { "TRADE" },
        fill: Some((qty, price)),
        fee: Some((fee, fee_asset)),
        trade_id: Some(trade_id),
        exec_id,
        now,
        cancel_client_id: None,
    };
    let okx_fill = OkxFill {
        qty,
        price,
        trade_id,
        fee,
    };
    let ev = order_event(family, o, &e, Some(&okx_fill));
    let summary = json!({
        "orderId": o.id,
        "clientOrderId": o.client_id,
        "status": o.status.binance(),
        "filled": o.filled.to_string(),
        "tradeId": trade_id.to_string(),
    });
    let mut sockets = reg.deliver(id, &ev);
    sockets += after_fill_events(reg, id, &inst, &changed, "ORDER", now);
    Ok((summary, sockets))
}

/// `POST /control/user/fill {"provider","key","orderId","qty","price"?,"fee"?,"feeAsset"?}`
pub async fn fill(State(st): State<Arc<SimState>>, body: Bytes) -> Response {
    done(fill_inner(&st, &body))
}

fn fill_inner(st: &SimState, body: &Bytes) -> Res {
    let what = "POST /control/user/fill";
    let b = Body::parse(
        body,
        what,
        r#"{"provider":"binance","key":"K","orderId":"100000001","qty":"0.2","price":"100.5","fee":"0.0002","feeAsset":"BTC"}"#,
    )?;
    let (provider, family) = b.provider()?;
    let key = b.str("key")?;
    let oid = b.str("orderId")?;
    let qty = b.positive("qty")?;
    check_scale(family, what, qty)?;
    let price = b.opt_dec("price")?;
    let fee = b.opt_dec("fee")?.unwrap_or(Dec::ZERO);
    if fee.is_negative() {
        return Err(bad(format!("{what}: `fee` is the commission charged, >= 0 (the simulator prints OKX fees negative itself)")));
    }
    check_scale(family, what, fee)?;
    let fee_asset = b.opt_str("feeAsset")?.filter(|s| !s.is_empty());
    let mut reg = st.private.lock();
    let id: AcctId = (family, key);
    let a = account(&mut reg, &id, &provider)?;
    let o = a
        .orders
        .get(&oid)
        .ok_or_else(|| bad(format!("{what}: no order {oid} on this account")))?;
    let price = match (price, o.price) {
        (Some(p), _) if p.is_positive() => p,
        (None, Some(p)) => p,
        _ => {
            return Err(bad(format!(
                "{what}: `price` is required (> 0) for a market order's fill"
            )))
        }
    };
    check_scale(family, what, price)?;
    let (mut summary, sockets) = apply_fill(&mut reg, &id, &oid, qty, price, fee, fee_asset, what)?;
    summary["sockets"] = json!(sockets);
    ok(summary)
}

/// `POST /control/user/cancel {"provider","key","orderId","cancelClientOrderId"?}`
pub async fn cancel(State(st): State<Arc<SimState>>, body: Bytes) -> Response {
    done(cancel_inner(&st, &body))
}

fn cancel_inner(st: &SimState, body: &Bytes) -> Res {
    let what = "POST /control/user/cancel";
    let b = Body::parse(
        body,
        what,
        r#"{"provider":"binance","key":"K","orderId":"100000001"}"#,
    )?;
    let (provider, family) = b.provider()?;
    let key = b.str("key")?;
    let oid = b.str("orderId")?;
    let cancel_id = b.opt_str("cancelClientOrderId")?;
    let mut reg = st.private.lock();
    let id: AcctId = (family, key);
    let a = account(&mut reg, &id, &provider)?;
    let exec_id = next_exec(a);
    let seq = a.next_client_seq;
    a.next_client_seq += 1;
    let o = a
        .orders
        .get_mut(&oid)
        .ok_or_else(|| bad(format!("{what}: no order {oid} on this account")))?;
    if !o.status.is_open() {
        return Err(bad(format!(
            "{what}: order {oid} is already {}",
            o.status.binance()
        )));
    }
    o.status = OrdStatus::Canceled;
    let cancel_id = cancel_id.unwrap_or_else(|| format!("sim-cancel-{seq}"));
    let now = now_ms();
    let e = Exec {
        x: "CANCELED",
        fill: None,
        fee: None,
        trade_id: None,
        exec_id,
        now,
        cancel_client_id: (family == Family::BinanceSpot).then_some(cancel_id.as_str()),
    };
    let ev = order_event(family, o, &e, None);
    let client = o.client_id.clone();
    let sockets = reg.deliver(&id, &ev);
    ok(json!({"orderId": oid, "clientOrderId": client, "status": "CANCELED", "sockets": sockets}))
}

/// `POST /control/user/liquidation {"provider","key","symbol","side","qty","price","fee"?}`:
/// a liquidation order filled at once (Binance futures `autoclose-…`, `CALCULATED`; OKX
/// `category: full_liquidation`).
pub async fn liquidation(State(st): State<Arc<SimState>>, body: Bytes) -> Response {
    done(liquidation_inner(&st, &body))
}

fn liquidation_inner(st: &SimState, body: &Bytes) -> Res {
    let what = "POST /control/user/liquidation";
    let b = Body::parse(
        body,
        what,
        r#"{"provider":"binanceUsdm","key":"K","symbol":"BTCUSDT","side":"SELL","qty":"0.002","price":"6500","fee":"0.065"}"#,
    )?;
    let (provider, family) = b.provider()?;
    let key = b.str("key")?;
    let inst = instrument(&provider, &b.str("symbol")?).map_err(|e| bad(format!("{what}: {e}")))?;
    if inst.kind == InstKind::Spot {
        return Err(bad(format!(
            "{what}: liquidations exist for futures/swaps only (binanceUsdm, binanceCoinm, okxLinear, okxInverse)"
        )));
    }
    let buy = match b.str("side")?.to_ascii_uppercase().as_str() {
        "BUY" => true,
        "SELL" => false,
        s => {
            return Err(bad(format!(
                "{what}: `side` must be BUY or SELL (got {s:?})"
            )))
        }
    };
    let qty = b.positive("qty")?;
    let price = b.positive("price")?;
    let fee = b.opt_dec("fee")?.unwrap_or(Dec::ZERO);
    let mut reg = st.private.lock();
    let id: AcctId = (family, key);
    let a = account(&mut reg, &id, &provider)?;
    let oid = a.next_order_id.to_string();
    a.next_order_id += 1;
    let now = now_ms();
    let seq = a.next_client_seq;
    a.next_client_seq += 1;
    let client_id = if family == Family::Okx {
        String::new()
    } else {
        format!("autoclose-{now}{:03}", seq % 1000)
    };
    a.orders.insert(
        oid.clone(),
        Order {
            id: oid.clone(),
            client_id,
            inst,
            buy,
            limit: false,
            qty,
            price: Some(price),
            filled: Dec::ZERO,
            quote: Dec::ZERO,
            fee_total: Dec::ZERO,
            fee_asset: None,
            status: OrdStatus::New,
            created_ms: now,
            liquidation: true,
            last_realized: Dec::ZERO,
            realized_total: Dec::ZERO,
        },
    );
    let (mut summary, sockets) = apply_fill(&mut reg, &id, &oid, qty, price, fee, None, what)?;
    summary["sockets"] = json!(sockets);
    ok(summary)
}

// ------------------------------------------------------------------ balances / positions

/// `POST /control/user/balance {"provider","key","asset","free","locked"?,"reason"?}`
pub async fn balance(State(st): State<Arc<SimState>>, body: Bytes) -> Response {
    done(balance_inner(&st, &body))
}

fn balance_inner(st: &SimState, body: &Bytes) -> Res {
    let what = "POST /control/user/balance";
    let b = Body::parse(
        body,
        what,
        r#"{"provider":"binance","key":"K","asset":"USDT","free":"1000","locked":"0"}"#,
    )?;
    let (provider, family) = b.provider()?;
    let key = b.str("key")?;
    let asset = b.str("asset")?;
    let free = b.dec("free")?;
    let locked = b.opt_dec("locked")?.unwrap_or(Dec::ZERO);
    check_scale(family, what, free)?;
    check_scale(family, what, locked)?;
    let reason = b.opt_str("reason")?;
    let mut reg = st.private.lock();
    let id: AcctId = (family, key);
    let a = account(&mut reg, &id, &provider)?;
    let bal = a.balance_mut(&asset);
    let delta = free.checked_sub(bal.free).unwrap_or(Dec::ZERO);
    bal.free = free;
    bal.locked = locked;
    let now = now_ms();
    let mut evs = Vec::new();
    match family {
        Family::BinanceSpot => {
            if !delta.is_zero() {
                evs.push(Outgoing::Spot(binance::balance_update(&asset, delta, now)));
            }
            evs.push(Outgoing::Spot(binance::outbound_account_position(
                &[(asset.clone(), free, locked)],
                now,
            )));
        }
        Family::BinanceUsdm | Family::BinanceCoinm => {
            let reason = reason.unwrap_or_else(|| {
                if delta.is_negative() {
                    "WITHDRAW"
                } else {
                    "DEPOSIT"
                }
                .into()
            });
            evs.push(Outgoing::Futures {
                name: "ACCOUNT_UPDATE",
                body: binance::account_update(
                    family,
                    &reason,
                    &[(asset.clone(), free, delta)],
                    &[],
                    now,
                ),
            });
        }
        Family::Okx => evs.push(okx::account_push(
            a,
            Some(std::slice::from_ref(&asset)),
            now,
        )),
    }
    let sockets: usize = evs.iter().map(|ev| reg.deliver(&id, ev)).sum();
    ok(
        json!({"asset": asset, "free": free.to_string(), "locked": locked.to_string(), "sockets": sockets}),
    )
}

/// `POST /control/user/position {"provider","key","symbol","amount","entryPrice",
/// "unrealizedPnl"?,"markPrice"?,"marginType"?,"positionSide"?,"reason"?}`
pub async fn position(State(st): State<Arc<SimState>>, body: Bytes) -> Response {
    done(position_inner(&st, &body))
}

fn position_inner(st: &SimState, body: &Bytes) -> Res {
    let what = "POST /control/user/position";
    let b = Body::parse(
        body,
        what,
        r#"{"provider":"binanceUsdm","key":"K","symbol":"BTCUSDT","amount":"0.5","entryPrice":"30000"}"#,
    )?;
    let (provider, family) = b.provider()?;
    let key = b.str("key")?;
    let inst = instrument(&provider, &b.str("symbol")?).map_err(|e| bad(format!("{what}: {e}")))?;
    if inst.kind == InstKind::Spot {
        return Err(bad(format!(
            "{what}: positions exist for futures/swaps only (binanceUsdm, binanceCoinm, okxLinear, okxInverse)"
        )));
    }
    let amount = b.dec("amount")?;
    let entry = b.opt_dec("entryPrice")?.unwrap_or(Dec::ZERO);
    let upl = b.opt_dec("unrealizedPnl")?.map(|d| d.to_string());
    let mark = b.opt_dec("markPrice")?.map(|d| d.to_string());
    let margin_type = b.opt_str("marginType")?.unwrap_or("cross".into());
    if !matches!(margin_type.as_str(), "cross" | "isolated") {
        return Err(bad(format!("{what}: `marginType` is cross or isolated")));
    }
    let side = b.opt_str("positionSide")?.unwrap_or("BOTH".into());
    if !matches!(side.as_str(), "BOTH" | "LONG" | "SHORT") {
        return Err(bad(format!(
            "{what}: `positionSide` is BOTH, LONG or SHORT"
        )));
    }
    let reason = b.opt_str("reason")?.unwrap_or("ORDER".into());
    let mut reg = st.private.lock();
    let id: AcctId = (family, key);
    let a = account(&mut reg, &id, &provider)?;
    let now = now_ms();
    let p = a
        .positions
        .entry(inst.symbol.clone())
        .or_insert_with(|| super::accounts::Position {
            inst: inst.clone(),
            amount: Dec::ZERO,
            entry: Dec::ZERO,
            realized: Dec::ZERO,
            unrealized: None,
            mark: None,
            margin_type: "cross".into(),
            side: "BOTH".into(),
            c_time: now,
            u_time: now,
        });
    p.amount = amount;
    p.entry = entry;
    p.unrealized = upl;
    p.mark = mark;
    p.margin_type = margin_type;
    p.side = side;
    p.u_time = now;
    let row = pos_row(p);
    let ev = match family {
        Family::Okx => okx::positions_push(a, Some(std::slice::from_ref(&inst.symbol))),
        _ => {
            let bal = a.balances.get(&inst.settle).cloned().unwrap_or_default();
            Outgoing::Futures {
                name: "ACCOUNT_UPDATE",
                body: binance::account_update(
                    family,
                    &reason,
                    &[(inst.settle.clone(), bal.free, Dec::ZERO)],
                    &[row],
                    now,
                ),
            }
        }
    };
    let sockets = reg.deliver(&id, &ev);
    ok(
        json!({"symbol": inst.symbol, "amount": amount.to_string(), "entryPrice": entry.to_string(), "sockets": sockets}),
    )
}

// ------------------------------------------------------------------ listen keys / drops

/// `POST /control/user/expire_listen_key {"provider":"binanceUsdm|binanceCoinm","key"}`
pub async fn expire_listen_key(State(st): State<Arc<SimState>>, body: Bytes) -> Response {
    done(expire_inner(&st, &body))
}

fn expire_inner(st: &SimState, body: &Bytes) -> Res {
    let what = "POST /control/user/expire_listen_key";
    let b = Body::parse(body, what, r#"{"provider":"binanceUsdm","key":"K"}"#)?;
    let (provider, family) = b.provider()?;
    if !family.is_binance_futures() {
        return Err(bad(format!(
            "{what}: listen keys exist for binanceUsdm and binanceCoinm only"
        )));
    }
    let key = b.str("key")?;
    let mut reg = st.private.lock();
    let id: AcctId = (family, key);
    let Some(lk) = account(&mut reg, &id, &provider)?.listen_key.clone() else {
        return Err(bad(format!(
            "{what}: this account has no active listen key (create one with POST /{}/listenKey)",
            if family == Family::BinanceUsdm {
                "binance/usdm/fapi/v1"
            } else {
                "binance/coinm/dapi/v1"
            }
        )));
    };
    let closed = end_listen_key(&mut reg, &lk, EndReason::Forced);
    ok(json!({"listenKey": lk, "closedSockets": closed}))
}

/// `POST /control/user/drop {"provider"?,"key"?}`: drop private sockets abruptly (all; of a
/// provider; or of one account).
pub async fn drop(State(st): State<Arc<SimState>>, body: Bytes) -> Response {
    done(drop_inner(&st, &body))
}

fn drop_inner(st: &SimState, body: &Bytes) -> Res {
    let what = "POST /control/user/drop";
    let b = if body.is_empty() {
        Body {
            m: Map::new(),
            what,
        }
    } else {
        Body::parse(body, what, r#"{"provider":"okx","key":"K"} or {}"#)?
    };
    let family = match b.opt_str("provider")? {
        None => None,
        Some(_) => Some(b.provider()?),
    };
    let key = b.opt_str("key")?;
    let reg = st.private.lock();
    let dropped = match (family, key) {
        (Some((_, f)), Some(k)) => reg.push_bound(Some(&(f, k)), || Push::Drop),
        (Some((_, f)), None) => reg
            .conns
            .values()
            .filter(|c| match (&c.kind, f) {
                (ConnKind::Spot { .. }, Family::BinanceSpot) => true,
                (ConnKind::Futures { acct, .. }, _) => acct.0 == f,
                (ConnKind::Okx { .. }, Family::Okx) => true,
                _ => false,
            })
            .filter(|c| c.tx.send(Push::Drop).is_ok())
            .count(),
        (None, Some(_)) => {
            return Err(bad(format!("{what}: `key` needs its `provider`")));
        }
        (None, None) => reg.push_bound(None, || Push::Drop),
    };
    tracing::warn!(dropped, "private sockets dropped by control");
    ok(json!({ "dropped": dropped }))
}

// ------------------------------------------------------------------ stats

/// `GET /control/user/stats`
pub async fn stats(State(st): State<Arc<SimState>>) -> Json<Value> {
    Json(stats_json(&st))
}

pub fn stats_json(st: &SimState) -> Value {
    let reg = st.private.lock();
    let mut sockets: BTreeMap<String, u64> = BTreeMap::new();
    for c in reg.conns.values() {
        *sockets.entry(c.path.clone()).or_default() += 1;
    }
    let accounts: Vec<Value> = reg
        .accounts
        .iter()
        .map(|(id, a)| {
            let mut per_path: BTreeMap<String, u64> = BTreeMap::new();
            let mut subs = 0u64;
            for c in reg.conns.values().filter(|c| c.bound_to(id)) {
                *per_path.entry(c.path.clone()).or_default() += 1;
                subs += match &c.kind {
                    ConnKind::Spot { subs, .. } => {
                        subs.iter().filter(|s| &s.acct == id).count() as u64
                    }
                    ConnKind::Futures { .. } => 1,
                    ConnKind::Okx { subs, .. } => subs.len() as u64,
                };
            }
            let s = &a.stats;
            json!({
                "provider": id.0.name(),
                "providers": a.providers,
                "key": redact(&a.key),
                "keyType": a.secret.kind().name(),
                "rejected": a.rejected,
                "logins": {
                    "ok": s.logons_ok,
                    "failed": s.logons_failed,
                    "by_path": s.logons_by_path,
                },
                "subscribes": s.subscribes,
                "subscriptions_active": subs,
                "sockets": per_path,
                "listen_keys": {
                    "active": a.listen_key.is_some(),
                    "created": s.listen_keys_created,
                    "kept_alive": s.listen_keys_kept_alive,
                    "expired": s.listen_keys_expired,
                    "deleted": s.listen_keys_deleted,
                },
                "orders": a.orders.len(),
                "events": {
                    "generated": s.events_generated,
                    "sent": s.events_sent,
                    "undelivered": s.events_undelivered,
                },
            })
        })
        .collect();
    json!({
        "listen_key_ttl_ms": st.private.ttl_ms(),
        "sockets": sockets,
        "accounts": accounts,
        "unknown_key_failures": reg.unknown_key_failures,
    })
}

// ------------------------------------------------------------------ /control/config wrapper

/// `POST /control/config`: the public fields go to the existing handler; `listen_key_ttl_ms`
/// is applied here; the answer carries both.
pub async fn config_post(State(st): State<Arc<SimState>>, body: Bytes) -> Response {
    let mut obj = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        // Let the public handler word the error.
        _ => return crate::sim::control::config(State(st), body).await,
    };
    let ttl = match obj.remove("listen_key_ttl_ms") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(ms) if ms > 0 => Some(ms),
            _ => {
                return bad("invalid config patch: `listen_key_ttl_ms` must be a positive integer (milliseconds)").into_response()
            }
        },
    };
    let rest = Bytes::from(Value::Object(obj).to_string());
    let resp = crate::sim::control::config(State(st.clone()), rest).await;
    if !resp.status().is_success() {
        return resp;
    }
    if let Some(ms) = ttl {
        st.private.set_ttl_ms(ms);
        tracing::info!(listen_key_ttl_ms = ms, "listen-key validity changed");
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let mut v: Value = serde_json::from_slice(&bytes).unwrap_or(json!({}));
    v["listen_key_ttl_ms"] = json!(st.private.ttl_ms());
    Json(v).into_response()
}

/// `GET /control/config` with `listen_key_ttl_ms`.
pub async fn config_get(State(st): State<Arc<SimState>>) -> Json<Value> {
    let Json(mut v) = crate::sim::control::get_config(State(st.clone())).await;
    v["listen_key_ttl_ms"] = json!(st.private.ttl_ms());
    Json(v)
}

/// `GET /control/stats` with `config.listen_key_ttl_ms`.
pub async fn public_stats(State(st): State<Arc<SimState>>) -> Json<Value> {
    let Json(mut v) = crate::sim::control::stats(State(st.clone())).await;
    v["config"]["listen_key_ttl_ms"] = json!(st.private.ttl_ms());
    Json(v)
}
