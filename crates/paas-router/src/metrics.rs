//! Per-app request metrics, rendered in the Prometheus text format (version 0.0.4) by
//! [`Metrics::render`], for the control API's `GET /metrics`.
//!
//! An app's counters are looked up once per route-table snapshot (not per request) and
//! kept as atomics, so recording a request takes no lock. Counters of an app that leaves
//! the table stay, as Prometheus counters should.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The counters of one app.
#[derive(Debug, Default)]
pub struct AppMetrics {
    by_class: [AtomicU64; 5],
    /// Not cumulative: `buckets[i]` counts durations in `(BUCKETS[i-1], BUCKETS[i]]`;
    /// the last slot is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl AppMetrics {
    pub fn record(&self, status: u16, took: Duration) {
        let class = usize::from((status / 100).clamp(1, 5)) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Every app's counters, plus requests for hosts no app answers.
#[derive(Debug, Default)]
pub struct Metrics {
    apps: RwLock<BTreeMap<String, Arc<AppMetrics>>>,
    unmatched: AtomicU64,
}

impl Metrics {
    /// The counters of `app`, created on first use.
    pub fn app(&self, app: &str) -> Arc<AppMetrics> {
        if let Some(m) = self.apps.read().unwrap_or_else(|p| p.into_inner()).get(app) {
            return m.clone();
        }
        let mut apps = self.apps.write().unwrap_or_else(|p| p.into_inner());
        apps.entry(app.to_owned()).or_default().clone()
    }

    pub fn record_unmatched(&self) {
        self.unmatched.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let apps = self.apps.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut out = String::new();
        out.push_str("# HELP paas_router_requests_total Requests the router answered, by app and status class.\n");
        out.push_str("# TYPE paas_router_requests_total counter\n");
        for (app, m) in &apps {
            let app = escape(app);
            for (class, n) in CLASSES.iter().zip(&m.by_class) {
                let n = n.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "paas_router_requests_total{{app=\"{app}\",status=\"{class}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP paas_router_request_duration_seconds Time from a request's arrival to the end of its response, by app.\n");
        out.push_str("# TYPE paas_router_request_duration_seconds histogram\n");
        for (app, m) in &apps {
            let app = escape(app);
            let mut cumulative = 0;
            for (i, n) in m.buckets.iter().enumerate() {
                cumulative += n.load(Ordering::Relaxed);
                let le = BUCKETS
                    .get(i)
                    .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
                let _ = writeln!(
                    out,
                    "paas_router_request_duration_seconds_bucket{{app=\"{app}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let sum = m.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "paas_router_request_duration_seconds_sum{{app=\"{app}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "paas_router_request_duration_seconds_count{{app=\"{app}\"}} {cumulative}"
            );
        }
        out.push_str("# HELP paas_router_unmatched_requests_total Requests for a host no app answers (404).\n");
        out.push_str("# TYPE paas_router_unmatched_requests_total counter\n");
        let _ = writeln!(
            out,
            "paas_router_unmatched_requests_total {}",
            self.unmatched.load(Ordering::Relaxed)
        );
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_as_prometheus_text() {
        let metrics = Metrics::default();
        let demo = metrics.app("demo");
        demo.record(200, Duration::from_millis(3));
        demo.record(204, Duration::from_millis(30));
        demo.record(503, Duration::from_secs(31));
        metrics.app("demo").record(404, Duration::from_micros(10));
        metrics.record_unmatched();
        let text = metrics.render();
        for line in [
            "paas_router_requests_total{app=\"demo\",status=\"2xx\"} 2",
            "paas_router_requests_total{app=\"demo\",status=\"4xx\"} 1",
            "paas_router_requests_total{app=\"demo\",status=\"5xx\"} 1",
            "paas_router_requests_total{app=\"demo\",status=\"1xx\"} 0",
            "paas_router_request_duration_seconds_bucket{app=\"demo\",le=\"0.001\"} 1",
            "paas_router_request_duration_seconds_bucket{app=\"demo\",le=\"0.005\"} 2",
            "paas_router_request_duration_seconds_bucket{app=\"demo\",le=\"0.05\"} 3",
            "paas_router_request_duration_seconds_bucket{app=\"demo\",le=\"10\"} 3",
            "paas_router_request_duration_seconds_bucket{app=\"demo\",le=\"+Inf\"} 4",
            "paas_router_request_duration_seconds_count{app=\"demo\"} 4",
            "paas_router_unmatched_requests_total 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert!(text.contains("# TYPE paas_router_request_duration_seconds histogram"));
    }
}
