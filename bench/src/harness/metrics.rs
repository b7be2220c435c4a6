//! Reading corefeed's `/metrics` (Prometheus text) and the simulator's `/control/stats`.

use anyhow::Context;
use std::collections::BTreeMap;
use std::time::Duration;

/// One scrape: `name{labels}` → value, as written by corefeed.
#[derive(Clone, Debug, Default)]
pub struct Scrape(pub BTreeMap<String, f64>);

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let mut m = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            if let Some((k, v)) = line.rsplit_once(' ') {
                if let Ok(v) = v.parse::<f64>() {
                    m.insert(k.to_owned(), v);
                }
            }
        }
        Scrape(m)
    }

    /// Sum over every series of metric `name` (any labels).
    pub fn sum(&self, name: &str) -> f64 {
        self.0
            .iter()
            .filter(|(k, _)| {
                k.as_str() == name || (k.starts_with(name) && k[name.len()..].starts_with('{'))
            })
            .map(|(_, v)| v)
            .sum()
    }

    /// One exact series, e.g. `corefeed_publish_latency_us{from="sent",sink="amqp",quantile="0.99"}`.
    pub fn get(&self, series: &str) -> Option<f64> {
        self.0.get(series).copied()
    }

    /// The exported quantiles (p50, p90, p99, p99.9, max, µs) and count of one publisher latency
    /// series; `None` when it has no samples.
    pub fn latency(&self, from: &str, sink: &str) -> Option<([f64; 5], f64)> {
        let count = self.get(&format!(
            "corefeed_publish_latency_us_count{{from=\"{from}\",sink=\"{sink}\"}}"
        ))?;
        if count == 0.0 {
            return None;
        }
        let mut q = [0.0; 5];
        for (slot, name) in q.iter_mut().zip(["0.5", "0.9", "0.99", "0.999", "1"]) {
            *slot = self
                .get(&format!(
                    "corefeed_publish_latency_us{{from=\"{from}\",sink=\"{sink}\",quantile=\"{name}\"}}"
                ))
                .unwrap_or(0.0);
        }
        Some((q, count))
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .build()
}

/// GET a URL as text.
pub fn get_text(url: &str) -> anyhow::Result<String> {
    agent()
        .get(url)
        .call()
        .with_context(|| format!("GET {url}"))?
        .into_string()
        .with_context(|| format!("reading GET {url}"))
}

/// GET a URL as JSON.
pub fn get_json(url: &str) -> anyhow::Result<serde_json::Value> {
    serde_json::from_str(&get_text(url)?).with_context(|| format!("JSON of GET {url}"))
}

/// POST JSON with an optional bearer token; returns the status code.
pub fn post_json(url: &str, token: Option<&str>, body: &serde_json::Value) -> anyhow::Result<u16> {
    let mut req = agent().post(url);
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    match req.send_json(body.clone()) {
        Ok(r) => Ok(r.status()),
        Err(ureq::Error::Status(code, r)) => {
            anyhow::bail!(
                "POST {url} answered {code}: {}",
                r.into_string().unwrap_or_default()
            )
        }
        Err(e) => Err(e).with_context(|| format!("POST {url}")),
    }
}

/// A keep-alive HTTP client for many requests to the same servers (no TIME_WAIT per request:
/// the bench's own loopback connections must not eat the ephemeral ports corefeed needs).
pub fn pooled_agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .max_idle_connections_per_host(4)
        .build()
}

/// POST JSON through `agent` (bearer token optional); returns the status and the JSON answer
/// (`Null` when the body is not JSON).
pub fn post_with(
    agent: &ureq::Agent,
    url: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let mut req = agent.post(url);
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    match req.send_json(body.clone()) {
        Ok(r) => {
            let code = r.status();
            let text = r.into_string().unwrap_or_default();
            Ok((code, serde_json::from_str(&text).unwrap_or_default()))
        }
        Err(ureq::Error::Status(code, r)) => {
            anyhow::bail!(
                "POST {url} answered {code}: {}",
                r.into_string().unwrap_or_default()
            )
        }
        Err(e) => Err(e).with_context(|| format!("POST {url}")),
    }
}

/// POSTs every `(url, body)` with `threads` keep-alive clients in parallel; fails on the first
/// error. Returns the wall time taken.
pub fn post_all(
    reqs: &[(String, serde_json::Value)],
    token: Option<&str>,
    threads: usize,
) -> anyhow::Result<Duration> {
    let t0 = std::time::Instant::now();
    let chunk = reqs.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|sc| {
        let handles: Vec<_> = reqs
            .chunks(chunk)
            .map(|part| {
                sc.spawn(move || -> anyhow::Result<()> {
                    let agent = pooled_agent();
                    for (url, body) in part {
                        post_with(&agent, url, token, body)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a request thread panicked"))??;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(t0.elapsed())
}

/// Scrapes corefeed's `/metrics`.
pub fn scrape(http_base: &str) -> anyhow::Result<Scrape> {
    Ok(Scrape::parse(&get_text(&format!("{http_base}/metrics"))?))
}

/// Data-frame counters of a scrape: (frames read, events into the rings).
pub fn frames_events(s: &Scrape) -> (f64, f64) {
    (
        s.sum("corefeed_frames_total"),
        s.sum("corefeed_events_total"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_sums_series() {
        let s = Scrape::parse(
            "# HELP x\ncorefeed_frames_total{provider=\"binance\"} 10\ncorefeed_frames_total{provider=\"okx\"} 5\ncorefeed_frames_total_other 7\n\
             corefeed_publish_latency_us{from=\"sent\",sink=\"amqp\",quantile=\"0.5\"} 12\n\
             corefeed_publish_latency_us{from=\"sent\",sink=\"amqp\",quantile=\"1\"} 99\n\
             corefeed_publish_latency_us_count{from=\"sent\",sink=\"amqp\"} 3\n",
        );
        assert_eq!(s.sum("corefeed_frames_total"), 15.0);
        let (q, n) = s.latency("sent", "amqp").unwrap();
        assert_eq!((q[0], q[4], n), (12.0, 99.0, 3.0));
        assert!(s.latency("recv", "redis").is_none());
    }
}
