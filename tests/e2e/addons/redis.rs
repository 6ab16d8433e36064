//! A Redis add-on: reachable from its app's network only with its password, and destroyed
//! with the app that owns it.

use super::{assert_no_trace, config_var, docker, json, start};
use crate::support::ok;

#[tokio::test]
async fn a_redis_addon_requires_its_password_and_goes_with_its_app() {
    let (paasd, dir) = start().await;
    let dir = dir.path();
    paasd.create_app("cache").await;
    let created = ok(paasd.paas(
        dir,
        &["addons:create", "redis", "--as", "CACHE", "-a", "cache"],
    ));
    assert!(created.contains("as CACHE_URL"), "{created}");
    let url = config_var(&paasd, dir, "cache", "CACHE_URL");
    let addons = json(paasd.paas(dir, &["addons", "-a", "cache", "--json"]));
    let id = addons[0]["id"].as_str().unwrap().to_owned();
    let host = addons[0]["name"].as_str().unwrap().to_owned();
    let network = format!("paas-{}-cache", paasd.instance);
    let cli = |args: &[&str]| {
        let mut all = vec![
            "run",
            "--rm",
            "--network",
            &network,
            "--entrypoint",
            "redis-cli",
            "paas/addon_redis:8",
        ];
        all.extend_from_slice(args);
        docker(&all)
    };
    let with_password = cli(&["-u", &url, "ping"]);
    assert_eq!(
        String::from_utf8_lossy(&with_password.stdout).trim(),
        "PONG"
    );
    let without = cli(&["-h", &host, "ping"]);
    assert!(
        String::from_utf8_lossy(&without.stdout).contains("NOAUTH"),
        "{}",
        String::from_utf8_lossy(&without.stdout)
    );

    // apps:destroy destroys the add-ons the app owns.
    ok(paasd.paas(dir, &["apps:destroy", "--confirm", "cache", "-a", "cache"]));
    assert_no_trace(&id);
    let all = paasd.api(reqwest::Method::GET, "/addons", None).await;
    assert_eq!(all, serde_json::json!([]));
}
