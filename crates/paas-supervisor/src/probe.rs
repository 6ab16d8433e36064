//! Readiness of a web dyno: it accepts TCP on `$PORT`, and, when its release named a
//! health path (`PAAS_HEALTH_PATH`, kept in the dyno's labels), that path answers 2xx
//! or 3xx.

use std::time::Duration;

use paas_core::runtime::{ContainerRuntime, ObservedContainer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Supervisor;

/// How long a connection to a dyno may take before it counts as not listening.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long the health path may take to answer.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

impl<R: ContainerRuntime> Supervisor<R> {
    pub(crate) async fn ready(&self, c: &ObservedContainer) -> bool {
        let Some(addr) = c.web_addr(self.settings.web_port) else {
            return false;
        };
        let Ok(Ok(stream)) =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await
        else {
            return false;
        };
        let Some(path) = c.health_path.as_deref() else {
            return true;
        };
        let host = format!("{}.{}", c.dyno.app_name, self.settings.domain);
        matches!(
            tokio::time::timeout(HEALTH_TIMEOUT, http_status(stream, &host, path)).await,
            Ok(Ok(200..=399))
        )
    }
}

/// The status code of `GET path` on an open connection to a dyno.
async fn http_status(
    mut stream: tokio::net::TcpStream,
    host: &str,
    path: &str,
) -> std::io::Result<u16> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: paas-health-check\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    while !head.contains(&b'\n') && head.len() < 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    // `HTTP/1.1 200 OK`
    String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP response"))
}
