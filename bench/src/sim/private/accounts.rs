//! Accounts, credentials and the registry of private sockets.
//!
//! One [`Registry`] behind a `std::sync::Mutex` (never held across an `.await`) holds every
//! registered account (orders, balances, positions, listen key, counters) and every open private
//! socket with what it is subscribed to. Control handlers change an account and hand the
//! venue-rendered event to [`Registry::deliver`], which queues a frame on the unbounded channel
//! of every socket subscribed to that account (in the same order for all of them); each socket
//! task drains its channel into its WebSocket.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc::UnboundedSender;

use super::decimal::Dec;

// ------------------------------------------------------------------ providers

/// Which private API an account lives on. OKX has one account for `okx`, `okxLinear` and
/// `okxInverse` (one OKX key logs in once and sees every instType); the three Binance products
/// are separate accounts (spot WS API, USD-M listen keys, COIN-M listen keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    BinanceSpot,
    BinanceUsdm,
    BinanceCoinm,
    Okx,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::BinanceSpot => "binance",
            Family::BinanceUsdm => "binanceUsdm",
            Family::BinanceCoinm => "binanceCoinm",
            Family::Okx => "okx",
        }
    }
    pub fn is_binance_futures(self) -> bool {
        matches!(self, Family::BinanceUsdm | Family::BinanceCoinm)
    }
}

pub const PROVIDERS: &str = "binance, binanceUsdm, binanceCoinm, okx, okxLinear, okxInverse";

/// The family of a control-API provider name.
pub fn provider_family(p: &str) -> Option<Family> {
    Some(match p {
        "binance" => Family::BinanceSpot,
        "binanceUsdm" => Family::BinanceUsdm,
        "binanceCoinm" => Family::BinanceCoinm,
        "okx" | "okxLinear" | "okxInverse" => Family::Okx,
        _ => return None,
    })
}

pub type AcctId = (Family, String);

/// `abcd…`: the first 4 characters of a key, for stats and logs.
pub fn redact(key: &str) -> String {
    let head: String = key.chars().take(4).collect();
    format!("{head}…")
}

// ------------------------------------------------------------------ credentials

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Hmac,
    Ed25519,
}

impl KeyKind {
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Hmac => "hmac",
            KeyKind::Ed25519 => "ed25519",
        }
    }
}

/// A registered secret. The simulator verifies every signature itself from this (HMAC
/// recomputed; Ed25519 checked against the public key derived from the private-key PEM).
pub struct Secret {
    hmac: String,
    ed25519: Option<VerifyingKey>,
}

