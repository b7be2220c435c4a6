//! REST endpoints the streams need: Binance exchangeInfo (spot, USD-M, COIN-M), OKX
//! instruments, and the platform's exchange service (`/exchange/all`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::market::Precision;
use super::render::now_ms;
use super::server::SimState;
use super::universe::Venue;

fn tick_str(dec: u32) -> String {
    if dec == 0 {
        "1".into()
    } else {
        format!("0.{}1", "0".repeat(dec as usize - 1))
    }
}

fn rate_limits() -> Value {
    json!([
        {"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000},
        {"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":100},
        {"rateLimitType":"RAW_REQUESTS","interval":"MINUTE","intervalNum":5,"limit":61000}
    ])
}

pub async fn binance_spot_exchange_info(State(st): State<Arc<SimState>>) -> Json<Value> {
    let u = &st.universe;
    let symbols: Vec<Value> = (0..u.len())
        .map(|i| {
            let p = Precision::new(u, Venue::BinanceSpot, i);
            json!({
                "symbol": u.symbol(Venue::BinanceSpot, i),
                "status": "TRADING",
                "baseAsset": u.assets[i].base,
                "baseAssetPrecision": 8,
                "quoteAsset": "USDT",
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT","LIMIT_MAKER","MARKET","STOP_LOSS_LIMIT","TAKE_PROFIT_LIMIT"],
                "icebergAllowed": true,
                "ocoAllowed": true,
                "quoteOrderQtyMarketAllowed": true,
                "allowTrailingStop": true,
                "cancelReplaceAllowed": true,
                "isSpotTradingAllowed": true,
                "isMarginTradingAllowed": false,
                "filters": [
                    {"filterType":"PRICE_FILTER","minPrice":format!("{:.8}", p.tick()),"maxPrice":"1000000.00000000","tickSize":format!("{:.8}", p.tick())},
                    {"filterType":"LOT_SIZE","minQty":format!("{:.8}", p.lot()),"maxQty":"9000000.00000000","stepSize":format!("{:.8}", p.lot())}
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER","EXPIRE_MAKER","EXPIRE_BOTH"]
            })
        })
        .collect();
    Json(json!({
        "timezone": "UTC",
        "serverTime": now_ms(),
        "rateLimits": rate_limits(),
        "exchangeFilters": [],
        "symbols": symbols
    }))
}

pub async fn binance_usdm_exchange_info(State(st): State<Arc<SimState>>) -> Json<Value> {
    let u = &st.universe;
    let now = now_ms();
    let symbols: Vec<Value> = (0..u.len())
        .map(|i| {
            let p = Precision::new(u, Venue::BinanceUsdm, i);
            let sym = u.symbol(Venue::BinanceUsdm, i);
            json!({
                "symbol": sym,
                "pair": sym,
                "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000i64,
                "onboardDate": 1569398400000i64,
                "status": "TRADING",
                "maintMarginPercent": "2.5000",
                "requiredMarginPercent": "5.0000",
                "baseAsset": u.assets[i].base,
                "quoteAsset": "USDT",
                "marginAsset": "USDT",
                "pricePrecision": p.price_dec,
                "quantityPrecision": p.qty_dec,
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
                "underlyingType": "COIN",
                "underlyingSubType": [],
                "triggerProtect": "0.0500",
                "liquidationFee": "0.012500",
                "marketTakeBound": "0.05",
                "filters": [
                    {"filterType":"PRICE_FILTER","minPrice":tick_str(p.price_dec),"maxPrice":"1000000","tickSize":tick_str(p.price_dec)},
                    {"filterType":"LOT_SIZE","minQty":tick_str(p.qty_dec),"maxQty":"1000000","stepSize":tick_str(p.qty_dec)}
                ],
                "orderTypes": ["LIMIT","MARKET","STOP","STOP_MARKET","TAKE_PROFIT","TAKE_PROFIT_MARKET","TRAILING_STOP_MARKET"],
                "timeInForce": ["GTC","IOC","FOK","GTX","GTD"]
            })
        })
        .collect();
    Json(json!({
        "timezone": "UTC",
        "serverTime": now,
        "futuresType": "U_MARGINED",
        "rateLimits": rate_limits(),
        "exchangeFilters": [],
        "assets": [{"asset":"USDT","marginAvailable":true,"autoAssetExchange":"-10000"}],
        "symbols": symbols
    }))
}

pub async fn binance_coinm_exchange_info(State(st): State<Arc<SimState>>) -> Json<Value> {
    let u = &st.universe;
    let symbols: Vec<Value> = (0..u.len())
        .map(|i| {
            let p = Precision::new(u, Venue::BinanceCoinm, i);
            let base = &u.assets[i].base;
            json!({
                "symbol": u.symbol(Venue::BinanceCoinm, i),
                "pair": format!("{base}USD"),
                "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000i64,
                "onboardDate": 1597042800000i64,
                "contractStatus": "TRADING",
                "contractSize": p.ct_val as i64,
                "marginAsset": base,
                "maintMarginPercent": "2.5000",
                "requiredMarginPercent": "5.0000",
                "baseAsset": base,
                "quoteAsset": "USD",
                "pricePrecision": p.price_dec,
                "quantityPrecision": 0,
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
                "equalQtyPrecision": 4,
                "triggerProtect": "0.0500",
                "underlyingType": "COIN",
                "underlyingSubType": [],
                "filters": [
                    {"filterType":"PRICE_FILTER","minPrice":tick_str(p.price_dec),"maxPrice":"4520958","tickSize":tick_str(p.price_dec)},
                    {"filterType":"LOT_SIZE","minQty":"1","maxQty":"1000000","stepSize":"1"}
                ],
                "orderTypes": ["LIMIT","MARKET","STOP","STOP_MARKET","TAKE_PROFIT","TAKE_PROFIT_MARKET","TRAILING_STOP_MARKET"],
                "timeInForce": ["GTC","IOC","FOK","GTX"]
            })
        })
        .collect();
    Json(json!({
        "timezone": "UTC",
        "serverTime": now_ms(),
        "rateLimits": rate_limits(),
        "exchangeFilters": [],
        "symbols": symbols
    }))
}

pub async fn okx_instruments(
    State(st): State<Arc<SimState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let u = &st.universe;
    let inst_type = q.get("instType").map(String::as_str).unwrap_or("");
    let venues: &[Venue] =
        match inst_type {
            "SPOT" => &[Venue::OkxSpot],
            "SWAP" => &[Venue::OkxLinear, Venue::OkxInverse],
            // Dated futures are not simulated: an empty (but valid) list.
            "FUTURES" | "MARGIN" | "OPTION" => &[],
            "" => return (
                StatusCode::BAD_REQUEST,
                Json(
                    json!({"code":"50014","msg":"Parameter instType can not be empty.","data":[]}),
                ),
            )
                .into_response(),
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"code":"51000","msg":"Parameter instType error","data":[]})),
                )
                    .into_response()
            }
        };
    let filter = q.get("instId");
    let mut data = Vec::new();
    for &v in venues {
        for i in 0..u.len() {
            let inst_id = u.symbol(v, i);
            if filter.is_some_and(|f| f != &inst_id) {
                continue;
            }
            let p = Precision::new(u, v, i);
            let base = &u.assets[i].base;
            let d = match v {
                Venue::OkxSpot => json!({
                    "instType":"SPOT","instId":inst_id,"uly":"","instFamily":"",
                    "baseCcy":base,"quoteCcy":"USDT","settleCcy":"","ctVal":"","ctMult":"",
                    "ctValCcy":"","ctType":"","optType":"","stk":"","listTime":"1606468572000",
                    "expTime":"","lever":"10","tickSz":tick_str(p.price_dec),
                    "lotSz":tick_str(p.qty_dec.max(4)),"minSz":tick_str(p.qty_dec.max(4)),
                    "alias":"","state":"live","ruleType":"normal","maxLmtSz":"9999999999",
                    "maxMktSz":"1000000"
                }),
                Venue::OkxLinear => json!({
                    "instType":"SWAP","instId":inst_id,"uly":format!("{base}-USDT"),
                    "instFamily":format!("{base}-USDT"),"baseCcy":"","quoteCcy":"",
                    "settleCcy":"USDT","ctVal":fmt_ct(p.ct_val),"ctMult":"1","ctValCcy":base,
                    "ctType":"linear","optType":"","stk":"","listTime":"1573557408000",
                    "expTime":"","lever":"100","tickSz":tick_str(p.price_dec),"lotSz":"1",
                    "minSz":"1","alias":"","state":"live","ruleType":"normal",
                    "maxLmtSz":"100000000","maxMktSz":"10000"
                }),
                _ => json!({
                    "instType":"SWAP","instId":inst_id,"uly":format!("{base}-USD"),
                    "instFamily":format!("{base}-USD"),"baseCcy":"","quoteCcy":"",
                    "settleCcy":base,"ctVal":fmt_ct(p.ct_val),"ctMult":"1","ctValCcy":"USD",
                    "ctType":"inverse","optType":"","stk":"","listTime":"1573557408000",
                    "expTime":"","lever":"100","tickSz":tick_str(p.price_dec),"lotSz":"1",
                    "minSz":"1","alias":"","state":"live","ruleType":"normal",
                    "maxLmtSz":"100000000","maxMktSz":"10000"
                }),
            };
            data.push(d);
        }
    }
    Json(json!({"code":"0","msg":"","data":data})).into_response()
}

