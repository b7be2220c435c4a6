//! Binance private-stream authentication, pure: signatures (HMAC-SHA256 hex, Ed25519 base64 from
//! a PKCS#8 PEM), the key-type rule of the seed (§8.2), the WS-API request texts for the spot
//! user data stream (`session.logon`, `userDataStream.subscribe`,
//! `userDataStream.subscribe.signature`, `userDataStream.unsubscribe`) with injected timestamp
//! and request id, and the futures listen-key REST calls as request descriptions (no HTTP
//! client here).
//!
//! Nothing in this module prints a secret: [`Signer`] and [`Ed25519Signer`] redact themselves and
//! [`RestRequest`]'s `Debug` hides the `X-MBX-APIKEY` value.

use std::fmt;

use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer as _, SigningKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::DecodeError;
use crate::exchanges::user::{hex, parse_obj, req_str, write_json_str};
use crate::types::{Market, Provider};

/// The spot WebSocket API endpoint carrying the user data stream.
pub const WS_API_URL: &str = "wss://ws-api.binance.com:443/ws-api/v3";
/// REST base of USDⓈ-M futures (listen keys).
pub const USDM_REST_BASE: &str = "https://fapi.binance.com";
/// REST base of COIN-M futures (listen keys).
pub const COINM_REST_BASE: &str = "https://dapi.binance.com";

/// Why a signature or request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the secret is not a usable Ed25519 PKCS#8 PEM private key ({0}); Binance spot user streams need an Ed25519 API key")]
    InvalidEd25519Pem(String),
    #[error("{0:?} keys cannot sign Binance WS-API requests here; create an Ed25519 API key (legacy HMAC/RSA spot keys are refused, seed §8.2)")]
    UnsupportedKeyType(KeyType),
    #[error("{0} has no futures listen key; use binanceUsdm or binanceCoinm")]
    NotFutures(Provider),
}

/// The kind of secret a Binance account gave (seed §8.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// A PEM containing `PRIVATE KEY` but not `RSA PRIVATE KEY`: the WS-API path.
    Ed25519,
    /// A PEM containing `RSA PRIVATE KEY`: legacy, refused for spot.
    Rsa,
    /// Anything else: an HMAC secret (legacy for spot; fine for futures listen keys and for
    /// `userDataStream.subscribe.signature`).
    Hmac,
}

/// Seed §8.2: Ed25519 iff the secret contains `PRIVATE KEY` and not `RSA PRIVATE KEY`.
pub fn detect_key_type(secret: &str) -> KeyType {
    if secret.contains("RSA PRIVATE KEY") {
        KeyType::Rsa
    } else if secret.contains("PRIVATE KEY") {
        KeyType::Ed25519
    } else {
        KeyType::Hmac
    }
}

/// Restores a PEM whose newlines were turned into spaces (or into literal `\n` sequences, as
/// happens when a PEM travels through a JSON form field): the `-----BEGIN …-----` and
/// `-----END …-----` lines are kept, the base64 body loses every whitespace and is re-wrapped at
/// 64 columns. Text without PEM armour is returned trimmed.
pub fn normalize_pem(secret: &str) -> String {
    let text = secret.replace("\\n", "\n").replace("\\r", "");
    let text = text.trim();
    let Some(begin) = text.find("-----BEGIN ") else {
        return text.to_owned();
    };
    let after_begin = &text[begin + 11..];
    let Some(label_end) = after_begin.find("-----") else {
        return text.to_owned();
    };
    let label = after_begin[..label_end].trim();
    let body_start = begin + 11 + label_end + 5;
    let footer = format!("-----END {label}-----");
    let Some(end) = text[body_start..].find("-----END ") else {
        return text.to_owned();
    };
    let body: String = text[body_start..body_start + end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&footer);
    out.push('\n');
    out
}

