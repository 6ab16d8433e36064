//! Apps: created by name or with a generated one, Heroku's 404s, destroyed with their
//! history, and maintenance mode.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::TestApi;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn unknown_apps_and_routes_answer_herokus_404_body(pool: PgPool) {
    let api = TestApi::new(pool).await;
    let reply = api.get("/apps/nope").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.json,
        json!({"id": "not_found", "message": "Couldn't find that app."})
    );
    let reply = api
        .get("/apps/00000000-0000-0000-0000-000000000000/releases")
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = api.get("/no/such/route").await;
    assert_eq!(
        (reply.status, reply.json["id"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    assert!(reply.headers.contains_key("request-id"));
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn apps_are_created_by_name_or_with_a_generated_one_and_names_are_validated(pool: PgPool) {
    let api = TestApi::new(pool).await;
    let reply = api
        .call(Method::POST, "/apps", Some(json!({"name": "my-app"})))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.json["name"], "my-app");
    assert_eq!(reply.json["web_url"], "http://my-app.localhost:8080/");
    assert_eq!(reply.json["git_url"], "http://127.0.0.1:5000/my-app.git");
    let id = reply.json["id"].as_str().unwrap().to_owned();
    assert_eq!(api.get(&format!("/apps/{id}")).await.json["name"], "my-app");

    let generated = api.call(Method::POST, "/apps", None).await;
    assert_eq!(generated.status, StatusCode::CREATED);
    let name = generated.json["name"].as_str().unwrap();
    assert!(paas_core::AppName::parse(name).is_ok(), "{name}");

    let taken = api
        .call(Method::POST, "/apps", Some(json!({"name": "my-app"})))
        .await;
    assert_eq!(
        (taken.status, taken.json["id"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    for bad in [
        "My-App",
        "a",
        "1abc",
        "has_underscore",
        "x".repeat(31).as_str(),
    ] {
        let reply = api
            .call(Method::POST, "/apps", Some(json!({"name": bad})))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(reply.json["id"], "invalid_params");
    }
    let malformed = api
        .raw(
            Request::post("/apps")
                .header("authorization", format!("Bearer {}", api.token))
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert!(malformed.status.is_client_error(), "{}", malformed.status);
    assert_eq!(
        api.get("/apps").await.json.as_array().unwrap().len(),
        2,
        "nothing half-created"
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn destroy_removes_the_app_and_its_history(pool: PgPool) {
    let api = TestApi::new(pool.clone()).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "gone"})))
        .await;
    api.call(
        Method::PATCH,
        "/apps/gone/config-vars",
        Some(json!({"A": "1"})),
    )
    .await;
    let reply = api.call(Method::DELETE, "/apps/gone", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["name"], "gone");
    assert_eq!(api.get("/apps/gone").await.status, StatusCode::NOT_FOUND);
    let left: i64 = sqlx::query_scalar(
        "select (select count(*) from release) + (select count(*) from config_var)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
    assert_eq!(
        api.call(Method::DELETE, "/apps/gone", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn maintenance_mode_is_switched_by_patching_the_app_and_renames_are_refused(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "shop"})))
        .await;
    assert_eq!(api.get("/apps/shop").await.json["maintenance"], false);
    let on = api
        .call(
            Method::PATCH,
            "/apps/shop",
            Some(json!({"maintenance": true})),
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.json);
    assert_eq!(on.json["maintenance"], true);
    assert_eq!(api.get("/apps/shop").await.json["maintenance"], true);
    // The current name and stack are accepted as they are (`heroku` sends them back).
    let same = api
        .call(
            Method::PATCH,
            "/apps/shop",
            Some(json!({"name": "shop", "build_stack": "paas-stack"})),
        )
        .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.json);
    assert_eq!(same.json["maintenance"], true);

    for (body, message) in [
        (json!({"name": "store"}), "cannot rename"),
        (json!({"name": "Not A Name"}), "is invalid"),
        (json!({"build_stack": "heroku-24"}), "Unknown stack"),
        (json!({"maintenance": "yes"}), ""),
        (
            json!({"name": "store", "maintenance": false}),
            "cannot rename",
        ),
    ] {
        let reply = api
            .call(Method::PATCH, "/apps/shop", Some(body.clone()))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.json
        );
        assert_eq!(reply.json["id"], "invalid_params", "{body}");
        assert!(
            reply.json["message"].as_str().unwrap().contains(message),
            "{body}: {}",
            reply.json
        );
    }
    let app = api.get("/apps/shop").await.json;
    assert_eq!(
        (app["name"].as_str(), app["maintenance"].as_bool()),
        (Some("shop"), Some(true)),
        "refused changes change nothing"
    );
    let off = api
        .call(
            Method::PATCH,
            "/apps/shop",
            Some(json!({"maintenance": false})),
        )
        .await;
    assert_eq!(off.json["maintenance"], false);
    let missing = api
        .call(
            Method::PATCH,
            "/apps/nope",
            Some(json!({"maintenance": true})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
