//! Logs as event streams (SPEC §4, §5, §8): apps only write to stdout; the platform
//! routes the stream.
//!
//! - [`LogHub`] holds each app's stream: a bounded history (Heroku's 1,500 lines) and a
//!   live feed that never makes a writer wait; log sessions (`logplex_url`) are
//!   registered here.
//! - [`Collector`] follows every dyno's output through the runtime port (one engine's
//!   containers, or a Swarm's services on every node) into the hub, resuming after a
//!   restart where it stopped.
//! - [`Drains`] forwards each app's stream to its syslog and HTTP(S) drains.
//!
//! Other writers: the router (`heroku[router]` request lines, through [`LogHub`]'s
//! `RequestLogSink`), the supervisor (`heroku[web.1]` state changes) and the API and
//! builder (`app[api]` platform events). The line format is `paas_core::logline`.

mod collect;
mod drain;
mod hub;

pub use collect::Collector;
pub use drain::{DrainTarget, DrainUrlError, Drains, overflow, parse_drain_url};
pub use hub::{Delivery, LogHub, LogSession, MAX_MESSAGE_BYTES, Subscription};
pub use paas_core::logline::{LogFilter, LogLine, LogSink, Source};
