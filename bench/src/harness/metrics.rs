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
    Ok(serde_json::from_str(&get_text(url)?).with_context(|| format!("JSON of GET {url}"))?)
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
