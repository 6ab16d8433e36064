//! The request log: one Heroku-style line per request, written when the response has
//! been sent (or abandoned), to paasd's own log (tracing target `router`) and to a
//! [`RequestLogSink`] that feeds the app's log stream.

use std::fmt::Write as _;
use std::time::Duration;

/// One request's log line, for the app's log stream (`heroku[router]: <line>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    pub app: String,
    pub status: u16,
    pub line: String,
}

/// Where request lines go besides paasd's stdout: the app's log stream. Called on the
/// request path once per request, so it must not block (drop lines rather than wait).
pub trait RequestLogSink: Send + Sync + 'static {
    fn send(&self, log: RequestLog);

    /// False when lines are thrown away anyway, so they need not be formatted.
    fn enabled(&self) -> bool {
        true
    }
}

/// Lines go to paasd's stdout only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSink;

impl RequestLogSink for NoSink {
    fn send(&self, _: RequestLog) {}

    fn enabled(&self) -> bool {
        false
    }
}

impl<F: Fn(RequestLog) + Send + Sync + 'static> RequestLogSink for F {
    fn send(&self, log: RequestLog) {
        self(log)
    }
}

/// A router-made failure (Heroku's error codes), for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterError {
    pub code: &'static str,
    pub desc: &'static str,
}

impl RouterError {
    const fn new(code: &'static str, desc: &'static str) -> Self {
        Self { code, desc }
    }
}

pub const H12: RouterError = RouterError::new("H12", "Request timeout");
pub const H13: RouterError = RouterError::new("H13", "Connection closed without response");
pub const H14: RouterError = RouterError::new("H14", "No web processes running");
pub const H18: RouterError = RouterError::new("H18", "Server Request Interrupted");
pub const H19: RouterError = RouterError::new("H19", "Backend connection timeout");
pub const H21: RouterError = RouterError::new("H21", "Backend connection refused");
pub const H27: RouterError = RouterError::new("H27", "Client Request Interrupted");
pub const H80: RouterError = RouterError::new("H80", "Maintenance mode");
pub const H99: RouterError = RouterError::new("H99", "Platform error");

/// How the request arrived: `protocol=http`, `https` (HTTP/1.1 over TLS) or `http2`
/// (over TLS) in the log line, the way Heroku's router says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Https,
    Http2,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Https => "https",
            Protocol::Http2 => "http2",
        }
    }
}

/// What the request path learned, for the log line (pingora's per-request `CTX`).
#[derive(Debug)]
pub struct Ctx {
    pub method: hyper::Method,
    pub path: String,
    pub host: String,
    pub request_id: String,
    pub fwd: String,
    pub protocol: Protocol,
    pub dyno: Option<String>,
    pub connect: Duration,
    pub error: Option<RouterError>,
}

/// `at=info method=GET path="/" host=… request_id=… fwd="…" dyno=web.2 connect=0ms
/// service=3ms status=200 bytes=512 protocol=https` (`at=error code=… desc="…"` first on failures).
pub fn line(ctx: &Ctx, service: Duration, status: u16, bytes: u64) -> String {
    let mut out = String::with_capacity(200);
    match ctx.error {
        Some(e) => {
            let _ = write!(out, "at=error code={} desc=\"{}\" ", e.code, e.desc);
        }
        None => out.push_str("at=info "),
    }
    let _ = write!(
        out,
        "method={} path=\"{}\" host={} request_id={} fwd=\"{}\" dyno={} connect={}ms service={}ms status={status} bytes={bytes} protocol={}",
        ctx.method,
        Quoted(&ctx.path),
        Bare(&ctx.host),
        ctx.request_id,
        Quoted(&ctx.fwd),
        ctx.dyno.as_deref().unwrap_or(""),
        ctx.connect.as_millis(),
        service.as_millis(),
        ctx.protocol.as_str(),
    );
    out
}

/// A value inside `"…"`: quotes and control characters escaped, so a client cannot
/// forge fields of the line.
struct Quoted<'a>(&'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        escaped(f, self.0, |c| c == '"')
    }
}

/// An unquoted value: anything that could end the field is escaped.
struct Bare<'a>(&'a str);

impl std::fmt::Display for Bare<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        escaped(f, self.0, |c| matches!(c, '"' | ' ' | '='))
    }
}

/// Writes `s` with control characters and the ones `special` picks as `%XX`, the one
/// escape both kinds of field use.
fn escaped(
    f: &mut std::fmt::Formatter<'_>,
    s: &str,
    special: impl Fn(char) -> bool,
) -> std::fmt::Result {
    for c in s.chars() {
        if c.is_control() || special(c) {
            write!(f, "%{:02X}", u32::from(c))?;
        } else {
            f.write_char(c)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            method: hyper::Method::GET,
            path: "/search?q=\"x\"".into(),
            host: "demo.localhost:8080".into(),
            request_id: "3f1c6a2e-8a55-4c1e-9f0e-0a4f1b2c3d4e".into(),
            fwd: "203.0.113.9, 127.0.0.1".into(),
            protocol: Protocol::Https,
            dyno: Some("web.2".into()),
            connect: Duration::from_millis(1),
            error: None,
        }
    }

    #[test]
    fn lines_look_like_herokus() {
        assert_eq!(
            line(&ctx(), Duration::from_millis(3), 200, 512),
            "at=info method=GET path=\"/search?q=%22x%22\" host=demo.localhost:8080 \
             request_id=3f1c6a2e-8a55-4c1e-9f0e-0a4f1b2c3d4e fwd=\"203.0.113.9, 127.0.0.1\" \
             dyno=web.2 connect=1ms service=3ms status=200 bytes=512 protocol=https"
        );
        let mut failed = ctx();
        failed.error = Some(H12);
        failed.host = "evil host=x".into();
        let failed = line(&failed, Duration::from_secs(30), 503, 0);
        assert!(
            failed.starts_with("at=error code=H12 desc=\"Request timeout\" method=GET"),
            "{failed}"
        );
        assert!(failed.contains(" host=evil%20host%3Dx "), "{failed}");
    }
}
