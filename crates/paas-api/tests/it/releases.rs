//! Releases: rollback by version or id, and the `Range` header.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::TestApi;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn rollback_by_version_or_id_appends_a_release_with_the_old_config(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "back"})))
        .await;
    api.call(
        Method::PATCH,
        "/apps/back/config-vars",
        Some(json!({"A": "1"})),
    )
    .await; // v2
    api.call(
        Method::PATCH,
        "/apps/back/config-vars",
        Some(json!({"A": "2"})),
    )
    .await; // v3
    let reply = api
        .call(
            Method::POST,
            "/apps/back/releases",
            Some(json!({"release": "2"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.json["version"], 4);
    assert_eq!(reply.json["description"], "Rollback to v2");
    assert_eq!(reply.json["current"], true);
    assert_eq!(
        api.get("/apps/back/config-vars").await.json,
        json!({"A": "1"})
    );

    let v3_id = api.get("/apps/back/releases/3").await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = api
        .call(
            Method::POST,
            "/apps/back/releases",
            Some(json!({"release": v3_id})),
        )
        .await;
    assert_eq!(reply.json["description"], "Rollback to v3");
    assert_eq!(
        api.get("/apps/back/config-vars").await.json,
        json!({"A": "2"})
    );

    let missing = api
        .call(
            Method::POST,
            "/apps/back/releases",
            Some(json!({"release": "v99"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let garbage = api
        .call(
            Method::POST,
            "/apps/back/releases",
            Some(json!({"release": "banana"})),
        )
        .await;
    assert_eq!(garbage.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.release_count("back").await, 5);
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn releases_honour_the_range_header(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "paged"})))
        .await;
    for i in 0..4 {
        api.call(
            Method::PATCH,
            "/apps/paged/config-vars",
            Some(json!({"K": i.to_string()})),
        )
        .await;
    }
    let reply = api
        .raw(
            Request::get("/apps/paged/releases")
                .header("authorization", format!("Bearer {}", api.token))
                .header("range", "version ..; order=desc, max=2")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
    let versions: Vec<i64> = reply
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [5, 4]);
    assert_eq!(
        reply.headers["next-range"],
        "version ]4..; order=desc, max=2"
    );
}
