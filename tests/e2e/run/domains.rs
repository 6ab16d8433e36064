//! Custom domains: routed to the app; bad or taken ones refused.

use super::up;
use crate::support::{self, Paasd, fixture_repo};

#[tokio::test]
async fn a_custom_domain_routes_to_the_app_and_bad_or_taken_ones_are_refused() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("branded").await;
    paasd.create_app("other").await;
    let repo = fixture_repo("procfile-shell");
    assert!(paasd.push(repo.path(), "branded", "main").status.success());
    paasd.wait_dynos("branded", 90, |d| up(d, "web") == 1).await;
    let dir = tempfile::tempdir().unwrap();
    let added = support::ok(paasd.paas(
        dir.path(),
        &["domains:add", "-a", "branded", "WWW.Example.test"],
    ));
    assert!(added.contains("branded.localhost"), "{added}");
    let listed = support::ok(paasd.paas(dir.path(), &["domains", "-a", "branded"]));
    assert!(
        listed.contains("www.example.test") && listed.contains("custom"),
        "{listed}"
    );

    let get = |host: &'static str| {
        let url = format!("http://127.0.0.1:{}/", paasd.router_port);
        async move {
            let r = reqwest::Client::new()
                .get(url)
                .header("host", host)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while get("www.example.test").await.0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the custom domain is not routed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        get("www.example.test:8080")
            .await
            .1
            .contains("hello from shell")
    );

    let taken = paasd.paas(
        dir.path(),
        &["domains:add", "-a", "other", "www.example.test"],
    );
    assert_eq!(taken.status.code(), Some(1));
    assert!(
        support::stderr(&taken).contains("already in use"),
        "{}",
        support::stderr(&taken)
    );
    let reserved = paasd.paas(
        dir.path(),
        &["domains:add", "-a", "other", "branded.localhost"],
    );
    assert_eq!(
        reserved.status.code(),
        Some(1),
        "names under PAAS_DOMAIN are the apps'"
    );
    assert!(
        !paasd
            .paas(dir.path(), &["domains:add", "-a", "other", "not a host"])
            .status
            .success()
    );

    support::ok(paasd.paas(
        dir.path(),
        &["domains:remove", "-a", "branded", "www.example.test"],
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while get("www.example.test").await.0 != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "the removed domain is still routed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
