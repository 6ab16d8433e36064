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

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn config_changes_make_releases_with_herokus_wording(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "cfg"})))
        .await;
    let reply = api
        .call(
            Method::PATCH,
            "/apps/cfg/config-vars",
            Some(json!({"FOO": "1", "BAR": "2"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json, json!({"BAR": "2", "FOO": "1"}));
    let reply = api
        .call(
            Method::PATCH,
            "/apps/cfg/config-vars",
            Some(json!({"FOO": null})),
        )
        .await;
    assert_eq!(reply.json, json!({"BAR": "2"}));
    let releases = api.get("/apps/cfg/releases").await.json;
    let descriptions: Vec<&str> = releases
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["description"].as_str().unwrap())
        .collect();
    assert_eq!(
        descriptions,
        [
            "Initial release",
            "Set BAR, FOO config vars",
            "Remove FOO config vars"
        ]
    );
    assert_eq!(releases[2]["current"], true);
    assert_eq!(releases[1]["current"], false);
    let at_v2 = api.get("/apps/cfg/releases/v2/config-vars").await.json;
    assert_eq!(at_v2, json!({"BAR": "2", "FOO": "1"}));
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn invalid_config_answers_422_and_stores_nothing(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "strict"})))
        .await;
    api.call(
        Method::PATCH,
        "/apps/strict/config-vars",
        Some(json!({"KEEP": "me"})),
    )
    .await;
    let big = "x".repeat(32 * 1024 + 1);
    let near = "y".repeat(30 * 1024);
    let bad_bodies = [
        json!({"BAD-KEY": "1", "OK": "1"}),
        json!({"PORT": "80"}),
        json!({"1ABC": "1"}),
        json!({"BIG": big}),
        json!({"A": near, "B": near, "C": near}),
        json!({"NUMBER": 5}),
        json!(["not", "an", "object"]),
    ];
    for body in bad_bodies {
        let reply = api
            .call(
                Method::PATCH,
                "/apps/strict/config-vars",
                Some(body.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body:.80}");
        assert_eq!(reply.json["id"], "invalid_params");
        assert!(!reply.json["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        api.get("/apps/strict/config-vars").await.json,
        json!({"KEEP": "me"})
    );
    assert_eq!(api.release_count("strict").await, 2);
}
