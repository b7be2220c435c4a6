//! Binance listen-key response body `{"listenKey":"…"}` (the REST answer to POST userDataStream).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = corefeed_shards::exchanges::binance::auth::parse_listen_key(body) {
        // Whatever it returns came out of a JSON string member of an object.
        let v: serde_json::Value = match serde_json::from_str(body) {
            Ok(v) => v,
            // lone surrogate escapes: legal JSON text, no Rust String
            Err(_) => return,
        };
        assert_eq!(
            v.get("listenKey").and_then(|k| k.as_str()),
            Some(key.as_str())
        );
    }
});
