//! Shared building blocks of the USER (private) streams: the normalized message handed to the
//! publisher, what a private frame was, credentials (never printed), the seed's room id and
//! credential fingerprint, the Redis `orders` hash rule, and the small exact helpers the venue
//! normalizers share (JSON text writer with the seed's `JSON.stringify` semantics, lossless
//! number handling, exact decimal add/multiply on digit strings).
//!
//! Pure: no I/O, no clocks (callers inject `now_ms` / timestamps), no randomness.
//! Private frames are low-rate, so this module parses with `serde_json` into borrowed
//! [`RawValue`]s: every scalar is copied from its original text, never through `f64`.

use std::collections::HashMap;
use std::fmt;

use serde_json::value::RawValue;
use sha1::{Digest, Sha1};

use crate::error::DecodeError;
use crate::types::{is_plain_decimal, write_js_number, Provider};

// ---------------------------------------------------------------------------------------------
// Normalized output
// ---------------------------------------------------------------------------------------------

/// What a normalized user message is about (routing hint for the publisher).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UserKind {
    /// `executionReport`, `ORDER_TRADE_UPDATE`.
    Order,
    /// `outboundAccountPosition`, `balanceUpdate`, `account`, `ACCOUNT_UPDATE`.
    Balance,
    /// `MARGIN_CALL`, OKX `POSITION_UPDATE` (corefeed's own shape, see `okx::user`).
    Position,
    /// `ACCOUNT_CONFIG_UPDATE`, `USER_DATA_STREAM_EXPIRED`.
    Info,
}

/// One payload to `PUBLISH` on the room channel, exactly as the seed would publish it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserMessage {
    pub kind: UserKind,
    /// The exact payload text (`JSON.stringify` of the seed's object: key order, numbers vs
    /// strings, omitted `undefined` keys).
    pub json: String,
    /// The dedupe key also present in `json` (logged as `msg <uniqueMessageId>`).
    pub unique_message_id: String,
    /// `newClientOrderId` (spot shape) or `clientOrderId` (Binance futures shape); `None` for
    /// non-order messages or when the venue sent none/null.
    pub client_order_id: Option<String>,
    /// `orderStatus` of order messages.
    pub order_status: Option<String>,
    /// A "genuine account event" (seed §7.3): clears auth-rejection strikes.
    pub genuine_account_event: bool,
    /// `liquidation: true` in the payload.
    pub liquidation: bool,
}

/// Which request an acknowledgement answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckOp {
    /// Binance WS-API `status: 200` response (logon, subscribe, unsubscribe, ping: match by id),
    /// or a legacy `{"result":null,"id":N}`.
    Response,
    /// OKX `{"event":"login","code":"0"}`.
    Login,
    /// OKX `{"event":"subscribe","arg":{..}}` (one per channel).
    Subscribe,
    /// OKX `{"event":"unsubscribe",..}`.
    Unsubscribe,
}

/// How an error bears on the auth-rejection logic (seed §7.2/§7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthSignal {
    /// Not an authentication problem.
    None,
    /// Counts toward the breaker (Binance −2015/−2014/−2008, HTTP 401: 3 within the window).
    Strike,
    /// Rejected at first sight (Binance "WebSocket session not authenticated"; OKX fatal codes:
    /// the seed closes the client and drops the room).
    Reject,
}

/// What one private frame was, besides the messages it produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameInfo {
    /// Account data: `messages` messages were appended (0 is legal: e.g. an OKX push of another
    /// instType, an empty positions snapshot).
    Data { messages: usize },
    /// Account data of which some entries could not be normalized: the good ones were
    /// appended (`messages`), `bad` entries were skipped (count them as decode errors).
    DataWithErrors {
        messages: usize,
        bad: usize,
        reason: String,
    },
    /// A request was accepted. `id` as the venue echoed it (numbers as their digits);
    /// `subscription_id` from a Binance `userDataStream.subscribe` result; `channel` from an OKX
    /// subscribe ack.
    Ack {
        op: AckOp,
        id: Option<String>,
        subscription_id: Option<u64>,
        channel: Option<String>,
    },
    /// The venue refused a request. `status` is the Binance WS-API HTTP-like status.
    Error {
        id: Option<String>,
        status: Option<u16>,
        code: i64,
        message: String,
        auth: AuthSignal,
    },
    /// `listenKeyExpired`: the stream must be re-created. For Binance futures the
    /// `USER_DATA_STREAM_EXPIRED` message was appended (`messages` = 1); spot publishes nothing.
    ListenKeyExpired { messages: usize },
    /// Binance WS-API `eventStreamTerminated`: the subscription ended (re-logon/re-subscribe).
    EventStreamTerminated { subscription_id: Option<u64> },
    /// A keepalive answer (OKX text `pong`).
    Pong,
    /// A well-formed frame that publishes nothing (event types the seed does not publish, OKX
    /// connection-count notices, …).
    Ignored,
}

