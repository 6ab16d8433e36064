//! The domain core of paas: values that can only hold valid data, and the rules of
//! config vars, releases and the process formation, as plain functions over plain data.
//!
//! Nothing in here does IO or depends on an async runtime, a database or Docker
//! (`tests/tidy.rs` checks that with `cargo tree`). Every edge crate
//! parses raw input into these types once and passes the typed values inward.

pub mod addons;
pub mod backup_schedule;
pub mod buildpacks;
pub mod config;
pub mod dyno;
pub mod dyno_settings;
mod error;
pub mod formation;
pub mod langs;
pub mod logline;
pub mod names;
pub mod procfile;
pub mod reconcile;
pub mod release;
pub mod routes;
pub mod runtime;

pub use config::{ConfigChange, ConfigKey, ConfigVars};
pub use dyno::{ContainerStatus, DynoIdentity, dyno_env};
pub use error::ParseError;
pub use formation::{FormationEntry, Quantity, ScaleChange};
pub use names::{AppName, DynoName, Hostname, ProcessType};
pub use procfile::Procfile;
pub use release::{ReleaseRef, ReleaseVersion};
