//! HTTP server: router, WebSocket dispatch by path, shared state and the in-process
//! [`spawn`] used by tests.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::ws::{rejection::WebSocketUpgradeRejection, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot};

use super::config::{Runtime, SimConfig};
use super::conn::{Conn, ConnSpec, Proto};
use super::fault::{self, Faults};
use super::stats::Stats;
use super::streams::Category;
use super::universe::Universe;
use super::{control, private, rest};

/// Broadcast to every connection task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtrlEvent {
    DropAll,
    ConfigChanged,
    FaultsChanged,
}

pub struct SimState {
    pub cfg: SimConfig,
    pub rt: Runtime,
    pub universe: Universe,
    pub stats: Stats,
    pub faults: Faults,
    pub events: broadcast::Sender<CtrlEvent>,
    pub next_conn_id: AtomicU64,
    /// Private (user-data) side: accounts, private sockets, listen keys.
    pub private: private::PrivateState,
}

impl SimState {
    pub fn new(cfg: SimConfig) -> SimState {
        let (events, _) = broadcast::channel(64);
        SimState {
            rt: Runtime::new(&cfg),
            universe: Universe::new(cfg.symbols, cfg.seed),
            stats: Stats::default(),
            faults: Faults::default(),
            events,
            next_conn_id: AtomicU64::new(1),
            private: private::PrivateState::new(cfg.listen_key_ttl_ms),
            cfg,
        }
    }
}

pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/binance/spot/api/v3/exchangeInfo",
            get(rest::binance_spot_exchange_info),
        )
        .route(
            "/binance/usdm/fapi/v1/exchangeInfo",
            get(rest::binance_usdm_exchange_info),
        )
        .route(
            "/binance/coinm/dapi/v1/exchangeInfo",
            get(rest::binance_coinm_exchange_info),
        )
        .route("/okx/api/v5/public/instruments", get(rest::okx_instruments))
        .route("/exchange/all", get(rest::exchange_all))
        // The private side wraps /control/stats and /control/config (adds listen_key_ttl_ms).
        .route("/control/stats", get(private::control::public_stats))
        .route(
            "/control/config",
            post(private::control::config_post).get(private::control::config_get),
        )
        .route("/control/fault", post(control::fault))
        .merge(private::routes())
        .fallback(ws_entry)
        .with_state(state)
}

/// Minimal percent-decoding for stream lists (`%21miniTicker%40arr`).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn split_streams(s: &str) -> Vec<String> {
    percent_decode(s)
        .split('/')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Map a request path to a WebSocket endpoint. Returns `None` for unknown paths.
pub fn classify(path: &str, query: Option<&str>) -> Option<ConnSpec> {
    let streams_param = || {
        query
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("streams="))
            .map(split_streams)
            .unwrap_or_default()
    };
    let binance = |prefix: &str, cat: Category, rest: &str| -> Option<ConnSpec> {
        if rest == "/stream" {
            Some(ConnSpec {
                path: format!("{prefix}/stream"),
                proto: Proto::Binance {
                    cat,
                    combined: true,
                },
                url_streams: streams_param(),
            })
        } else if rest == "/ws" || rest.starts_with("/ws/") {
            Some(ConnSpec {
                path: format!("{prefix}/ws"),
                proto: Proto::Binance {
                    cat,
                    combined: false,
                },
                url_streams: split_streams(rest.strip_prefix("/ws").unwrap_or("")),
            })
        } else {
            None
        }
    };
    if let Some(rest) = path.strip_prefix("/binance/spot") {
        return binance("/binance/spot", Category::Spot, rest);
    }
    if let Some(rest) = path.strip_prefix("/binance/coinm") {
        return binance("/binance/coinm", Category::CoinM, rest);
    }
    if let Some(rest) = path.strip_prefix("/binance/usdm") {
        if let Some(r) = rest.strip_prefix("/market") {
            return binance("/binance/usdm/market", Category::UsdmMarket, r);
        }
        if let Some(r) = rest.strip_prefix("/public") {
            return binance("/binance/usdm/public", Category::UsdmPublic, r);
        }
        return binance("/binance/usdm", Category::UsdmLegacy, rest);
    }
    match path {
        "/okx/ws/v5/public" => Some(ConnSpec {
            path: path.into(),
            proto: Proto::Okx { business: false },
            url_streams: Vec::new(),
        }),
        "/okx/ws/v5/business" => Some(ConnSpec {
            path: path.into(),
            proto: Proto::Okx { business: true },
            url_streams: Vec::new(),
        }),
        _ => None,
    }
}