// ---------------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------------

/// API credentials of one room. `Debug`/`Display` never print the key, secret or passphrase.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user_id: String,
    pub provider: Provider,
    key: String,
    secret: String,
    passphrase: Option<String>,
    /// Coinbase `legacy|cloud`; `None` when the open command had none.
    pub keys_type: Option<String>,
    /// OKX `my|app|com`; `None` when the open command had none.
    pub okx_source: Option<String>,
}

impl Credentials {
    /// Keeps the texts as given; [`Credentials::room_id`] trims like the seed does.
    pub fn new(
        user_id: impl Into<String>,
        provider: Provider,
        key: impl Into<String>,
        secret: impl Into<String>,
        passphrase: Option<String>,
    ) -> Self {
        Credentials {
            user_id: user_id.into(),
            provider,
            key: key.into(),
            secret: secret.into(),
            passphrase,
            keys_type: None,
            okx_source: None,
        }
    }
    pub fn with_keys_type(mut self, keys_type: Option<String>) -> Self {
        self.keys_type = keys_type;
        self
    }
    pub fn with_okx_source(mut self, okx_source: Option<String>) -> Self {
        self.okx_source = okx_source;
        self
    }
    /// The API key, trimmed (the seed trims it before use).
    pub fn key(&self) -> &str {
        self.key.trim()
    }
    /// The secret, trimmed.
    pub fn secret(&self) -> &str {
        self.secret.trim()
    }
    /// The passphrase, trimmed; `""` when absent.
    pub fn passphrase(&self) -> &str {
        self.passphrase.as_deref().map(str::trim).unwrap_or("")
    }

    /// Seed §3.1: the room id when the open command carries no `uuid`: sha1 hex of
    /// `userId + key + secret + provider + passphrase + keysType + okxSource`, key/secret/
    /// passphrase trimmed, absent optional fields rendered the way a JS template renders
    /// `undefined` (`"undefined"`; an empty passphrase stays empty).
    pub fn room_id(&self) -> String {
        let mut s = String::new();
        s.push_str(&self.user_id);
        s.push_str(self.key.trim());
        s.push_str(self.secret.trim());
        s.push_str(self.provider.as_str());
        s.push_str(
            self.passphrase
                .as_deref()
                .map(str::trim)
                .unwrap_or("undefined"),
        );
        s.push_str(self.keys_type.as_deref().unwrap_or("undefined"));
        s.push_str(self.okx_source.as_deref().unwrap_or("undefined"));
        sha1_hex(s.as_bytes())
    }

    /// Seed §7.3 (NEWER 1.14.9): the credential fingerprint: sha1 hex of
    /// `key|secret|passphrase|keysType` with every whitespace character removed from each part
    /// and absent parts empty. A request whose fingerprint differs from the rejected one lifts
    /// the auth-cooldown gate.
    pub fn fingerprint(&self) -> String {
        let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        let s = format!(
            "{}|{}|{}|{}",
            strip(&self.key),
            strip(&self.secret),
            strip(self.passphrase.as_deref().unwrap_or("")),
            strip(self.keys_type.as_deref().unwrap_or("")),
        );
        sha1_hex(s.as_bytes())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user_id", &self.user_id)
            .field("provider", &self.provider)
            .field("key", &"[REDACTED]")
            .field("secret", &"[REDACTED]")
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "[REDACTED]"),
            )
            .field("keys_type", &self.keys_type)
            .field("okx_source", &self.okx_source)
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} credentials of user {} (fingerprint {})",
            self.provider,
            self.user_id,
            &self.fingerprint()[..8]
        )
    }
}

