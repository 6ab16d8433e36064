//! A small wrapper over `reqwest` for the control API: it adds the Heroku v3 `Accept`
//! header and the bearer token to every request, and turns every failure into an
//! [`ApiError`] whose text is what the user should read.
//!
//! Methods return the body as raw JSON. Commands print that raw value under `--json`
//! (so scripts see every field the server sent, including ones this client does not
//! know yet) and otherwise [`decode`] it into the `paas-wire` types shared with the
//! server.

use std::time::Duration;

use paas_wire::{ErrorBody, HEROKU_V3_MEDIA_TYPE};
use reqwest::header::{ACCEPT, RANGE};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Settings;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Nothing answered at the API address.
    #[error(
        "could not connect to the paas API at {url} ({reason}); is paasd running? \
         Set PAAS_API_URL to where its API listens"
    )]
    Connect { url: String, reason: String },
    /// The API answered with an error status; `message` comes from its
    /// `{"id", "message"}` body when it sent one.
    #[error("{message}")]
    Status {
        status: u16,
        id: Option<String>,
        message: String,
    },
    /// The answer was not the JSON this client expects.
    #[error("unexpected answer from the paas API: {0}")]
    Decode(String),
    /// Any other transport failure (timeout, broken connection).
    #[error("request to the paas API failed: {0}")]
    Transport(String),
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// Deserializes a raw API answer into one of the `paas-wire` shapes.
pub fn decode<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::Decode(e.to_string()))
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The API URL without a trailing `/`, so paths (which start with `/`) append to it.
    base: String,
    token: Option<String>,
}

