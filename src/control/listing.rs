//! Market listings for ticker streams: the platform's exchange service
//! (`GET {EXCHANGE_SERVICE_API_URL}/exchange/all?exchange=<provider>`) with the venue's own REST
//! listing as fallback, always with a timeout (the seed's bug #345: a hung listing killed
//! tickers for 4 h). Blocking HTTP; runs on the control thread, never on a shard.
//! Imports crate::config and corefeed_shards::{types, session, exchanges}.

use crate::config::Config;
use corefeed_shards::session::Venue;
use corefeed_shards::types::{Exchange, Provider};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("GET {url} failed: {why}")]
    Http { url: String, why: String },
    #[error("{url} answered but not as expected: {why}")]
    Shape { url: String, why: String },
}

/// Where a listing came from, for logs and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    ExchangeService,
    VenueRest,
}

/// `/exchange/all` answer: `{"status":"OK","data":[{"pair":"BTCUSDT",…}]}`.
#[derive(Deserialize)]
struct ExchangeAll {
    status: String,
    #[serde(default)]
    data: Vec<Pair>,
    #[serde(default)]
    reason: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Pair {
    pair: String,
}

/// Binance `exchangeInfo`: `{"symbols":[{"symbol":"BTCUSDT","status":"TRADING"}]}` (COIN-M uses
/// `contractStatus`). <https://developers.binance.com/docs/binance-spot-api-docs/rest-api/general-endpoints>
#[derive(Deserialize)]
struct BinanceInfo {
    symbols: Vec<BinanceSymbol>,
}

#[derive(Deserialize)]
struct BinanceSymbol {
    symbol: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, rename = "contractStatus")]
    contract_status: Option<String>,
}

/// OKX instruments: `{"code":"0","data":[{"instId":"BTC-USDT-SWAP","ctType":"linear","state":"live"}]}`.
/// <https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments>
#[derive(Deserialize)]
struct OkxInstruments {
    code: String,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    data: Vec<OkxInst>,
}

#[derive(Deserialize)]
struct OkxInst {
    #[serde(rename = "instId")]
    inst_id: String,
    #[serde(default, rename = "ctType")]
    ct_type: String,
    #[serde(default)]
    state: String,
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(timeout).build()
}

fn get_json<T: for<'de> Deserialize<'de>>(
    agent: &ureq::Agent,
    url: &str,
) -> Result<T, ListingError> {
    let resp = agent.get(url).call().map_err(|e| ListingError::Http {
        url: url.to_owned(),
        why: e.to_string(),
    })?;
    resp.into_json::<T>().map_err(|e| ListingError::Shape {
        url: url.to_owned(),
        why: e.to_string(),
    })
}

/// The wire symbols whose tickers `provider` should stream, and where the list came from.
pub fn list_markets(
    cfg: &Config,
    provider: Provider,
) -> Result<(Vec<String>, Source), ListingError> {
    let timeout = Duration::from_millis(cfg.core.prices.listing_timeout_ms);
    let agent = agent(timeout);
    let venue = Venue::new(provider);
    let svc = cfg.core.prices.exchange_service_url.trim_end_matches('/');
    if !svc.is_empty() {
        let url = format!("{svc}/exchange/all?exchange={}", provider.as_str());
        match get_json::<ExchangeAll>(&agent, &url) {
            Ok(all) if all.status == "OK" && !all.data.is_empty() => {
                let syms = all
                    .data
                    .iter()
                    .map(|p| venue.ticker_symbol(&p.pair))
                    .collect();
                return Ok((syms, Source::ExchangeService));
            }
            Ok(all) => tracing::warn!(
                %provider, status = %all.status, reason = ?all.reason,
                "Exchange service gave no markets; falling back to the venue's REST listing."
            ),
            Err(error) => {
                tracing::warn!(%provider, %error, "Exchange service listing failed; falling back to the venue's REST listing.")
            }
        }
    }
    let rest = cfg.rest_base(provider);
    let rest = rest.trim_end_matches('/');
    match provider.exchange() {
        Exchange::Binance => {
            use corefeed_shards::exchanges::binance::endpoints::exchange_info_path;
            let url = format!("{rest}{}", exchange_info_path(provider));
            let info: BinanceInfo = get_json(&agent, &url)?;
            let syms = info
                .symbols
                .into_iter()
                .filter(|s| s.status.as_deref().or(s.contract_status.as_deref()) == Some("TRADING"))
                .map(|s| s.symbol)
                .collect();
            Ok((syms, Source::VenueRest))
        }
        _ => {
            use corefeed_shards::exchanges::okx::endpoints::instruments_path;
            let url = format!("{rest}{}", instruments_path(provider));
            let inst: OkxInstruments = get_json(&agent, &url)?;
            if inst.code != "0" {
                return Err(ListingError::Shape {
                    url,
                    why: format!("code {} {}", inst.code, inst.msg),
                });
            }
            let want_ct = match provider.real() {
                Provider::OkxLinear => "linear",
                Provider::OkxInverse => "inverse",
                _ => "",
            };
            let syms = inst
                .data
                .into_iter()
                .filter(|i| i.state == "live" && (want_ct.is_empty() || i.ct_type == want_ct))
                .map(|i| i.inst_id)
                .collect();
            Ok((syms, Source::VenueRest))
        }
    }
}