/// Lower-case hex sha1.
pub fn sha1_hex(data: &[u8]) -> String {
    hex(&Sha1::digest(data))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Redis `orders` hash (seed §4.2)
// ---------------------------------------------------------------------------------------------

/// Client-order-id fragments whose orders are stored in the `orders` hash.
pub const ORDERS_HASH_ID_MARKERS: [&str; 32] = [
    "GRID-TP",
    "GRIDTP",
    "GRID-STAB",
    "GRIDSTAB",
    "GRID-BO",
    "GRIDBO",
    "GRID-RO",
    "GRIDRO",
    "GA-F",
    "GAF",
    "D-ROA",
    "DROA",
    "D-SR",
    "DSR",
    "D-BO",
    "DBO",
    "D-TP",
    "DTP",
    "D-MTP",
    "DMTP",
    "D-MSL",
    "DMSL",
    "D-RO",
    "DRO",
    "CMB-BO",
    "CMBBO",
    "CMB-GR",
    "CMBGR",
    "CMB-RO",
    "CMBRO",
    "CMB-H",
    "CMBH",
];

/// TTL of a stored order that is still open.
pub const ORDERS_TTL_OPEN_SECS: u64 = 86_400;
/// TTL of a stored order in any other status.
pub const ORDERS_TTL_DONE_SECS: u64 = 300;

/// The hash field an order is stored under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrdersField {
    /// The client order id itself.
    ClientOrderId(String),
    /// A liquidation without a client order id: the seed stores it under `liq_<uuid v4>`; the
    /// caller supplies the uuid (this module has no randomness), see [`OrdersField::key`].
    Liquidation,
}

impl OrdersField {
    /// The field name; `uuid` is only used for [`OrdersField::Liquidation`].
    pub fn key(&self, uuid: &str) -> String {
        match self {
            OrdersField::ClientOrderId(id) => id.clone(),
            OrdersField::Liquidation => format!("liq_{uuid}"),
        }
    }
}

/// Seed §4.2: whether `HSET orders <field> <json>` + `HEXPIRE orders <ttl> FIELDS 1 <field>`
/// applies to this message, and with which field and TTL.
///
/// Stored: order messages whose client order id contains one of
/// [`ORDERS_HASH_ID_MARKERS`] or starts with `0x`, and liquidations. TTL 86 400 s while the
/// status is `NEW`/`PARTIALLY_FILLED`, else 300 s.
///
/// Deliberate difference: the seed reads `msg.id` for `ORDER_TRADE_UPDATE` (a field that shape
/// never has), so Binance futures orders are never stored except liquidations (as `liq_<uuid>`).
/// corefeed stores futures orders by their `clientOrderId` on purpose: the hash is the order
/// recovery cache keyed by client id, the same bots run on futures, entries expire on their own,
/// and a reader only finds the ids it asks for, so the extra entries cannot change what an
/// existing reader sees for spot ids. (Seed §10 item 5 lists this as an open question.)
pub fn orders_hash_entry(msg: &UserMessage) -> Option<(OrdersField, u64)> {
    if msg.kind != UserKind::Order {
        return None;
    }
    let id = msg.client_order_id.as_deref().unwrap_or("");
    let field = if !id.is_empty() {
        OrdersField::ClientOrderId(id.to_owned())
    } else if msg.liquidation {
        OrdersField::Liquidation
    } else {
        return None;
    };
    let marked = ORDERS_HASH_ID_MARKERS.iter().any(|m| id.contains(m)) || id.starts_with("0x");
    if !msg.liquidation && !marked {
        return None;
    }
    let ttl = match msg.order_status.as_deref() {
        Some("NEW") | Some("PARTIALLY_FILLED") => ORDERS_TTL_OPEN_SECS,
        _ => ORDERS_TTL_DONE_SECS,
    };
    Some((field, ttl))
}

// ---------------------------------------------------------------------------------------------
// JSON reading (borrowed raw values, no f64)
// ---------------------------------------------------------------------------------------------

/// A JSON object as raw member texts. Duplicate keys: the last wins (like `JSON.parse`).
pub(crate) type Obj<'a> = HashMap<String, &'a RawValue>;

pub(crate) fn parse_obj(text: &str) -> Result<Obj<'_>, DecodeError> {
    serde_json::from_str::<Obj<'_>>(text).map_err(|e| DecodeError::Json(e.to_string()))
}

