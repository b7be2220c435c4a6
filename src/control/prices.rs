//! The price-subscription registry: every candle and ticker topic, which socket group carries it
//! and which shard owns that socket. It lives on the control thread, outside the shards, so a
//! re-dialled socket or a restarted shard never loses its subscriptions (the seed's risk §10.6).
//! Additions are batched and flushed every few hundred ms, so a burst of requests becomes one
//! subscribe request per socket instead of thousands.
//! Imports crate::config and corefeed_shards::{session, shard, types}.

use crate::config::Config;
use corefeed_shards::session::{SocketKey, SocketKind, SocketSpec, Topic, Venue};
use corefeed_shards::shard::ShardCommand;
use corefeed_shards::types::{Interval, Provider, Symbol};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Why a candle request was refused. Each message says what was wrong and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CandleError {
    #[error("unknown exchange {0:?}; send a provider name such as binance, binanceUsdm, okx or paperOkxLinear")]
    UnknownProvider(String),
    #[error("candles for {0} are not enabled here; enabled: {1}")]
    NotEnabled(Provider, String),
    #[error("symbol {symbol:?} is not a {provider} symbol; send the exchange-native symbol (e.g. BTCUSDT for Binance, BTC-USDT for OKX)")]
    BadSymbol { provider: Provider, symbol: String },
    #[error("interval {interval:?} is not a {provider} kline interval; send the exchange-native interval (e.g. 1m for Binance, candle1m for OKX)")]
    BadInterval {
        provider: Provider,
        interval: String,
    },
}

/// A candle topic, resolved and validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CandleTopic {
    pub provider: Provider,
    pub topic: Topic,
}

#[derive(Default)]
struct Group {
    topics: Vec<Topic>,
    /// Already sent to the shard as `Open`.
    opened: bool,
}

/// One row of `GET /v1/subscriptions`.
#[derive(Serialize, Clone, Debug)]
pub struct SubscriptionRow {
    pub provider: String,
    pub kind: &'static str,
    pub socket: String,
    pub shard: usize,
    pub topics: usize,
}

pub struct PriceRegistry {
    cfg: Arc<Config>,
    shards: Vec<crossbeam_channel::Sender<ShardCommand>>,
    groups: BTreeMap<(Provider, SocketKind), Vec<Group>>,
    index: HashMap<(Provider, Topic), u32>,
    pending_add: BTreeMap<SocketKey, Vec<Topic>>,
    pending_remove: BTreeMap<SocketKey, Vec<Topic>>,
}

impl PriceRegistry {
    pub fn new(cfg: Arc<Config>, shards: Vec<crossbeam_channel::Sender<ShardCommand>>) -> Self {
        PriceRegistry {
            cfg,
            shards,
            groups: BTreeMap::new(),
            index: HashMap::new(),
            pending_add: BTreeMap::new(),
            pending_remove: BTreeMap::new(),
        }
    }

    /// Validates a `candlesRequests` payload (paper providers map to their real exchange).
    pub fn resolve_candle(
        &self,
        exchange: &str,
        symbol: &str,
        interval: &str,
    ) -> Result<CandleTopic, CandleError> {
        let provider: Provider = exchange
            .trim()
            .parse()
            .map_err(|_| CandleError::UnknownProvider(exchange.to_owned()))?;
        let provider = provider.real();
        let enabled = self.cfg.price_providers();
        if !self.cfg.core.prices.candles || !enabled.contains(&provider) {
            let list: Vec<_> = enabled.iter().map(|p| p.as_str()).collect();
            return Err(CandleError::NotEnabled(provider, list.join(", ")));
        }
        let venue = Venue::new(provider);
        let sym = venue
            .canonical_symbol(symbol)
            .and_then(|s| Symbol::new(&s).ok())
            .ok_or_else(|| CandleError::BadSymbol {
                provider,
                symbol: symbol.to_owned(),
            })?;
        let iv = Interval::new(interval.trim())
            .ok()
            .filter(|i| venue.valid_interval(i.as_str()))
            .ok_or_else(|| CandleError::BadInterval {
                provider,
                interval: interval.to_owned(),
            })?;
        Ok(CandleTopic {
            provider,
            topic: Topic::Candle {
                symbol: sym,
                interval: iv,
            },
        })
    }

