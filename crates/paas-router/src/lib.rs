//! The router: every visitor of every app goes through here.
//!
//! A hyper HTTP/1 server. Per request, in order: `match_route` (Host header → app, from
//! the supervisor's latest [`RouteTable`] snapshot: no database or Docker on this path),
//! `pick_backend` (power of two choices on outstanding requests, skipping dynos that just
//! refused a connection), `forward` (pooled keep-alive connections, streaming bodies both
//! ways, WebSocket upgrades spliced), `on_error` (a safe retry on another dyno when the
//! connection was refused and nothing was sent; otherwise a 503 with a Heroku error code)
//! and `log_request`, which always runs and emits one Heroku-style line.

mod balance;
mod headers;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{HOST, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use paas_core::routes::{Backend, RouteTable};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use balance::Balancer;

pub type Body = BoxBody<Bytes, hyper::Error>;

#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// The router's public port, for `X-Forwarded-Port`.
    pub public_port: u16,
    pub connect_timeout: Duration,
    /// Time to the first response byte before answering 503 (Heroku's H12).
    pub first_byte_timeout: Duration,
    /// Time a client has to send its request head.
    pub header_read_timeout: Duration,
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            public_port: 8080,
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// One request's log line, for the app's log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    pub app: String,
    pub line: String,
}

#[derive(Debug)]
pub struct Router {
    routes: watch::Receiver<Arc<RouteTable>>,
    client: Client<HttpConnector, Body>,
    balancer: Balancer,
    settings: RouterSettings,
    logs: Option<mpsc::UnboundedSender<RequestLog>>,
}

/// What the request path learned, for the log line.
struct Ctx {
    started: Instant,
    method: String,
    path: String,
    host: String,
    request_id: String,
    fwd: String,
    app: Option<String>,
    dyno: Option<String>,
    connect: Duration,
}

impl Router {
    pub fn new(
        routes: watch::Receiver<Arc<RouteTable>>,
        settings: RouterSettings,
        logs: Option<mpsc::UnboundedSender<RequestLog>>,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build(connector);
        Self {
            routes,
            client,
            balancer: Balancer::default(),
            settings,
            logs,
        }
    }

