//! A Postgres add-on's life: created and attached as a release, its URL owned by the
//! attachment; a pushed app migrates it and reads it over TLS only; its data survives a
//! paasd SIGKILL, a `docker restart` and a crash; only attached apps' networks reach it;
//! destroyed without a trace.

use std::time::Duration;

use super::{
    assert_no_trace, attach, config_var, destroy, docker_ok, eventually, json, psql, start,
};
use crate::support::{self, Paasd, fails, fixture_repo, ok};

/// GET `path` of `app` through the router.
async fn get(paasd: &Paasd, app: &str, path: &str) -> String {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}{path}", paasd.router_port))
        .header("host", format!("{app}.localhost"))
        .send()
        .await
        .expect("GET through the router")
        .text()
        .await
        .expect("body")
}

/// Polls `path` until its body contains `want`.
async fn wait_for(paasd: &Paasd, app: &str, path: &str, want: &str, secs: u64) -> String {
    eventually(paasd, secs, Duration::from_millis(500), async || {
        let body = get(paasd, app, path).await;
        if body.contains(want) {
            Ok(body)
        } else {
            Err(format!("{app}{path} never said {want:?}; last: {body}"))
        }
    })
    .await
}

/// `select count(*) from items` at `url` from `app`'s network, with `sslmode`.
fn count_items(paasd: &Paasd, app: &str, url: &str, sslmode: &str) -> std::process::Output {
    psql(paasd, app, url, sslmode, "select count(*) from items")
}

/// Waits until `container` is on `app`'s network (`on`) or off it (not `on`).
async fn wait_for_network(paasd: &Paasd, container: &str, app: &str, on: bool) {
    let network = format!("paas-{}-{app}", paasd.instance);
    eventually(paasd, 30, Duration::from_millis(250), async || {
        let networks = docker_ok(&[
            "inspect",
            "--format",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            container,
        ]);
        match (networks.contains(&network), on) {
            (true, true) | (false, false) => Ok(()),
            (false, true) => Err(format!("never joined {app}'s network: {networks}")),
            (true, false) => Err(format!("never left {app}'s network: {networks}")),
        }
    })
    .await;
}

