//! Configuration of the publisher core: the `[redis]`, `[amqp]`, `[publisher]` and `[sinks]`
//! sections of `config.toml`, with defaults, the seed's environment overrides (`contract.md` §6)
//! and validation that names the key and the problem.

use std::collections::BTreeMap;
use std::fmt;

use corefeed_shards::event::EventKind;
use serde::Deserialize;

/// A secret string (password). Its `Debug` never shows the value, so a logged config leaks nothing.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("\"[REDACTED]\"")
        }
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

/// The four publisher sections, as the config loader embeds them.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublisherConfig {
    pub redis: RedisConfig,
    pub amqp: AmqpConfig,
    pub publisher: PublisherSection,
    pub sinks: SinksConfig,
    /// Environment values `apply_env` could not use; `validate` reports the first.
    #[serde(skip)]
    env_problems: Vec<ConfigError>,
}

/// `[redis]`: where the compatible Redis outputs go (`contract.md` §3).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[:password@]host[:port][/db]`; when set it wins over `host`/`port`/`password`.
    pub url: Option<String>,
    /// Redis host (env `REDIS_HOST`). Default `localhost`.
    pub host: String,
    /// Redis port (env `REDIS_PORT`). Default 6379.
    pub port: u16,
    /// Password for `AUTH` (env `REDIS_PASSWORD`); empty = no AUTH. Never logged.
    pub password: Secret,
    /// Database index (`SELECT`). Default 0, as the seed.
    pub db: u32,
    /// Connect and per-pipeline reply timeout, ms. Default 5000.
    pub timeout_ms: u64,
    /// Messages kept while Redis is unreachable. When full, the oldest price message is
    /// dropped (counted in `corefeed_redis_dropped_total`); control messages (serviceLog) are
    /// never dropped. Default 100 000.
    pub buffer_capacity: usize,
    /// Largest reconnect backoff, ms (starts at 100 ms, doubles). Default 5000.
    pub reconnect_max_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: None,
            host: "localhost".into(),
            port: 6379,
            password: Secret::default(),
            db: 0,
            timeout_ms: 5_000,
            buffer_capacity: 100_000,
            reconnect_max_ms: 5_000,
        }
    }
}

/// Where a Redis connection goes, after `url` has been resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisEndpoint {
    pub host: String,
    pub port: u16,
    pub password: Secret,
    pub db: u32,
}

impl RedisConfig {
    /// Resolves `url` (when set) or `host`/`port`/`password`/`db`.
    pub fn endpoint(&self) -> Result<RedisEndpoint, ConfigError> {
        let Some(url) = self.url.as_deref().filter(|u| !u.is_empty()) else {
            return Ok(RedisEndpoint {
                host: self.host.clone(),
                port: self.port,
                password: self.password.clone(),
                db: self.db,
            });
        };
        let bad = |why: &str| ConfigError::Invalid {
            key: "redis.url",
            problem: format!("{why}; expected redis://[:password@]host[:port][/db]"),
        };
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| bad("the scheme is not redis:// (TLS is not supported)"))?;
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((a, r)) => (Some(a), r),
            None => (None, rest),
        };
        let password = match auth {
            Some(a) => Secret(a.split_once(':').map(|(_, p)| p).unwrap_or(a).to_owned()),
            None => self.password.clone(),
        };
        let (hostport, db) = match rest.split_once('/') {
            Some((h, "")) => (h, self.db),
            Some((h, d)) => (
                h,
                d.parse().map_err(|_| bad("the database is not a number"))?,
            ),
            None => (rest, self.db),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad("the port is not a number"))?),
            None => (hostport, 6379),
        };
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        Ok(RedisEndpoint {
            host: host.to_owned(),
            port,
            password,
            db,
        })
    }
}

/// One convenience queue: on/off and its declare arguments.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Declare and bind the queue. Default on.
    pub enabled: bool,
    /// Declare arguments, passed as AMQP `x-*` arguments (e.g. `x-queue-type = "quorum"`,
    /// `x-max-length = 1000000`, `x-message-ttl = 86400000`, `x-overflow = "drop-head"`).
    pub arguments: BTreeMap<String, toml::Value>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            enabled: true,
            arguments: BTreeMap::new(),
        }
    }
}

/// `[amqp.queues]`: the five convenience queues of `contract.md` §4.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueuesConfig {
    pub user_orders: QueueConfig,
    pub user_balances: QueueConfig,
    pub user_positions: QueueConfig,
    pub price_candles: QueueConfig,
    pub price_tickers: QueueConfig,
}

