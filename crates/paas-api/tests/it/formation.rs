//! The formation: scaling known process types, all or nothing.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::TestApi;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn formation_scales_known_types_all_or_nothing(pool: PgPool) {
    let api = TestApi::new(pool).await;
    let app = api
        .call(Method::POST, "/apps", Some(json!({"name": "scale"})))
        .await
        .json;
    let app_id: uuid::Uuid = app["id"].as_str().unwrap().parse().unwrap();
    // A build as the builder records it, then its release.
    let build = api
        .store
        .create_build(
            app_id,
            paas_store::NewBuild {
                source_version: "abc1234",
                buildpacks: &[],
            },
        )
        .await
        .unwrap();
    let procfile = paas_core::Procfile::parse("web: serve\nworker: work").unwrap();
    api.store
        .finish_build(build.build_id, Ok(("sha256:1", &procfile)), "")
        .await
        .unwrap();
    api.store
        .create_deploy_release(app_id, build.build_id, paas_store::ReleaseStatus::Succeeded)
        .await
        .unwrap();

    let formation = api.get("/apps/scale/formation").await.json;
    assert_eq!(formation[0]["type"], "web");
    assert_eq!(formation[0]["quantity"], 1);
    assert_eq!(formation[1]["quantity"], 0);

    let reply = api
        .call(
            Method::PATCH,
            "/apps/scale/formation",
            Some(json!({"updates": [{"type": "web", "quantity": 3}, {"type": "worker", "quantity": 2, "size": "basic"}]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json.as_array().unwrap().len(), 2);
    let one = api
        .call(
            Method::PATCH,
            "/apps/scale/formation/worker",
            Some(json!({"quantity": 0})),
        )
        .await;
    assert_eq!(one.json["quantity"], 0);

    for body in [
        json!({"updates": [{"type": "web", "quantity": 5}, {"type": "clock", "quantity": 1}]}),
        json!({"updates": [{"type": "web", "quantity": 101}]}),
        json!({"updates": [{"type": "web", "quantity": -1}]}),
        json!({"updates": [{"type": "web", "quantity": 2, "size": "galactic"}]}),
        json!({"updates": []}),
        // Relative changes that would leave 0..=100, or that do not parse.
        json!({"updates": [{"type": "web", "quantity": "+1"}, {"type": "worker", "quantity": "-1"}]}),
        json!({"updates": [{"type": "web", "quantity": "+98"}]}),
        json!({"updates": [{"type": "web", "quantity": "+x"}]}),
    ] {
        let reply = api
            .call(Method::PATCH, "/apps/scale/formation", Some(body.clone()))
            .await;
        assert!(reply.status.is_client_error(), "{body}");
    }
    assert_eq!(
        api.get("/apps/scale/formation/web").await.json["quantity"],
        3,
        "refused batches change nothing"
    );

    // `heroku ps:scale web+2 worker-0` sends signed strings: relative to the stored quantity.
    let reply = api
        .call(
            Method::PATCH,
            "/apps/scale/formation",
            Some(json!({"updates": [{"type": "web", "quantity": "+2"}, {"type": "worker", "quantity": "-0"}]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(reply.json[0]["quantity"], 5, "{}", reply.json);
    let one = api
        .call(
            Method::PATCH,
            "/apps/scale/formation/web",
            Some(json!({"quantity": "-4"})),
        )
        .await;
    assert_eq!(one.json["quantity"], 1, "{}", one.json);
}
