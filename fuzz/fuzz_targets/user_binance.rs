//! Binance private-frame normalizer: first byte = provider, the rest = one frame (skipped when
//! not UTF-8). Checks: see `corefeed_fuzz::fuzz_user` (every payload is valid JSON).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    corefeed_fuzz::fuzz_user(
        &corefeed_fuzz::BINANCE,
        corefeed_shards::exchanges::binance::user::normalize,
        data,
    );
});