impl QueuesConfig {
    /// `(queue name, binding key, config)` for each of the five queues.
    pub fn all(&self) -> [(&'static str, &'static str, &QueueConfig); 5] {
        [
            ("user_orders", "order.#", &self.user_orders),
            ("user_balances", "balance.#", &self.user_balances),
            ("user_positions", "position.#", &self.user_positions),
            ("price_candles", "candle.#", &self.price_candles),
            ("price_tickers", "ticker.#", &self.price_tickers),
        ]
    }
}

/// `[amqp]`: the RabbitMQ event stream (`contract.md` §4).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmqpConfig {
    /// Publish to RabbitMQ at all. Default on.
    pub enabled: bool,
    /// Broker host (env `RABBIT_HOST`). Default `localhost`.
    pub host: String,
    /// Broker port (env `RABBIT_PORT`). Default 5672.
    pub port: u16,
    /// User (env `RABBIT_USER`). Default `guest`.
    pub user: String,
    /// Password (env `RABBIT_PASSWORD`). Default `guest`. Never logged.
    pub password: Secret,
    /// Virtual host. Default `/`.
    pub vhost: String,
    /// The topic exchange events go to (declared durable). Default `corefeed.events`.
    pub exchange: String,
    /// Publisher confirms (at-least-once). Default on.
    pub confirms: bool,
    /// The convenience queues.
    pub queues: QueuesConfig,
    /// Most messages published and not yet confirmed; beyond it the publisher waits for
    /// confirms (and the rings fill: back-pressure). Default 8192.
    pub max_in_flight: usize,
    /// Most messages handed to the client per loop turn. Default 1024.
    pub batch_size: usize,
    /// Channels publishing in parallel on the connection ("lanes"); a message's lane follows
    /// its routing key, so one market's messages keep their order. Default 1 (2 measured no faster
    /// with the broker on the same 2 cores).
    pub channels: usize,
    /// A nacked or unconfirmed message is published again at most this many times, then it is
    /// counted in `corefeed_amqp_dropped_total{reason="retries"}` and logged. Default 5.
    pub max_republish: u32,
    /// A publish without a confirm after this long is published again, ms. Default 10 000.
    pub confirm_timeout_ms: u64,
    /// Messages kept while the broker is unreachable. When full, the oldest price message is
    /// dropped (counted); user kinds (order/balance/position) are never dropped and may exceed
    /// the capacity. Default 100 000.
    pub buffer_capacity: usize,
    /// Largest reconnect backoff, ms (starts at 100 ms, doubles). Default 5000.
    pub reconnect_max_ms: u64,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        AmqpConfig {
            enabled: true,
            host: "localhost".into(),
            port: 5672,
            user: "guest".into(),
            password: Secret::from("guest"),
            vhost: "/".into(),
            exchange: "corefeed.events".into(),
            confirms: true,
            queues: QueuesConfig::default(),
            max_in_flight: 8192,
            batch_size: 1024,
            channels: 1,
            max_republish: 5,
            confirm_timeout_ms: 10_000,
            buffer_capacity: 100_000,
            reconnect_max_ms: 5_000,
        }
    }
}

/// The seed's `PRICEROLE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceRole {
    /// Candles only (+ `candlesRequests`, boot announce).
    Candle,
    /// Tickers and candles.
    All,
    /// Tickers only (the seed's default when `PRICEROLE` is unset or unknown).
    Ticker,
}

impl PriceRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PriceRole::Candle => "candle",
            PriceRole::All => "all",
            PriceRole::Ticker => "ticker",
        }
    }

    /// The seed's parsing: `candle`, `all`, anything else ⇒ `ticker`.
    pub fn from_env(s: &str) -> PriceRole {
        match s.trim() {
            "candle" => PriceRole::Candle,
            "all" => PriceRole::All,
            _ => PriceRole::Ticker,
        }
    }

    /// Whether the seed announced `{"restart":"priceConnector"}` for this role (candle|all).
    pub fn announces_restart(self) -> bool {
        matches!(self, PriceRole::Candle | PriceRole::All)
    }
}

/// `[publisher]`: the publisher thread.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublisherSection {
    /// Service role (env `PRICEROLE`): `candle`, `all` or `ticker`. Default `all` (corefeed
    /// streams both in one process).
    pub role: PriceRole,
    /// Most envelopes taken from one ring per turn (one Redis pipeline per turn). Default 512.
    pub batch_size: usize,
    /// Safety-net timeout of the idle wait on the shards' wake-up, ms. Default 100.
    pub idle_wait_ms: u64,
    /// Period of the `priceConnectorAlive` beacon, ms. Default 60 000.
    pub alive_interval_ms: u64,
    /// On shutdown, how long to keep trying to flush buffered messages and collect confirms
    /// when a sink is unreachable, ms; what is left then is counted as dropped. Default 10 000.
    pub shutdown_flush_ms: u64,
}

