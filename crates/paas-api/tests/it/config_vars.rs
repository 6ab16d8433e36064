//! `config:set` refuses what the platform could not use, before storing anything.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::TestApi;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn bad_dyno_settings_and_reserved_keys_answer_422_and_change_nothing(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "tuned"})))
        .await;
    api.call(
        Method::PATCH,
        "/apps/tuned/config-vars",
        Some(json!({"KEEP": "me"})),
    )
    .await;
    for (body, named) in [
        (json!({"PAAS_HEALTH_TIMEOUT": "0"}), "PAAS_HEALTH_TIMEOUT"),
        (
            json!({"PAAS_HEALTH_TIMEOUT": "soon"}),
            "PAAS_HEALTH_TIMEOUT",
        ),
        (json!({"PAAS_DYNO_GRACE": "3601"}), "PAAS_DYNO_GRACE"),
        (json!({"PAAS_HEALTH_PATH": "up"}), "PAAS_HEALTH_PATH"),
        (
            json!({"OK": "1", "PAAS_HEALTH_PATH": "/a b"}),
            "PAAS_HEALTH_PATH",
        ),
        (json!({"PS": "web.1"}), "PS"),
    ] {
        let reply = api
            .call(Method::PATCH, "/apps/tuned/config-vars", Some(body.clone()))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.json["id"], "invalid_params");
        let message = reply.json["message"].as_str().unwrap();
        assert!(message.contains(named), "{body}: {message}");
    }
    assert_eq!(
        api.get("/apps/tuned/config-vars").await.json,
        json!({"KEEP": "me"})
    );
    assert_eq!(api.release_count("tuned").await, 2);

    let good = api
        .call(
            Method::PATCH,
            "/apps/tuned/config-vars",
            Some(json!({"PAAS_HEALTH_PATH": "/up", "PAAS_HEALTH_TIMEOUT": "5", "PAAS_DYNO_GRACE": "0"})),
        )
        .await;
    assert_eq!(good.status, StatusCode::OK, "{:?}", good.json);
    assert_eq!(good.json["PAAS_HEALTH_TIMEOUT"], "5");
    let unset = api
        .call(
            Method::PATCH,
            "/apps/tuned/config-vars",
            Some(json!({"PAAS_HEALTH_TIMEOUT": null})),
        )
        .await;
    assert_eq!(unset.status, StatusCode::OK, "{:?}", unset.json);
    assert_eq!(api.release_count("tuned").await, 4);
}
