//! OKX private socket (`/ws/v5/private`, and the EEA / US hosts' paths): `login`, `subscribe` /
//! `unsubscribe` of `orders`, `account`, `positions`, text ping/pong, the 30 s idle cut, and the
//! rendering of the three channels' pushes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocket;
use serde_json::Value;
use tokio::time::Instant;

use super::accounts::{
    okx_frame, redact, Account, AcctId, ConnKind, Family, InstKind, OkxSub, Order, Outgoing,
    Registry,
};
use super::decimal::Dec;
use super::{run_socket, Exit, Handler, Keepalive};
use crate::sim::render::now_ms;
use crate::sim::server::SimState;
use crate::sim::universe::{fnv, splitmix};

pub const CLOSE_LOGIN_FAILED: (u16, &str) = (4001, "Login Failed");
pub const CLOSE_KEY_CHANGED: (u16, &str) = (
    4007,
    "API key has been updated or deleted. Please reconnect.",
);

/// Private channels that are acknowledged but never fed.
const SILENT_CHANNELS: [&str; 4] = [
    "balance_and_position",
    "liquidation-warning",
    "account-greeks",
    "deposit-info",
];

pub async fn run(st: Arc<SimState>, path: String, socket: WebSocket) {
    let (id, rx) = st.private.register(
        &path,
        ConnKind::Okx {
            login: None,
            subs: Vec::new(),
        },
    );
    let h = OkxPriv {
        st: st.clone(),
        conn_id: id,
        conn_hex: format!("{:08x}", splitmix(id ^ st.cfg.seed ^ 0x0c0f_fee0) as u32),
        requests: VecDeque::new(),
    };
    let ka = Keepalive::Idle(Duration::from_secs_f64(st.cfg.okx_idle_secs.max(0.001)));
    run_socket(st, socket, path, id, rx, h, ka).await;
}

struct OkxPriv {
    st: Arc<SimState>,
    conn_id: u64,
    conn_hex: String,
    /// subscribe/unsubscribe/login requests of the last hour.
    requests: VecDeque<Instant>,
}

