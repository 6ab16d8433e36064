//! One request through the phases the crate doc names: match_route, pick_backend,
//! forward, on_error, and log_request at the response body's end.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HOST, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::balance::{self, Outstanding};
use crate::body::{BodySource, Finish, ResponseBody};
use crate::headers;
use crate::log::{self, Ctx, H12, H13, H14, H19, H21, H80, H99, Protocol, RouterError};
use crate::pool::UpstreamError;
use crate::snapshot::App;
use crate::{Body, Conn, RequestLog, Router, Shared};

/// At most this many dynos are tried for one request.
const MAX_ATTEMPTS: usize = 3;

impl Router {
    /// One request through the phases; the response's body runs `log_request` at its end.
    pub async fn handle(&self, req: Request<Incoming>, conn: Conn) -> Response<Body> {
        let started = Instant::now();
        let protocol = match (conn.tls, req.version()) {
            (false, _) => Protocol::Http,
            (true, hyper::Version::HTTP_2) => Protocol::Http2,
            (true, _) => Protocol::Https,
        };
        let mut ctx = Ctx {
            method: req.method().clone(),
            path: req
                .uri()
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            host: req
                .headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| req.uri().authority().map(|a| a.as_str()))
                .unwrap_or_default()
                .to_owned(),
            request_id: headers::request_id(req.headers()),
            fwd: headers::forwarded_for(req.headers(), conn.peer.ip()),
            protocol,
            dyno: None,
            connect: Duration::ZERO,
            error: None,
        };
        // ACME HTTP-01, on the plain listener, before any app is looked up.
        if !conn.tls
            && let Some(token) = ctx.path.strip_prefix(ACME_CHALLENGE_PATH)
            && let Some(answer) = self.shared.challenges.as_ref().and_then(|f| f(token))
        {
            let finish = self.finisher(ctx, started, None, None, 200);
            let mut response = Response::new(ResponseBody::page(Bytes::from(answer), finish));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            return response;
        }
        // match_route
        let app = self.shared.snapshot.load().lookup(&ctx.host).cloned();
        let Some(app) = app else {
            let finish = self.finisher(ctx, started, None, None, 404);
            return page(
                StatusCode::NOT_FOUND,
                "No such app",
                "There is no app at this address.",
                finish,
            );
        };
        if app.maintenance {
            ctx.error = Some(H80);
            let finish = self.finisher(ctx, started, Some(app), None, 503);
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Offline for maintenance",
                "This app is undergoing maintenance right now. Please check back later.",
                finish,
            );
        }
        match self.proxy(req, &app, &mut ctx).await {
            Ok((response, outstanding)) => {
                let status = response.status().as_u16();
                let (mut parts, body) = response.into_parts();
                if status != 101 {
                    headers::strip_hop_by_hop(&mut parts.headers, false);
                }
                headers::append_via(&mut parts.headers);
                let finish = self.finisher(ctx, started, Some(app), Some(outstanding), status);
                Response::from_parts(parts, ResponseBody::upstream(body, finish))
            }
            Err(error) => {
                ctx.error = Some(error);
                let text = format!(
                    "The app could not answer this request ({}: {}). Request id: {}",
                    error.code, error.desc, ctx.request_id
                );
                let finish = self.finisher(ctx, started, Some(app), None, 503);
                page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Application error",
                    &text,
                    finish,
                )
            }
        }
    }

    /// pick_backend → forward → on_error, until a dyno answers or no retry is left.
    async fn proxy(
        &self,
        mut req: Request<Incoming>,
        app: &App,
        ctx: &mut Ctx,
    ) -> Result<(Response<Incoming>, Outstanding), RouterError> {
        if app.backends.is_empty() {
            return Err(H14);
        }
        let upgrade = headers::wants_upgrade(req.headers());
        let mut client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        let source = BodySource::new(body);
        let resendable = source.is_empty() && !upgrade && headers::is_idempotent(&parts.method);
        let mut tried = [SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)); MAX_ATTEMPTS];
        let mut attempts = 0;
        loop {
            // pick_backend
            let Some(backend) = balance::pick(&app.backends, &tried[..attempts]) else {
                return Err(H14);
            };
            tried[attempts] = backend.addr();
            attempts += 1;
            ctx.dyno = Some(backend.backend.dyno.clone());
            // forward
            let request = headers::upstream_request(
                &parts,
                source.body(),
                backend,
                ctx,
                if ctx.protocol == Protocol::Http {
                    self.shared.settings.public_port
                } else {
                    self.shared.settings.tls_public_port
                },
            )
            .map_err(|e| {
                tracing::warn!(error = %e, "could not build the upstream request");
                H99
            })?;
            let outstanding = backend.start();
            let sent = Instant::now();
            let result = tokio::time::timeout(
                self.shared.settings.first_byte_timeout,
                self.pool.send(backend.addr(), request),
            )
            .await;
            let error = match result {
                Ok(Ok((mut response, connect))) => {
                    ctx.connect = connect;
                    if response.status() == StatusCode::SWITCHING_PROTOCOLS
                        && let Some(client) = client_upgrade.take()
                    {
                        self.splice(client, hyper::upgrade::on(&mut response));
                    }
                    return Ok((response, outstanding));
                }
                Ok(Err(e)) => e,
                Err(_) => {
                    ctx.connect = sent.elapsed();
                    return Err(H12);
                }
            };
            // on_error
            ctx.connect = sent.elapsed();
            let (code, retry) = if let UpstreamError::Connect(_) = error {
                backend.mark_down();
                let code = if sent.elapsed() >= self.shared.settings.connect_timeout {
                    H19
                } else {
                    H21
                };
                (code, source.untouched())
            } else {
                (H13, resendable)
            };
            let retry = retry && attempts < MAX_ATTEMPTS.min(app.backends.len());
            tracing::warn!(
                target: "router",
                app = %app.name,
                dyno = %backend.backend.dyno,
                code = code.code,
                retry,
                error = %error_chain(&error),
                "dyno failed the request"
            );
            if !retry {
                return Err(code);
            }
        }
    }

    /// Copies bytes both ways between an upgraded client and dyno connection (WebSocket).
    fn splice(&self, client: hyper::upgrade::OnUpgrade, dyno: hyper::upgrade::OnUpgrade) {
        let hard_stop = self.shared.hard_stop.clone();
        self.tasks.spawn(async move {
            let (client, dyno) = match tokio::try_join!(client, dyno) {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::debug!(error = %e, "upgrade did not complete");
                    return;
                }
            };
            let (mut client, mut dyno) = (TokioIo::new(client), TokioIo::new(dyno));
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut dyno) => {}
                _ = hard_stop.cancelled() => {}
            }
        });
    }

    fn finisher(
        &self,
        ctx: Ctx,
        started: Instant,
        app: Option<Arc<App>>,
        outstanding: Option<Outstanding>,
        status: u16,
    ) -> Box<dyn Finish> {
        Box::new(LogRequest {
            ctx,
            started,
            status,
            app,
            outstanding,
            shared: self.shared.clone(),
        })
    }
}