/// Lower-case hex HMAC-SHA256 of `payload` under `secret` (Binance SIGNED requests).
pub fn hmac_sha256_hex(secret: &str, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(payload.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// The signed payload: every parameter except `signature`, sorted by name, joined as
/// `key=value&…` (UTF-8, no URL encoding).
pub fn signature_payload(params: &[(&str, String)]) -> String {
    let mut sorted: Vec<&(&str, String)> =
        params.iter().filter(|(k, _)| *k != "signature").collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// An Ed25519 signing key loaded from a PKCS#8 PEM. `Debug` never shows the key.
#[derive(Clone)]
pub struct Ed25519Signer {
    key: SigningKey,
}

impl Ed25519Signer {
    /// Loads the key from the account's secret (PEM, normalized first).
    pub fn from_pem(secret: &str) -> Result<Self, AuthError> {
        let pem = normalize_pem(secret);
        SigningKey::from_pkcs8_pem(&pem)
            .map(|key| Ed25519Signer { key })
            .map_err(|e| AuthError::InvalidEd25519Pem(e.to_string()))
    }
    /// Standard base64 of the 64-byte signature of `payload`.
    pub fn sign_base64(&self, payload: &str) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(self.key.sign(payload.as_bytes()).to_bytes())
    }
    /// The public half (for verification in tests and diagnostics).
    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.key.verifying_key()
    }
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519Signer([REDACTED])")
    }
}

/// Whatever signs this account's requests. `Debug` never shows the secret.
#[derive(Clone)]
pub enum Signer {
    Hmac(String),
    Ed25519(Ed25519Signer),
}

impl Signer {
    /// Picks the signer the secret calls for; RSA keys are refused.
    pub fn from_secret(secret: &str) -> Result<Self, AuthError> {
        match detect_key_type(secret) {
            KeyType::Ed25519 => Ok(Signer::Ed25519(Ed25519Signer::from_pem(secret)?)),
            KeyType::Hmac => Ok(Signer::Hmac(secret.trim().to_owned())),
            KeyType::Rsa => Err(AuthError::UnsupportedKeyType(KeyType::Rsa)),
        }
    }
    pub fn key_type(&self) -> KeyType {
        match self {
            Signer::Hmac(_) => KeyType::Hmac,
            Signer::Ed25519(_) => KeyType::Ed25519,
        }
    }
    /// HMAC: lower-case hex; Ed25519: base64.
    pub fn sign(&self, payload: &str) -> String {
        match self {
            Signer::Hmac(secret) => hmac_sha256_hex(secret, payload),
            Signer::Ed25519(k) => k.sign_base64(payload),
        }
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::Hmac(_) => f.write_str("Signer::Hmac([REDACTED])"),
            Signer::Ed25519(_) => f.write_str("Signer::Ed25519([REDACTED])"),
        }
    }
}

fn signed_params(
    api_key: &str,
    signer: &Signer,
    timestamp_ms: u64,
    recv_window_ms: Option<u64>,
) -> String {
    let mut params: Vec<(&str, String)> = vec![
        ("apiKey", api_key.to_owned()),
        ("timestamp", timestamp_ms.to_string()),
    ];
    if let Some(w) = recv_window_ms {
        params.push(("recvWindow", w.to_string()));
    }
    let signature = signer.sign(&signature_payload(&params));
    // Params in signed (alphabetical) order, signature last; numbers as JSON numbers.
    let mut s = String::from("{");
    s.push_str("\"apiKey\":");
    write_json_str(api_key, &mut s);
    if let Some(w) = recv_window_ms {
        s.push_str(",\"recvWindow\":");
        s.push_str(&w.to_string());
    }
    s.push_str(",\"timestamp\":");
    s.push_str(&timestamp_ms.to_string());
    s.push_str(",\"signature\":");
    write_json_str(&signature, &mut s);
    s.push('}');
    s
}

fn request(id: &str, method: &str, params: Option<&str>) -> String {
    let mut s = String::from("{\"id\":");
    write_json_str(id, &mut s);
    s.push_str(",\"method\":");
    write_json_str(method, &mut s);
    if let Some(p) = params {
        s.push_str(",\"params\":");
        s.push_str(p);
    }
    s.push('}');
    s
}

