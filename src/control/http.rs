//! HTTP (`contract.md` §2.2): `/health`, `/ready`, `/metrics`, and the bearer-authenticated
//! `/v1` admin API. Every failure answers a JSON error body saying what was wrong.
//! Imports crate::control::{ControlState, metrics}.

use super::ControlState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use corefeed_shards::event::now_ms;
use corefeed_shards::stats::SocketState;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

type S = Arc<ControlState>;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

pub fn router(state: S) -> Router {
    let admin = Router::new()
        .route("/v1/subscriptions", get(subscriptions))
        .route(
            "/v1/candles",
            get(list_candles).post(add_candle).delete(remove_candle),
        )
        .route("/v1/sockets", get(sockets))
        .route("/v1/rooms", get(list_rooms).post(open_room))
        .route("/v1/rooms/{id}", axum::routing::delete(close_room))
        .route("/v1/rooms/{id}/restart", axum::routing::post(restart_room))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .merge(admin)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found") })
        .with_state(state)
}

/// `200 {"status":"ok","uptime":S,"timestamp":MS}` while every event loop answers; 503 when a
/// shard or the publisher has not ticked for 5 s.
async fn health(State(st): State<S>) -> Response {
    let now = now_ms();
    let uptime = st.started.elapsed().as_secs_f64();
    let stalled = st.stalled_loops(now, 5_000);
    if stalled.is_empty() {
        (
            StatusCode::OK,
            Json(json!({"status": "ok", "uptime": uptime, "timestamp": now})),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "stalled", "uptime": uptime, "timestamp": now, "stalled": stalled})),
        )
            .into_response()
    }
}

/// Per-socket liveness: 200 when every socket is open and has had data recently.
async fn ready(State(st): State<S>) -> Response {
    let now = now_ms();
    let stale_ms = st.cfg.core.socket.healthy_after_ms.max(60_000) * 2;
    let mut stale = Vec::new();
    let mut total = 0;
    for s in st.all_sockets() {
        total += 1;
        let since = if s.last_data_ms == 0 {
            s.opened_ms
        } else {
            s.last_data_ms
        };
        let age = now.saturating_sub(since);
        let fresh_open = s.state == SocketState::Open && s.last_data_ms == 0 && age < stale_ms;
        if s.state != SocketState::Open || (!fresh_open && age >= stale_ms) || s.stalled_markets > 0
        {
            stale.push(json!({
                "socket": s.key.to_string(), "shard": s.shard, "state": s.state.as_str(),
                "lastDataMs": s.last_data_ms, "staleForMs": age, "lastError": s.last_error,
                "stalledMarkets": s.stalled_markets,
            }));
        }
    }
    let body = json!({"ready": stale.is_empty(), "sockets": total, "stale": stale});
    let code = if stale.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn metrics(State(st): State<S>) -> Response {
    let mut out = String::with_capacity(16 * 1024);
    st.render_metrics(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

async fn require_token(
    State(st): State<S>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    let token = &st.cfg.core.http.admin_token;
    if token.is_empty() {
        return error(
            StatusCode::FORBIDDEN,
            "the admin API is off: set http.admin_token or COREFEED_ADMIN_TOKEN",
        );
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Constant-time comparison: the token is a secret.
    let ok = given.is_some_and(|g| {
        g.len() == token.len()
            && g.bytes()
                .zip(token.bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0
    });
    if !ok {
        return error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token: send Authorization: Bearer <admin token>",
        );
    }
    next.run(req).await
}

async fn subscriptions(State(st): State<S>) -> Response {
    let rows = st.prices.lock().unwrap_or_else(|p| p.into_inner()).rows();
    Json(json!({ "sockets": rows })).into_response()
}

async fn sockets(State(st): State<S>) -> Response {
    let rows: Vec<Value> = st
        .all_sockets()
        .into_iter()
        .map(|s| {
            json!({"socket": s.key.to_string(), "provider": s.key.provider.as_str(), "shard": s.shard,
                   "state": s.state.as_str(), "topics": s.topics, "lastDataMs": s.last_data_ms,
                   "openedMs": s.opened_ms, "reconnects": s.reconnects, "lastError": s.last_error})
        })
        .collect();
    Json(json!({ "sockets": rows })).into_response()
}

async fn list_candles(State(st): State<S>) -> Response {
    let rows: Vec<Value> = st
        .prices
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .candles()
        .into_iter()
        .map(|(p, s, i)| json!({"exchange": p.as_str(), "symbol": s, "interval": i}))
        .collect();
    Json(json!({ "candles": rows })).into_response()
}

#[derive(Deserialize)]
struct CandleBody {
    exchange: String,
    symbol: String,
    interval: String,
}

fn parse_body(body: &[u8]) -> Result<CandleBody, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("body must be {{\"exchange\",\"symbol\",\"interval\"}}: {e}"),
        )
    })
}

