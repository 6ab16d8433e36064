//! Authentication: every endpoint but `/healthz` wants a valid token.

use axum::http::{Method, StatusCode};
use sqlx::PgPool;

use crate::TestApi;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn every_endpoint_but_healthz_requires_a_valid_token(pool: PgPool) {
    let api = TestApi::new(pool).await;
    assert_eq!(
        api.send(Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
    for auth in [
        None,
        Some("Bearer paas_wrong"),
        Some("Bearer "),
        Some("Basic bm90OmJhc2U2NA=="),
    ] {
        for (method, path) in [
            (Method::GET, "/apps"),
            (Method::POST, "/apps"),
            (Method::GET, "/apps/x/config-vars"),
        ] {
            let reply = api.send(method.clone(), path, None, auth).await;
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {auth:?}"
            );
            assert_eq!(reply.json["id"], "unauthorized");
        }
    }
    // The token as HTTP basic password (what git and netrc send) is accepted.
    let basic = format!("Basic {}", base64_encode(&format!("git:{}", api.token)));
    assert_eq!(
        api.send(Method::GET, "/apps", None, Some(&basic))
            .await
            .status,
        StatusCode::OK
    );
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
