//! The one error type of the client library. Every variant's `Display` is the sentence a
//! user reads after `error: `, so none of them carries a secret (the API token never
//! appears in a URL, a header dump or a message).

use crate::client::ApiError;
use crate::repo::GitError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API refused the request, or could not be reached.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Input the domain rules of `paas-core` refuse.
    #[error(transparent)]
    Input(#[from] paas_core::ParseError),
    /// Running `git` in the current repository failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The environment is unusable (`PAAS_API_URL`, `~/.netrc`).
    #[error("{0}")]
    Environment(String),
    /// The command was refused locally, before or instead of a request.
    #[error("{0}")]
    Refused(String),
    /// A one-off dyno exited non-zero: `paas run` exits with the same status.
    #[error("the command exited with status {0}")]
    Exit(i32),
    #[error("could not write the output: {0}")]
    Output(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
