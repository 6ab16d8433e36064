//! The two bodies of a proxied exchange, both streamed frame by frame (never buffered
//! whole):
//!
//! - [`RequestBody`], the client's body on its way to a dyno. It stays in a shared slot
//!   until the upstream connection first polls it, so when connecting fails the router
//!   can tell that nothing of the request was sent and take the body back for another
//!   dyno ([`BodySource::untouched`]).
//! - [`ResponseBody`], what the client receives (a dyno's response or a router page). It
//!   counts the bytes it passes on and, when it ends or is dropped, runs the router's
//!   last phase, `log_request`, exactly once: the request line, metrics, and the release
//!   of the dyno's outstanding-request count.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::log::{H18, H27, RouterError};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The client's request body, shared between attempts until one of them starts sending.
#[derive(Debug)]
pub enum BodySource {
    /// No body (or an empty one): every attempt gets an empty body.
    Empty,
    Slot(Arc<Mutex<Option<Incoming>>>),
}

impl BodySource {
    pub fn new(body: Incoming) -> Self {
        if body.is_end_stream() {
            BodySource::Empty
        } else {
            BodySource::Slot(Arc::new(Mutex::new(Some(body))))
        }
    }

    /// The body for one attempt.
    pub fn body(&self) -> RequestBody {
        match self {
            BodySource::Empty => RequestBody::Empty,
            BodySource::Slot(slot) => RequestBody::Waiting(slot.clone()),
        }
    }

    /// Nothing of the body has been read: another attempt may send it.
    pub fn untouched(&self) -> bool {
        match self {
            BodySource::Empty => true,
            BodySource::Slot(slot) => slot.lock().unwrap_or_else(|p| p.into_inner()).is_some(),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, BodySource::Empty)
    }
}

#[derive(Debug)]
pub enum RequestBody {
    Empty,
    Waiting(Arc<Mutex<Option<Incoming>>>),
    Streaming(Incoming),
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let RequestBody::Waiting(slot) = this {
            let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
            match taken {
                Some(body) => *this = RequestBody::Streaming(body),
                None => {
                    return Poll::Ready(Some(Err(
                        "the request body was already sent to another dyno".into(),
                    )));
                }
            }
        }
        match this {
            RequestBody::Streaming(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            _ => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Empty => true,
            RequestBody::Waiting(slot) => slot
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .is_none_or(Body::is_end_stream),
            RequestBody::Streaming(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Empty => SizeHint::with_exact(0),
            RequestBody::Waiting(slot) => slot
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map_or_else(|| SizeHint::with_exact(0), Body::size_hint),
            RequestBody::Streaming(body) => body.size_hint(),
        }
    }
}

/// Runs once when a response is done: `log_request`.
pub trait Finish: Send + 'static {
    fn finish(self: Box<Self>, bytes: u64, interrupted: Option<RouterError>);
}

#[derive(Debug)]
enum Inner {
    Upstream(Incoming),
    Page(Full<Bytes>),
    Empty,
}

/// The body the client receives; see the module doc.
pub struct ResponseBody {
    inner: Inner,
    bytes: u64,
    finish: Option<Box<dyn Finish>>,
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("inner", &self.inner)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl ResponseBody {
    pub fn upstream(body: Incoming, finish: Box<dyn Finish>) -> Self {
        Self::new(Inner::Upstream(body), finish)
    }

    pub fn page(html: Bytes, finish: Box<dyn Finish>) -> Self {
        Self::new(Inner::Page(Full::new(html)), finish)
    }

    pub fn empty(finish: Box<dyn Finish>) -> Self {
        Self::new(Inner::Empty, finish)
    }

    fn new(inner: Inner, finish: Box<dyn Finish>) -> Self {
        Self {
            inner,
            bytes: 0,
            finish: Some(finish),
        }
    }

    fn done(&mut self, interrupted: Option<RouterError>) {
        if let Some(finish) = self.finish.take() {
            finish.finish(self.bytes, interrupted);
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = match &mut this.inner {
            Inner::Upstream(body) => Pin::new(body).poll_frame(cx),
            Inner::Page(page) => Pin::new(page)
                .poll_frame(cx)
                .map(|f| f.map(|f| f.map_err(|never| match never {}))),
            Inner::Empty => Poll::Ready(None),
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.bytes += data.len() as u64;
                }
                if this.is_end_stream() {
                    this.done(None);
                }
            }
            Poll::Ready(Some(Err(_))) => this.done(Some(H18)),
            Poll::Ready(None) => this.done(None),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Upstream(body) => body.is_end_stream(),
            Inner::Page(page) => page.is_end_stream(),
            Inner::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Upstream(body) => body.size_hint(),
            Inner::Page(page) => page.size_hint(),
            Inner::Empty => SizeHint::with_exact(0),
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        // Dropped before its end: the client went away (or the connection was cut).
        let interrupted = (!self.is_end_stream()).then_some(H27);
        self.done(interrupted);
    }
}