#[tokio::test]
async fn a_postgres_addon_serves_an_app_over_tls_survives_restarts_and_is_destroyed_without_a_trace()
 {
    let (mut paasd, dir) = start().await;
    let dir = dir.path();
    paasd.create_app("shop").await;

    // Created and attached: the URL is set as a release once it accepts connections.
    let created = ok(paasd.paas(dir, &["addons:create", "postgresql", "-a", "shop"]));
    assert!(created.contains("as DATABASE_URL"), "{created}");
    let addons = json(paasd.paas(dir, &["addons", "-a", "shop", "--json"]));
    let addon = &addons.as_array().unwrap()[0];
    let name = addon["name"].as_str().unwrap().to_owned();
    let id = addon["id"].as_str().unwrap().to_owned();
    assert!(name.starts_with("postgresql-"), "{name}");
    assert_eq!(addon["state"], "provisioned");
    assert_eq!(addon["plan"]["name"], "heroku-postgresql:essential-0");
    let releases = ok(paasd.paas(dir, &["releases", "-a", "shop"]));
    assert!(
        releases.contains(&format!("Attach DATABASE ({name})")),
        "{releases}"
    );
    let url = config_var(&paasd, dir, "shop", "DATABASE_URL");
    assert!(
        url.starts_with("postgres://") && url.contains(&format!("@{name}:5432/")),
        "{url}"
    );
    let container = format!("paas-{}-addon-{name}", paasd.instance);
    assert_eq!(
        docker_ok(&[
            "inspect",
            "--format",
            "{{.HostConfig.Memory}} {{index .Config.Labels \"paas.addon\"}}",
            &container
        ]),
        format!("{} {id}", 256 << 20)
    );

    // The var is the attachment's: a hand edit is refused and changes nothing.
    let refused = fails(paasd.paas(
        dir,
        &[
            "config:set",
            "DATABASE_URL=postgres://elsewhere",
            "-a",
            "shop",
        ],
    ));
    assert!(
        refused.contains(&format!("owned by the add-on {name}")),
        "{refused}"
    );
    let refused = fails(paasd.paas(dir, &["config:unset", "DATABASE_URL", "-a", "shop"]));
    assert!(refused.contains("owned by the add-on"), "{refused}");
    assert_eq!(config_var(&paasd, dir, "shop", "DATABASE_URL"), url);

    // The release phase migrates; the web dyno reads the rows over TLS.
    let repo = fixture_repo("python-postgres");
    let push = paasd.push(repo.path(), "shop", "main");
    assert!(push.status.success(), "{}", support::stderr(&push));
    assert!(
        support::stderr(&push).contains("migrated: 1 rows"),
        "{}",
        support::stderr(&push)
    );
    let body = wait_for(&paasd, "shop", "/", "rows=1", 120).await;
    assert!(body.contains("ssl=True names=migrated"), "{body}");
    // A plain connection is refused by the server (pg_hba has hostssl lines only).
    let plain = get(&paasd, "shop", "/?tls=0").await;
    assert!(
        plain.contains("error") && plain.contains("no encryption"),
        "{plain}"
    );
    // A one-off dyno reaches it too.
    let count = "import db; print('count', db.connect().run('select count(*) from items')[0][0])";
    let one_off = ok(paasd.paas(dir, &["run", "-a", "shop", "--", "python", "-c", count]));
    assert!(one_off.contains("count 1"), "{one_off}");

    // paasd killed: the new one adopts the add-on (same container) and the data is there.
    let before = docker_ok(&["inspect", "--format", "{{.Id}}", &container]);
    paasd.sigkill_and_restart().await;
    wait_for(&paasd, "shop", "/", "rows=1", 60).await;
    assert_eq!(
        docker_ok(&["inspect", "--format", "{{.Id}}", &container]),
        before,
        "adopted, not recreated"
    );
    // `docker restart` of the add-on: the data is on its volume.
    docker_ok(&["restart", &container]);
    wait_for(&paasd, "shop", "/", "rows=1 ssl=True", 60).await;
    // A crash: the supervisor starts it again.
    docker_ok(&["kill", &container]);
    eventually(
        &paasd,
        30,
        Duration::from_millis(250),
        async || match docker_ok(&["inspect", "--format", "{{.State.Running}}", &container])
            .as_str()
        {
            "true" => Ok(()),
            _ => Err("a killed add-on was not started again".to_owned()),
        },
    )
    .await;
    wait_for(&paasd, "shop", "/", "rows=1 ssl=True", 60).await;

    // Only attached apps' networks reach it. Attached to a second app: reachable from its
    // network over TLS, refused in the clear.
    paasd.create_app("admin").await;
    let attached = attach(&paasd, dir, &name, "SHOP_DB", "admin");
    assert!(attached.contains("SHOP_DB_URL"), "{attached}");
    assert_eq!(config_var(&paasd, dir, "admin", "SHOP_DB_URL"), url);
    wait_for_network(&paasd, &container, "admin", true).await;
    let tls = count_items(&paasd, "admin", &url, "require");
    assert_eq!(
        String::from_utf8_lossy(&tls.stdout).trim(),
        "1",
        "{}",
        String::from_utf8_lossy(&tls.stderr)
    );
    let plain = count_items(&paasd, "admin", &url, "disable");
    assert!(!plain.status.success());
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("no encryption"),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    // Detached: the var goes as a release and the network no longer reaches it.
    ok(paasd.paas(dir, &["addons:detach", "SHOP_DB", "-a", "admin"]));
    let admin_config = json(paasd.paas(dir, &["config", "-a", "admin", "--json"]));
    assert!(admin_config.get("SHOP_DB_URL").is_none(), "{admin_config}");
    wait_for_network(&paasd, &container, "admin", false).await;
    let unattached = count_items(&paasd, "admin", &url, "require");
    assert!(
        !unattached.status.success(),
        "an unattached app's network reached the add-on"
    );

    // Destroyed: detached as a release, no container, no volume.
    let refused = fails(paasd.paas(dir, &["addons:destroy", &name, "-a", "shop"]));
    assert!(refused.contains("--confirm"), "{refused}");
    destroy(&paasd, dir, &name, "shop");
    assert_no_trace(&id);
    let config = json(paasd.paas(dir, &["config", "-a", "shop", "--json"]));
    assert!(config.get("DATABASE_URL").is_none(), "{config}");
    let releases = ok(paasd.paas(dir, &["releases", "-a", "shop"]));
    assert!(
        releases.contains(&format!("Detach DATABASE ({name})")),
        "{releases}"
    );
    assert!(
        ok(paasd.paas(dir, &["addons", "-a", "shop"])).contains("No add-ons"),
        "listed after destroy"
    );
}
