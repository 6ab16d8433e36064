//! What the router adds to and removes from requests and responses (RFC 9110 §7.6.1
//! hop-by-hop headers; Heroku's X-Forwarded-*, X-Request-Id and Via).

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::PathAndQuery;
use hyper::{Method, Request, Uri};

use crate::balance::BackendState;
use crate::body::RequestBody;
use crate::log::{Ctx, Protocol};

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes hop-by-hop headers, and those the `Connection` header names. An upgrade keeps
/// `Connection: upgrade` and `Upgrade`, which must reach the dyno.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // Most messages carry none: one pass over the names instead of a lookup for each.
    if !keep_upgrade && !headers.keys().any(is_hop_by_hop) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        if !(keep_upgrade && name == header::UPGRADE) {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        if keep_upgrade && (*name == "upgrade" || *name == "connection") {
            continue;
        }
        headers.remove(*name);
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

pub fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

/// A request that may be sent to a second dyno after the first failed it before
/// answering (RFC 9110 §9.2.2 idempotent methods without a body).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The client's `X-Request-Id` when it is sane (20–200 of `[A-Za-z0-9+/=_-]`, Heroku's
/// rule), else a new UUID.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (20..=200).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// `X-Forwarded-For` with the client's address appended.
pub fn forwarded_for(headers: &HeaderMap, peer: IpAddr) -> String {
    match headers
        .get(X_FORWARDED_FOR)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        Some(previous) => format!("{previous}, {peer}"),
        None => peer.to_string(),
    }
}

/// The request for `backend`: the client's, with hop-by-hop headers removed and the
/// forwarding headers set.
pub(crate) fn upstream_request(
    parts: &hyper::http::request::Parts,
    body: RequestBody,
    backend: &BackendState,
    ctx: &Ctx,
    public_port: u16,
) -> Result<Request<RequestBody>, hyper::http::Error> {
    // Origin-form (`/path?query`), what a dyno expects; authority-form for CONNECT.
    let uri = if parts.method == Method::CONNECT {
        Uri::from(backend.authority.clone())
    } else if parts.uri.scheme().is_none() && parts.uri.authority().is_none() {
        parts.uri.clone()
    } else {
        Uri::from(
            parts
                .uri
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        )
    };
    let mut headers = parts.headers.clone();
    let upgrade = wants_upgrade(&headers);
    strip_hop_by_hop(&mut headers, upgrade);
    // hyper answers `Expect: 100-continue` itself when the body is first read.
    headers.remove(header::EXPECT);
    if let Ok(fwd) = HeaderValue::from_str(&ctx.fwd) {
        headers.insert(X_FORWARDED_FOR, fwd);
    }
    // An HTTP/2 request names its host in `:authority`; HTTP/1.1 needs `Host`, and
    // split `cookie` fields joined again (RFC 9113 §8.2.3).
    if !headers.contains_key(header::HOST)
        && let Some(authority) = parts.uri.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        headers.insert(header::HOST, host);
    }
    // Neither (an HTTP/1.0 client): the dyno's address, as hyper-util's client did.
    if !headers.contains_key(header::HOST) {
        let authority = &backend.authority;
        let host = match authority.port_u16() {
            Some(80) | None => HeaderValue::from_str(authority.host()),
            Some(_) => HeaderValue::from_str(authority.as_str()),
        };
        if let Ok(host) = host {
            headers.insert(header::HOST, host);
        }
    }
    if parts.version == hyper::Version::HTTP_2 && headers.get_all(header::COOKIE).iter().count() > 1
    {
        let joined = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("; ");
        if let Ok(joined) = HeaderValue::from_str(&joined) {
            headers.insert(header::COOKIE, joined);
        }
    }
    let proto = if ctx.protocol == Protocol::Http {
        "http"
    } else {
        "https"
    };
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    headers.insert(X_FORWARDED_PORT, HeaderValue::from(public_port));
    if let Ok(id) = HeaderValue::from_str(&ctx.request_id) {
        headers.insert(X_REQUEST_ID, id);
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    headers.insert(X_REQUEST_START, HeaderValue::from(now_ms));
    append_via(&mut headers);
    let mut request = Request::builder()
        .method(parts.method.clone())
        .uri(uri)
        .body(body)?;
    *request.headers_mut() = headers;
    Ok(request)
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_REQUEST_START: HeaderName = HeaderName::from_static("x-request-start");

/// `Via: 1.1 paas`, after any earlier hops.
pub fn append_via(headers: &mut HeaderMap) {
    let via = match headers.get(header::VIA).and_then(|v| v.to_str().ok()) {
        Some(previous) => HeaderValue::from_str(&format!("{previous}, {VIA}")).ok(),
        None => Some(HeaderValue::from_static(VIA)),
    };
    if let Some(via) = via {
        headers.insert(header::VIA, via);
    }
}

const VIA: &str = "1.1 paas";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_go_and_connection_named_ones_too() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-kept"]);
    }

    #[test]
    fn request_ids_are_kept_only_when_sane() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-request-id",
            HeaderValue::from_static("abcdefghij0123456789"),
        );
        assert_eq!(request_id(&h), "abcdefghij0123456789");
        h.insert("x-request-id", HeaderValue::from_static("short"));
        assert_ne!(request_id(&h), "short");
        h.insert(
            "x-request-id",
            HeaderValue::from_static("has spaces in it, which is bad!!"),
        );
        assert_eq!(request_id(&h).len(), 36);
    }

    #[test]
    fn forwarded_for_appends_the_peer() {
        let mut h = HeaderMap::new();
        assert_eq!(forwarded_for(&h, "10.0.0.1".parse().unwrap()), "10.0.0.1");
        h.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        assert_eq!(
            forwarded_for(&h, "10.0.0.1".parse().unwrap()),
            "1.2.3.4, 10.0.0.1"
        );
    }
}
