use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
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
