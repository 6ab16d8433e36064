//! Log drains: each app's stream forwarded to a syslog endpoint over TCP (RFC 5424 frames
//! with RFC 6587 octet counting) or to an HTTP(S) endpoint in batches (Heroku's
//! `application/logplex-1` body), one forwarder task per drain.
//!
//! A forwarder reads the live stream into a bounded queue of its own and sends from
//! there; a drain that is down is retried with a growing pause while the queue keeps the
//! newest lines. Nothing here ever makes a dyno, the router or another reader wait.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use paas_core::logline::{LogLine, Source};
use paas_store::{LogDrain, Store};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{Delivery, LogHub};

/// Lines a forwarder keeps while its drain is away; older ones are dropped first.
const QUEUE_LINES: usize = 10_000;
/// Lines per TCP write or HTTP request.
const BATCH_LINES: usize = 500;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Drains are re-read from the database this often even without a nudge.
const RESYNC_EVERY: Duration = Duration::from_secs(30);

/// Where a drain sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainTarget {
    /// `syslog://host:port`: RFC 5424 over TCP.
    Syslog { host: String, port: u16 },
    /// `http(s)://…`: batches POSTed.
    Http(reqwest::Url),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DrainUrlError {
    #[error("Invalid drain URL {0:?}: {1}")]
    Invalid(String, String),
}

/// Parses a drain URL as `paas drains:add` takes it.
pub fn parse_drain_url(raw: &str) -> Result<DrainTarget, DrainUrlError> {
    let invalid = |why: &str| DrainUrlError::Invalid(raw.to_owned(), why.to_owned());
    let url = reqwest::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("it has no host"))?;
    // A DNS name or an IP address, nothing the URL parser lets through beside them
    // (`http://w*`): the same rule as the API description's pattern.
    let dns_label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !host.starts_with('[') && !host.split('.').all(dns_label) {
        return Err(invalid("its host is not a DNS name or an IP address"));
    }
    match url.scheme() {
        "syslog" => {
            let port = url
                .port()
                .ok_or_else(|| invalid("a syslog drain needs a port (syslog://host:514)"))?;
            Ok(DrainTarget::Syslog {
                host: host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
                port,
            })
        }
        "http" | "https" => Ok(DrainTarget::Http(url)),
        "syslog+tls" => Err(invalid(
            "syslog over TLS is not supported; use syslog:// or https://",
        )),
        other => Err(invalid(&format!(
            "the scheme {other}:// is not a drain (use syslog://, http:// or https://)"
        ))),
    }
}

/// Runs one forwarder per drain in the database, following adds and removals.
#[derive(Debug)]
pub struct Drains {
    store: Store,
    hub: Arc<LogHub>,
    http: reqwest::Client,
}

impl Drains {
    pub fn new(store: Store, hub: Arc<LogHub>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self { store, hub, http }
    }