impl Default for PublisherSection {
    fn default() -> Self {
        PublisherSection {
            role: PriceRole::All,
            batch_size: 512,
            idle_wait_ms: 100,
            alive_interval_ms: 60_000,
            shutdown_flush_ms: 10_000,
        }
    }
}

/// `[sinks]`: which event kinds go to Redis and which to RabbitMQ.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SinksConfig {
    /// Kinds published on Redis. Default: every kind the seed publishes (`order`, `balance`,
    /// `position`, `candle`, `ticker`, `status`: the user kinds on the room channel, `status`
    /// as `userStreamInfo<roomId>`).
    pub redis: Vec<String>,
    /// Kinds published on RabbitMQ. Default all six.
    pub amqp: Vec<String>,
}

impl Default for SinksConfig {
    fn default() -> Self {
        SinksConfig {
            redis: EventKind::ALL
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
            amqp: EventKind::ALL
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
        }
    }
}

/// The resolved sink routing: one flag per [`EventKind`] and sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SinkRoutes {
    redis: [bool; 6],
    amqp: [bool; 6],
}

fn kind_index(k: EventKind) -> usize {
    EventKind::ALL.iter().position(|x| *x == k).unwrap_or(0)
}

fn parse_kind(s: &str) -> Option<EventKind> {
    EventKind::ALL.into_iter().find(|k| k.as_str() == s)
}

impl SinkRoutes {
    pub fn redis(&self, k: EventKind) -> bool {
        self.redis[kind_index(k)]
    }
    pub fn amqp(&self, k: EventKind) -> bool {
        self.amqp[kind_index(k)]
    }
}

impl Default for SinkRoutes {
    fn default() -> Self {
        SinksConfig::default()
            .routes()
            .expect("default sinks are valid")
    }
}

impl SinksConfig {
    pub fn routes(&self) -> Result<SinkRoutes, ConfigError> {
        let mut r = SinkRoutes {
            redis: [false; 6],
            amqp: [false; 6],
        };
        for (key, list, flags) in [
            ("sinks.redis", &self.redis, &mut r.redis),
            ("sinks.amqp", &self.amqp, &mut r.amqp),
        ] {
            for name in list {
                let k = parse_kind(name).ok_or_else(|| ConfigError::Invalid {
                    key,
                    problem: format!(
                        "unknown event kind {name:?}; expected some of order, balance, position, candle, ticker, status"
                    ),
                })?;
                flags[kind_index(k)] = true;
            }
        }
        Ok(r)
    }
}

/// An invalid publisher configuration: names the key and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("config key `{key}`: {problem}")]
    Invalid { key: &'static str, problem: String },
    #[error("environment variable `{var}`={value:?} is not valid: {problem}")]
    Env {
        var: &'static str,
        value: String,
        problem: &'static str,
    },
}

