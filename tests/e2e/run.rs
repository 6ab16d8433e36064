//! A pushed app runs: the supervisor starts its formation, rolls config changes, scales.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{self, Paasd, fixture_repo};

fn up(dynos: &[Value], kind: &str) -> usize {
    dynos
        .iter()
        .filter(|d| d["type"] == kind && d["state"] == "up")
        .count()
}

#[tokio::test]
async fn a_pushed_app_runs_its_formation_rolls_config_changes_and_scales() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("runner").await;
    let repo = fixture_repo("python-gunicorn");
    let out = paasd.push(repo.path(), "runner", "main");
    assert!(out.status.success(), "{}", support::stderr(&out));

    let dynos = paasd.wait_dynos("runner", 90, |d| up(d, "web") == 1).await;
    assert_eq!(dynos[0]["name"], "web.1");
    assert_eq!(dynos[0]["release"]["version"], 2);
    assert!(
        paasd
            .get_from_web("runner", "web.1")
            .await
            .contains("hello from python")
    );

    // A config change is a new release and a rolling restart, never a rebuild.
    paasd
        .api(
            Method::PATCH,
            "/apps/runner/config-vars",
            Some(json!({"GREETING": "from config"})),
        )
        .await;
    paasd
        .wait_dynos("runner", 90, |d| {
            up(d, "web") == 1 && d.iter().all(|x| x["release"]["version"] == 3)
        })
        .await;
    assert!(
        paasd
            .get_from_web("runner", "web.1")
            .await
            .contains("hello from python from config")
    );
    let (status, body) = paasd.get_via_router("runner").await;
    assert_eq!(
        (status, body.trim()),
        (200, "hello from python from config"),
        "the app answers at runner.localhost"
    );
    let (status, _) = paasd.get_via_router("no-such-app").await;
    assert_eq!(status, 404);
    let builds = paasd.api(Method::GET, "/apps/runner/builds", None).await;
    assert_eq!(builds.as_array().unwrap().len(), 1, "no rebuild");

    paasd
        .api(
            Method::PATCH,
            "/apps/runner/formation",
            Some(json!({"updates": [{"type": "web", "quantity": 3}]})),
        )
        .await;
    let dynos = paasd.wait_dynos("runner", 90, |d| up(d, "web") == 3).await;
    let names: Vec<&str> = dynos.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["web.1", "web.2", "web.3"]);
    paasd
        .api(
            Method::PATCH,
            "/apps/runner/formation/web",
            Some(json!({"quantity": 1})),
        )
        .await;
    paasd
        .wait_dynos("runner", 90, |d| d.len() == 1 && up(d, "web") == 1)
        .await;
}

#[tokio::test]
async fn one_off_dynos_stream_output_forward_the_exit_status_and_are_removed() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("oneoff").await;
    let dir = tempfile::tempdir().unwrap();
    // Before any deploy there is nothing to run.
    let out = paasd.paas(dir.path(), &["run", "-a", "oneoff", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stderr(&out).contains("git push it first"),
        "{}",
        support::stderr(&out)
    );

    let repo = fixture_repo("procfile-shell");
    assert!(paasd.push(repo.path(), "oneoff", "main").status.success());
    paasd
        .api(
            Method::PATCH,
            "/apps/oneoff/config-vars",
            Some(json!({"FOO": "from config"})),
        )
        .await;

    let out = paasd.paas(
        dir.path(),
        &[
            "run",
            "-a",
            "oneoff",
            "--",
            "sh",
            "-c",
            "echo \"$DYNO says $FOO\"; ls /app/server.sh; exit 7",
        ],
    );
    let stdout = support::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(7),
        "the exit status is forwarded: {stdout} {}",
        support::stderr(&out)
    );
    assert!(stdout.contains("run.1 says from config"), "{stdout}");
    assert!(
        stdout.contains("/app/server.sh"),
        "it runs the release's code: {stdout}"
    );
    let ok = paasd.paas(dir.path(), &["run", "-a", "oneoff", "--", "echo", "fine"]);
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(support::stdout(&ok).trim(), "fine");

    let detached = paasd.paas(
        dir.path(),
        &[
            "run:detached",
            "-a",
            "oneoff",
            "--",
            "echo",
            "detached-hello",
        ],
    );
    assert!(detached.status.success(), "{}", support::stderr(&detached));
    assert!(
        support::stderr(&detached).contains("run.3"),
        "{}",
        support::stderr(&detached)
    );

    // Every one-off container is gone once done (the detached one soon after it exits,
    // once its output is in the log stream).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let out = std::process::Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                "label=paas.kind=one_off",
                "--filter",
                &format!("label=paas.instance={}", paasd.instance),
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "one-off containers were left behind"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    // Their output went to the app's log stream too, the detached one's included.
    let logs = support::ok(paasd.paas(dir.path(), &["logs", "-a", "oneoff", "-d", "run"]));
    assert!(
        logs.contains("app[run.1]: run.1 says from config"),
        "{logs}"
    );
    assert!(logs.contains("app[run.3]: detached-hello"), "{logs}");
}