    /// Keeps the forwarders in line with the database until `shutdown`; `changed` is
    /// notified after a drain is added or removed.
    pub async fn run(self, changed: Arc<Notify>, shutdown: CancellationToken) {
        let mut running: HashMap<Uuid, (String, CancellationToken)> = HashMap::new();
        loop {
            match self.store.all_log_drains().await {
                Ok(drains) => {
                    let wanted: HashMap<Uuid, &LogDrain> =
                        drains.iter().map(|d| (d.drain_id, d)).collect();
                    running.retain(|id, (_, stop)| {
                        let keep = wanted.contains_key(id);
                        if !keep {
                            stop.cancel();
                        }
                        keep
                    });
                    for (id, drain) in wanted {
                        if running.contains_key(&id) {
                            continue;
                        }
                        match parse_drain_url(&drain.url) {
                            Ok(target) => {
                                let stop = shutdown.child_token();
                                running.insert(id, (drain.url.clone(), stop.clone()));
                                tokio::spawn(forward(
                                    self.hub.clone(),
                                    self.http.clone(),
                                    drain.clone(),
                                    target,
                                    stop,
                                ));
                            }
                            Err(e) => {
                                tracing::warn!(app = %drain.app_name, error = %e, "skipping a drain")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reading log drains failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = changed.notified() => {}
                () = tokio::time::sleep(RESYNC_EVERY) => {}
            }
        }
    }
}

/// One drain's forwarder.
async fn forward(
    hub: Arc<LogHub>,
    http: reqwest::Client,
    drain: LogDrain,
    target: DrainTarget,
    stop: CancellationToken,
) {
    tracing::info!(app = %drain.app_name, url = %drain.url, "log drain started");
    let mut live = hub.subscribe(&drain.app_name);
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut tcp: Option<TcpStream> = None;
    let mut backoff = Duration::from_secs(1);
    let mut next_try = Instant::now();
    let mut dropped: u64 = 0;
    let mut warned = false;
    loop {
        let ready = !queue.is_empty();
        tokio::select! {
            () = stop.cancelled() => break,
            delivery = live.next() => match delivery {
                Some(Delivery::Line(line)) => {
                    queue.push_back(line.syslog_frame(&drain.token));
                }
                Some(Delivery::Missed(n)) => {
                    queue.push_back(overflow(n).syslog_frame(&drain.token));
                }
                None => break,
            },
            () = tokio::time::sleep_until(next_try), if ready => {
                let batch: Vec<String> = queue.iter().take(BATCH_LINES).cloned().collect();
                let sent = match &target {
                    DrainTarget::Syslog { host, port } => send_tcp(&mut tcp, host, *port, &batch).await.map_err(|e| e.to_string()),
                    DrainTarget::Http(url) => send_http(&http, url, &drain.token, &batch).await,
                };
                match sent {
                    Ok(()) => {
                        queue.drain(..batch.len());
                        backoff = Duration::from_secs(1);
                        next_try = Instant::now();
                        warned = false;
                    }
                    Err(e) => {
                        tcp = None;
                        tracing::warn!(app = %drain.app_name, url = %drain.url, error = %e, retry_in_secs = backoff.as_secs(), "log drain unreachable");
                        next_try = Instant::now() + backoff;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
        if queue.len() > QUEUE_LINES {
            let excess = queue.len() - QUEUE_LINES;
            queue.drain(..excess);
            dropped += excess as u64;
            if !warned {
                warned = true;
                tracing::warn!(app = %drain.app_name, url = %drain.url, dropped, "log drain is behind: lines dropped");
            }
        }
    }
    tracing::info!(app = %drain.app_name, url = %drain.url, "log drain stopped");
}

/// Heroku's line for lines a reader lost.
pub fn overflow(missed: u64) -> LogLine {
    LogLine::new(
        Source::Heroku,
        "logplex",
        format!("Error L10 (output buffer overflow): {missed} messages dropped"),
    )
}

async fn send_tcp(
    conn: &mut Option<TcpStream>,
    host: &str,
    port: u16,
    batch: &[String],
) -> std::io::Result<()> {
    let write = async {
        if conn.is_none() {
            *conn = Some(TcpStream::connect((host, port)).await?);
        }
        let Some(stream) = conn.as_mut() else {
            return Err(std::io::Error::other("no connection"));
        };
        stream.write_all(batch.concat().as_bytes()).await?;
        stream.flush().await
    };
    tokio::time::timeout(SEND_TIMEOUT, write)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))?
}

async fn send_http(
    http: &reqwest::Client,
    url: &reqwest::Url,
    token: &str,
    batch: &[String],
) -> Result<(), String> {
    let response = http
        .post(url.clone())
        .header("Content-Type", "application/logplex-1")
        .header("Logplex-Msg-Count", batch.len().to_string())
        .header("Logplex-Frame-Id", Uuid::new_v4().to_string())
        .header("Logplex-Drain-Token", token)
        .body(batch.concat())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_urls() {
        assert_eq!(
            parse_drain_url("syslog://logs.example.com:514"),
            Ok(DrainTarget::Syslog {
                host: "logs.example.com".into(),
                port: 514
            })
        );
        assert!(matches!(
            parse_drain_url("https://user:pw@logs.example.com/drain"),
            Ok(DrainTarget::Http(_))
        ));
        for good in [
            "http://10.0.0.1:8080/x",
            "syslog://[::1]:514",
            "https://a-b.c",
        ] {
            assert!(parse_drain_url(good).is_ok(), "{good}");
        }
        for bad in [
            "syslog://logs.example.com",
            "ftp://x/y",
            "not a url",
            "syslog+tls://h:6514",
            "http://",
            "http://w*",
            "syslog://-bad.example.com:514",
        ] {
            assert!(parse_drain_url(bad).is_err(), "{bad}");
        }
    }
}