impl PublisherConfig {
    /// Applies the seed's environment overrides: `RABBIT_HOST`, `RABBIT_PORT`, `RABBIT_USER`,
    /// `RABBIT_PASSWORD`, `REDIS_HOST`, `REDIS_PORT`, `REDIS_PASSWORD`, `PRICEROLE`. An empty
    /// variable counts as unset. `REDIS_HOST`/`REDIS_PORT`/`REDIS_PASSWORD` clear `redis.url`
    /// (the seed knows no URL). A port that is not a number is kept as a problem for
    /// [`validate`](Self::validate) to report (`env_error`).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        if let Some(v) = get("RABBIT_HOST") {
            self.amqp.host = v;
        }
        if let Some(v) = get("RABBIT_PORT") {
            match v.trim().parse() {
                Ok(p) => self.amqp.port = p,
                Err(_) => self.env_error(ConfigError::Env {
                    var: "RABBIT_PORT",
                    value: v,
                    problem: "expected a port number 1-65535",
                }),
            }
        }
        if let Some(v) = get("RABBIT_USER") {
            self.amqp.user = v;
        }
        if let Some(v) = get("RABBIT_PASSWORD") {
            self.amqp.password = Secret(v);
        }
        if let Some(v) = get("REDIS_HOST") {
            self.redis.host = v;
            self.redis.url = None;
        }
        if let Some(v) = get("REDIS_PORT") {
            match v.trim().parse() {
                Ok(p) => {
                    self.redis.port = p;
                    self.redis.url = None;
                }
                Err(_) => self.env_error(ConfigError::Env {
                    var: "REDIS_PORT",
                    value: v,
                    problem: "expected a port number 1-65535",
                }),
            }
        }
        if let Some(v) = get("REDIS_PASSWORD") {
            self.redis.password = Secret(v);
            self.redis.url = None;
        }
        if let Some(v) = get("PRICEROLE") {
            self.publisher.role = PriceRole::from_env(&v);
        }
    }

    fn env_error(&mut self, e: ConfigError) {
        self.env_problems.push(e);
    }

    /// Checks every value; the error names the key and the problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(e) = self.env_problems.first() {
            return Err(e.clone());
        }
        let inv = |key: &'static str, problem: &str| {
            Err(ConfigError::Invalid {
                key,
                problem: problem.to_owned(),
            })
        };
        let r = &self.redis;
        if r.url.as_deref().is_none_or(str::is_empty) {
            if r.host.trim().is_empty() {
                return inv("redis.host", "is empty; set the Redis host name or address");
            }
            if r.port == 0 {
                return inv("redis.port", "is 0; set the Redis port (usually 6379)");
            }
        }
        r.endpoint()?;
        if r.timeout_ms == 0 {
            return inv("redis.timeout_ms", "must be at least 1");
        }
        if r.buffer_capacity == 0 {
            return inv("redis.buffer_capacity", "must be at least 1");
        }
        if r.reconnect_max_ms < 100 {
            return inv("redis.reconnect_max_ms", "must be at least 100");
        }
        let a = &self.amqp;
        if a.enabled {
            if a.host.trim().is_empty() {
                return inv(
                    "amqp.host",
                    "is empty; set the RabbitMQ host name or address",
                );
            }
            if a.port == 0 {
                return inv("amqp.port", "is 0; set the RabbitMQ port (usually 5672)");
            }
            if a.user.is_empty() {
                return inv("amqp.user", "is empty; set the RabbitMQ user");
            }
        }
        if a.exchange.is_empty() || a.exchange.len() > 255 {
            return inv("amqp.exchange", "must be 1 to 255 bytes long");
        }
        if a.exchange.starts_with("amq.") {
            return inv(
                "amqp.exchange",
                "names starting with `amq.` are reserved by RabbitMQ; choose another name",
            );
        }
        if a.max_in_flight == 0 {
            return inv("amqp.max_in_flight", "must be at least 1");
        }
        if a.channels == 0 || a.channels > 64 {
            return inv("amqp.channels", "must be between 1 and 64");
        }
        if a.batch_size == 0 {
            return inv("amqp.batch_size", "must be at least 1");
        }
        if a.confirm_timeout_ms == 0 {
            return inv("amqp.confirm_timeout_ms", "must be at least 1");
        }
        if a.buffer_capacity == 0 {
            return inv("amqp.buffer_capacity", "must be at least 1");
        }
        if a.reconnect_max_ms < 100 {
            return inv("amqp.reconnect_max_ms", "must be at least 100");
        }
        for (name, _, q) in a.queues.all() {
            for (k, v) in &q.arguments {
                if !k.starts_with("x-") {
                    return Err(ConfigError::Invalid {
                        key: "amqp.queues.<queue>.arguments",
                        problem: format!(
                            "queue {name}: argument {k:?} does not start with `x-`; RabbitMQ queue arguments are x-* keys"
                        ),
                    });
                }
                if matches!(
                    v,
                    toml::Value::Array(_) | toml::Value::Table(_) | toml::Value::Datetime(_)
                ) {
                    return Err(ConfigError::Invalid {
                        key: "amqp.queues.<queue>.arguments",
                        problem: format!(
                            "queue {name}: argument {k:?} must be a string, integer, float or boolean"
                        ),
                    });
                }
            }
        }
        let p = &self.publisher;
        if p.batch_size == 0 {
            return inv("publisher.batch_size", "must be at least 1");
        }
        if p.idle_wait_ms == 0 {
            return inv("publisher.idle_wait_ms", "must be at least 1");
        }
        if p.alive_interval_ms < 1_000 {
            return inv("publisher.alive_interval_ms", "must be at least 1000");
        }
        self.sinks.routes()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_from_empty_toml() {
        let c: PublisherConfig = toml::from_str("").unwrap();
        assert_eq!(c.amqp.exchange, "corefeed.events");
        assert!(c.amqp.confirms);
        assert_eq!(c.redis.port, 6379);
        assert_eq!(c.publisher.role, PriceRole::All);
        assert!(c.amqp.queues.all().iter().all(|(_, _, q)| q.enabled));
        c.validate().unwrap();
        let r = c.sinks.routes().unwrap();
        assert!(r.redis(EventKind::Candle) && r.redis(EventKind::Ticker));
        assert!(r.redis(EventKind::Order) && r.redis(EventKind::Balance));
        assert!(r.amqp(EventKind::Order) && r.amqp(EventKind::Candle));
    }

    #[test]
    fn toml_sections_parse() {
        let c: PublisherConfig = toml::from_str(
            r#"
            [redis]
            url = "redis://:pw@cache:6380/2"
            [amqp]
            exchange = "x.events"
            max_in_flight = 10
            [amqp.queues.price_tickers]
            enabled = false
            [amqp.queues.user_orders.arguments]
            x-queue-type = "quorum"
            x-max-length = 1000
            [publisher]
            role = "candle"
            [sinks]
            redis = ["candle"]
            amqp = ["candle", "ticker"]
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        let e = c.redis.endpoint().unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.password.expose(), e.db),
            ("cache", 6380, "pw", 2)
        );
        assert!(!c.amqp.queues.price_tickers.enabled);
        assert_eq!(c.amqp.queues.user_orders.arguments.len(), 2);
        assert_eq!(c.publisher.role, PriceRole::Candle);
        assert!(
            !format!("{c:?}").contains("pw\""),
            "secrets must not show in Debug"
        );
    }

    #[test]
    fn env_overrides() {
        struct TestCase {
            input: &'static [(&'static str, &'static str)],
            expected: fn(&PublisherConfig),
        }
        let cases = [
            TestCase {
                input: &[
                    ("RABBIT_HOST", "rmq"),
                    ("RABBIT_PORT", "5673"),
                    ("RABBIT_USER", "u"),
                    ("RABBIT_PASSWORD", "p"),
                    ("REDIS_HOST", "rds"),
                    ("REDIS_PORT", "6390"),
                    ("REDIS_PASSWORD", "rp"),
                    ("PRICEROLE", "candle"),
                ],
                expected: |c| {
                    assert_eq!(c.amqp.host, "rmq");
                    assert_eq!(c.amqp.port, 5673);
                    assert_eq!(c.amqp.user, "u");
                    assert_eq!(c.amqp.password.expose(), "p");
                    let e = c.redis.endpoint().unwrap();
                    assert_eq!(
                        (e.host.as_str(), e.port, e.password.expose()),
                        ("rds", 6390, "rp")
                    );
                    assert_eq!(c.publisher.role, PriceRole::Candle);
                },
            },
            TestCase {
                input: &[("PRICEROLE", "whatever"), ("REDIS_HOST", "")],
                expected: |c| {
                    assert_eq!(c.publisher.role, PriceRole::Ticker);
                    assert_eq!(c.redis.host, "localhost");
                },
            },
        ];
        for c in cases {
            let mut cfg = PublisherConfig::default();
            cfg.apply_env(|k| {
                c.input
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            });
            cfg.validate().unwrap();
            (c.expected)(&cfg);
        }
    }

    #[test]
    fn validation_names_key() {
        struct TestCase {
            input: fn(&mut PublisherConfig),
            expected: &'static str,
        }
        let cases = [
            TestCase {
                input: |c| c.redis.host.clear(),
                expected: "redis.host",
            },
            TestCase {
                input: |c| c.amqp.max_in_flight = 0,
                expected: "amqp.max_in_flight",
            },
            TestCase {
                input: |c| c.redis.url = Some("http://x".into()),
                expected: "redis.url",
            },
            TestCase {
                input: |c| c.sinks.amqp = vec!["candles".into()],
                expected: "sinks.amqp",
            },
            TestCase {
                input: |c| {
                    c.amqp
                        .queues
                        .price_candles
                        .arguments
                        .insert("max-length".into(), toml::Value::Integer(1));
                },
                expected: "max-length",
            },
            TestCase {
                input: |c| c.apply_env(|k| (k == "REDIS_PORT").then(|| "abc".to_string())),
                expected: "REDIS_PORT",
            },
        ];
        for c in cases {
            let mut cfg = PublisherConfig::default();
            (c.input)(&mut cfg);
            let e = cfg.validate().unwrap_err().to_string();
            assert!(e.contains(c.expected), "{e}");
        }
    }
}
