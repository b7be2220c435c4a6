//! WebSocket client on glommio: async-tungstenite over glommio TCP, rustls for `wss://`.
//! Imports nothing from the crate but `error`-free std types; sessions own the protocol logic.

mod stream;

pub use stream::MaybeTls;

use async_tungstenite::tungstenite::client::IntoClientRequest;
use async_tungstenite::tungstenite::handshake::client::Response;
use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use async_tungstenite::WebSocketStream;
use futures_rustls::rustls::pki_types::ServerName;
use futures_rustls::rustls::{ClientConfig, RootCertStore};
use futures_rustls::TlsConnector;
use glommio::net::TcpStream;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub type Ws = WebSocketStream<MaybeTls>;

/// Why a connection could not be opened. Messages never contain the URL's query string
/// (listen keys and tokens travel there).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("bad WebSocket URL ({0}); fix the endpoint in config.toml")]
    BadUrl(&'static str),
    #[error("could not resolve {host}: {source}; check DNS or the endpoint host")]
    Resolve {
        host: String,
        source: std::io::Error,
    },
    #[error("TCP connect to {addr} failed: {why}; the venue or the network is down")]
    Tcp { addr: SocketAddr, why: String },
    #[error("TLS handshake with {host} failed: {source}")]
    Tls {
        host: String,
        source: std::io::Error,
    },
    #[error("WebSocket handshake with {host}{path} failed: {why}")]
    Handshake {
        host: String,
        path: String,
        why: String,
        status: Option<u16>,
        retry_after_s: Option<u64>,
    },
    #[error("connecting to {host} timed out after {secs} s")]
    Timeout { host: String, secs: u64 },
}

impl ConnectError {
    /// The HTTP status of a refused upgrade (429, 418, 5xx), when the venue sent one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ConnectError::Handshake { status, .. } => *status,
            _ => None,
        }
    }
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            ConnectError::Handshake { retry_after_s, .. } => *retry_after_s,
            _ => None,
        }
    }
}

/// The parts of a `ws://` or `wss://` URL the client needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query (`/stream?streams=…`).
    pub path: String,
    /// What logs and errors show instead of the path when it carries a secret (a listen key).
    pub log_path: Option<String>,
}