async fn add_candle(State(st): State<S>, body: axum::body::Bytes) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut reg = st.prices.lock().unwrap_or_else(|p| p.into_inner());
    match reg.resolve_candle(&b.exchange, &b.symbol, &b.interval) {
        Ok(t) => {
            let added = reg.add_candle(t);
            (
                if added {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                Json(json!({"subscribed": true, "new": added})),
            )
                .into_response()
        }
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    }
}

async fn remove_candle(State(st): State<S>, body: axum::body::Bytes) -> Response {
    let b = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut reg = st.prices.lock().unwrap_or_else(|p| p.into_inner());
    match reg.resolve_candle(&b.exchange, &b.symbol, &b.interval) {
        Ok(t) if reg.remove_candle(t) => Json(json!({"unsubscribed": true})).into_response(),
        Ok(_) => error(
            StatusCode::NOT_FOUND,
            "that candle stream is not subscribed",
        ),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    }
}

/// `GET /v1/rooms`: every room (provider, shard, state, last event time, reconnects); never
/// a credential.
async fn list_rooms(State(st): State<S>) -> Response {
    let sessions = st.all_users();
    let rows = st
        .rooms
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .rows(&sessions);
    Json(json!({ "rooms": rows })).into_response()
}

fn room_result(
    r: Result<super::rooms::Outcome, super::rooms::RoomError>,
    st: &ControlState,
) -> Response {
    use super::rooms::Outcome;
    match r {
        Ok(outcome) => {
            st.rooms_metrics
                .commands_ok
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let code = match outcome {
                Outcome::Opened => StatusCode::CREATED,
                Outcome::Gated => StatusCode::CONFLICT,
                Outcome::UnknownRoom | Outcome::NoSubscribers => StatusCode::NOT_FOUND,
                Outcome::Restarting | Outcome::AlreadyRestarting => StatusCode::ACCEPTED,
                _ => StatusCode::OK,
            };
            (code, Json(json!({ "result": outcome }))).into_response()
        }
        Err(e) => {
            st.rooms_metrics
                .commands_invalid
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
    }
}

/// `POST /v1/rooms` with the open command itself (`{"event":"open stream","uuid",…,"data"}`)
/// or its envelope (`{"payload":{…}}`).
async fn open_room(State(st): State<S>, body: axum::body::Bytes) -> Response {
    use super::rooms::{RoomCommand, RoomError};
    let cmd = if body.starts_with(b"{\"payload\"") {
        RoomCommand::parse(&body)
    } else {
        RoomCommand::parse_inner(&body)
    };
    let r = match cmd {
        Ok(c @ RoomCommand::Open { .. }) => st
            .rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .command(c),
        Ok(_) => Err(RoomError::UnknownEvent(
            "only \"open stream\" here; use DELETE /v1/rooms/{id} or POST /v1/rooms/{id}/restart"
                .into(),
        )),
        Err(e) => Err(e),
    };
    room_result(r, &st)
}

async fn close_room(
    State(st): State<S>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let r = st
        .rooms
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .command(super::rooms::RoomCommand::Close { room_id: id });
    room_result(r, &st)
}

async fn restart_room(
    State(st): State<S>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let r = st
        .rooms
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .command(super::rooms::RoomCommand::Restart { room_id: id });
    room_result(r, &st)
}