    /// Adds a candle topic; `false` when it was already subscribed (requests are idempotent).
    pub fn add_candle(&mut self, t: CandleTopic) -> bool {
        self.add(t.provider, SocketKind::Candles, t.topic)
    }

    /// Removes a candle topic; `false` when it was not subscribed.
    pub fn remove_candle(&mut self, t: CandleTopic) -> bool {
        self.remove(t.provider, SocketKind::Candles, t.topic)
    }

    /// Makes the ticker topics of `provider` exactly `symbols` (Binance: its all-market stream).
    pub fn set_tickers(&mut self, provider: Provider, symbols: &[String]) -> (usize, usize) {
        let want: Vec<Topic> = if Venue::new(provider).topics_in_url() {
            vec![Topic::AllTickers]
        } else {
            symbols
                .iter()
                .filter_map(|s| Symbol::new(s).ok())
                .map(|symbol| Topic::Ticker { symbol })
                .collect()
        };
        let have: Vec<Topic> = self
            .groups
            .get(&(provider, SocketKind::Tickers))
            .map(|gs| gs.iter().flat_map(|g| g.topics.iter().copied()).collect())
            .unwrap_or_default();
        let mut added = 0;
        for t in &want {
            if self.add(provider, SocketKind::Tickers, *t) {
                added += 1;
            }
        }
        let mut removed = 0;
        for t in have.into_iter().filter(|t| !want.contains(t)) {
            if self.remove(provider, SocketKind::Tickers, t) {
                removed += 1;
            }
        }
        (added, removed)
    }

    fn per_socket(&self, provider: Provider, kind: SocketKind) -> usize {
        let venue_limit = Venue::new(provider).limits(kind).topics_per_socket;
        let configured = match kind {
            SocketKind::Candles => self.cfg.core.prices.candle_topics_per_socket,
            SocketKind::Tickers => self.cfg.core.prices.ticker_topics_per_socket,
        };
        if configured == 0 {
            venue_limit
        } else {
            configured.min(venue_limit)
        }
    }

    fn add(&mut self, provider: Provider, kind: SocketKind, topic: Topic) -> bool {
        if self.index.contains_key(&(provider, topic)) {
            return false;
        }
        let cap = self.per_socket(provider, kind);
        let groups = self.groups.entry((provider, kind)).or_default();
        let gi = match groups.iter().position(|g| g.topics.len() < cap) {
            Some(i) => i,
            None => {
                groups.push(Group::default());
                groups.len() - 1
            }
        };
        groups[gi].topics.push(topic);
        self.index.insert((provider, topic), gi as u32);
        let key = SocketKey {
            provider,
            kind,
            group: gi as u32,
        };
        self.pending_add.entry(key).or_default().push(topic);
        true
    }

    fn remove(&mut self, provider: Provider, kind: SocketKind, topic: Topic) -> bool {
        let Some(gi) = self.index.remove(&(provider, topic)) else {
            return false;
        };
        if let Some(g) = self
            .groups
            .get_mut(&(provider, kind))
            .and_then(|gs| gs.get_mut(gi as usize))
        {
            g.topics.retain(|t| *t != topic);
        }
        let key = SocketKey {
            provider,
            kind,
            group: gi,
        };
        if let Some(p) = self.pending_add.get_mut(&key) {
            p.retain(|t| *t != topic);
        }
        self.pending_remove.entry(key).or_default().push(topic);
        true
    }

