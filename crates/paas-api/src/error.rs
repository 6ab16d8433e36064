//! `ApiError`: the one place where errors become HTTP statuses and Heroku's error body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use paas_core::ParseError;
use paas_store::StoreError;
use paas_wire::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Invalid credentials provided.")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("The requested API endpoint was not found. Are you using the right HTTP verb?")]
    NoSuchRoute,
    #[error("The platform's database is unavailable; try again shortly.")]
    Unavailable(#[source] StoreError),
    #[error("Internal server error.")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    fn status_and_id(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::NotFound(_) | ApiError::NoSuchRoute => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_server_error"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } | StoreError::UnknownProcessType(_) => {
                ApiError::NotFound(e.to_string())
            }
            StoreError::AppNameTaken(_) | StoreError::Conflict(_) => {
                ApiError::Conflict(e.to_string())
            }
            // A var an add-on's attachment owns: the request is well formed, the app's
            // state refuses it.
            StoreError::Invalid(p) => p.into(),
            // A var an add-on attachment owns is a 422, as issue 16 asks: the request
            // is well formed but names what only attach/detach may change.
            StoreError::Limit(message) | StoreError::OwnedConfigVar(message) => {
                ApiError::Invalid(message)
            }
            StoreError::Unavailable(_) => ApiError::Unavailable(e),
            StoreError::Db(_) | StoreError::Migrate(_) => ApiError::Internal(Box::new(e)),
        }
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        ApiError::Invalid(e.message.into_owned())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, id) = self.status_and_id();
        if status.is_server_error() {
            let chain = error_chain(&self);
            tracing::error!(error = %self, error.chain = %chain, "request failed");
        }
        let body = ErrorBody {
            id: id.to_owned(),
            message: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The engine failing is the platform's fault: a 500 with the chain logged.
impl From<paas_docker::DockerError> for ApiError {
    fn from(e: paas_docker::DockerError) -> Self {
        ApiError::Internal(Box::new(e))
    }
}

/// The add-on machinery failing: its store errors map as the store's do; the engine or
/// an image build failing is the platform's fault.
impl From<paas_addons::AddonError> for ApiError {
    fn from(e: paas_addons::AddonError) -> Self {
        match e {
            paas_addons::AddonError::Store(e) => e.into(),
            paas_addons::AddonError::Backup(message) => ApiError::Invalid(message),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}
