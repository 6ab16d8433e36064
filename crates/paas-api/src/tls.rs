//! The TLS port (`PAAS_TLS_ADDR`): what the heroku CLI only does over TLS.
//!
//! `heroku run` connects to its `attach_url` with TLS (Heroku's rendezvous protocol, see
//! [`crate::rendezvous`]), and `heroku git:remote` / `apps:create` always write an
//! `https://<git host>/<app>.git` remote. One port serves both: after the handshake the
//! first bytes the client sends tell them apart, an HTTP request line (served by the
//! same router as the plain port) or a rendezvous secret.

use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{AppState, rendezvous, router};

/// Methods an HTTP/1 request line may start with; anything else is a rendezvous.
const HTTP_METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"PUT ",
    b"PATCH ",
    b"DELETE ",
    b"HEAD ",
    b"OPTIONS ",
];

/// Accepts TLS connections on `listener` until `shutdown`, then waits for open ones.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: AppState,
    shutdown: CancellationToken,
) {
    let app = router(state.clone());
    let tracker = TaskTracker::new();
    loop {
        let (tcp, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "TLS port: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        let app = app.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            let handshake =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await;
            let tls = match handshake {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let mut stream = BufReader::new(tls);
            let first = match tokio::time::timeout(Duration::from_secs(10), stream.fill_buf()).await
            {
                Ok(Ok(first)) if !first.is_empty() => first,
                _ => return,
            };
            if HTTP_METHODS.iter().any(|m| first.starts_with(m)) {
                let service = TowerToHyperService::new(app);
                let server = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let conn = server.serve_connection_with_upgrades(TokioIo::new(stream), service);
                tokio::pin!(conn);
                let mut draining = false;
                loop {
                    tokio::select! {
                        result = conn.as_mut() => {
                            if let Err(e) = result {
                                tracing::debug!(%peer, error = %e, "TLS port: HTTP connection ended");
                            }
                            break;
                        }
                        () = shutdown.cancelled(), if !draining => {
                            conn.as_mut().graceful_shutdown();
                            draining = true;
                        }
                    }
                }
            } else {
                tokio::select! {
                    () = rendezvous::serve(state, stream) => {}
                    () = shutdown.cancelled() => {}
                }
            }
        });
    }
    tracker.close();
    tracker.wait().await;
}
