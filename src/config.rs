//! `config.toml`: runtime layout, endpoints, price streams, control plane, plus the publisher's
//! sections (`[redis]`, `[amqp]`, `[publisher]`, `[sinks]`, owned by crate::publisher::config).
//! The seed's environment variables override it where they exist (`contract.md` §6). An invalid
//! configuration stops start-up with a message naming the key and the problem.
//! Imports crate::publisher::config and corefeed_shards::{types, session}.

use crate::publisher::config::PublisherConfig;
use corefeed_shards::session::governor::Rate;
use corefeed_shards::types::{Exchange, Provider};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A configuration problem: which key, what is wrong, what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}; pass an existing file with --config")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML for corefeed: {message}")]
    Parse { path: String, message: String },
    #[error("config key `{key}`: {problem}")]
    Invalid { key: String, problem: String },
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

/// The whole configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub core: CoreConfig,
    pub publisher: PublisherConfig,
}

/// Everything but the publisher sections.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoreConfig {
    #[serde(default)]
    pub runtime: RuntimeConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub commands: CommandsConfig,
    #[serde(default)]
    pub prices: PricesConfig,
    #[serde(default)]
    pub socket: SocketConfig,
    #[serde(default)]
    pub users: UsersConfig,
    /// Per-provider endpoint overrides: `[endpoints.binanceUsdm] ws = "…", rest = "…"`.
    #[serde(default)]
    pub endpoints: BTreeMap<String, Endpoint>,
    /// Per-exchange connection-rate limits: `[governor.binance] burst = …, per_sec = …`.
    #[serde(default)]
    pub governor: BTreeMap<String, GovernorRate>,
    /// Per-exchange keepalive overrides: `[keepalive.okx] ping_after_ms = …, dead_after_ms = …`.
    #[serde(default)]
    pub keepalive: BTreeMap<String, KeepaliveConfig>,
    // The publisher's sections are parsed by crate::publisher::config.
    #[serde(default)]
    redis: Option<toml::Value>,
    #[serde(default)]
    amqp: Option<toml::Value>,
    #[serde(default)]
    publisher: Option<toml::Value>,
    #[serde(default)]
    sinks: Option<toml::Value>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Shard executors (one thread per core each). 0 = cores − 1 (at least 1).
    pub shards: usize,
    /// CPU each shard is pinned to, in shard order; empty = shard i on CPU i. Use `pin = false`
    /// to let the OS place threads.
    pub shard_cpus: Vec<usize>,
    /// CPU of the publisher core; default: the last CPU.
    pub publisher_cpu: Option<usize>,
    /// Pin threads to CPUs at all.
    pub pin: bool,
    /// Envelopes per shard ring (each ~270 bytes). A full ring back-pressures its shard.
    pub ring_capacity: usize,
    /// How often shards look for control messages, ms.
    pub control_poll_ms: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            shards: 0,
            shard_cpus: Vec::new(),
            publisher_cpu: None,
            pin: true,
            ring_capacity: 16_384,
            control_poll_ms: 50,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// `/health`, `/ready`, `/metrics` and the `/v1` admin API.
    pub listen: String,
    /// Bearer token for `/v1/...` (env `COREFEED_ADMIN_TOKEN` overrides). Empty = admin API off.
    pub admin_token: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "0.0.0.0:3000".into(),
            admin_token: String::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommandsConfig {
    /// Consume commands from RabbitMQ at all.
    pub enabled: bool,
    /// The direct exchange commands arrive on (seed: `gainium`).
    pub exchange: String,
    /// Queue (and routing key) of candle requests (seed: `candlesRequests`).
    pub candles_queue: String,
    /// Prefetch of the candle queue (seed: 10).
    pub candles_prefetch: u16,
}

