//! The harness the tests share, so that each test reads like the behaviour it checks:
//! a paasd process on free ports with its own data dir, embedded Postgres, token and
//! container label ([`Paasd`]); the Docker Engine and the stack image ([`docker`]);
//! fixture apps in git repositories ([`git`]); an app in a test's database changed
//! through the store's ledger ([`ledger`]); and the process helpers. Real parts
//! only: nothing here stands in for what it drives.
//!
//! Every test labels what it starts with its own `paas.instance`, so tests running side
//! by side never touch each other's containers or networks, and removes it at the end.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in the test harness is a failed test"
)]

pub mod docker;
pub mod git;
pub mod ledger;
mod load;
mod paasd;
pub mod pebble;
mod process;
pub mod tls;

pub use docker::{in_image, require_stack_image};
pub use git::{commit_all, fixture_repo, git};
pub use load::SteadyLoad;
pub use paasd::Paasd;
pub use process::{binary, data_dir, fails, free_port, ok, sigterm_and_wait, stderr, stdout};

use std::path::PathBuf;

/// The repository's root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .canonicalize()
        .expect("workspace root")
}