    /// Serves until `shutdown`: then stops accepting and lets in-flight requests finish.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: CancellationToken) {
        let connections = tokio_util::task::TaskTracker::new();
        loop {
            let (stream, peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "router accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let router = self.clone();
            let shutdown = shutdown.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let router = router.clone();
                    async move { Ok::<_, Infallible>(router.handle(req, peer).await) }
                });
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Some(Duration::from_secs(10)))
                    .max_buf_size(64 * 1024);
                let conn = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = shutdown.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
        connections.close();
        connections.wait().await;
        tracing::info!("router stopped");
    }

    pub async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let mut ctx = Ctx {
            started: Instant::now(),
            method: req.method().to_string(),
            path: req
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "/".into()),
            host: req
                .headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| req.uri().host())
                .unwrap_or_default()
                .to_owned(),
            request_id: headers::request_id(req.headers()),
            fwd: headers::forwarded_for(req.headers(), peer.ip()),
            app: None,
            dyno: None,
            connect: Duration::ZERO,
        };
        let response = self.route(req, &mut ctx).await;
        self.log_request(&ctx, &response);
        response
    }

    async fn route(&self, mut req: Request<Incoming>, ctx: &mut Ctx) -> Response<Body> {
        // match_route
        let table = self.routes.borrow().clone();
        let Some(app) = table.lookup(&ctx.host) else {
            return page(
                StatusCode::NOT_FOUND,
                "No such app",
                "There is no app at this address.",
            );
        };
        ctx.app = Some(app.app.clone());
        if app.backends.is_empty() {
            return error_page(ctx, "H14", "No web processes running");
        }
        let retryable = headers::is_retryable(&req);
        let upgrade = headers::wants_upgrade(req.headers());
        let mut client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        let mut body = Some(body);
        let mut tried: Vec<SocketAddr> = Vec::new();
        loop {
            // pick_backend
            let Some(backend) = self.balancer.pick(&app.backends, &tried) else {
                return error_page(ctx, "H14", "No web processes running");
            };
            tried.push(backend.addr);
            ctx.dyno = Some(backend.dyno.clone());
            let request = match headers::upstream_request(
                &parts,
                body.take(),
                backend,
                ctx,
                self.settings.public_port,
            ) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "could not build the upstream request");
                    return error_page(ctx, "H99", "Platform error");
                }
            };
            // forward
            let _outstanding = self.balancer.start(backend.addr);
            let sent = Instant::now();
            let result = tokio::time::timeout(
                self.settings.first_byte_timeout,
                self.client.request(request),
            )
            .await;
            ctx.connect = sent.elapsed();
            match result {
                Ok(Ok(response)) => {
                    return self.respond(response, upgrade, client_upgrade.take()).await;
                }
                Ok(Err(e)) if e.is_connect() => {
                    // on_error: refused before anything was sent → another dyno, if safe.
                    self.balancer.mark_down(backend.addr);
                    tracing::warn!(app = %app.app, dyno = %backend.dyno, error = %e, "dyno refused the connection");
                    if retryable && tried.len() < app.backends.len().min(3) {
                        continue;
                    }
                    return error_page(ctx, "H13", "Connection refused by the dyno");
                }
                Ok(Err(e)) => {
                    tracing::warn!(app = %app.app, dyno = %backend.dyno, error = %e, "dyno failed the request");
                    return error_page(ctx, "H13", "Connection closed without response");
                }
                Err(_) => return error_page(ctx, "H12", "Request timeout"),
            }
        }
    }

    async fn respond(
        &self,
        mut response: Response<Incoming>,
        upgrade: bool,
        client: Option<hyper::upgrade::OnUpgrade>,
    ) -> Response<Body> {
        if upgrade && response.status() == StatusCode::SWITCHING_PROTOCOLS {
            let upstream = hyper::upgrade::on(&mut response);
            if let Some(client) = client {
                tokio::spawn(async move {
                    match tokio::try_join!(client, upstream) {
                        Ok((client, upstream)) => {
                            let mut client = TokioIo::new(client);
                            let mut upstream = TokioIo::new(upstream);
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                        }
                        Err(e) => tracing::warn!(error = %e, "upgrade failed"),
                    }
                });
            }
            let (parts, _) = response.into_parts();
            return Response::from_parts(parts, empty());
        }
        let (mut parts, body) = response.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers, false);
        Response::from_parts(parts, body.boxed())
    }

    /// log_request: one Heroku-style line per request, always.
    fn log_request(&self, ctx: &Ctx, response: &Response<Body>) {
        let status = response.status().as_u16();
        let bytes = response
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("0")
            .to_owned();
        let service = ctx.started.elapsed().saturating_sub(ctx.connect);
        let error = response.extensions().get::<RouterError>();
        let head = match error {
            Some(e) => format!("at=error code={} desc=\"{}\"", e.code, e.desc),
            None => "at=info".to_owned(),
        };
        let line = format!(
            "{head} method={} path=\"{}\" host={} request_id={} fwd=\"{}\" dyno={} connect={}ms service={}ms status={status} bytes={bytes}",
            ctx.method,
            ctx.path.replace('"', "%22"),
            ctx.host,
            ctx.request_id,
            ctx.fwd,
            ctx.dyno.as_deref().unwrap_or(""),
            ctx.connect.as_millis(),
            service.as_millis(),
        );
        tracing::info!(target: "router", app = ctx.app.as_deref().unwrap_or(""), "{line}");
        if let (Some(logs), Some(app)) = (&self.logs, &ctx.app) {
            let _ = logs.send(RequestLog {
                app: app.clone(),
                line,
            });
        }
    }
}

/// A router-made error, kept in the response for the log line.
#[derive(Debug, Clone)]
struct RouterError {
    code: &'static str,
    desc: &'static str,
}

fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

fn page(status: StatusCode, title: &str, text: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    let mut response = Response::new(
        Full::new(Bytes::from(html))
            .map_err(|never| match never {})
            .boxed(),
    );
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

fn error_page(ctx: &Ctx, code: &'static str, desc: &'static str) -> Response<Body> {
    let mut response = page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Application error",
        &format!(
            "The app could not answer this request ({code}: {desc}). Request id: {}",
            ctx.request_id
        ),
    );
    response.extensions_mut().insert(RouterError { code, desc });
    response
}

/// The backend the balancer chose, for tests and the log.
pub fn describe(backend: &Backend) -> String {
    format!("{}@{}", backend.dyno, backend.addr)
}
