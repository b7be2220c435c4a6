//! OKX private-stream authentication, pure: the WS login signature
//! (`Base64(HMAC-SHA256(secret, timestamp + "GET" + "/users/self/verify"))`), the login,
//! subscribe and unsubscribe request texts (injected timestamp), and the private endpoint by
//! `okxSource` (seed §8.2).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::exchanges::user::{write_json_str, Credentials};
use crate::types::Provider;

/// The path signed by a WS login.
pub const LOGIN_PATH: &str = "/users/self/verify";

/// Standard base64 of HMAC-SHA256(`secret`, `prehash`) (OKX REST and WS signatures).
pub fn hmac_sha256_base64(secret: &str, prehash: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(prehash.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The login `sign` for `timestamp` (Unix seconds as text, decimals allowed).
pub fn login_sign(secret: &str, timestamp: &str) -> String {
    hmac_sha256_base64(secret, &format!("{timestamp}GET{LOGIN_PATH}"))
}

/// `{"op":"login","args":[{"apiKey","passphrase","timestamp","sign"}]}`.
pub fn login_request(api_key: &str, passphrase: &str, secret: &str, timestamp: &str) -> String {
    let mut s = String::from("{\"op\":\"login\",\"args\":[{\"apiKey\":");
    write_json_str(api_key, &mut s);
    s.push_str(",\"passphrase\":");
    write_json_str(passphrase, &mut s);
    s.push_str(",\"timestamp\":");
    write_json_str(timestamp, &mut s);
    s.push_str(",\"sign\":");
    write_json_str(&login_sign(secret, timestamp), &mut s);
    s.push_str("}]}");
    s
}

/// The login request of a room's credentials (key/secret/passphrase trimmed like the seed) at
/// `timestamp_s` (Unix seconds; the request expires 30 s later).
pub fn login_request_for(creds: &Credentials, timestamp_s: u64) -> String {
    login_request(
        creds.key(),
        creds.passphrase(),
        creds.secret(),
        &timestamp_s.to_string(),
    )
}

/// The private endpoint: `okxSource` `my` ⇒ EEA host, `app` ⇒ US host, else the global one;
/// `demo` (seed `ENVOKX=sandbox`) picks the matching demo-trading host.
pub fn private_url(okx_source: Option<&str>, demo: bool) -> &'static str {
    match (okx_source, demo) {
        (Some("my"), false) => "wss://wseea.okx.com:8443/ws/v5/private",
        (Some("app"), false) => "wss://wsus.okx.com:8443/ws/v5/private",
        (_, false) => "wss://ws.okx.com:8443/ws/v5/private",
        (Some("my"), true) => "wss://wseeapap.okx.com:8443/ws/v5/private",
        (Some("app"), true) => "wss://wsuspap.okx.com:8443/ws/v5/private",
        (_, true) => "wss://wspap.okx.com:8443/ws/v5/private",
    }
}

/// The `orders`/`positions` instTypes of a provider: `okx` SPOT; `okxLinear` SWAP + FUTURES
/// (seed NEWER 1.16.7: EU X-Perps are FUTURES); `okxInverse` SWAP. Empty for other providers.
pub fn inst_types(provider: Provider) -> &'static [&'static str] {
    match provider.real() {
        Provider::Okx => &["SPOT"],
        Provider::OkxLinear => &["SWAP", "FUTURES"],
        Provider::OkxInverse => &["SWAP"],
        _ => &[],
    }
}

fn channel_args(provider: Provider, positions: bool) -> String {
    // `account` with updateInterval "0" (event-driven), as the seed subscribes it.
    let mut args = vec![
        "{\"channel\":\"account\",\"extraParams\":\"{\\\"updateInterval\\\":\\\"0\\\"}\"}"
            .to_owned(),
    ];
    for t in inst_types(provider) {
        args.push(format!("{{\"channel\":\"orders\",\"instType\":\"{t}\"}}"));
    }
    if positions && provider.real() != Provider::Okx {
        for t in inst_types(provider) {
            args.push(format!(
                "{{\"channel\":\"positions\",\"instType\":\"{t}\"}}"
            ));
        }
    }
    args.join(",")
}

/// `{"op":"subscribe","args":[account, orders per instType, (positions per instType)]}`.
/// `positions` adds the `positions` channel for derivatives providers (the seed does not
/// subscribe it; corefeed's position messages are opt-in).
pub fn subscribe_request(provider: Provider, positions: bool) -> String {
    format!(
        "{{\"op\":\"subscribe\",\"args\":[{}]}}",
        channel_args(provider, positions)
    )
}

/// The matching `unsubscribe`.
pub fn unsubscribe_request(provider: Provider, positions: bool) -> String {
    format!(
        "{{\"op\":\"unsubscribe\",\"args\":[{}]}}",
        channel_args(provider, positions)
    )
}

/// How many channel acks a [`subscribe_request`] is answered with (one per argument).
pub fn subscribe_channels(provider: Provider, positions: bool) -> usize {
    let n = inst_types(provider).len();
    1 + n
        + if positions && provider.real() != Provider::Okx {
            n
        } else {
            0
        }
}
