//! OKX price decoder: first byte = provider (okx, okxLinear, okxInverse, paper twins), the rest
//! = one WebSocket text frame. Checks: see `corefeed_fuzz::fuzz_decode`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    corefeed_fuzz::fuzz_decode(&corefeed_fuzz::OKX, data);
});
