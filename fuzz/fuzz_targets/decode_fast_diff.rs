//! The tape-free fast path against the simd-json decoder: first byte = provider (`'0'`–`'2'`
//! the Binance ones, `'6'`–`'8'` the OKX ones, see `corefeed_fuzz::ALL_PRICE`), the rest = one
//! WebSocket text frame. Checks: see `corefeed_fuzz::fuzz_decode_fast_diff`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    corefeed_fuzz::fuzz_decode_fast_diff(data);
});
