use paas_core::ParseError;

/// What can go wrong in the store, in domain terms: constraint violations are mapped
/// here, so callers never match on database messages.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Couldn't find that {entity}.")]
    NotFound { entity: &'static str },
    #[error("Couldn't find that process type ({0}).")]
    UnknownProcessType(String),
    #[error("Name {0} is already taken.")]
    AppNameTaken(String),
    #[error("{0}")]
    Invalid(#[from] ParseError),
    #[error("{0}")]
    Conflict(String),
    /// A per-app limit would be exceeded.
    #[error("{0}")]
    Limit(String),
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Db(#[source] sqlx::Error),
    #[error("migrating the database")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub(crate) fn not_found(entity: &'static str) -> Self {
        Self::NotFound { entity }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e)
            }
            _ => StoreError::Db(e),
        }
    }
}