impl WsUrl {
    pub fn parse(url: &str) -> Result<WsUrl, ConnectError> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("wss://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("ws://") {
            (false, r)
        } else {
            return Err(ConnectError::BadUrl("scheme must be ws:// or wss://"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(ConnectError::BadUrl("missing host"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => match p.parse::<u16>() {
                Ok(port) => (h, port),
                Err(_) => return Err(ConnectError::BadUrl("port is not a number")),
            },
            _ => (authority, if tls { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(ConnectError::BadUrl("missing host"));
        }
        Ok(WsUrl {
            tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            path: path.to_owned(),
            log_path: None,
        })
    }

    /// The path without its query string, safe to log.
    pub fn path_for_log(&self) -> &str {
        match &self.log_path {
            Some(p) => p,
            None => self.path.split('?').next().unwrap_or("/"),
        }
    }

    /// Marks the path as secret-bearing: logs and errors show `log_path` instead.
    pub fn with_log_path(mut self, log_path: &str) -> Self {
        self.log_path = Some(log_path.to_owned());
        self
    }

    pub fn as_url(&self) -> String {
        format!(
            "{}://{}:{}{}",
            if self.tls { "wss" } else { "ws" },
            self.host,
            self.port,
            self.path
        )
    }
}

fn tls_config() -> Arc<ClientConfig> {
    static CFG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CFG.get_or_init(|| {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Arc::new(
            ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    })
    .clone()
}

/// Resolves on glommio's blocking pool so a slow DNS answer never stalls the shard.
async fn resolve(host: &str, port: u16) -> Result<SocketAddr, ConnectError> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let h = host.to_owned();
    let res = glommio::executor()
        .spawn_blocking(move || (h.as_str(), port).to_socket_addrs().map(|mut it| it.next()))
        .await;
    match res {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(ConnectError::Resolve {
            host: host.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        }),
        Err(source) => Err(ConnectError::Resolve {
            host: host.to_owned(),
            source,
        }),
    }
}

/// Opens a WebSocket: DNS, TCP (nodelay), TLS when `wss://`, then the HTTP upgrade.
/// Every step is bounded by `timeout`; a half-open connection is dropped (closed) on failure.
///
/// `read_buffer` (bytes) sizes tungstenite's read buffer. Its default (128 KiB) is zero-filled
/// on every read, so it is resident for every socket: 148 KiB per idle socket measured with it,
/// which puts 50,000 sockets at 7 GiB. A frame larger than the buffer still arrives whole.
pub async fn connect(
    url: &WsUrl,
    timeout: Duration,
    read_buffer: usize,
) -> Result<(Ws, Response), ConnectError> {
    let secs = timeout.as_secs();
    let host = url.host.clone();
    let fut = async {
        let addr = resolve(&url.host, url.port).await?;
        let tcp = TcpStream::connect_timeout(addr, timeout)
            .await
            .map_err(|e| ConnectError::Tcp {
                addr,
                why: e.to_string(),
            })?;
        let _ = tcp.set_nodelay(true);
        let stream = if url.tls {
            let name = ServerName::try_from(url.host.clone())
                .map_err(|_| ConnectError::BadUrl("host is not a valid TLS server name"))?;
            let tls = TlsConnector::from(tls_config())
                .connect(name, tcp)
                .await
                .map_err(|source| ConnectError::Tls {
                    host: url.host.clone(),
                    source,
                })?;
            MaybeTls::Tls(Box::new(tls))
        } else {
            MaybeTls::Plain(tcp)
        };
        let request = url
            .as_url()
            .into_client_request()
            .map_err(|_| ConnectError::BadUrl("not a valid WebSocket request URL"))?;
        let mut cfg = WebSocketConfig::default();
        cfg.max_message_size = Some(64 << 20);
        cfg.max_frame_size = Some(16 << 20);
        cfg.read_buffer_size = read_buffer.max(1024);
        // Writes are small requests and pongs: flush them as they come.
        cfg.write_buffer_size = 0;
        async_tungstenite::client_async_with_config(request, stream, Some(cfg))
            .await
            .map_err(|e| handshake_error(url, e))
    };
    match glommio::timer::timeout(timeout, async { Ok(fut.await) }).await {
        Ok(r) => r,
        Err(_) => Err(ConnectError::Timeout { host, secs }),
    }
}

fn handshake_error(url: &WsUrl, e: async_tungstenite::tungstenite::Error) -> ConnectError {
    use async_tungstenite::tungstenite::Error;
    let (status, retry_after_s, why) = match &e {
        Error::Http(resp) => {
            let retry = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            (
                Some(resp.status().as_u16()),
                retry,
                format!("HTTP {}", resp.status()),
            )
        }
        other => (None, None, other.to_string()),
    };
    ConnectError::Handshake {
        host: url.host.clone(),
        path: url.path_for_log().to_owned(),
        why,
        status,
        retry_after_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = WsUrl::parse("wss://stream.binance.com:9443/stream?streams=a/b").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (true, "stream.binance.com", 9443, "/stream?streams=a/b")
        );
        assert_eq!(u.path_for_log(), "/stream");
        let u = WsUrl::parse("ws://127.0.0.1:9300/okx/ws/v5/public").unwrap();
        assert_eq!((u.tls, u.port), (false, 9300));
        let u = WsUrl::parse("wss://ws.okx.com/ws").unwrap();
        assert_eq!(u.port, 443);
        assert!(WsUrl::parse("http://x").is_err());
        assert!(WsUrl::parse("ws://:80/").is_err());
        assert!(WsUrl::parse("ws://h:notaport/").is_err());
    }
}