/// PEM whose newlines became spaces or literal `\n`: keep the armour lines, strip all
/// whitespace from the base64 body and wrap it at 64 columns.
pub fn normalize_pem(text: &str) -> String {
    let t = text.replace("\\n", "\n").replace("\\r", "");
    let t = t.trim();
    let Some(b) = t.find("-----BEGIN ") else {
        return t.to_string();
    };
    let rest = &t[b + 11..];
    let Some(le) = rest.find("-----") else {
        return t.to_string();
    };
    let label = rest[..le].trim().to_string();
    let body_start = b + 11 + le + 5;
    let Some(e) = t[body_start..].find("-----END ") else {
        return t.to_string();
    };
    let body: String = t[body_start..body_start + e]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

impl Secret {
    /// Binance spot accepts an HMAC secret or an Ed25519 private-key PEM (PKCS#8); RSA keys
    /// are not simulated. Futures and OKX secrets are HMAC secrets.
    pub fn new(family: Family, secret: &str) -> Result<Secret, String> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err("`secret` is empty".into());
        }
        if secret.contains("PRIVATE KEY") {
            if family != Family::BinanceSpot {
                return Err(format!(
                    "{} keys are HMAC secrets here; a PEM is only accepted for provider binance (Ed25519)",
                    family.name()
                ));
            }
            if secret.contains("RSA PRIVATE KEY") {
                return Err("RSA keys are not simulated; register an Ed25519 PKCS#8 PEM (-----BEGIN PRIVATE KEY-----) or an HMAC secret".into());
            }
            let pem = normalize_pem(secret);
            let sk = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
                format!("`secret` looks like a PEM but is not an Ed25519 PKCS#8 private key ({e})")
            })?;
            return Ok(Secret {
                hmac: String::new(),
                ed25519: Some(sk.verifying_key()),
            });
        }
        Ok(Secret {
            hmac: secret.to_string(),
            ed25519: None,
        })
    }

    pub fn kind(&self) -> KeyKind {
        if self.ed25519.is_some() {
            KeyKind::Ed25519
        } else {
            KeyKind::Hmac
        }
    }

    /// A Binance signature over `payload`: lower/upper-case hex HMAC-SHA256 for HMAC keys,
    /// standard base64 Ed25519 for Ed25519 keys.
    pub fn verify_binance(&self, payload: &str, signature: &str) -> bool {
        match &self.ed25519 {
            Some(vk) => {
                let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature) else {
                    return false;
                };
                let Ok(sig) = Signature::from_slice(&bytes) else {
                    return false;
                };
                vk.verify_strict(payload.as_bytes(), &sig).is_ok()
            }
            None => {
                let Some(bytes) = hex_decode(signature) else {
                    return false;
                };
                let mut mac = Hmac::<Sha256>::new_from_slice(self.hmac.as_bytes())
                    .expect("HMAC takes any key");
                mac.update(payload.as_bytes());
                mac.verify_slice(&bytes).is_ok()
            }
        }
    }

    /// OKX: `sign` = base64(HMAC-SHA256(secret, prehash)).
    pub fn verify_okx(&self, prehash: &str, sign: &str) -> bool {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(sign) else {
            return false;
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.hmac.as_bytes()).expect("HMAC takes any key");
        mac.update(prehash.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Binance's signed payload: every param except `signature`, sorted by name, `k=v` joined by
/// `&`; strings as their text, numbers as written.
pub fn binance_payload(params: &serde_json::Map<String, Value>) -> String {
    let mut keys: Vec<&String> = params.keys().filter(|k| *k != "signature").collect();
    keys.sort();
    keys.iter()
        .map(|k| {
            let v = match &params[*k] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

// ------------------------------------------------------------------ instruments

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstKind {
    Spot,
    Linear,
    Inverse,
}

/// What a control-API symbol means for balances and positions.
#[derive(Clone, Debug)]
pub struct Instrument {
    pub symbol: String,
    pub base: String,
    pub quote: String,
    pub kind: InstKind,
    /// OKX `instType` (`SPOT`, `SWAP`, `FUTURES`); Binance: `SPOT`/`FUTURES`.
    pub inst_type: &'static str,
    /// The asset margin, PnL and default fees of a derivative settle in.
    pub settle: String,
    /// Contract size: USD per contract (inverse), base per contract (OKX linear), 1 otherwise.
    pub contract: Dec,
}

const SPOT_QUOTES: [&str; 14] = [
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "DAI", "BTC", "ETH", "BNB", "EUR", "TRY",
    "BRL", "JPY",
];

fn inverse_contract(base: &str) -> Dec {
    Dec::from_int(if base == "BTC" { 100 } else { 10 })
}

fn okx_linear_contract(base: &str) -> Dec {
    match base {
        "BTC" => Dec::parse("0.01").unwrap(),
        "ETH" => Dec::parse("0.1").unwrap(),
        _ => Dec::from_int(1),
    }
}

fn valid_asset(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Resolves `symbol` for `provider` (exchange-native names: `BTCUSDT`, `BTCUSD_PERP`,
/// `BTC-USDT`, `BTC-USDT-SWAP`, `BTC-USD-SWAP`, `BTC-USD-250627`).
pub fn instrument(provider: &str, symbol: &str) -> Result<Instrument, String> {
    let bad = |why: &str| {
        Err(format!(
            "symbol {symbol:?} does not fit provider {provider}: {why}"
        ))
    };
    match provider {
        "binance" | "binanceUsdm" => {
            let (pair, dated) = match symbol.split_once('_') {
                Some((p, d)) if provider == "binanceUsdm" => {
                    if d.len() != 6 || !d.bytes().all(|b| b.is_ascii_digit()) {
                        return bad("USD-M symbols are BTCUSDT or BTCUSDT_YYMMDD");
                    }
                    (p, true)
                }
                Some(_) => return bad("spot symbols look like BTCUSDT"),
                None => (symbol, false),
            };
            let quotes: &[&str] = if provider == "binance" {
                &SPOT_QUOTES
            } else {
                &["USDT", "USDC", "BUSD"]
            };
            let Some(q) = quotes
                .iter()
                .find(|q| pair.len() > q.len() && pair.ends_with(**q))
            else {
                return bad(&format!(
                    "no known quote asset suffix ({})",
                    quotes.join(", ")
                ));
            };
            let base = &pair[..pair.len() - q.len()];
            if !valid_asset(base) || symbol.bytes().any(|b| b.is_ascii_lowercase()) {
                return bad("expected upper-case letters/digits, e.g. BTCUSDT");
            }
            let spot = provider == "binance";
            Ok(Instrument {
                symbol: symbol.to_string(),
                base: base.to_string(),
                quote: q.to_string(),
                kind: if spot {
                    InstKind::Spot
                } else {
                    InstKind::Linear
                },
                inst_type: if spot {
                    "SPOT"
                } else if dated {
                    "FUTURES"
                } else {
                    "SWAP"
                },
                settle: q.to_string(),
                contract: Dec::from_int(1),
            })
        }
        "binanceCoinm" => {
            let Some((pair, tail)) = symbol.split_once('_') else {
                return bad("COIN-M symbols look like BTCUSD_PERP or BTCUSD_250627");
            };
            let dated = tail != "PERP";
            if dated && (tail.len() != 6 || !tail.bytes().all(|b| b.is_ascii_digit())) {
                return bad("COIN-M symbols look like BTCUSD_PERP or BTCUSD_250627");
            }
            let Some(base) = pair.strip_suffix("USD") else {
                return bad("COIN-M pairs end in USD");
            };
            if !valid_asset(base) {
                return bad("expected upper-case letters/digits, e.g. BTCUSD_PERP");
            }
            Ok(Instrument {
                symbol: symbol.to_string(),
                base: base.to_string(),
                quote: "USD".into(),
                kind: InstKind::Inverse,
                inst_type: if dated { "FUTURES" } else { "SWAP" },
                settle: base.to_string(),
                contract: inverse_contract(base),
            })
        }
        "okx" | "okxLinear" | "okxInverse" => {
            let parts: Vec<&str> = symbol.split('-').collect();
            if parts.len() < 2 || parts.len() > 3 || !parts[..2].iter().all(|p| valid_asset(p)) {
                return bad(
                    "OKX instIds look like BTC-USDT, BTC-USDT-SWAP, BTC-USD-SWAP or BTC-USD-250627",
                );
            }
            let (base, quote) = (parts[0].to_string(), parts[1].to_string());
            let inst_type = match parts.get(2) {
                None => "SPOT",
                Some(&"SWAP") => "SWAP",
                Some(d) if d.len() == 6 && d.bytes().all(|b| b.is_ascii_digit()) => "FUTURES",
                Some(_) => return bad("the third part must be SWAP or a YYMMDD expiry"),
            };
            let inverse = quote == "USD";
            match (provider, inst_type, inverse) {
                ("okx", "SPOT", _) => Ok(Instrument {
                    symbol: symbol.to_string(),
                    settle: quote.clone(),
                    base,
                    quote,
                    kind: InstKind::Spot,
                    inst_type,
                    contract: Dec::from_int(1),
                }),
                ("okxLinear", "SWAP" | "FUTURES", false) => Ok(Instrument {
                    symbol: symbol.to_string(),
                    settle: quote.clone(),
                    contract: okx_linear_contract(&base),
                    base,
                    quote,
                    kind: InstKind::Linear,
                    inst_type,
                }),
                ("okxInverse", "SWAP" | "FUTURES", true) => Ok(Instrument {
                    symbol: symbol.to_string(),
                    settle: base.clone(),
                    contract: inverse_contract(&base),
                    base,
                    quote,
                    kind: InstKind::Inverse,
                    inst_type,
                }),
                ("okx", _, _) => bad("okx is SPOT (BTC-USDT)"),
                ("okxLinear", _, _) => {
                    bad("okxLinear is USDT/USDC-margined SWAP/FUTURES (BTC-USDT-SWAP)")
                }
                _ => bad("okxInverse is coin-margined SWAP/FUTURES (BTC-USD-SWAP)"),
            }
        }
        _ => Err(format!(
            "unknown provider {provider:?}; use one of {PROVIDERS}"
        )),
    }
}

// ------------------------------------------------------------------ account state

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrdStatus {
    New,
    PartiallyFilled,
    Filled,
    Canceled,
}

impl OrdStatus {
    pub fn binance(self) -> &'static str {
        match self {
            OrdStatus::New => "NEW",
            OrdStatus::PartiallyFilled => "PARTIALLY_FILLED",
            OrdStatus::Filled => "FILLED",
            OrdStatus::Canceled => "CANCELED",
        }
    }
    pub fn okx(self) -> &'static str {
        match self {
            OrdStatus::New => "live",
            OrdStatus::PartiallyFilled => "partially_filled",
            OrdStatus::Filled => "filled",
            OrdStatus::Canceled => "canceled",
        }
    }
    pub fn is_open(self) -> bool {
        matches!(self, OrdStatus::New | OrdStatus::PartiallyFilled)
    }
}

#[derive(Clone, Debug)]
pub struct Order {
    pub id: String,
    pub client_id: String,
    pub inst: Instrument,
    /// `BUY` / `SELL`.
    pub buy: bool,
    /// `LIMIT` (true) / `MARKET`.
    pub limit: bool,
    pub qty: Dec,
    /// Limit price (`None` for market orders).
    pub price: Option<Dec>,
    pub filled: Dec,
    /// Cumulative `Σ qty × price` of the fills (exact).
    pub quote: Dec,
    /// Cumulative fee (positive = charged).
    pub fee_total: Dec,
    pub fee_asset: Option<String>,
    pub status: OrdStatus,
    pub created_ms: i64,
    /// Liquidation order (Binance `autoclose-`, OKX `full_liquidation`).
    pub liquidation: bool,
    /// Realized PnL of the last fill.
    pub last_realized: Dec,
    /// Cumulative realized PnL.
    pub realized_total: Dec,
}

impl Order {
    pub fn side(&self) -> &'static str {
        if self.buy {
            "BUY"
        } else {
            "SELL"
        }
    }
    pub fn remaining(&self) -> Dec {
        self.qty.checked_sub(self.filled).unwrap_or(Dec::ZERO)
    }
    /// Average fill price: `quote / filled` truncated to `min_scale + 8` decimals, trailing
    /// zeros trimmed down to `min_scale` (the order price's scale).
    pub fn avg_price(&self, min_scale: u32) -> Option<Dec> {
        if self.filled.is_zero() {
            return None;
        }
        let q = self.quote.checked_div(self.filled, min_scale + 8)?;
        Some(q.trimmed_to(min_scale))
    }
}

#[derive(Clone, Debug, Default)]
pub struct Balance {
    pub free: Dec,
    pub locked: Dec,
}

#[derive(Clone, Debug)]
pub struct Position {
    pub inst: Instrument,
    /// Signed amount (base units / contracts).
    pub amount: Dec,
    pub entry: Dec,
    /// Accumulated realized PnL.
    pub realized: Dec,
    pub unrealized: Option<String>,
    pub mark: Option<String>,
    pub margin_type: String,
    /// Binance `BOTH|LONG|SHORT`.
    pub side: String,
    pub c_time: i64,
    pub u_time: i64,
}

#[derive(Clone, Debug, Default)]
pub struct AcctStats {
    pub logons_ok: u64,
    pub logons_failed: u64,
    pub subscribes: u64,
    pub listen_keys_created: u64,
    pub listen_keys_kept_alive: u64,
    pub listen_keys_expired: u64,
    pub listen_keys_deleted: u64,
    pub events_generated: u64,
    pub events_sent: u64,
    pub events_undelivered: u64,
    /// Successful logons (spot `session.logon` / `subscribe.signature`, OKX `login`) and
    /// listen-key socket openings, per socket path.
    pub logons_by_path: BTreeMap<String, u64>,
}

pub struct Account {
    pub family: Family,
    pub key: String,
    pub secret: Secret,
    pub passphrase: Option<String>,
    pub providers: BTreeSet<String>,
    pub rejected: bool,
    /// OKX `uid` in push args (stable per key).
    pub uid: String,
    pub next_order_id: u64,
    pub next_trade_id: u64,
    pub next_exec_id: u64,
    pub next_client_seq: u64,
    pub orders: HashMap<String, Order>,
    pub balances: BTreeMap<String, Balance>,
    pub positions: BTreeMap<String, Position>,
    /// The active listen key (Binance futures).
    pub listen_key: Option<String>,
    pub stats: AcctStats,
}

impl Account {
    pub fn new(family: Family, key: String, secret: Secret, passphrase: Option<String>) -> Account {
        let h = super::super::universe::fnv(&key);
        let (order0, trade0) = match family {
            Family::Okx => (600_000_000_000_000_001, 100_000_001),
            _ => (100_000_001, 500_000_001),
        };
        Account {
            family,
            uid: format!("{}", 10_000_000_000_000_000 + h % 89_999_999_999_999_999),
            key,
            secret,
            passphrase,
            providers: BTreeSet::new(),
            rejected: false,
            next_order_id: order0,
            next_trade_id: trade0,
            next_exec_id: 1,
            next_client_seq: 1,
            orders: HashMap::new(),
            balances: BTreeMap::new(),
            positions: BTreeMap::new(),
            listen_key: None,
            stats: AcctStats::default(),
        }
    }

    pub fn balance_mut(&mut self, asset: &str) -> &mut Balance {
        self.balances.entry(asset.to_string()).or_default()
    }

    /// Adds `delta` to the free balance of `asset`.
    pub fn add_free(&mut self, asset: &str, delta: Dec) -> Result<(), String> {
        let b = self.balance_mut(asset);
        b.free = b
            .free
            .checked_add(delta)
            .ok_or("balance arithmetic overflow")?;
        Ok(())
    }

    /// Applies a fill to the position of `inst` (derivatives); returns the realized PnL.
    pub fn apply_position_fill(
        &mut self,
        inst: &Instrument,
        buy: bool,
        qty: Dec,
        price: Dec,
        now: i64,
    ) -> Result<Dec, String> {
        let overflow = || "position arithmetic overflow".to_string();
        let pos = self
            .positions
            .entry(inst.symbol.clone())
            .or_insert_with(|| Position {
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
        let signed = if buy { qty } else { qty.negated() };
        let old = pos.amount;
        let new = old.checked_add(signed).ok_or_else(overflow)?;
        let same_dir = old.is_zero() || (old.is_positive() == buy);
        let mut realized = Dec::ZERO;
        let price_scale = price.scale().max(pos.entry.scale());
        if same_dir {
            // Weighted average entry.
            let num = old
                .abs()
                .checked_mul(pos.entry)
                .and_then(|a| a.checked_add(qty.checked_mul(price)?))
                .ok_or_else(overflow)?;
            let den = old.abs().checked_add(qty).ok_or_else(overflow)?;
            pos.entry = num
                .checked_div(den, price_scale + 8)
                .ok_or_else(overflow)?
                .trimmed_to(price.scale());
        } else {
            let closed = if qty < old.abs() { qty } else { old.abs() };
            let sign = if old.is_positive() {
                Dec::from_int(1)
            } else {
                Dec::from_int(-1)
            };
            realized = match inst.kind {
                InstKind::Inverse => {
                    // closed × contract × (1/entry − 1/price), in the settle coin, 8 decimals.
                    let inv = |p: Dec| Dec::from_int(1).checked_div(p, 16);
                    match (inv(pos.entry), inv(price)) {
                        (Some(a), Some(b)) => a
                            .checked_sub(b)
                            .and_then(|d| d.checked_mul(closed))
                            .and_then(|d| d.checked_mul(inst.contract))
                            .and_then(|d| d.checked_mul(sign))
                            .and_then(|d| d.checked_div(Dec::from_int(1), 8))
                            .ok_or_else(overflow)?,
                        _ => Dec::ZERO,
                    }
                }
                _ => price
                    .checked_sub(pos.entry)
                    .and_then(|d| d.checked_mul(closed))
                    .and_then(|d| d.checked_mul(inst.contract))
                    .and_then(|d| d.checked_mul(sign))
                    .ok_or_else(overflow)?,
            };
            if new.is_zero() {
                pos.entry = Dec::ZERO;
            } else if new.is_positive() != old.is_positive() {
                // Flipped through zero: the remainder opened at this price.
                pos.entry = price;
            }
        }
        pos.amount = new;
        pos.realized = pos.realized.checked_add(realized).ok_or_else(overflow)?;
        pos.u_time = now;
        Ok(realized)
    }
}

// ------------------------------------------------------------------ sockets and delivery

/// What a socket task receives from the registry.
#[derive(Debug)]
pub enum Push {
    /// Send this text frame.
    Frame(String),
    /// Send a close frame with this code and reason, then end.
    Close(u16, &'static str),
    /// Drop the TCP connection without a close frame.
    Drop,
    /// Binance spot: the logged-on key was rejected; the next request gets `-2015` (id null)
    /// and the session is logged out.
    Revoked,
}

#[derive(Clone, Debug)]
pub struct SpotSub {
    pub id: u64,
    pub acct: AcctId,
    /// Created by `userDataStream.subscribe` (ends with `session.logout`).
    pub via_logon: bool,
}

/// One OKX private subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OkxSub {
    pub channel: String,
    pub inst_type: Option<String>,
    pub inst_family: Option<String>,
    pub inst_id: Option<String>,
    pub ccy: Option<String>,
    /// The arg as echoed in acks (OKX key order).
    pub echo: String,
}

impl OkxSub {
    pub fn matches_inst(&self, inst_type: &str, inst_id: &str) -> bool {
        let t_ok = match self.inst_type.as_deref() {
            None | Some("ANY") => true,
            Some(t) => t == inst_type,
        };
        let fam_ok = match self.inst_family.as_deref() {
            None => true,
            Some(f) => inst_id.starts_with(&format!("{f}-")) && inst_type != "SPOT",
        };
        let id_ok = self.inst_id.as_deref().is_none_or(|i| i == inst_id);
        t_ok && fam_ok && id_ok
    }

    /// The `arg` of a push: the subscribed arg plus `uid`.
    pub fn push_arg(&self, uid: &str) -> String {
        let mut s = format!("{{\"channel\":{}", json!(self.channel));
        for (k, v) in [
            ("instType", &self.inst_type),
            ("instFamily", &self.inst_family),
            ("instId", &self.inst_id),
            ("ccy", &self.ccy),
        ] {
            if let Some(v) = v {
                s.push_str(&format!(",\"{k}\":{}", json!(v)));
            }
        }
        s.push_str(&format!(",\"uid\":{}}}", json!(uid)));
        s
    }
}

#[derive(Debug)]
pub enum ConnKind {
    /// Binance spot WS API.
    Spot {
        logon: Option<AcctId>,
        subs: Vec<SpotSub>,
    },
    /// Binance futures listen-key socket.
    Futures {
        acct: AcctId,
        listen_key: String,
        /// `events=` filter (exhaustive), `None` = everything.
        events: Option<Vec<String>>,
    },
    /// OKX private socket.
    Okx {
        login: Option<AcctId>,
        subs: Vec<OkxSub>,
    },
}

#[derive(Debug)]
pub struct ConnEntry {
    pub path: String,
    pub tx: UnboundedSender<Push>,
    pub kind: ConnKind,
}

impl ConnEntry {
    /// The account this socket is bound to (for per-account socket counts and drops).
    pub fn bound_to(&self, acct: &AcctId) -> bool {
        match &self.kind {
            ConnKind::Spot { logon, subs } => {
                logon.as_ref() == Some(acct) || subs.iter().any(|s| &s.acct == acct)
            }
            ConnKind::Futures { acct: a, .. } => a == acct,
            ConnKind::Okx { login, .. } => login.as_ref() == Some(acct),
        }
    }
}

/// A venue event ready to be delivered.
pub enum Outgoing {
    /// Binance spot event object, wrapped `{"subscriptionId":N,"event":…}` per subscription.
    Spot(String),
    /// Binance futures bare event; `name` is its `e` (matched against `events=`).
    Futures { name: &'static str, body: String },
    /// OKX `orders` entry.
    OkxOrder {
        inst_type: String,
        inst_id: String,
        entry: String,
    },
    /// OKX `account` data object parts (details filtered by a `ccy` subscription).
    OkxAccount {
        total_eq: String,
        u_time: String,
        details: Vec<(String, String)>,
    },
    /// OKX `positions` entries `(instType, instId, entry)`.
    OkxPositions {
        entries: Vec<(String, String, String)>,
    },
}

pub struct ListenKey {
    pub acct: AcctId,
    pub extended_at: Instant,
    pub expires_at: Instant,
}

#[derive(Default)]
pub struct Registry {
    pub accounts: BTreeMap<AcctId, Account>,
    pub conns: HashMap<u64, ConnEntry>,
    pub listen_keys: HashMap<String, ListenKey>,
    /// Authentication failures with keys no account has, per family.
    pub unknown_key_failures: BTreeMap<&'static str, u64>,
}

impl Registry {
    pub fn unknown_failure(&mut self, family: Family) {
        *self.unknown_key_failures.entry(family.name()).or_default() += 1;
    }

    /// Pushes `out` to every socket subscribed to `acct`; counts the event as generated, and as
    /// undelivered when no socket took it. Returns the number of frames queued.
    pub fn deliver(&mut self, acct: &AcctId, out: &Outgoing) -> usize {
        let Some(a) = self.accounts.get(acct) else {
            return 0;
        };
        let uid = a.uid.clone();
        let mut sent = 0usize;
        for c in self.conns.values() {
            let mut frames: Vec<String> = Vec::new();
            match (&c.kind, out) {
                (ConnKind::Spot { subs, .. }, Outgoing::Spot(body)) => {
                    for s in subs.iter().filter(|s| &s.acct == acct) {
                        frames.push(format!("{{\"subscriptionId\":{},\"event\":{body}}}", s.id));
                    }
                }
                (
                    ConnKind::Futures {
                        acct: a, events, ..
                    },
                    Outgoing::Futures { name, body },
                ) if a == acct
                    && events
                        .as_ref()
                        .is_none_or(|ev| ev.iter().any(|e| e == name)) =>
                {
                    frames.push(body.clone());
                }
                (
                    ConnKind::Okx {
                        login: Some(a),
                        subs,
                    },
                    _,
                ) if a == acct => {
                    for s in subs {
                        if let Some(f) = okx_frame(s, &uid, out) {
                            frames.push(f);
                        }
                    }
                }
                _ => {}
            }
            for f in frames {
                if c.tx.send(Push::Frame(f)).is_ok() {
                    sent += 1;
                }
            }
        }
        if let Some(a) = self.accounts.get_mut(acct) {
            a.stats.events_generated += 1;
            a.stats.events_sent += sent as u64;
            if sent == 0 {
                a.stats.events_undelivered += 1;
            }
        }
        sent
    }

    /// Sends `push` (built per socket) to every socket bound to `acct` (or to every private
    /// socket when `acct` is `None`); returns how many.
    pub fn push_bound(&self, acct: Option<&AcctId>, mut push: impl FnMut() -> Push) -> usize {
        self.conns
            .values()
            .filter(|c| acct.is_none_or(|a| c.bound_to(a)))
            .filter(|c| c.tx.send(push()).is_ok())
            .count()
    }
}

/// The OKX push frame of `out` for subscription `s`, if it matches.
pub fn okx_frame(s: &OkxSub, uid: &str, out: &Outgoing) -> Option<String> {
    match out {
        Outgoing::OkxOrder {
            inst_type,
            inst_id,
            entry,
        } if s.channel == "orders" && s.matches_inst(inst_type, inst_id) => Some(format!(
            "{{\"arg\":{},\"data\":[{entry}]}}",
            s.push_arg(uid)
        )),
        Outgoing::OkxAccount {
            total_eq,
            u_time,
            details,
        } if s.channel == "account" => {
            let picked: Vec<&str> = details
                .iter()
                .filter(|(ccy, _)| s.ccy.as_deref().is_none_or(|c| c == ccy))
                .map(|(_, d)| d.as_str())
                .collect();
            if picked.is_empty() {
                return None;
            }
            Some(format!(
                "{{\"arg\":{},\"data\":[{{\"totalEq\":{},\"uTime\":{},\"details\":[{}]}}]}}",
                s.push_arg(uid),
                json!(total_eq),
                json!(u_time),
                picked.join(",")
            ))
        }
        Outgoing::OkxPositions { entries } if s.channel == "positions" => {
            let picked: Vec<&str> = entries
                .iter()
                .filter(|(t, id, _)| s.matches_inst(t, id))
                .map(|(_, _, e)| e.as_str())
                .collect();
            if picked.is_empty() {
                return None;
            }
            Some(format!(
                "{{\"arg\":{},\"data\":[{}]}}",
                s.push_arg(uid),
                picked.join(",")
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruments() {
        let i = instrument("binance", "ETHBTC").unwrap();
        assert_eq!((i.base.as_str(), i.quote.as_str()), ("ETH", "BTC"));
        let i = instrument("binance", "BTCFDUSD").unwrap();
        assert_eq!(i.quote, "FDUSD");
        let i = instrument("binanceCoinm", "BTCUSD_PERP").unwrap();
        assert_eq!((i.settle.as_str(), i.kind), ("BTC", InstKind::Inverse));
        let i = instrument("okxLinear", "ETH-USDT-SWAP").unwrap();
        assert_eq!((i.inst_type, i.settle.as_str()), ("SWAP", "USDT"));
        let i = instrument("okxInverse", "BTC-USD-250627").unwrap();
        assert_eq!(i.inst_type, "FUTURES");
        assert!(instrument("okx", "BTC-USDT-SWAP").is_err());
        assert!(instrument("binance", "btcusdt").is_err());
        assert!(instrument("binanceUsdm", "BTCUSD_PERP").is_err());
    }

    #[test]
    fn pem_normalization() {
        let pem = "-----BEGIN PRIVATE KEY----- MC4CAQAwBQYDK2VwBCIEIAMh5OqYFvh6x8QtYbt/W/1Rb66XxQTKvz20PvAEtii0 -----END PRIVATE KEY-----";
        assert!(Secret::new(Family::BinanceSpot, pem).is_ok());
        assert_eq!(
            Secret::new(Family::BinanceSpot, pem).unwrap().kind(),
            KeyKind::Ed25519
        );
        assert!(Secret::new(Family::Okx, pem).is_err());
        assert!(Secret::new(
            Family::BinanceSpot,
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"
        )
        .is_err());
    }

    #[test]
    fn hmac_vector() {
        // binance-spot-api-docs web-socket-api.md "SIGNED request example (HMAC)".
        let s = Secret::new(
            Family::BinanceSpot,
            "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
        )
        .unwrap();
        let payload = "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT";
        assert!(s.verify_binance(
            payload,
            "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
        ));
        assert!(s.verify_binance(
            payload,
            "AA1B5712C094BC4E57C05A1A5C1FD8D88DCD628338EA863FEC7B88E59FE2DB24"
        ));
        assert!(!s.verify_binance(
            payload,
            "ab1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
        ));
        // OKX vector (shared/exchanges/README.md).
        let o = Secret::new(
            Family::Okx,
            "chNOOS4KvNXR_Xq4k4c9qsfoKWvnDecLATCRlcBwyKDYnWgO",
        )
        .unwrap();
        assert!(o.verify_okx(
            "2020-12-08T09:08:57.715ZGET/api/v5/account/balance",
            "PJ61e1nb2F2Qd7D8SPiaIcx2gjdELc+o0ygzre9z33k="
        ));
        assert!(o.verify_okx(
            "1538054050GET/users/self/verify",
            "ENpPNQ8mQv8YzDMPhBsB4SrjaKK+FaEh2nozTRW6KU0="
        ));
    }

    #[test]
    fn payload_sorted() {
        let v: Value = serde_json::from_str(
            r#"{"timestamp":1649729878532,"apiKey":"k","signature":"x","recvWindow":5000}"#,
        )
        .unwrap();
        assert_eq!(
            binance_payload(v.as_object().unwrap()),
            "apiKey=k&recvWindow=5000&timestamp=1649729878532"
        );
    }
}
