//! `GET /apps/{app}/dynos` lists one-off dynos beside the formation, and
//! `DELETE /apps/{app}/dynos/run.N` stops one.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{self, Paasd, fixture_repo};

#[tokio::test]
async fn one_off_dynos_are_listed_with_the_formation_and_can_be_stopped() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("lister").await;
    let repo = fixture_repo("procfile-shell");
    assert!(paasd.push(repo.path(), "lister", "main").status.success());

    let created = paasd
        .api(
            Method::POST,
            "/apps/lister/dynos",
            Some(json!({"command": "sleep 300", "attach": false})),
        )
        .await;
    let name = created["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("run."), "{created}");

    let dynos = paasd
        .wait_dynos("lister", 60, |d| {
            d.iter().any(|d| d["type"] == "web" && d["state"] == "up")
        })
        .await;
    let run: Vec<&Value> = dynos.iter().filter(|d| d["name"] == name).collect();
    assert_eq!(run.len(), 1, "{dynos:?}");
    assert_eq!(run[0]["type"], "run");
    assert_eq!(run[0]["command"], "sleep 300");
    assert_eq!(run[0]["state"], "up");
    assert_eq!(run[0]["release"]["version"], created["release"]["version"]);

    paasd
        .api(Method::DELETE, &format!("/apps/lister/dynos/{name}"), None)
        .await;
    let dynos = paasd.api(Method::GET, "/apps/lister/dynos", None).await;
    assert!(
        !dynos.as_array().unwrap().iter().any(|d| d["name"] == name),
        "stopped and removed: {dynos}"
    );
}
