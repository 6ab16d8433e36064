//! The upstream connector: hyper-util's `HttpConnector` (connect timeout, `TCP_NODELAY`)
//! with the time each connection took to open attached to it, so the request log can say
//! `connect=…ms` for the request that opened a connection and `connect=0ms` for those
//! that reused a pooled one.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::Service;

#[derive(Debug, Clone)]
pub struct TimedConnector(HttpConnector);

impl TimedConnector {
    pub fn new(connect_timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(connect_timeout));
        http.set_nodelay(true);
        Self(http)
    }
}

/// How long a pooled connection took to open; reported once, to its first response.
#[derive(Debug, Clone)]
pub struct ConnectTiming {
    took: Duration,
    unreported: Arc<AtomicBool>,
}

impl ConnectTiming {
    /// The connect time to log for the response carrying this: the real one for the
    /// connection's first response, zero for later ones.
    pub fn take(&self) -> Duration {
        if self.unreported.swap(false, Ordering::Relaxed) {
            self.took
        } else {
            Duration::ZERO
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<Uri> for TimedConnector {
    type Response = TimedStream;
    type Error = <HttpConnector as Service<Uri>>::Error;
    type Future = BoxFuture<Result<TimedStream, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let started = Instant::now();
        let connecting = self.0.call(uri);
        Box::pin(async move {
            let io = connecting.await?;
            Ok(TimedStream {
                io,
                timing: ConnectTiming {
                    took: started.elapsed(),
                    unreported: Arc::new(AtomicBool::new(true)),
                },
            })
        })
    }
}

/// A connection to a dyno, carrying its [`ConnectTiming`] into every response.
#[derive(Debug)]
pub struct TimedStream {
    io: TokioIo<TcpStream>,
    timing: ConnectTiming,
}

impl Connection for TimedStream {
    fn connected(&self) -> Connected {
        self.io.connected().extra(self.timing.clone())
    }
}

impl Read for TimedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl Write for TimedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}
