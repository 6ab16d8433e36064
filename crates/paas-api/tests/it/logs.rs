//! Log sessions, platform events and log drains through the API.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use paas_logs::{LogLine, Source};
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

use crate::TestApi;

/// Opens a log session and returns the path of its stream.
async fn session(api: &TestApi, app: &str, body: Value) -> String {
    let reply = api
        .call(
            Method::POST,
            &format!("/apps/{app}/log-sessions"),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    let url = reply.json["logplex_url"].as_str().unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:5000/log-sessions/"),
        "{url}"
    );
    url.trim_start_matches("http://127.0.0.1:5000").to_owned()
}

/// GETs a stream without credentials (the URL is the secret).
async fn open(api: &TestApi, path: &str, accept: &str) -> axum::response::Response {
    api.router
        .clone()
        .oneshot(
            Request::builder()
                .uri(path)
                .header("accept", accept)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
}

async fn read_all(api: &TestApi, path: &str) -> String {
    let response = open(api, path, "text/plain").await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Drops the timestamp: `app[api]: …`.
fn untimed(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_once(' ').unwrap().1.to_owned())
        .collect()
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn changes_are_platform_events_and_sessions_stream_them_filtered(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "logged"})))
        .await;
    api.call(
        Method::PATCH,
        "/apps/logged/config-vars",
        Some(json!({"FOO": "secret-value", "BAR": "1"})),
    )
    .await;
    api.call(
        Method::POST,
        "/apps/logged/releases",
        Some(json!({"release": "1"})),
    )
    .await;
    api.logs.publish(
        "logged",
        LogLine::new(Source::Heroku, "router", "at=info status=200"),
    );
    api.logs
        .publish("logged", LogLine::new(Source::App, "web.1", "hello"));

    let all = read_all(&api, &session(&api, "logged", json!({})).await).await;
    assert!(!all.contains("secret-value"), "{all}");
    assert_eq!(
        untimed(&all),
        [
            "app[api]: Initial release by user test",
            "app[api]: Set BAR, FOO config vars by user test",
            "app[api]: Release v2 created by user test",
            "app[api]: Rollback to v1 by user test",
            "app[api]: Release v3 created by user test",
            "heroku[router]: at=info status=200",
            "app[web.1]: hello",
        ]
    );
    let first = all.lines().next().unwrap();
    let stamp = first.split_once(' ').unwrap().0;
    assert!(
        chrono::DateTime::parse_from_rfc3339(stamp).is_ok() && stamp.ends_with("+00:00"),
        "{stamp}"
    );

    let heroku = read_all(
        &api,
        &session(&api, "logged", json!({"source": "heroku"})).await,
    )
    .await;
    assert_eq!(untimed(&heroku), ["heroku[router]: at=info status=200"]);
    let web = read_all(&api, &session(&api, "logged", json!({"dyno": "web"})).await).await;
    assert_eq!(untimed(&web), ["app[web.1]: hello"]);
    let last = read_all(&api, &session(&api, "logged", json!({"lines": 2})).await).await;
    assert_eq!(last.lines().count(), 2);

    // The heroku CLI reads with an EventSource.
    let path = session(&api, "logged", json!({"lines": 1})).await;
    let response = open(&api, &path, "text/event-stream").await;
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.starts_with("id: 1\ndata: "), "{body}");
    assert!(body.ends_with(" app[web.1]: hello\n\n"), "{body}");
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_tail_session_streams_new_lines_as_they_come(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "tailed"})))
        .await;
    let path = session(&api, "tailed", json!({"tail": true, "lines": 0})).await;
    let response = open(&api, &path, "*/*").await;
    let mut body = response.into_body();
    api.logs
        .publish("tailed", LogLine::new(Source::App, "worker.1", "live one"));
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
        .await
        .expect("a live line")
        .unwrap()
        .unwrap();
    let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    assert!(text.ends_with(" app[worker.1]: live one\n"), "{text}");
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn log_session_input_is_checked(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "checked"})))
        .await;
    for bad in [
        json!({"lines": -1}),
        json!({"source": "kernel"}),
        json!({"dyno": "web 1; rm"}),
        json!({"tail": "yes"}),
    ] {
        let reply = api
            .call(
                Method::POST,
                "/apps/checked/log-sessions",
                Some(bad.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(reply.json["message"].is_string());
    }
    let reply = api
        .call(Method::POST, "/apps/nope/log-sessions", Some(json!({})))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = api
        .send(
            Method::POST,
            "/apps/checked/log-sessions",
            Some(json!({})),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    for path in [
        "/log-sessions/5d4c8b5e-7c39-4d3e-9d51-0f8f7e4b3a21",
        "/log-sessions/not-a-uuid",
    ] {
        let reply = api.send(Method::GET, path, None, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.json["id"], "not_found");
    }
}

/// Adds a drain to `drained`.
async fn add_drain(api: &TestApi, url: &str) -> crate::Reply {
    api.call(
        Method::POST,
        "/apps/drained/log-drains",
        Some(json!({ "url": url })),
    )
    .await
}

/// Removes `drained`'s syslog drain.
async fn remove_syslog_drain(api: &TestApi) -> crate::Reply {
    api.call(
        Method::DELETE,
        "/apps/drained/log-drains/syslog:%2F%2Flogs.example.com:514",
        None,
    )
    .await
}

/// How many drains `drained` has.
async fn drain_count(api: &TestApi) -> usize {
    api.get("/apps/drained/log-drains")
        .await
        .json
        .as_array()
        .unwrap()
        .len()
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn drains_are_added_listed_and_removed_and_bad_ones_refused(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "drained"})))
        .await;
    let reply = add_drain(&api, "syslog://logs.example.com:514").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.json);
    assert!(reply.json["token"].as_str().unwrap().starts_with("d."));
    assert_eq!(reply.json["app"]["name"], "drained");
    let again = add_drain(&api, "syslog://logs.example.com:514").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    for bad in ["ftp://x/y", "syslog://no-port.example.com", "nonsense", ""] {
        let reply = add_drain(&api, bad).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    for i in 0..4 {
        let reply = add_drain(&api, &format!("https://logs.example.com/{i}")).await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let sixth = add_drain(&api, "https://logs.example.com/5").await;
    assert_eq!(sixth.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(drain_count(&api).await, 5);
    let removed = remove_syslog_drain(&api).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.json);
    assert_eq!(removed.json["url"], "syslog://logs.example.com:514");
    let missing = remove_syslog_drain(&api).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(drain_count(&api).await, 4);
}
