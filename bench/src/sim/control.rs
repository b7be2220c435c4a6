//! Control API under `/control`: stats, runtime configuration, fault injection.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::fault::{self, FaultRequest};
use super::server::{CtrlEvent, SimState};

pub async fn stats(State(st): State<Arc<SimState>>) -> Json<Value> {
    let mut v = st.stats.snapshot();
    v["stamp"] = json!(st.rt.stamp());
    v["firehose"] = json!(st.rt.firehose());
    v["config"] = config_json(&st);
    v["faults"] = st.faults.snapshot();
    Json(v)
}

fn config_json(st: &SimState) -> Value {
    json!({
        "kline_rate": st.rt.kline_rate(),
        "kline_push_ms": st.rt.kline_push_ms(),
        "ticker_push_ms": st.rt.ticker_push_ms(),
        "candle_close_ms": st.rt.candle_close_ms(),
        "firehose": st.rt.firehose(),
        "stamp": st.rt.stamp(),
    })
}

/// `POST /control/config` body; every field optional. `kline_rate: 0` (or `null`) switches
/// paced mode off; `candle_close_ms: 0` means the real interval length.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    #[serde(default)]
    kline_rate: Option<Option<f64>>,
    kline_push_ms: Option<u64>,
    ticker_push_ms: Option<u64>,
    candle_close_ms: Option<u64>,
    firehose: Option<bool>,
    stamp: Option<bool>,
}

pub async fn get_config(State(st): State<Arc<SimState>>) -> Json<Value> {
    Json(config_json(&st))
}

pub async fn config(State(st): State<Arc<SimState>>, body: axum::body::Bytes) -> Response {
    let patch: ConfigPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("invalid config patch: {e}")})),
            )
                .into_response()
        }
    };
    if let Some(r) = patch.kline_rate {
        st.rt.set_kline_rate(r.unwrap_or(0.0));
    }
    if let Some(v) = patch.kline_push_ms {
        st.rt.set_kline_push_ms(v);
    }
    if let Some(v) = patch.ticker_push_ms {
        st.rt.set_ticker_push_ms(v);
    }
    if let Some(v) = patch.candle_close_ms {
        st.rt.set_candle_close_ms(v);
    }
    if let Some(v) = patch.firehose {
        st.rt.set_firehose(v);
    }
    if let Some(v) = patch.stamp {
        st.rt.set_stamp(v);
    }
    let cfg = config_json(&st);
    tracing::info!(config = %cfg, "runtime configuration changed");
    let _ = st.events.send(CtrlEvent::ConfigChanged);
    Json(cfg).into_response()
}

pub async fn fault(State(st): State<Arc<SimState>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<FaultRequest>(&body) {
        Ok(req) => match fault::apply(&st, req) {
            Ok(faults) => Json(json!({"ok": true, "faults": faults})).into_response(),
            Err(e) => (
                StatusCode::BAD_REQUEST,
                Json(json!({"ok": false, "error": format!("invalid fault: {e}")})),
            )
                .into_response(),
        },
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"ok": false, "error": format!("invalid fault: {e}")})),
        )
            .into_response(),
    }
}