#[tokio::test]
async fn the_release_phase_gates_the_release_and_a_failure_moves_nothing() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("phased").await;
    let repo = fixture_repo("procfile-shell");
    let procfile = repo.path().join("Procfile");
    let base = std::fs::read_to_string(&procfile).unwrap();
    std::fs::write(
        &procfile,
        format!("{base}release: echo \"migrating in $DYNO\"\n"),
    )
    .unwrap();
    support::commit_all(repo.path(), "with a release phase");
    let out = paasd.push(repo.path(), "phased", "main");
    let text = support::stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Running release command") && text.contains("migrating in release.2"),
        "{text}"
    );
    paasd
        .wait_dynos("phased", 90, |d| {
            d.iter()
                .any(|x| x["state"] == "up" && x["release"]["version"] == 2)
        })
        .await;

    std::fs::write(
        &procfile,
        format!("{base}release: echo broken migration; exit 4\n"),
    )
    .unwrap();
    support::commit_all(repo.path(), "failing release phase");
    let out = paasd.push(repo.path(), "phased", "main");
    let text = support::stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("broken migration") && text.contains("exited with status 4"),
        "{text}"
    );
    let releases = paasd.api(Method::GET, "/apps/phased/releases", None).await;
    let v3 = &releases[2];
    assert_eq!(v3["status"], "failed");
    assert_eq!(v3["current"], false);
    assert_eq!(releases[1]["current"], true, "v2 stays current");
    // Nothing rolled: the web dyno still runs v2.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let dynos = paasd.wait_dynos("phased", 10, |d| !d.is_empty()).await;
    assert!(
        dynos.iter().all(|d| d["release"]["version"] == 2),
        "{dynos:?}"
    );
}