    /// Sends what accumulated since the last flush: `Open` for new sockets (their topics go in
    /// the URL or the first subscribe), `AddTopics`/`RemoveTopics` for running ones, `Close`
    /// for sockets left with no topics.
    pub fn flush(&mut self) {
        let n = self.shards.len();
        for (key, topics) in std::mem::take(&mut self.pending_remove) {
            let group = self
                .groups
                .get_mut(&(key.provider, key.kind))
                .and_then(|gs| gs.get_mut(key.group as usize));
            let Some(group) = group else { continue };
            if !group.opened {
                continue;
            }
            if group.topics.is_empty() {
                group.opened = false;
                let _ = self.shards[key.shard(n)].send(ShardCommand::Close(key));
            } else {
                let _ = self.shards[key.shard(n)].send(ShardCommand::RemoveTopics(key, topics));
            }
        }
        for (key, topics) in std::mem::take(&mut self.pending_add) {
            if topics.is_empty() {
                continue;
            }
            let group = self
                .groups
                .get_mut(&(key.provider, key.kind))
                .and_then(|gs| gs.get_mut(key.group as usize));
            let Some(group) = group else { continue };
            let cmd = if group.opened {
                ShardCommand::AddTopics(key, topics)
            } else {
                group.opened = true;
                ShardCommand::Open(SocketSpec {
                    key,
                    base_url: self.cfg.ws_base(key.provider),
                    topics: group.topics.clone(),
                })
            };
            if self.shards[key.shard(n)].send(cmd).is_err() {
                tracing::error!(socket = %key, "Shard is gone; its subscriptions cannot be delivered until restart.");
            }
        }
    }

    pub fn candle_count(&self) -> usize {
        self.index
            .keys()
            .filter(|(_, t)| matches!(t, Topic::Candle { .. }))
            .count()
    }

    pub fn rows(&self) -> Vec<SubscriptionRow> {
        let n = self.shards.len();
        let mut out = Vec::new();
        for ((provider, kind), groups) in &self.groups {
            for (gi, g) in groups.iter().enumerate() {
                if g.topics.is_empty() {
                    continue;
                }
                let key = SocketKey {
                    provider: *provider,
                    kind: *kind,
                    group: gi as u32,
                };
                out.push(SubscriptionRow {
                    provider: provider.as_str().to_owned(),
                    kind: kind.as_str(),
                    socket: key.to_string(),
                    shard: key.shard(n),
                    topics: g.topics.len(),
                });
            }
        }
        out
    }