pub(crate) fn parse_arr(text: &str) -> Result<Vec<&RawValue>, DecodeError> {
    serde_json::from_str::<Vec<&RawValue>>(text).map_err(|e| DecodeError::Json(e.to_string()))
}

/// The JSON type of a raw value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RawKind {
    Str,
    Num,
    Bool,
    Null,
    Obj,
    Arr,
}

pub(crate) fn raw_kind(raw: &RawValue) -> RawKind {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'"') => RawKind::Str,
        Some(b'{') => RawKind::Obj,
        Some(b'[') => RawKind::Arr,
        Some(b't') | Some(b'f') => RawKind::Bool,
        Some(b'n') => RawKind::Null,
        _ => RawKind::Num,
    }
}

/// The decoded content of a JSON string value; `None` for any other type.
pub(crate) fn raw_str(raw: &RawValue) -> Option<String> {
    if raw_kind(raw) == RawKind::Str {
        serde_json::from_str::<String>(raw.get()).ok()
    } else {
        None
    }
}

/// A member that must be a JSON string.
pub(crate) fn req_str(obj: &Obj<'_>, key: &'static str) -> Result<String, DecodeError> {
    let raw = obj.get(key).ok_or(DecodeError::MissingField(key))?;
    raw_str(raw).ok_or(DecodeError::BadField {
        field: key,
        why: "not a string",
    })
}

/// A member that is a string if present (`None` when absent or null).
pub(crate) fn opt_str(obj: &Obj<'_>, key: &'static str) -> Result<Option<String>, DecodeError> {
    match obj.get(key) {
        None => Ok(None),
        Some(raw) if raw_kind(raw) == RawKind::Null => Ok(None),
        Some(raw) => raw_str(raw).map(Some).ok_or(DecodeError::BadField {
            field: key,
            why: "not a string",
        }),
    }
}

/// A nested object member.
pub(crate) fn req_obj<'a>(obj: &Obj<'a>, key: &'static str) -> Result<Obj<'a>, DecodeError> {
    let raw = obj.get(key).ok_or(DecodeError::MissingField(key))?;
    if raw_kind(raw) != RawKind::Obj {
        return Err(DecodeError::BadField {
            field: key,
            why: "not an object",
        });
    }
    parse_obj(raw.get())
}

/// A nested array member.
pub(crate) fn req_arr<'a>(
    obj: &Obj<'a>,
    key: &'static str,
) -> Result<Vec<&'a RawValue>, DecodeError> {
    let raw = obj.get(key).ok_or(DecodeError::MissingField(key))?;
    if raw_kind(raw) != RawKind::Arr {
        return Err(DecodeError::BadField {
            field: key,
            why: "not an array",
        });
    }
    parse_arr(raw.get())
}

/// A signed integer given as a number or a string of digits (error codes).
pub(crate) fn raw_i64(raw: &RawValue) -> Option<i64> {
    let text = match raw_kind(raw) {
        RawKind::Num => raw.get().trim().to_owned(),
        RawKind::Str => raw_str(raw)?,
        _ => return None,
    };
    text.parse().ok()
}

/// An id as text: a string's content or a number's digits.
pub(crate) fn raw_id(raw: &RawValue) -> Option<String> {
    match raw_kind(raw) {
        RawKind::Str => raw_str(raw),
        RawKind::Num => Some(raw.get().trim().to_owned()),
        _ => None,
    }
}

/// 2^53 − 1, the largest integer a JS number holds exactly.
pub const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;

/// Whether `text` is a bare non-negative integer above 2^53 − 1 (seed §5.1.1).
pub(crate) fn is_unsafe_integer(text: &str) -> bool {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let t = text.trim_start_matches('0');
    t.len() > 20
        || t.parse::<u128>()
            .map_or(true, |v| v > MAX_SAFE_INTEGER as u128)
}

