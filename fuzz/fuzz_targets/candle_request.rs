//! `candlesRequests` body `{"payload":{"symbol","exchange","interval"}}`. The handler
//! (`control::commands::handle_candle_request`) also mutates the price registry, so this target
//! runs its pure part: the same serde shape (mirrored here: the handler's structs are private),
//! then `PriceRegistry::resolve_candle` against a registry built from the default config.
//! Checks: no panic; an accepted request names an enabled real provider and a topic whose symbol
//! and interval are non-empty.
#![no_main]
use corefeed::config::Config;
use corefeed::control::prices::PriceRegistry;
use corefeed_shards::session::Topic;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use std::sync::{Arc, OnceLock};

#[derive(Deserialize)]
struct Envelope {
    payload: CandleRequest,
}

#[derive(Deserialize)]
struct CandleRequest {
    symbol: String,
    exchange: String,
    interval: String,
}

fn registry() -> &'static (PriceRegistry, Vec<corefeed_shards::types::Provider>) {
    static R: OnceLock<(PriceRegistry, Vec<corefeed_shards::types::Provider>)> = OnceLock::new();
    R.get_or_init(|| {
        let cfg = Config::from_toml("", "fuzz.toml", |_| None).expect("default config");
        let enabled = cfg.price_providers();
        (PriceRegistry::new(Arc::new(cfg), Vec::new()), enabled)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(req) = serde_json::from_slice::<Envelope>(data) else {
        return;
    };
    let r = req.payload;
    let (reg, enabled) = registry();
    if let Ok(t) = reg.resolve_candle(&r.exchange, &r.symbol, &r.interval) {
        assert!(!t.provider.is_paper(), "topic on a paper provider");
        assert!(
            enabled.contains(&t.provider),
            "topic on a provider not enabled"
        );
        match t.topic {
            Topic::Candle { symbol, interval } => {
                assert!(!symbol.is_empty(), "candle topic without a symbol");
                assert!(!interval.is_empty(), "candle topic without an interval");
            }
            other => panic!("a candle request resolved to {other:?}"),
        }
    }
});
