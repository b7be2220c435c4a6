//! OKX endpoints: tickers on `/ws/v5/public`, candles on `/ws/v5/business` (since 2023), instIds
//! from listed pairs. Pure: imports crate::{types, session}. See shared/exchanges/okx.md §1.

use crate::session::{SocketKind, Topic};
use crate::types::Provider;

pub const WS: &str = "wss://ws.okx.com:8443";
pub const REST: &str = "https://www.okx.com";

pub fn socket_url(base: &str, _provider: Provider, kind: SocketKind, _topics: &[Topic]) -> String {
    let path = match kind {
        SocketKind::Candles => "/ws/v5/business",
        SocketKind::Tickers => "/ws/v5/public",
    };
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// The instId for a listed pair: swaps take `-SWAP` (`BTC-USDT` → `BTC-USDT-SWAP` for
/// okxLinear, `BTC-USD` → `BTC-USD-SWAP` for okxInverse); full instIds pass unchanged.
pub fn inst_id(provider: Provider, pair: &str) -> String {
    match provider.real() {
        Provider::OkxLinear | Provider::OkxInverse if pair.matches('-').count() == 1 => {
            format!("{pair}-SWAP")
        }
        _ => pair.to_owned(),
    }
}

/// The REST listing path and the `instType` for a provider.
pub fn instruments_path(provider: Provider) -> &'static str {
    match provider.real() {
        Provider::Okx => "/api/v5/public/instruments?instType=SPOT",
        _ => "/api/v5/public/instruments?instType=SWAP",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_inst_ids() {
        assert_eq!(
            socket_url(WS, Provider::Okx, SocketKind::Candles, &[]),
            "wss://ws.okx.com:8443/ws/v5/business"
        );
        assert_eq!(
            socket_url(
                "ws://h:1/okx/",
                Provider::OkxLinear,
                SocketKind::Tickers,
                &[]
            ),
            "ws://h:1/okx/ws/v5/public"
        );
        assert_eq!(inst_id(Provider::OkxLinear, "BTC-USDT"), "BTC-USDT-SWAP");
        assert_eq!(inst_id(Provider::OkxInverse, "BTC-USD"), "BTC-USD-SWAP");
        assert_eq!(
            inst_id(Provider::OkxInverse, "BTC-USD-SWAP"),
            "BTC-USD-SWAP"
        );
        assert_eq!(inst_id(Provider::Okx, "BTC-USDT"), "BTC-USDT");
    }
}