#[tokio::test]
async fn a_config_change_and_a_deploy_under_steady_load_fail_no_request() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("steady").await;
    let repo = fixture_repo("procfile-shell");
    assert!(paasd.push(repo.path(), "steady", "main").status.success());
    paasd
        .api(
            Method::PATCH,
            "/apps/steady/formation/web",
            Some(json!({"quantity": 2})),
        )
        .await;
    paasd.wait_dynos("steady", 90, |d| up(d, "web") == 2).await;
    assert_eq!(paasd.get_via_router("steady").await.0, 200);

    let load = support::SteadyLoad::start(paasd.router_port, "steady");

    paasd
        .api(
            Method::PATCH,
            "/apps/steady/config-vars",
            Some(json!({"ROUND": "1"})),
        )
        .await;
    paasd
        .wait_dynos("steady", 90, |d| {
            up(d, "web") == 2
                && d.iter()
                    .filter(|x| x["type"] == "web")
                    .all(|x| x["release"]["version"] == 3)
        })
        .await;
    std::fs::write(repo.path().join("version.txt"), "2").unwrap();
    support::commit_all(repo.path(), "deploy under load");
    assert!(paasd.push(repo.path(), "steady", "main").status.success());
    paasd
        .wait_dynos("steady", 90, |d| {
            up(d, "web") == 2
                && d.iter()
                    .filter(|x| x["type"] == "web")
                    .all(|x| x["release"]["version"] == 4)
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    load.finish("a config change and a deploy", 100).await;
}

fn container_names(paasd: &Paasd, app: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "--format",
            "{{.Names}}",
            "--filter",
            &format!("label=paas.instance={}", paasd.instance),
            "--filter",
            &format!("label=paas.app_name={app}"),
            "--filter",
            "label=paas.kind=formation",
        ])
        .output()
        .unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn ps_restart_replaces_all_dynos_a_type_or_one_dyno() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("restarts").await;
    let dir = tempfile::tempdir().unwrap();
    let repo = fixture_repo("procfile-shell");
    assert!(paasd.push(repo.path(), "restarts", "main").status.success());
    paasd
        .api(
            Method::PATCH,
            "/apps/restarts/formation/web",
            Some(json!({"quantity": 2})),
        )
        .await;
    paasd
        .wait_dynos("restarts", 90, |d| up(d, "web") == 2)
        .await;
    assert_eq!(
        container_names(&paasd, "restarts"),
        ["restarts.web.1.v2", "restarts.web.2.v2"]
    );

    support::ok(paasd.paas(dir.path(), &["ps:restart", "-a", "restarts"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while container_names(&paasd, "restarts") != ["restarts.web.1.v2.r1", "restarts.web.2.v2.r1"] {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            container_names(&paasd, "restarts")
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(
        paasd
            .api(Method::GET, "/apps/restarts/releases", None)
            .await
            .as_array()
            .unwrap()
            .len(),
        2,
        "no release"
    );

    support::ok(paasd.paas(dir.path(), &["ps:restart", "-a", "restarts", "web"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while container_names(&paasd, "restarts") != ["restarts.web.1.v2.r2", "restarts.web.2.v2.r2"] {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            container_names(&paasd, "restarts")
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    paasd
        .wait_dynos("restarts", 60, |d| up(d, "web") == 2)
        .await;

    let id_of_web1 = || {
        let out = std::process::Command::new("docker")
            .args(["inspect", "--format", "{{.Id}}", "restarts.web.1.v2.r2"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let before = id_of_web1();
    support::ok(paasd.paas(dir.path(), &["ps:restart", "-a", "restarts", "web.1"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let now = id_of_web1();
        if !now.is_empty() && now != before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "web.1 was not replaced"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let err = support::fails(paasd.paas(dir.path(), &["ps:restart", "-a", "restarts", "clock"]));
    assert!(err.contains("clock"), "{err}");
}

fn dyno_containers(paasd: &Paasd) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            &format!("label=paas.instance={}", paasd.instance),
            "--filter",
            "label=paas.kind=formation",
        ])
        .output()
        .unwrap();
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_sigkilled_paasd_adopts_its_dynos_and_keeps_serving() {
    support::require_stack_image();
    let mut paasd = Paasd::start().await;
    paasd.create_app("survivor").await;
    let repo = fixture_repo("procfile-shell");
    assert!(paasd.push(repo.path(), "survivor", "main").status.success());
    paasd.api(Method::PATCH, "/apps/survivor/formation", Some(json!({"updates": [{"type": "web", "quantity": 2}, {"type": "worker", "quantity": 1}]}))).await;
    paasd
        .wait_dynos("survivor", 90, |d| {
            up(d, "web") == 2 && up(d, "worker") == 1
        })
        .await;
    let before = dyno_containers(&paasd);
    assert_eq!(before.len(), 3);

    paasd.sigkill_and_restart().await;
    assert_eq!(dyno_containers(&paasd), before, "the dynos outlive paasd");
    // The new paasd adopts them: same containers, none added or removed, routed again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while paasd.get_via_router("survivor").await.0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the app is not routed after the restart"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(dyno_containers(&paasd), before, "adopted, not recreated");
    let body = paasd.get_via_router("survivor").await.1;
    assert!(body.contains("hello from shell"), "{body}");
}

#[tokio::test]
async fn a_dyno_cannot_reach_another_apps_dynos_or_the_control_api() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    for app in ["alpha", "beta"] {
        paasd.create_app(app).await;
        let repo = fixture_repo("procfile-shell");
        assert!(paasd.push(repo.path(), app, "main").status.success());
    }
    paasd.wait_dynos("beta", 90, |d| up(d, "web") == 1).await;
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label=paas.instance={}", paasd.instance),
            "--filter",
            "label=paas.app_name=beta",
        ])
        .output()
        .unwrap();
    let beta = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let ip = std::process::Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &beta,
        ])
        .output()
        .unwrap();
    let beta_ip = String::from_utf8_lossy(&ip.stdout).trim().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let probe = |target: String| {
        format!(
            "python3 -c \"import socket,sys\ntry:\n socket.create_connection(('{}', {}), 3); print('REACHED')\nexcept OSError as e: print('BLOCKED', e)\"",
            target.split(':').next().unwrap(),
            target.split(':').nth(1).unwrap()
        )
    };
    // From a dyno of alpha: beta's web dyno, and the control API (on the host's loopback).
    for target in [
        format!("{beta_ip}:5000"),
        format!("127.0.0.1:{}", paasd.port),
    ] {
        let out = paasd.paas(
            dir.path(),
            &[
                "run",
                "-a",
                "alpha",
                "--",
                "sh",
                "-c",
                &probe(target.clone()),
            ],
        );
        let stdout = support::stdout(&out);
        assert!(
            stdout.contains("BLOCKED"),
            "alpha reached {target}: {stdout} {}",
            support::stderr(&out)
        );
    }
    // The same probe does reach beta from the host, so the probe itself works.
    assert!(std::net::TcpStream::connect(format!("{beta_ip}:5000")).is_ok());
}

#[tokio::test]
async fn destroying_an_app_removes_its_repository_cache_images_and_dynos() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("doomed").await;
    let app_id = paasd.api(Method::GET, "/apps/doomed", None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let repo = fixture_repo("procfile-shell");
    assert!(paasd.push(repo.path(), "doomed", "main").status.success());
    paasd.wait_dynos("doomed", 90, |d| up(d, "web") == 1).await;
    let repo_dir = paasd.data.path().join("repos/doomed.git");
    let cache_dir = paasd.data.path().join("cache").join(&app_id);
    assert!(repo_dir.exists() && cache_dir.exists());
    let images = || {
        let out = std::process::Command::new("docker")
            .args(["images", "-q", "paas/doomed"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert!(!images().is_empty());

    let dir = tempfile::tempdir().unwrap();
    support::ok(paasd.paas(
        dir.path(),
        &["apps:destroy", "-a", "doomed", "--confirm", "doomed"],
    ));
    assert!(!repo_dir.exists(), "repository removed");
    assert!(!cache_dir.exists(), "build cache removed");
    assert!(images().is_empty(), "images removed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !container_names(&paasd, "doomed").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "dynos of a destroyed app keep running"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

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