/// Appends the `JSON.stringify` text of a value as the seed's JS would have it after
/// `JSON.parse` (with the §5.1.1 lossless pre-pass when `lossless_id` is set, i.e. for a key
/// `i`): strings re-escaped like `JSON.stringify`, plain decimal numbers in JS number form
/// (`1.50` → `1.5`), integers as their digits (never rounded), unsafe `i` integers as strings.
/// Objects/arrays (never met among the pass-through fields) are copied as received.
pub(crate) fn write_js_value(raw: &RawValue, lossless_id: bool, out: &mut String) {
    let text = raw.get().trim();
    match raw_kind(raw) {
        RawKind::Str => match serde_json::from_str::<String>(text) {
            Ok(s) => write_json_str(&s, out),
            Err(_) => out.push_str(text),
        },
        RawKind::Num => {
            if lossless_id && is_unsafe_integer(text) {
                out.push('"');
                out.push_str(text);
                out.push('"');
            } else {
                out.push_str(&js_number_text(text));
            }
        }
        _ => out.push_str(text),
    }
}

/// A JSON number token as JS prints the number (plain decimals only; integers keep every digit,
/// exponent forms are copied as received).
pub(crate) fn js_number_text(text: &str) -> String {
    if is_plain_decimal(text) {
        if !text.contains('.') && !text.starts_with('-') && text.len() > 1 && !text.starts_with('0')
        {
            return text.to_owned();
        }
        let mut v = Vec::new();
        write_js_number(text, &mut v);
        String::from_utf8(v).unwrap_or_default()
    } else {
        text.to_owned()
    }
}

/// How a JS template literal renders a member (`${m.x}`): string content, number text,
/// `null`, `true`/`false`, and `undefined` when absent. Used for `uniqueMessageId`.
pub(crate) fn js_template(raw: Option<&&RawValue>) -> String {
    match raw {
        None => "undefined".to_owned(),
        Some(raw) => match raw_kind(raw) {
            RawKind::Str => raw_str(raw).unwrap_or_default(),
            RawKind::Num => js_number_text(raw.get().trim()),
            RawKind::Obj => "[object Object]".to_owned(),
            RawKind::Arr => match parse_arr(raw.get()) {
                Ok(items) => items
                    .iter()
                    .map(|r| match raw_kind(r) {
                        RawKind::Null => String::new(),
                        _ => js_template(Some(r)),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                Err(_) => String::new(),
            },
            _ => raw.get().trim().to_owned(),
        },
    }
}

/// Appends `s` as a JSON string the way `JSON.stringify` escapes it.
pub(crate) fn write_json_str(s: &str, out: &mut String) {
    // serde_json escapes exactly like JSON.stringify for valid Unicode text: `"` `\\` and the
    // control characters (\b \f \n \r \t, others as \u00xx lower-case).
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
}

/// Builds one JSON object in insertion order.
pub(crate) struct JsonObj {
    buf: String,
    first: bool,
}

impl JsonObj {
    pub(crate) fn new() -> Self {
        JsonObj {
            buf: String::from("{"),
            first: true,
        }
    }
    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        write_json_str(key, &mut self.buf);
        self.buf.push(':');
    }
    /// A string value.
    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        write_json_str(value, &mut self.buf);
        self
    }
    /// An unsigned number.
    pub(crate) fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        self.buf.push_str(itoa::Buffer::new().format(value));
        self
    }
    pub(crate) fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.buf.push_str(if value { "true" } else { "false" });
        self
    }
    /// Already-serialized JSON text.
    pub(crate) fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key);
        self.buf.push_str(json);
        self
    }
    /// A member copied from the frame with JS semantics; omitted when absent (a JS property
    /// whose value is `undefined` is dropped by `JSON.stringify`).
    pub(crate) fn pass(&mut self, key: &str, value: Option<&&RawValue>) -> &mut Self {
        if let Some(raw) = value {
            self.key(key);
            write_js_value(raw, false, &mut self.buf);
        }
        self
    }
    /// Like [`JsonObj::pass`] for a Binance order id `i` (seed §5.1.1).
    pub(crate) fn pass_id(&mut self, key: &str, value: Option<&&RawValue>) -> &mut Self {
        if let Some(raw) = value {
            self.key(key);
            write_js_value(raw, true, &mut self.buf);
        }
        self
    }
    pub(crate) fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

// ---------------------------------------------------------------------------------------------
// Exact decimal arithmetic on digit strings
// ---------------------------------------------------------------------------------------------

