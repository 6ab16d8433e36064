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

/// When the engine refuses to start a release's dynos (here: every subnet of paasd's
/// app-network pool is taken), the push fails with the engine's reason instead of ending
/// as a success, `paas ps` says why, and the app starts once the cause is gone.
#[tokio::test]
async fn a_release_whose_dynos_cannot_start_fails_its_push_and_ps_says_why() {
    support::require_stack_image();
    // A /24 pool (two app subnets), all of it taken by a network of this test's own.
    let third = uuid::Uuid::new_v4().as_bytes()[0];
    let pool = format!("10.248.{third}.0/24");
    let blocker = Blocker::create(&pool);
    let paasd = Paasd::start_with(&[("PAAS_NETWORK_POOL", &pool)]).await;
    paasd.create_app("refused").await;
    let repo = fixture_repo("procfile-shell");

    let out = paasd.push(repo.path(), "refused", "main");
    let said = format!("{}{}", support::stdout(&out), support::stderr(&out));
    assert!(!out.status.success(), "the push must fail: {said}");
    assert!(
        said.contains("Dynos of v2 could not be started: creating the app's network failed")
            && said.contains("no free subnet left in PAAS_NETWORK_POOL"),
        "the engine's reason, in the push: {said}"
    );
    let ps = support::ok(paasd.paas(repo.path(), &["ps", "-a", "refused"]));
    assert!(
        ps.contains("Dynos of v2 cannot be started") && ps.contains("no free subnet left"),
        "{ps}"
    );

    drop(blocker);
    paasd
        .wait_dynos("refused", 60, |d| {
            d.iter().any(|d| d["type"] == "web" && d["state"] == "up")
        })
        .await;
    let failures = paasd
        .api(Method::GET, "/apps/refused/start-failures", None)
        .await;
    assert_eq!(failures, json!([]), "cleared once a start succeeded");
    let ps = support::ok(paasd.paas(repo.path(), &["ps", "-a", "refused"]));
    assert!(!ps.contains("cannot be started"), "{ps}");
}

/// A Docker network of the test's own on `subnet`, removed on drop.
struct Blocker(String);

impl Blocker {
    fn create(subnet: &str) -> Self {
        let name = format!(
            "paas-e2e-blocker-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let out = std::process::Command::new("docker")
            .args(["network", "create", "--subnet", subnet, &name])
            .output()
            .expect("docker network create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(name)
    }
}

impl Drop for Blocker {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
    }
}