    /// Candle topics of a provider as `(symbol, interval)`, for the admin API.
    pub fn candles(&self) -> Vec<(Provider, String, String)> {
        let mut v: Vec<_> = self
            .index
            .keys()
            .filter_map(|(p, t)| match t {
                Topic::Candle { symbol, interval } => {
                    Some((*p, symbol.to_string(), interval.to_string()))
                }
                _ => None,
            })
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(
        shards: usize,
    ) -> (
        PriceRegistry,
        Vec<crossbeam_channel::Receiver<ShardCommand>>,
    ) {
        let cfg = Arc::new(
            Config::from_toml("[prices]\ncandle_topics_per_socket = 2\n", "t", |_| None).unwrap(),
        );
        let (txs, rxs): (Vec<_>, Vec<_>) =
            (0..shards).map(|_| crossbeam_channel::unbounded()).unzip();
        (PriceRegistry::new(cfg, txs), rxs)
    }

    fn drain(rxs: &[crossbeam_channel::Receiver<ShardCommand>]) -> Vec<ShardCommand> {
        rxs.iter().flat_map(|r| r.try_iter()).collect()
    }

    #[test]
    fn candle_requests_are_validated_with_clear_errors() {
        struct TestCase {
            input: (&'static str, &'static str, &'static str),
            expected: Result<&'static str, &'static str>,
        }
        let (r, _) = registry(1);
        let cases = [
            TestCase {
                input: ("binance", "BTCUSDT", "1m"),
                expected: Ok("binance BTCUSDT 1m"),
            },
            TestCase {
                input: ("paperBinanceUsdm", "btcusdt", "4h"),
                expected: Ok("binanceUsdm BTCUSDT 4h"),
            },
            TestCase {
                input: ("okx", "BTC-USDT", "candle1H"),
                expected: Ok("okx BTC-USDT candle1H"),
            },
            TestCase {
                input: ("paperOkxLinear", "BTC-USDT-SWAP", "candle1Dutc"),
                expected: Ok("okxLinear BTC-USDT-SWAP candle1Dutc"),
            },
            TestCase {
                input: ("binance", "BTCUSDT", "1H"),
                expected: Err("not a binance kline interval"),
            },
            TestCase {
                input: ("binanceUsdm", "BTCUSDT", "1s"),
                expected: Err("not a binanceUsdm kline interval"),
            },
            TestCase {
                input: ("okx", "BTC-USDT", "1m"),
                expected: Err("not a okx kline interval"),
            },
            TestCase {
                input: ("okx", "BTCUSDT", "candle1m"),
                expected: Err("is not a okx symbol"),
            },
            TestCase {
                input: ("binance", "BTC/USDT", "1m"),
                expected: Err("is not a binance symbol"),
            },
            TestCase {
                input: ("binance", "", "1m"),
                expected: Err("is not a binance symbol"),
            },
            TestCase {
                input: ("ftx", "BTCUSDT", "1m"),
                expected: Err("unknown exchange \"ftx\""),
            },
            TestCase {
                input: ("bybit", "BTCUSDT", "1"),
                expected: Err("not enabled"),
            },
        ];
        for c in cases {
            let got = r.resolve_candle(c.input.0, c.input.1, c.input.2);
            match (got, c.expected) {
                (Ok(t), Ok(want)) => {
                    let Topic::Candle { symbol, interval } = t.topic else {
                        panic!()
                    };
                    assert_eq!(format!("{} {} {}", t.provider, symbol, interval), want);
                }
                (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{:?}: {e}", c.input),
                (got, want) => panic!("{:?}: got {got:?}, want {want:?}", c.input),
            }
        }
    }

    #[test]
    fn candles_fill_sockets_up_to_the_limit_and_flush_in_batches() {
        let (mut r, rxs) = registry(2);
        let t = |r: &PriceRegistry, s: &str| r.resolve_candle("binance", s, "1m").unwrap();
        let (a, b, c) = (t(&r, "AAAUSDT"), t(&r, "BBBUSDT"), t(&r, "CCCUSDT"));
        assert!(r.add_candle(a));
        assert!(!r.add_candle(a), "duplicate request is a no-op");
        assert!(r.add_candle(b));
        assert!(r.add_candle(c));
        r.flush();
        let cmds = drain(&rxs);
        let opens: Vec<_> = cmds
            .iter()
            .map(|c| match c {
                ShardCommand::Open(spec) => {
                    (spec.key.group, spec.topics.len(), spec.base_url.clone())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(opens.len(), 2, "2 per socket → 2 sockets");
        assert!(opens.contains(&(0, 2, "wss://stream.binance.com:9443".into())));
        assert!(opens.contains(&(1, 1, "wss://stream.binance.com:9443".into())));
        // Removing the last topic of a socket closes it; removing one of two unsubscribes it.
        assert!(r.remove_candle(c));
        assert!(r.remove_candle(a));
        assert!(!r.remove_candle(a));
        r.flush();
        let cmds = drain(&rxs);
        assert_eq!(cmds.len(), 2);
        assert!(cmds
            .iter()
            .any(|c| matches!(c, ShardCommand::Close(k) if k.group == 1)));
        assert!(cmds.iter().any(
            |c| matches!(c, ShardCommand::RemoveTopics(k, t) if k.group == 0 && t.len() == 1)
        ));
        // A new topic refills the free slot of socket 0 with one AddTopics.
        let d = t(&r, "DDDUSDT");
        assert!(r.add_candle(d));
        r.flush();
        let cmds = drain(&rxs);
        assert!(
            matches!(&cmds[..], [ShardCommand::AddTopics(k, t)] if k.group == 0 && t.len() == 1)
        );
        assert_eq!(r.candle_count(), 2);
    }

    #[test]
    fn tickers_follow_the_listing() {
        let (mut r, rxs) = registry(1);
        assert_eq!(
            r.set_tickers(Provider::Okx, &["BTC-USDT".into(), "ETH-USDT".into()]),
            (2, 0)
        );
        assert_eq!(r.set_tickers(Provider::Binance, &[]), (1, 0));
        r.flush();
        assert_eq!(drain(&rxs).len(), 2);
        assert_eq!(
            r.set_tickers(Provider::Okx, &["ETH-USDT".into(), "SOL-USDT".into()]),
            (1, 1)
        );
        r.flush();
        let cmds = drain(&rxs);
        assert_eq!(cmds.len(), 2, "{cmds:?}");
    }
}