fn q(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

impl OkxPriv {
    fn error(&self, code: &str, msg: &str) -> String {
        format!(
            "{{\"event\":\"error\",\"code\":\"{code}\",\"msg\":{},\"connId\":\"{}\"}}",
            q(msg),
            self.conn_hex
        )
    }

    fn login_of(reg: &Registry, conn_id: u64) -> Option<AcctId> {
        match reg.conns.get(&conn_id).map(|c| &c.kind) {
            Some(ConnKind::Okx { login, .. }) => login.clone(),
            _ => None,
        }
    }

    fn login(&mut self, v: &Value, out: &mut Vec<String>) -> Option<Exit> {
        let fail = |me: &Self, out: &mut Vec<String>, code: &str, msg: &str| {
            out.push(me.error(code, msg));
            Some(Exit::Close(
                CLOSE_LOGIN_FAILED.0,
                CLOSE_LOGIN_FAILED.1.into(),
            ))
        };
        let args = match v.get("args") {
            Some(Value::Array(a)) if !a.is_empty() => a,
            _ => {
                out.push(self.error("60012", &format!("Invalid request: {v}")));
                return None;
            }
        };
        if args.len() > 1 {
            out.push(self.error(
                "60021",
                "This operation does not support multiple accounts login.",
            ));
            return None;
        }
        let st = self.st.clone();
        let mut reg = st.private.lock();
        if Self::login_of(&reg, self.conn_id).is_some() {
            out.push(self.error(
                "60031",
                "The WebSocket endpoint does not allow multiple or repeated logins.",
            ));
            return None;
        }
        let arg = &args[0];
        let field = |k: &str| arg.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (api_key, passphrase, ts, sign) = (
            field("apiKey"),
            field("passphrase"),
            field("timestamp"),
            field("sign"),
        );
        for (name, val) in [
            ("apiKey", &api_key),
            ("passphrase", &passphrase),
            ("timestamp", &ts),
            ("sign", &sign),
        ] {
            if val.is_empty() {
                return fail(
                    self,
                    out,
                    "60027",
                    &format!("Parameter {name} can not be empty."),
                );
            }
        }
        let Some(ts_s) = ts.parse::<f64>().ok().filter(|t| t.is_finite()) else {
            return fail(self, out, "60004", "Invalid timestamp");
        };
        let now_s = now_ms() as f64 / 1000.0;
        if now_s - ts_s > 30.0 {
            return fail(self, out, "60006", "Timestamp request expired");
        }
        if ts_s - now_s > 30.0 {
            return fail(self, out, "60004", "Invalid timestamp");
        }
        let id: AcctId = (Family::Okx, api_key);
        let Some(acct) = reg.accounts.get_mut(&id) else {
            reg.unknown_failure(Family::Okx);
            return fail(self, out, "60005", "Invalid apiKey");
        };
        if acct.rejected {
            acct.stats.logons_failed += 1;
            return fail(self, out, "60005", "Invalid apiKey");
        }
        if acct.passphrase.as_deref().unwrap_or("") != passphrase {
            acct.stats.logons_failed += 1;
            return fail(self, out, "60024", "Wrong passphrase");
        }
        if !acct
            .secret
            .verify_okx(&format!("{ts}GET/users/self/verify"), &sign)
        {
            acct.stats.logons_failed += 1;
            return fail(self, out, "60009", "Login failed.");
        }
        let path = reg
            .conns
            .get(&self.conn_id)
            .map(|c| c.path.clone())
            .unwrap_or_default();
        let acct = reg.accounts.get_mut(&id).expect("checked above");
        acct.stats.logons_ok += 1;
        *acct.stats.logons_by_path.entry(path.clone()).or_default() += 1;
        tracing::info!(key = %redact(&id.1), %path, conn_id = self.conn_id, "OKX login");
        if let Some(ConnKind::Okx { login, .. }) =
            reg.conns.get_mut(&self.conn_id).map(|c| &mut c.kind)
        {
            *login = Some(id);
        }
        out.push(format!(
            "{{\"event\":\"login\",\"code\":\"0\",\"msg\":\"\",\"connId\":\"{}\"}}",
            self.conn_hex
        ));
        None
    }

    fn parse_arg(&self, arg: &Value) -> Result<OkxSub, String> {
        let Some(obj) = arg.as_object() else {
            return Err(self.error("60012", &format!("Invalid request: {arg}")));
        };
        let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
        let Some(channel) = s("channel").filter(|c| !c.is_empty()) else {
            return Err(self.error("60013", "Invalid args"));
        };
        let inst_type = s("instType");
        let inst_id = s("instId");
        let wrong = || {
            self.error(
                "60018",
                &format!(
                    "Wrong URL or channel:{channel},instId:{} doesn't exist. Please use the correct URL, channel and parameters referring to API document.",
                    inst_id.clone().unwrap_or_default()
                ),
            )
        };
        match channel.as_str() {
            "orders" | "positions" => {
                let allowed: &[&str] = if channel == "orders" {
                    &["SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION", "ANY"]
                } else {
                    &["MARGIN", "SWAP", "FUTURES", "OPTION", "ANY"]
                };
                match inst_type.as_deref() {
                    None => return Err(self.error("60013", "Invalid args")),
                    Some(t) if !allowed.contains(&t) => return Err(wrong()),
                    _ => {}
                }
            }
            "account" => {}
            c if SILENT_CHANNELS.contains(&c) => {}
            _ => return Err(wrong()),
        }
        // Echo in OKX order: channel, instType, instFamily, instId, ccy (extraParams is not
        // echoed, as in the docs' account example).
        let mut echo = format!("{{\"channel\":{}", q(&channel));
        for k in ["instType", "instFamily", "instId", "ccy"] {
            if let Some(v) = obj.get(k) {
                echo.push_str(&format!(",\"{k}\":{v}"));
            }
        }
        echo.push('}');
        Ok(OkxSub {
            channel,
            inst_type,
            inst_family: s("instFamily"),
            inst_id,
            ccy: s("ccy"),
            echo,
        })
    }

    fn sub(&mut self, op: &str, v: &Value, out: &mut Vec<String>) {
        let st = self.st.clone();
        let mut reg = st.private.lock();
        let Some(acct) = Self::login_of(&reg, self.conn_id) else {
            out.push(self.error("60011", "Please log in"));
            return;
        };
        let Some(Value::Array(args)) = v.get("args") else {
            out.push(self.error("60012", &format!("Invalid request: {v}")));
            return;
        };
        for arg in args {
            let sub = match self.parse_arg(arg) {
                Ok(s) => s,
                Err(e) => {
                    out.push(e);
                    continue;
                }
            };
            let ack = format!(
                "{{\"event\":\"{op}\",\"arg\":{},\"connId\":\"{}\"}}",
                sub.echo, self.conn_hex
            );
            let Some(ConnKind::Okx { subs, .. }) =
                reg.conns.get_mut(&self.conn_id).map(|c| &mut c.kind)
            else {
                return;
            };
            if op == "unsubscribe" {
                subs.retain(|s| {
                    !(s.channel == sub.channel
                        && s.inst_type == sub.inst_type
                        && s.inst_family == sub.inst_family
                        && s.inst_id == sub.inst_id
                        && s.ccy == sub.ccy)
                });
                out.push(ack);
                continue;
            }
            let first_on_channel = !subs.iter().any(|s| s.channel == sub.channel);
            let dup = subs.iter().any(|s| {
                s.channel == sub.channel
                    && s.inst_type == sub.inst_type
                    && s.inst_family == sub.inst_family
                    && s.inst_id == sub.inst_id
                    && s.ccy == sub.ccy
            });
            if !dup {
                subs.push(sub.clone());
            }
            out.push(ack);
            if let Some(a) = reg.accounts.get_mut(&acct) {
                a.stats.subscribes += 1;
            }
            if SILENT_CHANNELS.contains(&sub.channel.as_str()) {
                continue;
            }
            if first_on_channel {
                // Connections of this account with this channel (this one included).
                let count = reg
                    .conns
                    .values()
                    .filter(|c| match &c.kind {
                        ConnKind::Okx {
                            login: Some(a),
                            subs,
                        } => a == &acct && subs.iter().any(|s| s.channel == sub.channel),
                        _ => false,
                    })
                    .count();
                let event = if count > 30 {
                    "channel-conn-count-error"
                } else {
                    "channel-conn-count"
                };
                out.push(format!(
                    "{{\"event\":\"{event}\",\"channel\":{},\"connCount\":\"{count}\",\"connId\":\"{}\"}}",
                    q(&sub.channel),
                    self.conn_hex
                ));
                if count > 30 {
                    if let Some(ConnKind::Okx { subs, .. }) =
                        reg.conns.get_mut(&self.conn_id).map(|c| &mut c.kind)
                    {
                        subs.retain(|s| s.channel != sub.channel);
                    }
                    continue;
                }
            }
            if dup {
                continue;
            }
            // Initial snapshots (account: every currency; positions: the matching ones, an
            // empty `data` when there are none). Orders have none.
            if let Some(a) = reg.accounts.get(&acct) {
                let now = now_ms();
                match sub.channel.as_str() {
                    "account" => {
                        let snap = account_push(a, None, now);
                        match okx_frame(&sub, &a.uid, &snap) {
                            Some(f) => out.push(f),
                            None => out.push(format!(
                                "{{\"arg\":{},\"data\":[{{\"totalEq\":\"0\",\"uTime\":\"{now}\",\"details\":[]}}]}}",
                                sub.push_arg(&a.uid)
                            )),
                        }
                    }
                    "positions" => {
                        let snap = positions_push(a, None);
                        match okx_frame(&sub, &a.uid, &snap) {
                            Some(f) => out.push(f),
                            None => out
                                .push(format!("{{\"arg\":{},\"data\":[]}}", sub.push_arg(&a.uid))),
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

impl Handler for OkxPriv {
    fn on_text(&mut self, text: &str, out: &mut Vec<String>) -> Option<Exit> {
        if text == "ping" {
            out.push("pong".into());
            return None;
        }
        let v: Value = match serde_json::from_str(text) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                out.push(self.error("60012", &format!("Invalid request: {text}")));
                return None;
            }
        };
        let op = v
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !matches!(op.as_str(), "login" | "subscribe" | "unsubscribe") {
            out.push(self.error("60019", &format!("Invalid op: {op}")));
            return None;
        }
        // 480 subscribe/unsubscribe/login requests per connection-hour.
        let now = Instant::now();
        self.requests.push_back(now);
        while self
            .requests
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(3600))
        {
            self.requests.pop_front();
        }
        if self.requests.len() > self.st.cfg.okx_sub_limit as usize {
            out.push(self.error("60014", "Requests too frequent."));
            return Some(Exit::Close(4003, "Requests too frequent.".into()));
        }
        if op == "login" {
            return self.login(&v, out);
        }
        self.sub(&op, &v, out);
        None
    }
}

// ================================================================== rendering

fn dec_text(d: Dec) -> String {
    d.trimmed().to_string()
}

/// OKX shows a charged fee as a negative number.
fn neg_fee(d: Dec) -> String {
    if d.is_zero() {
        "0".into()
    } else {
        dec_text(d.negated())
    }
}

/// Last fill of an `orders` push.
pub struct OkxFill {
    pub qty: Dec,
    pub price: Dec,
    pub trade_id: u64,
    pub fee: Dec,
}

/// One `orders` data entry.
pub fn order_entry(o: &Order, fill: Option<&OkxFill>, now: i64) -> String {
    let spot = o.inst.kind == InstKind::Spot;
    let px = if o.liquidation || !o.limit {
        String::new()
    } else {
        o.price.map(|p| p.to_string()).unwrap_or_default()
    };
    let avg = o
        .avg_price(o.price.map(|p| p.scale()).unwrap_or(0))
        .map(dec_text)
        .unwrap_or("0".into());
    let (fill_px, fill_sz, trade_id, fill_time, fill_fee, exec_type) = match fill {
        Some(f) => (
            dec_text(f.price),
            dec_text(f.qty),
            f.trade_id.to_string(),
            now.to_string(),
            neg_fee(f.fee),
            if o.limit && !o.liquidation { "M" } else { "T" },
        ),
        None => (
            String::new(),
            "0".into(),
            String::new(),
            String::new(),
            "0".into(),
            "",
        ),
    };
    let fee_ccy = o.fee_asset.clone().unwrap_or_else(|| {
        if !spot {
            o.inst.settle.clone()
        } else if o.buy {
            o.inst.base.clone()
        } else {
            o.inst.quote.clone()
        }
    });
    let fill_fee_ccy = if fill.is_some() {
        fee_ccy.clone()
    } else {
        String::new()
    };
    let fields: Vec<(&str, String)> = vec![
        ("instType", o.inst.inst_type.to_string()),
        ("instId", o.inst.symbol.clone()),
        ("tgtCcy", String::new()),
        ("ccy", String::new()),
        ("ordId", o.id.clone()),
        ("clOrdId", o.client_id.clone()),
        ("tag", String::new()),
        ("px", px),
        ("sz", o.qty.to_string()),
        ("notionalUsd", String::new()),
        (
            "ordType",
            if o.limit && !o.liquidation {
                "limit"
            } else {
                "market"
            }
            .into(),
        ),
        ("side", if o.buy { "buy" } else { "sell" }.into()),
        ("posSide", if spot { "" } else { "net" }.into()),
        ("tdMode", if spot { "cash" } else { "cross" }.into()),
        ("accFillSz", dec_text(o.filled)),
        ("fillPx", fill_px),
        ("tradeId", trade_id),
        ("fillSz", fill_sz),
        ("fillTime", fill_time),
        (
            "fillPnl",
            if fill.is_some() {
                dec_text(o.last_realized)
            } else {
                "0".into()
            },
        ),
        ("fillFee", fill_fee),
        ("fillFeeCcy", fill_fee_ccy),
        ("execType", exec_type.into()),
        ("avgPx", avg),
        ("state", o.status.okx().into()),
        ("lever", if spot { "" } else { "1" }.into()),
        ("stpMode", "cancel_maker".into()),
        ("feeCcy", fee_ccy),
        ("fee", neg_fee(o.fee_total)),
        (
            "rebateCcy",
            if spot {
                o.inst.quote.clone()
            } else {
                o.inst.settle.clone()
            },
        ),
        ("rebate", "0".into()),
        ("pnl", dec_text(o.realized_total)),
        ("source", String::new()),
        ("cancelSource", String::new()),
        ("amendSource", String::new()),
        (
            "category",
            if o.liquidation {
                "full_liquidation"
            } else {
                "normal"
            }
            .into(),
        ),
        ("isTpLimit", "false".into()),
        ("uTime", now.to_string()),
        ("cTime", o.created_ms.to_string()),
        ("reqId", String::new()),
        ("amendResult", String::new()),
        ("reduceOnly", "false".into()),
        ("quickMgnType", String::new()),
        ("algoClOrdId", String::new()),
        ("algoId", String::new()),
        ("code", "0".into()),
        ("msg", String::new()),
    ];
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("\"{k}\":{}", q(v)))
        .collect();
    format!("{{{}}}", body.join(","))
}

pub fn order_push(o: &Order, fill: Option<&OkxFill>, now: i64) -> Outgoing {
    Outgoing::OkxOrder {
        inst_type: o.inst.inst_type.to_string(),
        inst_id: o.inst.symbol.clone(),
        entry: order_entry(o, fill, now),
    }
}

/// `account` push of `assets` (all currencies when `None`).
pub fn account_push(a: &Account, assets: Option<&[String]>, now: i64) -> Outgoing {
    let mut details = Vec::new();
    let mut total = Dec::ZERO;
    for (ccy, b) in &a.balances {
        let cash = b.free.checked_add(b.locked).unwrap_or_default();
        if matches!(ccy.as_str(), "USDT" | "USDC" | "USD") {
            total = total.checked_add(cash).unwrap_or(total);
        }
        if assets.is_some_and(|list| !list.iter().any(|x| x == ccy)) {
            continue;
        }
        // OKX prints the detail fields in alphabetical order (uTime after upl).
        let text: Vec<String> = [
            ("availBal", dec_text(b.free)),
            ("availEq", dec_text(b.free)),
            ("cashBal", dec_text(cash)),
            ("ccy", ccy.clone()),
            ("eq", dec_text(cash)),
            ("fixedBal", "0".into()),
            ("frozenBal", dec_text(b.locked)),
            ("ordFrozen", dec_text(b.locked)),
            ("upl", "0".into()),
            ("uTime", now.to_string()),
        ]
        .iter()
        .map(|(k, v)| format!("\"{k}\":{}", q(v)))
        .collect();
        details.push((ccy.clone(), format!("{{{}}}", text.join(","))));
    }
    Outgoing::OkxAccount {
        total_eq: dec_text(total),
        u_time: now.to_string(),
        details,
    }
}

/// `positions` push of `symbols` (all positions when `None`).
pub fn positions_push(a: &Account, symbols: Option<&[String]>) -> Outgoing {
    let mut entries = Vec::new();
    for (sym, p) in &a.positions {
        if symbols.is_some_and(|list| !list.iter().any(|x| x == sym)) {
            continue;
        }
        if p.inst.kind == InstKind::Spot {
            continue;
        }
        let pos_id =
            600_000_000_000_000_000 + fnv(&format!("{}{sym}", a.uid)) % 99_999_999_999_999_999;
        let avg = if p.amount.is_zero() {
            String::new()
        } else {
            dec_text(p.entry)
        };
        let fields: Vec<(&str, String)> = vec![
            ("instType", p.inst.inst_type.to_string()),
            ("instId", sym.clone()),
            ("posId", pos_id.to_string()),
            ("posSide", "net".into()),
            ("pos", p.amount.to_string()),
            ("avgPx", avg.clone()),
            ("upl", p.unrealized.clone().unwrap_or("0".into())),
            ("uplRatio", "0".into()),
            ("lever", "1".into()),
            ("liqPx", String::new()),
            ("markPx", p.mark.clone().unwrap_or(avg)),
            ("mgnMode", p.margin_type.clone()),
            ("margin", String::new()),
            ("imr", String::new()),
            ("mmr", String::new()),
            ("notionalUsd", String::new()),
            ("ccy", p.inst.settle.clone()),
            ("realizedPnl", dec_text(p.realized)),
            ("adl", "1".into()),
            ("cTime", p.c_time.to_string()),
            ("uTime", p.u_time.to_string()),
            ("pTime", p.u_time.to_string()),
        ];
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("\"{k}\":{}", q(v)))
            .collect();
        entries.push((
            p.inst.inst_type.to_string(),
            sym.clone(),
            format!("{{{}}}", body.join(",")),
        ));
    }
    Outgoing::OkxPositions { entries }
}