fn fmt_ct(v: f64) -> String {
    let s = format!("{v}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// The platform's exchange service: `GET /exchange/all?exchange=<provider>`.
pub async fn exchange_all(
    State(st): State<Arc<SimState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if st.faults.exchange_service_fails() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"status":"NOTOK","reason":"injected fault: exchange service unavailable"})),
        )
            .into_response();
    }
    let provider = q.get("exchange").map(String::as_str).unwrap_or("");
    let u = &st.universe;
    let (quote, pair_of): (&str, fn(&str, &str) -> String) = match provider {
        "binance" | "binanceUsdm" => ("USDT", |b, q| format!("{b}{q}")),
        "binanceCoinm" => ("USD", |b, q| format!("{b}{q}")),
        "okx" | "okxLinear" => ("USDT", |b, q| format!("{b}-{q}")),
        "okxInverse" => ("USD", |b, q| format!("{b}-{q}")),
        other => {
            return Json(json!({
                "status":"NOTOK",
                "reason": format!("exchange {other:?} is not served by corefeed-sim")
            }))
            .into_response()
        }
    };
    let data: Vec<Value> = u
        .assets
        .iter()
        .map(|a| {
            json!({
                "pair": pair_of(&a.base, quote),
                "baseAsset": {"name": a.base},
                "quoteAsset": {"name": quote}
            })
        })
        .collect();
    Json(json!({"status":"OK","data":data})).into_response()
}