/// A decimal as sign, magnitude digits and scale (number of fraction digits).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Dec {
    neg: bool,
    /// Most significant first, no leading zeros (empty = zero).
    digits: Vec<u8>,
    scale: usize,
}

impl Dec {
    /// Parses `-?digits[.digits]` (a leading `+` is accepted, one sign at most: `--1`, `+-1`
    /// and `-+1` are NaN in JS). The empty string is zero, like JS `+""`.
    fn parse(text: &str) -> Option<Dec> {
        let t = text.trim();
        if t.is_empty() {
            return Some(Dec {
                neg: false,
                digits: Vec::new(),
                scale: 0,
            });
        }
        let (neg, body) = match t.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        // A second sign: `is_plain_decimal` below would take a `-` and its digits (`b - b'0'`)
        // would underflow. Found by the `user_okx` fuzz target (fee "--0536030307").
        if body.starts_with(['-', '+']) {
            return None;
        }
        let body = if body.starts_with('.') {
            // JS accepts ".5"
            return Dec::parse(&format!("{}0{}", if neg { "-" } else { "" }, body));
        } else {
            body
        };
        if !is_plain_decimal(body) {
            return None;
        }
        let (int, frac) = match body.find('.') {
            Some(i) => (&body[..i], &body[i + 1..]),
            None => (body, ""),
        };
        let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
        let lead = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..lead);
        Some(Dec {
            neg: neg && !digits.is_empty(),
            digits,
            scale: frac.len(),
        })
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Plain text (`-?int[.frac]`), trailing zeros kept.
    fn to_text(&self) -> String {
        if self.is_zero() {
            return "0".to_owned();
        }
        let mut d: Vec<u8> = self.digits.clone();
        while d.len() <= self.scale {
            d.insert(0, 0);
        }
        let split = d.len() - self.scale;
        let mut s = String::new();
        if self.neg {
            s.push('-');
        }
        s.extend(d[..split].iter().map(|x| (x + b'0') as char));
        if self.scale > 0 {
            s.push('.');
            s.extend(d[split..].iter().map(|x| (x + b'0') as char));
        }
        s
    }

    fn mul(&self, other: &Dec) -> Dec {
        if self.is_zero() || other.is_zero() {
            return Dec {
                neg: false,
                digits: Vec::new(),
                scale: 0,
            };
        }
        let (a, b) = (&self.digits, &other.digits);
        let mut acc = vec![0u32; a.len() + b.len()];
        for (i, x) in a.iter().rev().enumerate() {
            for (j, y) in b.iter().rev().enumerate() {
                acc[i + j] += (*x as u32) * (*y as u32);
            }
        }
        let mut carry = 0u32;
        for v in acc.iter_mut() {
            let t = *v + carry;
            *v = t % 10;
            carry = t / 10;
        }
        let mut digits: Vec<u8> = acc.iter().rev().map(|v| *v as u8).collect();
        let lead = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..lead);
        Dec {
            neg: self.neg != other.neg,
            digits,
            scale: self.scale + other.scale,
        }
    }

    fn add(&self, other: &Dec) -> Dec {
        let scale = self.scale.max(other.scale);
        let widen = |d: &Dec| {
            let mut v = d.digits.clone();
            v.extend(std::iter::repeat_n(0, scale - d.scale));
            v
        };
        let (a, b) = (widen(self), widen(other));
        let cmp = cmp_mag(&a, &b);
        let (neg, digits) = if self.neg == other.neg {
            (self.neg, add_mag(&a, &b))
        } else if cmp == std::cmp::Ordering::Less {
            (other.neg, sub_mag(&b, &a))
        } else {
            (self.neg, sub_mag(&a, &b))
        };
        let mut digits = digits;
        let lead = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..lead);
        Dec {
            neg: neg && !digits.is_empty(),
            digits,
            scale,
        }
    }
}