impl Client {
    pub fn new(settings: &Settings) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("paas-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ApiError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            base: settings.api_url.as_str().trim_end_matches('/').to_owned(),
            token: settings.token.clone(),
        })
    }

    /// The absolute URL of an API path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Result<Value, ApiError> {
        self.send(Method::GET, path, None, None::<&()>).await
    }

    /// GET with a Heroku `Range` header (`version ..; order=desc, max=15`).
    pub async fn get_range(&self, path: &str, range: &str) -> Result<Value, ApiError> {
        self.send(Method::GET, path, Some(range), None::<&()>).await
    }

    /// GET that answers `None` for a 404, for endpoints a server may not have yet.
    pub async fn get_optional(&self, path: &str) -> Result<Option<Value>, ApiError> {
        match self.get(path).await {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn post<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Value, ApiError> {
        self.send(Method::POST, path, None, Some(body)).await
    }

    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Value, ApiError> {
        self.send(Method::PATCH, path, None, Some(body)).await
    }

    pub async fn put<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Value, ApiError> {
        self.send(Method::PUT, path, None, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, ApiError> {
        self.send(Method::DELETE, path, None, None::<&()>).await
    }

    /// Streams a plain-text resource at an absolute `url` (a one-off dyno's attach URL)
    /// line by line as it arrives.
    pub async fn stream_lines(&self, url: &str, on_line: impl FnMut(&str)) -> Result<(), ApiError> {
        self.stream_request(self.http.get(url), on_line).await
    }

    /// [`Client::stream_lines`] of a POST whose body is `input`, sent as it is read
    /// while the answer streams back (a one-off dyno's stdin: `paas pg:psql`).
    pub async fn stream_lines_with_input(
        &self,
        url: &str,
        input: reqwest::Body,
        on_line: impl FnMut(&str),
    ) -> Result<(), ApiError> {
        let request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(input);
        self.stream_request(request, on_line).await
    }

    async fn stream_request(
        &self,
        request: reqwest::RequestBuilder,
        mut on_line: impl FnMut(&str),
    ) -> Result<(), ApiError> {
        let mut request = request.header(ACCEPT, HEROKU_V3_MEDIA_TYPE);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let mut response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            let body = response
                .bytes()
                .await
                .map_err(|e| self.transport_error(&e))?;
            return Err(self.status_error(status, &body));
        }
        let mut pending = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(&e))?
        {
            pending.extend_from_slice(&chunk);
            while let Some(newline) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=newline).collect();
                on_line(String::from_utf8_lossy(&line[..line.len() - 1]).as_ref());
            }
        }
        if !pending.is_empty() {
            on_line(String::from_utf8_lossy(&pending).as_ref());
        }
        Ok(())
    }

    /// GET of a binary resource (a backup's dump), whole.
    pub async fn get_bytes(&self, path: &str) -> Result<bytes::Bytes, ApiError> {
        self.send_raw(Method::GET, path, None, None::<&()>).await
    }

    /// GET of a plain-text resource (a build's output).
    pub async fn get_text(&self, path: &str) -> Result<String, ApiError> {
        let bytes = self.send_raw(Method::GET, path, None, None::<&()>).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        range: Option<&str>,
        body: Option<&B>,
    ) -> Result<Value, ApiError> {
        let bytes = self.send_raw(method, path, range, body).await?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode(e.to_string()))
    }

    async fn send_raw<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        range: Option<&str>,
        body: Option<&B>,
    ) -> Result<bytes::Bytes, ApiError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(ACCEPT, HEROKU_V3_MEDIA_TYPE);
        if let Some(token) = &self.token {
            // `bearer_auth` marks the header sensitive, so it never shows in debug output.
            request = request.bearer_auth(token);
        }
        if let Some(range) = range {
            request = request.header(RANGE, range);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        if status.is_success() {
            return Ok(bytes);
        }
        Err(self.status_error(status, &bytes))
    }

    fn status_error(&self, status: StatusCode, body: &[u8]) -> ApiError {
        let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
        let mut message = match &parsed {
            Some(body) if !body.message.is_empty() => body.message.clone(),
            _ => format!(
                "the paas API answered {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_owned(),
        };
        if status == StatusCode::UNAUTHORIZED {
            message.push_str(if self.token.is_none() {
                " (no API token: set PAAS_API_TOKEN, or add `machine <API host> password <token>` to ~/.netrc)"
            } else {
                " (check PAAS_API_TOKEN or the ~/.netrc entry for the API host)"
            });
        }
        ApiError::Status {
            status: status.as_u16(),
            id: parsed.map(|b| b.id),
            message,
        }
    }

    fn transport_error(&self, error: &reqwest::Error) -> ApiError {
        // The innermost cause says what happened ("Connection refused (os error 111)");
        // reqwest's own text around it only repeats the URL.
        let mut reason = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            reason = cause.to_string();
            source = cause.source();
        }
        if error.is_connect() {
            ApiError::Connect {
                url: self.base.clone(),
                reason,
            }
        } else {
            ApiError::Transport(reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(token: Option<&str>) -> Client {
        let settings =
            Settings::resolve(Some("http://127.0.0.1:1/"), token.map(Into::into), None).unwrap();
        Client::new(&settings).unwrap()
    }

    #[test]
    fn error_bodies_give_their_message() {
        let e = client(Some("t")).status_error(
            StatusCode::NOT_FOUND,
            br#"{"id":"not_found","message":"Couldn't find that app."}"#,
        );
        assert_eq!(e.to_string(), "Couldn't find that app.");
        assert!(e.is_not_found());
        match e {
            ApiError::Status { id, .. } => assert_eq!(id.as_deref(), Some("not_found")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_bodies_fall_back_to_the_status_text() {
        let e = client(Some("t")).status_error(StatusCode::BAD_GATEWAY, b"<html>oops</html>");
        assert_eq!(e.to_string(), "the paas API answered 502 Bad Gateway");
    }

    #[test]
    fn unauthorized_says_where_the_token_comes_from() {
        let body = br#"{"id":"unauthorized","message":"Invalid credentials provided."}"#;
        let e = client(None).status_error(StatusCode::UNAUTHORIZED, body);
        assert!(e.to_string().contains("PAAS_API_TOKEN"), "{e}");
        assert!(
            e.to_string().starts_with("Invalid credentials provided."),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error_naming_the_variable() {
        let e = client(None).get("/apps").await.unwrap_err();
        assert!(matches!(e, ApiError::Connect { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("PAAS_API_URL") && text.contains("http://127.0.0.1:1"),
            "{text}"
        );
    }
}
