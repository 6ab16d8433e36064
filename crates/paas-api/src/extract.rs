//! Extractors whose rejections are `ApiError`s, so a malformed body or path gets
//! Heroku's JSON error instead of axum's plain text.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use base64::Engine;
use paas_store::ApiToken;

use crate::{ApiError, AppState};

/// A JSON request body. Every body of this API is an object: serde would also take a
/// struct from a JSON array of its fields in order (`[null, null]` as an `AppUpdate`),
/// which the description does not allow, so anything but an object is refused (422).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|m| {
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !json {
            return Err(ApiError::BadRequest(
                "Invalid request body: Expected request with `Content-Type: application/json`"
                    .into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(ApiError::Invalid(
                "Invalid request body: expected a JSON object, not an array.".into(),
            ));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Self(value))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => {
                ApiError::Invalid(format!("Invalid request body: {}", e.body_text()))
            }
            other => ApiError::BadRequest(format!("Invalid request body: {}", other.body_text())),
        }
    }
}

/// A raw body (too large, or cut short: Heroku's error body, not axum's text).
#[derive(Debug)]
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Ok(Self(axum::body::Bytes::from_request(req, state).await?))
    }
}

/// An optional JSON object body: left out (nothing, blanks or `null`) is `T::default()`;
/// anything but an object is refused, as [`ApiJson`] refuses it.
pub(crate) fn optional_body<T: Default + serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, ApiError> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == b"null" {
        return Ok(T::default());
    }
    if !trimmed.starts_with(b"{") {
        return Err(ApiError::Invalid(
            "Invalid request body: expected a JSON object.".into(),
        ));
    }
    serde_json::from_slice(trimmed)
        .map_err(|e| ApiError::Invalid(format!("Invalid request body: {e}")))
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        ApiError::BadRequest(format!("Invalid request body: {}", rejection.body_text()))
    }
}

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// The caller, authenticated by an API token: `Authorization: Bearer <token>`, or HTTP
/// basic auth with the token as password (what git and netrc-based clients send).
/// Handlers that take this cannot be reached without a valid token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub ApiToken);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let secret = token_from_authorization(header).ok_or(ApiError::Unauthorized)?;
        match state.store.authenticate(&secret).await? {
            Some(token) => {
                tracing::Span::current().record("token", token.name.as_str());
                Ok(Authenticated(token))
            }
            None => Err(ApiError::Unauthorized),
        }
    }
}

pub(crate) fn token_from_authorization(header: &str) -> Option<String> {
    let (scheme, value) = header.trim().split_once(' ')?;
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return (!value.is_empty()).then(|| value.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_user, password) = decoded.split_once(':')?;
        return (!password.is_empty()).then(|| password.to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_bearer_or_basic_auth() {
        assert_eq!(
            token_from_authorization("Bearer abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            token_from_authorization("bearer  abc ").as_deref(),
            Some("abc")
        );
        // "git:secret"
        assert_eq!(
            token_from_authorization("Basic Z2l0OnNlY3JldA==").as_deref(),
            Some("secret")
        );
        assert_eq!(token_from_authorization("Basic !!!"), None);
        assert_eq!(token_from_authorization("Bearer "), None);
        assert_eq!(token_from_authorization("Digest x"), None);
    }
}
