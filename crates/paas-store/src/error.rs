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
    /// A config var an add-on attachment owns (or would own) cannot be changed so.
    #[error("{0}")]
    OwnedConfigVar(String),
    /// A per-app limit would be exceeded.
    #[error("{0}")]
    Limit(String),
    /// The database is away, or refused a transaction for a transient reason (a
    /// serialization failure or a deadlock, which roll the transaction back whole): the
    /// same request can succeed if tried again, so it is a 503, not a 409 or a 500.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else, including stored data that does not decode (a bug or a hand edit:
    /// a 500, never blamed on the request).
    #[error("database error")]
    Db(#[source] sqlx::Error),
    #[error("migrating the database")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub(crate) fn not_found(entity: &'static str) -> Self {
        Self::NotFound { entity }
    }

    /// Stored data that breaks a rule the store itself enforces on the way in.
    pub(crate) fn corrupt(what: String) -> Self {
        Self::Db(sqlx::Error::Decode(
            format!("corrupt stored data: {what}").into(),
        ))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e)
            }
            // serialization_failure, deadlock_detected
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("40001" | "40P01")) =>
            {
                StoreError::Unavailable(e)
            }
            _ => StoreError::Db(e),
        }
    }
}