async fn ws_entry(
    State(st): State<Arc<SimState>>,
    uri: Uri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // Upgrade faults first: they hit every WebSocket path, public and private.
    if let Ok(upgrade) = ws {
        let path = uri.path();
        // Public paths carry their streams in the query; private ones carry keys (not kept).
        let query = classify(path, uri.query()).and(uri.query());
        if let Some(rej) = st.faults.take_reject(path) {
            st.stats
                .add_upgrade(path, query, format!("rejected {}", rej.status));
            tracing::info!(path, status = rej.status, "fault: upgrade rejected");
            return fault::rejection_response(rej);
        }
        if st.faults.take_handshake_error(path) {
            st.stats
                .add_upgrade(path, query, "handshake_error".to_string());
            tracing::info!(path, "fault: invalid handshake answer");
            return fault::broken_handshake(st.clone(), upgrade);
        }
        st.stats.add_upgrade(path, query, "passed".to_string());
        return ws_dispatch(st, uri, Ok(upgrade));
    }
    ws_dispatch(st, uri, ws)
}

fn ws_dispatch(
    st: Arc<SimState>,
    uri: Uri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // Private endpoints first (spot WS API, listen-key sockets, OKX private).
    let ws = match private::try_ws(&st, &uri, ws) {
        Ok(resp) => return resp,
        Err(ws) => ws,
    };
    let Some(spec) = classify(uri.path(), uri.query()) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rej) => return rej.into_response(),
    };
    if matches!(spec.proto, Proto::Binance { .. })
        && spec.url_streams.len() > st.cfg.binance_max_streams
    {
        tracing::info!(path = %spec.path, streams = spec.url_streams.len(), "refusing connection with too many streams");
        let body = serde_json::json!({
            "code": -1121,
            "msg": format!("Too many streams: a single connection can listen to a maximum of {} streams.", st.cfg.binance_max_streams),
        });
        return (StatusCode::BAD_REQUEST, body.to_string()).into_response();
    }
    ws.write_buffer_size(256 * 1024)
        .on_upgrade(move |socket| Conn::new(st, spec).run(socket))
}

/// A running simulator.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    shutdown: Option<oneshot::Sender<()>>,
    join: Option<tokio::task::JoinHandle<()>>,
}

impl SimHandle {
    /// `http://HOST:PORT`
    pub fn http_base(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// `ws://HOST:PORT`
    pub fn ws_base(&self) -> String {
        format!("ws://{}", self.addr)
    }
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.state.events.send(CtrlEvent::DropAll);
        if let Some(j) = self.join.take() {
            let _ = j.await;
        }
    }
    /// Wait until the server stops (never, unless shut down).
    pub async fn wait(mut self) {
        if let Some(j) = self.join.take() {
            let _ = j.await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.state.events.send(CtrlEvent::DropAll);
    }
}

/// Bind and start serving in the current tokio runtime.
pub async fn spawn(cfg: SimConfig) -> anyhow::Result<SimHandle> {
    let listener = TcpListener::bind(&cfg.listen).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(SimState::new(cfg));
    let app = router(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let join = tokio::spawn(async move {
        let res = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = res {
            tracing::error!(error = %e, "simulator server stopped with an error");
        }
    });
    tracing::info!(%addr, symbols = state.universe.len(), "corefeed-sim listening");
    Ok(SimHandle {
        addr,
        state,
        shutdown: Some(tx),
        join: Some(join),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        let s = classify(
            "/binance/spot/stream",
            Some("streams=btcusdt@kline_1m/%21miniTicker@arr"),
        )
        .unwrap();
        assert_eq!(s.url_streams, vec!["btcusdt@kline_1m", "!miniTicker@arr"]);
        let s = classify("/binance/usdm/market/ws/btcusdt@kline_1m", None).unwrap();
        assert!(matches!(
            s.proto,
            Proto::Binance {
                cat: Category::UsdmMarket,
                combined: false
            }
        ));
        assert_eq!(s.url_streams, vec!["btcusdt@kline_1m"]);
        let s = classify("/binance/usdm/stream", None).unwrap();
        assert!(matches!(
            s.proto,
            Proto::Binance {
                cat: Category::UsdmLegacy,
                ..
            }
        ));
        assert!(classify("/okx/ws/v5/private", None).is_none());
        assert!(classify("/okx/ws/v5/business", None).is_some());
    }
}
