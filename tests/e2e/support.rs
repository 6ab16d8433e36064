//! The end-to-end tests' harness is `paas-testkit`'s: the real `paasd` on its embedded
//! Postgres in a temp data dir, the `paas` CLI and `git` against it.

pub use paas_testkit::*;