/// Where ACME HTTP-01 challenges are fetched (RFC 8555 §8.3).
const ACME_CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

/// The last phase's state: everything the request line needs. (References, not
/// copies: every `Arc` count changed per request is a cache line both threads write.)
struct LogRequest {
    ctx: Ctx,
    started: Instant,
    status: u16,
    app: Option<Arc<App>>,
    outstanding: Option<Outstanding>,
    shared: Arc<Shared>,
}

impl Finish for LogRequest {
    /// log_request
    fn finish(self: Box<Self>, bytes: u64, interrupted: Option<RouterError>) {
        let LogRequest {
            mut ctx,
            started,
            status,
            app,
            outstanding,
            shared,
        } = *self;
        let (sink, metrics) = (&shared.sink, &shared.metrics);
        drop(outstanding);
        let took = started.elapsed();
        if ctx.error.is_none() {
            ctx.error = interrupted;
        }
        match &app {
            Some(app) => app.metrics.record(status, took),
            None => metrics.record_unmatched(),
        }
        let to_sink = app.is_some() && sink.enabled();
        let traced =
            ctx.error.is_some() || tracing::enabled!(target: "router", tracing::Level::INFO);
        if !(to_sink || traced) {
            return; // nobody reads the line: don't format it
        }
        let line = log::line(&ctx, took.saturating_sub(ctx.connect), status, bytes);
        let app_name = app.as_ref().map_or("", |app| app.name.as_str());
        if ctx.error.is_some() {
            tracing::warn!(target: "router", app = app_name, "{line}");
        } else {
            tracing::info!(target: "router", app = app_name, "{line}");
        }
        if let Some(app) = app.filter(|_| to_sink) {
            sink.send(RequestLog {
                app: app.name.clone(),
                status,
                line,
            });
        }
    }
}

fn page(status: StatusCode, title: &str, text: &str, finish: Box<dyn Finish>) -> Response<Body> {
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{}</p></body></html>\n",
        escape_html(text)
    );
    let mut response = Response::new(ResponseBody::page(Bytes::from(html), finish));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}
