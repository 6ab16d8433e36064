//! `/openapi.json` and the router cannot disagree: both come from the handlers'
//! `#[utoipa::path]` through `utoipa_axum`; these tests hold the two ends of that.

use axum::http::{Method, StatusCode};
use sqlx::PgPool;

use crate::TestApi;

const NO_SUCH_ROUTE: &str =
    "The requested API endpoint was not found. Are you using the right HTTP verb?";

/// Every documented path and method reaches a handler (a real answer, never the
/// router's "no such endpoint" fallback).
#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn every_documented_route_reaches_a_handler(pool: PgPool) {
    let api = TestApi::new(pool).await;
    let doc = paas_api::openapi();
    let mut seen = 0;
    for (path, item) in &doc.paths.paths {
        let concrete = path
            .replace("{app}", "no-such-app")
            .replace("{id}", "01a206c6-e94a-7249-8c41-548c874f9767")
            .replace("{repo}", "no-such-app.git")
            .replace("{user}", "~")
            .replace(['{', '}'], "");
        let methods = [
            (Method::GET, item.get.is_some()),
            (Method::POST, item.post.is_some()),
            (Method::PUT, item.put.is_some()),
            (Method::PATCH, item.patch.is_some()),
            (Method::DELETE, item.delete.is_some()),
        ];
        for (method, _) in methods.into_iter().filter(|(_, documented)| *documented) {
            let reply = api.call(method.clone(), &concrete, None).await;
            assert!(
                reply.json["message"] != NO_SUCH_ROUTE,
                "{method} {path} is documented but not routed: {:?}",
                reply.json
            );
            seen += 1;
        }
    }
    assert!(seen >= 30, "only {seen} operations documented");
}

/// The served document is the generated one, without authentication.
#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn openapi_json_is_served_without_a_token(pool: PgPool) {
    let api = TestApi::new(pool).await;
    let reply = api.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let generated = paas_api::openapi_json();
    assert_eq!(reply.json, generated);
    assert!(reply.json["paths"]["/apps/{app}/config-vars"]["patch"].is_object());
    assert!(reply.json["components"]["schemas"]["ErrorBody"].is_object());
}

/// The other direction: a route added with plain axum (`.route(…)`, `.nest(…)`) would
/// be served without being described, so no module of the API may use them; routes go
/// through `utoipa_axum`'s `routes!`, which takes path and method from the description.
#[test]
fn no_route_bypasses_the_description() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for forbidden in [".route(", ".route_service(", ".nest(", ".nest_service("] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}: add the route with routes!(…) and #[utoipa::path]",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked > 10, "read only {checked} source files");
}