impl Default for CommandsConfig {
    fn default() -> Self {
        CommandsConfig {
            enabled: true,
            exchange: "gainium".into(),
            candles_queue: "candlesRequests".into(),
            candles_prefetch: 10,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PricesConfig {
    /// Providers whose price streams run (env `PRICE_CONNECTOR_EXCHANGES` takes families:
    /// `binance,okx`). Only Binance and OKX providers are implemented so far.
    pub providers: Vec<String>,
    /// Tickers for every listed market, without a command.
    pub tickers: bool,
    /// Accept candle requests.
    pub candles: bool,
    /// The platform's exchange service (env `EXCHANGE_SERVICE_API_URL`); empty = use the
    /// venues' REST listings directly.
    pub exchange_service_url: String,
    /// Timeout of a listing request, ms (the seed's #345 fix: 10 s).
    pub listing_timeout_ms: u64,
    /// Re-read listings this often, minutes (new markets get tickers). 0 = only at boot.
    pub listing_refresh_min: u64,
    /// Candle topics per socket; 0 = the venue's own limit.
    pub candle_topics_per_socket: usize,
    /// Ticker topics per socket (OKX subscribes tickers per instId); 0 = the venue's limit.
    pub ticker_topics_per_socket: usize,
}

impl Default for PricesConfig {
    fn default() -> Self {
        PricesConfig {
            providers: [
                "binance",
                "binanceUsdm",
                "binanceCoinm",
                "okx",
                "okxLinear",
                "okxInverse",
            ]
            .map(String::from)
            .to_vec(),
            tickers: true,
            candles: true,
            exchange_service_url: String::new(),
            listing_timeout_ms: 10_000,
            listing_refresh_min: 60,
            candle_topics_per_socket: 0,
            ticker_topics_per_socket: 0,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocketConfig {
    pub connect_timeout_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    /// A connection open this long resets its backoff, ms.
    pub healthy_after_ms: u64,
    /// Per-market watchdog: a market without data this long while its socket lives is stalled
    /// (candles: at least their interval, at most 1 h): resubscribed, then re-dialled, then
    /// reported as unrecoverable. 0 turns it off.
    pub market_stall_s: u64,
    /// WebSocket read buffer of a price socket, KiB. Larger: fewer reads at full speed; each
    /// idle socket keeps it resident.
    pub read_buffer_kib: usize,
    /// WebSocket read buffer of a user-stream socket, KiB (thousands of mostly idle sockets;
    /// a larger frame still arrives whole, the buffer grows for it).
    pub user_read_buffer_kib: usize,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            connect_timeout_ms: 15_000,
            backoff_base_ms: 500,
            backoff_cap_ms: 60_000,
            healthy_after_ms: 30_000,
            market_stall_s: 300,
            read_buffer_kib: 32,
            user_read_buffer_kib: 4,
        }
    }
}

/// A provider's endpoints. Missing fields keep the production default.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Endpoint {
    /// WebSocket base URL; the adapter appends the venue's paths.
    pub ws: Option<String>,
    /// REST base URL (listings; Binance futures listen keys).
    pub rest: Option<String>,
    /// User-stream WebSocket: Binance spot WS-API URL, Binance futures user-stream base, OKX
    /// private URL (global host).
    pub user_ws: Option<String>,
    /// OKX private URL for `okxSource: "my"` (EEA host).
    pub user_ws_eea: Option<String>,
    /// OKX private URL for `okxSource: "app"` (US host).
    pub user_ws_us: Option<String>,
}

/// User streams (`usersStreamAction` rooms). Defaults are the seed's (seed-contract §3.1, §7).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsersConfig {
    /// Consume `usersStreamAction` and run user streams at all.
    pub enabled: bool,
    /// Queue (and routing key on `commands.exchange`) of room commands.
    pub queue: String,
    pub prefetch: u16,
    /// Providers whose rooms may open (empty: every provider with a user stream in this build).
    pub providers: Vec<String>,
    /// Pause after each open, per exchange family (seed `paceMsFor`).
    pub pace_binance_ms: u64,
    pub pace_okx_ms: u64,
    /// `force restart stream`: pause between closing and re-opening.
    pub restart_pause_ms: u64,
    /// Auth breaker: `auth_strikes` strikes within `auth_window_ms` trip it.
    pub auth_strikes: u32,
    pub auth_window_ms: u64,
    /// First cooldown, doubled per consecutive trip up to the max (seed 30 min → 24 h).
    pub auth_cooldown_ms: u64,
    pub auth_cooldown_max_ms: u64,
    /// Flap alert: this many reconnects within the window ⇒ `userStreamFlap` once.
    pub flap_threshold: u32,
    pub flap_window_ms: u64,
    /// Binance futures: listen-key keepalive period (validity is 60 min).
    pub listen_key_keepalive_s: u64,
    pub subscribe_timeout_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    /// OKX derivatives: also subscribe `positions` (position messages on RabbitMQ and Redis).
    pub okx_positions: bool,
}

impl Default for UsersConfig {
    fn default() -> Self {
        UsersConfig {
            enabled: true,
            queue: "usersStreamAction".into(),
            prefetch: 10,
            providers: Vec::new(),
            pace_binance_ms: 1000,
            pace_okx_ms: 650,
            restart_pause_ms: 250,
            auth_strikes: 3,
            auth_window_ms: 600_000,
            auth_cooldown_ms: 1_800_000,
            auth_cooldown_max_ms: 86_400_000,
            flap_threshold: 4,
            flap_window_ms: 600_000,
            listen_key_keepalive_s: 1800,
            subscribe_timeout_ms: 15_000,
            backoff_base_ms: 1000,
            backoff_cap_ms: 60_000,
            okx_positions: true,
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernorRate {
    /// Connections that may be opened at once.
    pub burst: f64,
    /// Sustained connections per second.
    pub per_sec: f64,
}

/// Overrides of a venue's keepalive timings (defaults: the venue's documented rules).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepaliveConfig {
    /// Send the venue's ping after this long without a frame (venues with client pings only).
    pub ping_after_ms: Option<u64>,
    /// Re-dial a socket silent this long.
    pub dead_after_ms: Option<u64>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string(), |k| {
            std::env::var(k).ok()
        })
    }

    /// Parses, applies environment overrides, validates.
    pub fn from_toml(
        text: &str,
        path: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let core: CoreConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        let mut sub = toml::map::Map::new();
        for (k, v) in [
            ("redis", &core.redis),
            ("amqp", &core.amqp),
            ("publisher", &core.publisher),
            ("sinks", &core.sinks),
        ] {
            if let Some(v) = v {
                sub.insert(k.into(), v.clone());
            }
        }
        let mut publisher: PublisherConfig =
            toml::Value::Table(sub)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: path.into(),
                    message: e.to_string(),
                })?;
        publisher.apply_env(&env);
        publisher
            .validate()
            .map_err(|e| invalid("publisher", e.to_string()))?;
        let mut cfg = Config { core, publisher };
        cfg.apply_env(&env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn apply_env(&mut self, env: &impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = env("EXCHANGE_SERVICE_API_URL") {
            self.core.prices.exchange_service_url = v;
        }
        if let Some(v) = env("COREFEED_ADMIN_TOKEN") {
            self.core.http.admin_token = v;
        }
        if let Some(v) = env("PRICE_CONNECTOR_EXCHANGES") {
            // Families, as the seed: `binance` enables binance, binanceUsdm, binanceCoinm.
            let mut out = Vec::new();
            for fam in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let fam = fam.to_ascii_lowercase();
                let matched: Vec<_> = Provider::REAL
                    .iter()
                    .filter(|p| p.exchange().as_str() == fam)
                    .map(|p| p.as_str().to_owned())
                    .collect();
                if matched.is_empty() {
                    return Err(invalid(
                        "PRICE_CONNECTOR_EXCHANGES",
                        format!("unknown exchange family {fam:?}; use a comma list of binance, bybit, okx, kucoin, bitget, coinbase"),
                    ));
                }
                out.extend(matched);
            }
            self.core.prices.providers = out;
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let u = &self.core.users;
        for (i, p) in u.providers.iter().enumerate() {
            match p.parse::<Provider>() {
                Ok(pr) if corefeed_shards::session::private::has_user_stream(pr) => {}
                Ok(_) => {
                    return Err(invalid(
                        format!("users.providers[{i}]"),
                        format!("{p:?} has no user stream in this build (binance, binanceUsdm, binanceCoinm, okx, okxLinear and okxInverse do)"),
                    ))
                }
                Err(_) => {
                    return Err(invalid(
                        format!("users.providers[{i}]"),
                        format!("unknown provider {p:?}"),
                    ))
                }
            }
        }
        for (key, v, min) in [
            ("users.auth_cooldown_ms", u.auth_cooldown_ms, 1000),
            ("users.auth_window_ms", u.auth_window_ms, 1000),
            ("users.flap_window_ms", u.flap_window_ms, 1000),
            ("users.listen_key_keepalive_s", u.listen_key_keepalive_s, 1),
            ("users.subscribe_timeout_ms", u.subscribe_timeout_ms, 100),
            ("users.backoff_base_ms", u.backoff_base_ms, 1),
        ] {
            if v < min {
                return Err(invalid(key, format!("must be at least {min}")));
            }
        }
        if u.listen_key_keepalive_s >= 3600 {
            return Err(invalid(
                "users.listen_key_keepalive_s",
                "must be below 3600: Binance listen keys expire 60 min after the last keepalive",
            ));
        }
        if u.auth_cooldown_max_ms < u.auth_cooldown_ms {
            return Err(invalid(
                "users.auth_cooldown_max_ms",
                "must be at least users.auth_cooldown_ms",
            ));
        }
        if u.auth_strikes == 0 || u.flap_threshold == 0 {
            return Err(invalid(
                "users.auth_strikes",
                "users.auth_strikes and users.flap_threshold must be at least 1",
            ));
        }
        let r = &self.core.runtime;
        if r.ring_capacity < 1024 {
            return Err(invalid(
                "runtime.ring_capacity",
                "must be at least 1024 envelopes",
            ));
        }
        if r.control_poll_ms == 0 || r.control_poll_ms > 1000 {
            return Err(invalid(
                "runtime.control_poll_ms",
                "must be between 1 and 1000",
            ));
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        if r.pin {
            for (i, c) in r.shard_cpus.iter().enumerate() {
                if *c >= cores {
                    return Err(invalid(
                        format!("runtime.shard_cpus[{i}]"),
                        format!("CPU {c} does not exist: this machine has {cores}"),
                    ));
                }
            }
            if let Some(c) = r.publisher_cpu {
                if c >= cores {
                    return Err(invalid(
                        "runtime.publisher_cpu",
                        format!("CPU {c} does not exist: this machine has {cores}"),
                    ));
                }
            }
            if !r.shard_cpus.is_empty() && r.shard_cpus.len() < self.shard_count() {
                return Err(invalid(
                    "runtime.shard_cpus",
                    "lists fewer CPUs than there are shards",
                ));
            }
        }
        for p in &self.core.prices.providers {
            let prov: Provider =
                p.parse()
                    .map_err(|e: corefeed_shards::types::UnknownProvider| {
                        invalid("prices.providers", e.to_string())
                    })?;
            if prov.is_paper() {
                return Err(invalid(
                    "prices.providers",
                    format!(
                        "{p} is a paper provider; list its real provider, paper candles map to it"
                    ),
                ));
            }
            if !matches!(prov.exchange(), Exchange::Binance | Exchange::Okx) {
                return Err(invalid(
                    "prices.providers",
                    format!("{p}: only Binance and OKX price streams are implemented so far"),
                ));
            }
        }
        for (name, ep) in &self.core.endpoints {
            let prov: Provider =
                name.parse()
                    .map_err(|e: corefeed_shards::types::UnknownProvider| {
                        invalid(format!("endpoints.{name}"), e.to_string())
                    })?;
            if let Some(ws) = &ep.ws {
                corefeed_shards::ws::WsUrl::parse(ws)
                    .map_err(|e| invalid(format!("endpoints.{prov}.ws"), e.to_string()))?;
            }
            if let Some(rest) = &ep.rest {
                if !(rest.starts_with("http://") || rest.starts_with("https://")) {
                    return Err(invalid(
                        format!("endpoints.{prov}.rest"),
                        "must start with http:// or https://",
                    ));
                }
            }
        }
        for (name, g) in &self.core.governor {
            if !["binance", "okx", "bybit", "kucoin", "bitget", "coinbase"].contains(&name.as_str())
            {
                return Err(invalid(
                    format!("governor.{name}"),
                    "unknown exchange; use binance, okx, bybit, kucoin, bitget or coinbase",
                ));
            }
            if !(g.burst >= 1.0 && g.per_sec > 0.0) {
                return Err(invalid(
                    format!("governor.{name}"),
                    "burst must be ≥ 1 and per_sec > 0",
                ));
            }
        }
        for (name, k) in &self.core.keepalive {
            if !["binance", "okx"].contains(&name.as_str()) {
                return Err(invalid(
                    format!("keepalive.{name}"),
                    "unknown exchange; use binance or okx",
                ));
            }
            if let (Some(p), Some(d)) = (k.ping_after_ms, k.dead_after_ms) {
                if p >= d {
                    return Err(invalid(
                        format!("keepalive.{name}"),
                        "ping_after_ms must be below dead_after_ms",
                    ));
                }
            }
            if k.dead_after_ms == Some(0) || k.ping_after_ms == Some(0) {
                return Err(invalid(format!("keepalive.{name}"), "timings must be > 0"));
            }
        }
        let es = &self.core.prices.exchange_service_url;
        if !es.is_empty() && !(es.starts_with("http://") || es.starts_with("https://")) {
            return Err(invalid(
                "prices.exchange_service_url",
                "must start with http:// or https:// (or be empty)",
            ));
        }
        if self
            .core
            .http
            .listen
            .parse::<std::net::SocketAddr>()
            .is_err()
        {
            return Err(invalid(
                "http.listen",
                format!(
                    "{:?} is not an address like 0.0.0.0:3000",
                    self.core.http.listen
                ),
            ));
        }
        let s = &self.core.socket;
        if s.connect_timeout_ms == 0
            || s.backoff_base_ms == 0
            || s.backoff_cap_ms < s.backoff_base_ms
        {
            return Err(invalid(
                "socket",
                "timeouts must be > 0 and backoff_cap_ms ≥ backoff_base_ms",
            ));
        }
        Ok(())
    }

    pub fn shard_count(&self) -> usize {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        match self.core.runtime.shards {
            0 => cores.saturating_sub(1).max(1),
            n => n,
        }
    }

    /// CPU of shard `i`, or `None` when pinning is off.
    pub fn shard_cpu(&self, i: usize) -> Option<usize> {
        let r = &self.core.runtime;
        if !r.pin {
            return None;
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Some(r.shard_cpus.get(i).copied().unwrap_or(i % cores))
    }

    pub fn publisher_cpu(&self) -> Option<usize> {
        let r = &self.core.runtime;
        if !r.pin {
            return None;
        }
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Some(r.publisher_cpu.unwrap_or(cores - 1))
    }

    /// Providers whose prices stream, parsed (validated at load).
    pub fn price_providers(&self) -> Vec<Provider> {
        self.core
            .prices
            .providers
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// WebSocket base URL of a (real) provider.
    pub fn ws_base(&self, p: Provider) -> String {
        let p = p.real();
        if let Some(ws) = self
            .core
            .endpoints
            .get(p.as_str())
            .and_then(|e| e.ws.clone())
        {
            return ws;
        }
        use corefeed_shards::exchanges::{binance::endpoints as b, okx::endpoints as o};
        match p {
            Provider::Binance => b::SPOT_WS.into(),
            Provider::BinanceUsdm => b::USDM_WS.into(),
            Provider::BinanceCoinm => b::COINM_WS.into(),
            _ => o::WS.into(),
        }
    }

    /// REST base URL of a (real) provider.
    pub fn rest_base(&self, p: Provider) -> String {
        let p = p.real();
        if let Some(r) = self
            .core
            .endpoints
            .get(p.as_str())
            .and_then(|e| e.rest.clone())
        {
            return r;
        }
        use corefeed_shards::exchanges::{binance::endpoints as b, okx::endpoints as o};
        match p {
            Provider::Binance => b::SPOT_REST.into(),
            Provider::BinanceUsdm => b::USDM_REST.into(),
            Provider::BinanceCoinm => b::COINM_REST.into(),
            _ => o::REST.into(),
        }
    }

    /// User-stream WebSocket URL of a room: Binance spot WS-API, Binance futures user-stream
    /// base, or the OKX private URL its `okxSource` selects (`my` EEA, `app` US).
    pub fn user_ws(&self, p: Provider, okx_source: Option<&str>) -> String {
        let p = p.real();
        let e = self.core.endpoints.get(p.as_str());
        let pick = |f: fn(&Endpoint) -> Option<String>| e.and_then(f);
        let configured = match (p.exchange(), okx_source) {
            (Exchange::Okx, Some("my")) => pick(|e| e.user_ws_eea.clone()),
            (Exchange::Okx, Some("app")) => pick(|e| e.user_ws_us.clone()),
            _ => pick(|e| e.user_ws.clone()),
        };
        if let Some(u) = configured {
            return u;
        }
        use corefeed_shards::exchanges::{binance::auth as b, okx::auth as o};
        match p {
            Provider::Binance => b::WS_API_URL.into(),
            Provider::BinanceUsdm => "wss://fstream.binance.com".into(),
            Provider::BinanceCoinm => "wss://dstream.binance.com".into(),
            _ => o::private_url(okx_source, false).into(),
        }
    }

    /// Keepalive overrides per exchange, for the shards.
    pub fn keepalive_overrides(
        &self,
    ) -> Vec<(
        Exchange,
        corefeed_shards::session::socket::KeepaliveOverride,
    )> {
        use std::time::Duration;
        self.core
            .keepalive
            .iter()
            .filter_map(|(name, k)| {
                let ex = [Exchange::Binance, Exchange::Okx]
                    .into_iter()
                    .find(|e| e.as_str() == name)?;
                Some((
                    ex,
                    corefeed_shards::session::socket::KeepaliveOverride {
                        client_ping_after: k.ping_after_ms.map(Duration::from_millis),
                        dead_after: k.dead_after_ms.map(Duration::from_millis),
                    },
                ))
            })
            .collect()
    }

    /// Connection-rate limits per exchange: documented defaults, overridable per exchange.
    pub fn governor_rates(&self) -> Vec<(Exchange, Rate)> {
        // Binance: 300 connections per 5 minutes per IP (spot docs). OKX: 3 per second per IP.
        let defaults = [
            (
                Exchange::Binance,
                Rate {
                    burst: 10.0,
                    per_sec: 1.0,
                },
            ),
            (
                Exchange::Okx,
                Rate {
                    burst: 3.0,
                    per_sec: 3.0,
                },
            ),
        ];
        defaults
            .iter()
            .map(|(e, r)| {
                let over = self.core.governor.get(e.as_str());
                (
                    *e,
                    over.map(|g| Rate {
                        burst: g.burst,
                        per_sec: g.per_sec,
                    })
                    .unwrap_or(*r),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_shipped_config_files_are_valid() {
        for f in ["config.toml", "deploy/config.sim.toml"] {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/").to_owned() + f;
            let text = std::fs::read_to_string(&path).unwrap();
            Config::from_toml(&text, f, no_env).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
    }

    #[test]
    fn bad_config_names_the_key_and_the_problem() {
        struct TestCase {
            input: &'static str,
            expected: &'static str,
        }
        let cases = [
            TestCase {
                input: "[runtime]\nring_capacity = 10\n",
                expected: "runtime.ring_capacity",
            },
            TestCase {
                input: "[runtime]\nbogus = 1\n",
                expected: "unknown field `bogus`",
            },
            TestCase {
                input: "[prices]\nproviders = [\"binanse\"]\n",
                expected: "unknown provider \"binanse\"",
            },
            TestCase {
                input: "[prices]\nproviders = [\"paperOkx\"]\n",
                expected: "paper provider",
            },
            TestCase {
                input: "[prices]\nproviders = [\"bybit\"]\n",
                expected: "only Binance and OKX",
            },
            TestCase {
                input: "[endpoints.okx]\nws = \"http://x\"\n",
                expected: "endpoints.okx.ws",
            },
            TestCase {
                input: "[governor.binance]\nburst = 0\nper_sec = 1\n",
                expected: "governor.binance",
            },
            TestCase {
                input: "[http]\nlisten = \"nope\"\n",
                expected: "http.listen",
            },
            TestCase {
                input: "[runtime\n",
                expected: "not valid TOML",
            },
        ];
        for c in cases {
            let err = Config::from_toml(c.input, "t.toml", no_env)
                .unwrap_err()
                .to_string();
            assert!(err.contains(c.expected), "{:?} → {err}", c.input);
        }
    }

    #[test]
    fn env_overrides_apply() {
        let env = |k: &str| match k {
            "PRICE_CONNECTOR_EXCHANGES" => Some("okx".to_owned()),
            "EXCHANGE_SERVICE_API_URL" => Some("http://svc:1".to_owned()),
            _ => None,
        };
        let c = Config::from_toml("", "t.toml", env).unwrap();
        assert_eq!(c.core.prices.providers, ["okx", "okxLinear", "okxInverse"]);
        assert_eq!(c.core.prices.exchange_service_url, "http://svc:1");
        let bad = |k: &str| (k == "PRICE_CONNECTOR_EXCHANGES").then(|| "ftx".to_owned());
        assert!(Config::from_toml("", "t.toml", bad)
            .unwrap_err()
            .to_string()
            .contains("PRICE_CONNECTOR_EXCHANGES"));
    }
}