fn cmp_mag(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let strip = |x: &[u8]| {
        x.iter()
            .skip_while(|d| **d == 0)
            .copied()
            .collect::<Vec<u8>>()
    };
    let (a, b) = (strip(a), strip(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(&b))
}

fn add_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let n = a.len().max(b.len());
    let mut out = Vec::with_capacity(n + 1);
    let mut carry = 0u8;
    for k in 0..n {
        let x = if k < a.len() { a[a.len() - 1 - k] } else { 0 };
        let y = if k < b.len() { b[b.len() - 1 - k] } else { 0 };
        let t = x + y + carry;
        out.push(t % 10);
        carry = t / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out.reverse();
    out
}

/// a − b for |a| ≥ |b|.
fn sub_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i8;
    for k in 0..a.len() {
        let x = a[a.len() - 1 - k] as i8;
        let y = if k < b.len() {
            b[b.len() - 1 - k] as i8
        } else {
            0
        };
        let mut t = x - y - borrow;
        borrow = 0;
        if t < 0 {
            t += 10;
            borrow = 1;
        }
        out.push(t as u8);
    }
    out.reverse();
    out
}

/// Exact product of two decimal texts, in JS number form (no trailing fraction zeros; `""` is
/// zero like JS `+""`). `None` when either is not a plain decimal.
pub fn decimal_mul(a: &str, b: &str) -> Option<String> {
    let p = Dec::parse(a)?.mul(&Dec::parse(b)?);
    Some(js_form(&p.to_text()))
}

/// Exact sum of two decimal texts, in JS number form.
pub fn decimal_add(a: &str, b: &str) -> Option<String> {
    let s = Dec::parse(a)?.add(&Dec::parse(b)?);
    Some(js_form(&s.to_text()))
}

/// `${+text}` for a plain decimal text (JS number form, digits kept); `""` is `0`.
pub fn decimal_js(text: &str) -> Option<String> {
    let d = Dec::parse(text)?;
    Some(js_form(&d.to_text()))
}

/// Whether a decimal text denotes zero (or is empty, which JS `+""` makes 0).
pub fn decimal_is_zero(text: &str) -> Option<bool> {
    Dec::parse(text).map(|d| d.is_zero())
}

/// Whether a decimal text is negative (`Number(fee) < 0`).
pub fn decimal_is_negative(text: &str) -> bool {
    Dec::parse(text).is_some_and(|d| d.neg)
}

fn js_form(plain: &str) -> String {
    let mut v = Vec::new();
    write_js_number(plain, &mut v);
    String::from_utf8(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_arithmetic_is_exact() {
        assert_eq!(decimal_mul("103698.9", "0.03").unwrap(), "3110.967");
        assert_eq!(decimal_mul("0.1", "3").unwrap(), "0.3");
        assert_eq!(decimal_mul("", "3").unwrap(), "0");
        assert_eq!(decimal_mul("-2.50", "4").unwrap(), "-10");
        assert_eq!(
            decimal_mul("123456789.123456789", "987654321.987654321").unwrap(),
            "121932631356500531.347203169112635269"
        );
        assert_eq!(decimal_add("0.1", "0.2").unwrap(), "0.3");
        assert_eq!(decimal_add("1.5", "-2.25").unwrap(), "-0.75");
        assert_eq!(decimal_add("-1.5", "1.5").unwrap(), "0");
        assert_eq!(decimal_add("999.999", "0.001").unwrap(), "1000");
        assert_eq!(decimal_js("0100.2500").unwrap(), "100.25");
        assert_eq!(decimal_js(".5").unwrap(), "0.5");
        assert!(decimal_mul("1e5", "2").is_none());
        assert!(decimal_add("abc", "2").is_none());
        assert!(decimal_is_negative("-0.0001"));
        assert!(!decimal_is_negative("-0"));
        // One sign at most (JS `Number("--1")` is NaN); fuzz regression: "--…" used to underflow.
        assert!(!decimal_is_negative("--0536030307"));
        assert!(decimal_js("--0536030307").is_none());
        assert!(decimal_add("+-5", "1").is_none());
        assert!(decimal_mul("-+5", "1").is_none());
        assert!(decimal_js("--.5").is_none());
        assert_eq!(decimal_js("+5").unwrap(), "5");
        assert_eq!(decimal_js("-.5").unwrap(), "-0.5");
    }

    #[test]
    fn unsafe_integers() {
        assert!(!is_unsafe_integer("9007199254740991"));
        assert!(is_unsafe_integer("9007199254740992"));
        assert!(is_unsafe_integer("1234567890123456789"));
        assert!(is_unsafe_integer("123456789012345678901234"));
        assert!(!is_unsafe_integer("-9007199254740993"));
        assert!(!is_unsafe_integer("12.5"));
    }
}