/// `session.logon` (Ed25519 keys only): signs `apiKey=…[&recvWindow=…]&timestamp=…`.
pub fn session_logon(
    id: &str,
    api_key: &str,
    signer: &Ed25519Signer,
    timestamp_ms: u64,
    recv_window_ms: Option<u64>,
) -> String {
    let signer = Signer::Ed25519(signer.clone());
    request(
        id,
        "session.logon",
        Some(&signed_params(
            api_key,
            &signer,
            timestamp_ms,
            recv_window_ms,
        )),
    )
}

/// `userDataStream.subscribe` on a logged-on session.
pub fn user_data_stream_subscribe(id: &str) -> String {
    request(id, "userDataStream.subscribe", None)
}

/// `userDataStream.subscribe.signature`: subscribe without logon, signed by any key that can
/// sign (HMAC hex or Ed25519 base64).
pub fn user_data_stream_subscribe_signature(
    id: &str,
    api_key: &str,
    signer: &Signer,
    timestamp_ms: u64,
    recv_window_ms: Option<u64>,
) -> String {
    request(
        id,
        "userDataStream.subscribe.signature",
        Some(&signed_params(
            api_key,
            signer,
            timestamp_ms,
            recv_window_ms,
        )),
    )
}

/// `userDataStream.unsubscribe`: one subscription, or all of the session's when `None`.
pub fn user_data_stream_unsubscribe(id: &str, subscription_id: Option<u64>) -> String {
    match subscription_id {
        Some(sid) => request(
            id,
            "userDataStream.unsubscribe",
            Some(&format!("{{\"subscriptionId\":{sid}}}")),
        ),
        None => request(id, "userDataStream.unsubscribe", None),
    }
}

/// A REST call described, not performed.
#[derive(Clone, PartialEq, Eq)]
pub struct RestRequest {
    pub method: &'static str,
    /// Scheme and host, e.g. `https://fapi.binance.com`.
    pub base: &'static str,
    /// e.g. `/fapi/v1/listenKey`.
    pub path: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

impl RestRequest {
    pub fn url(&self) -> String {
        format!("{}{}", self.base, self.path)
    }
}

impl fmt::Debug for RestRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, _)| (*k, "[REDACTED]"))
            .collect();
        f.debug_struct("RestRequest")
            .field("method", &self.method)
            .field("base", &self.base)
            .field("path", &self.path)
            .field("headers", &headers)
            .finish()
    }
}

/// The three listen-key calls of the futures user data stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenKeyOp {
    /// `POST`: create (or return and extend the active key).
    Create,
    /// `PUT`: extend by 60 min (call every ~30 min; `-1125` ⇒ create again).
    KeepAlive,
    /// `DELETE`: close.
    Close,
}

/// `POST|PUT|DELETE /fapi/v1/listenKey` (USDⓈ-M) or `/dapi/v1/listenKey` (COIN-M), header
/// `X-MBX-APIKEY`, no signature and no body.
pub fn listen_key_request(
    provider: Provider,
    op: ListenKeyOp,
    api_key: &str,
) -> Result<RestRequest, AuthError> {
    let real = provider.real();
    let (base, path) = match (real, real.market()) {
        (Provider::BinanceUsdm, Market::Linear) => (USDM_REST_BASE, "/fapi/v1/listenKey"),
        (Provider::BinanceCoinm, Market::Inverse) => (COINM_REST_BASE, "/dapi/v1/listenKey"),
        _ => return Err(AuthError::NotFutures(provider)),
    };
    let method = match op {
        ListenKeyOp::Create => "POST",
        ListenKeyOp::KeepAlive => "PUT",
        ListenKeyOp::Close => "DELETE",
    };
    Ok(RestRequest {
        method,
        base,
        path,
        headers: vec![("X-MBX-APIKEY", api_key.trim().to_owned())],
    })
}

/// The `listenKey` of a `POST` response body `{"listenKey":"…"}`.
pub fn parse_listen_key(body: &str) -> Result<String, DecodeError> {
    let obj = parse_obj(body)?;
    req_str(&obj, "listenKey")
}
