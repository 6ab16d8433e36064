//! `/apps/{app}/buildpack-installations` in the shapes the heroku CLI's `buildpacks:*`
//! commands send and read, and the registry look-up it makes for `heroku/<name>`.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::TestApi;

/// What `heroku buildpacks:add heroku/nodejs` sends: the whole list, with the registry's
/// blob URL, and an empty `Range:` header.
fn heroku_put(api: &TestApi, app: &str, updates: serde_json::Value) -> Request<Body> {
    Request::builder()
        .method(Method::PUT)
        .uri(format!("/apps/{app}/buildpack-installations"))
        .header("accept", paas_wire::HEROKU_V3_MEDIA_TYPE)
        .header("authorization", format!("Bearer {}", api.token))
        .header("content-type", "application/json")
        .header("range", "")
        .body(Body::from(json!({ "updates": updates }).to_string()))
        .unwrap()
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn the_list_is_replaced_whole_and_read_back_in_herokus_shape(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "multi"})))
        .await;
    let path = "/apps/multi/buildpack-installations";
    assert_eq!(api.call(Method::GET, path, None).await.json, json!([]));

    let reply = api
        .raw(heroku_put(
            &api,
            "multi",
            json!([
                {"buildpack": "https://buildpack-registry.s3.amazonaws.com/buildpacks/heroku/nodejs.tgz"},
                {"buildpack": "python"},
                {"buildpack": "https://example.com/bp.git#v1"},
            ]),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    let want = json!([
        {"ordinal": 0, "buildpack": {"url": "urn:buildpack:heroku/nodejs", "name": "heroku/nodejs"}},
        {"ordinal": 1, "buildpack": {"url": "urn:buildpack:heroku/python", "name": "heroku/python"}},
        {"ordinal": 2, "buildpack": {"url": "https://example.com/bp.git#v1", "name": "https://example.com/bp.git#v1"}},
    ]);
    assert_eq!(reply.json, want);
    assert_eq!(api.call(Method::GET, path, None).await.json, want);

    // Refused, and the list stays as it was: an entry the registry look-up did not find
    // (the CLI then sends `{}`), an unknown name, a duplicate.
    for (updates, message) in [
        (json!([{}]), "Every update needs a buildpack"),
        (
            json!([{"buildpack": "heroku/elixir"}]),
            "paas has no buildpack \"heroku/elixir\"",
        ),
        (
            json!([{"buildpack": "heroku/python"}, {"buildpack": "urn:buildpack:heroku/python"}]),
            "in the list twice",
        ),
    ] {
        let reply = api.raw(heroku_put(&api, "multi", updates)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.json
        );
        assert!(
            reply.json["message"].as_str().unwrap().contains(message),
            "{}",
            reply.json
        );
    }
    assert_eq!(api.call(Method::GET, path, None).await.json, want);

    // `buildpacks:clear`.
    let reply = api.raw(heroku_put(&api, "multi", json!([]))).await;
    assert_eq!(reply.json, json!([]));
    assert!(
        api.store
            .buildpacks(api.store.app("multi").await.unwrap().app_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        api.call(Method::GET, "/apps/nope/buildpack-installations", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn the_registry_look_up_answers_the_bundled_buildpacks_without_a_token(pool: PgPool) {
    let api = TestApi::new(pool).await;
    // The CLI percent-encodes the slash and sends no token.
    let reply = api
        .send(Method::GET, "/buildpacks/heroku%2Fpython", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json);
    assert_eq!(
        reply.json["blob_url"],
        "https://buildpack-registry.s3.amazonaws.com/buildpacks/heroku/python.tgz"
    );
    let reply = api
        .send(
            Method::GET,
            "/buildpacks/mars%2Fcreate-react-app",
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(
        reply.json["message"]
            .as_str()
            .unwrap()
            .contains("heroku/nodejs"),
        "{}",
        reply.json
    );
}
