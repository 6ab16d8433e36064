//! Backing up a running platform and restoring it onto a fresh data dir and database.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{self, Paasd, commit_all, fixture_repo, git, ok, stderr, stdout};

/// Removes the images the test made (by id) however it ends.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        // A container being removed still holds its image for a moment: retry.
        for _ in 0..10 {
            let left: Vec<&String> = self.0.iter().filter(|id| image_exists(id)).collect();
            if left.is_empty() {
                return;
            }
            let out = Command::new("docker")
                .args(["rmi", "-f"])
                .args(&left)
                .output();
            if let Ok(out) = out
                && !out.status.success()
            {
                eprintln!("docker rmi: {}", String::from_utf8_lossy(&out.stderr));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

fn image_exists(id: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", id])
        .output()
        .is_ok_and(|o| o.status.success())
}

async fn served(paasd: &Paasd, host: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let response = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/", paasd.router_port))
            .header("host", host)
            .send()
            .await;
        let (status, body) = match response {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        };
        // A rollout may still be under way: wait for the release that should serve.
        if status == 200 && body.contains(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{host} not served: {status} {body}\n{}",
            paasd.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What a restore must bring back of an app, as the API shows it.
async fn state_of(paasd: &Paasd, app: &str) -> serde_json::Value {
    let releases = paasd
        .api(reqwest::Method::GET, &format!("/apps/{app}/releases"), None)
        .await;
    let releases: Vec<_> = releases
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::json!([r["version"], r["description"], r["status"], r["current"]]))
        .collect();
    let config = paasd
        .api(
            reqwest::Method::GET,
            &format!("/apps/{app}/config-vars"),
            None,
        )
        .await;
    let formation = paasd
        .api(
            reqwest::Method::GET,
            &format!("/apps/{app}/formation"),
            None,
        )
        .await;
    let formation: Vec<_> = formation
        .as_array()
        .unwrap()
        .iter()
        .map(|f| serde_json::json!([f["type"], f["quantity"]]))
        .collect();
    let domains = paasd
        .api(reqwest::Method::GET, &format!("/apps/{app}/domains"), None)
        .await;
    let mut domains: Vec<_> = domains
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["hostname"].clone())
        .collect();
    domains.sort_by_key(ToString::to_string);
    let drains = paasd
        .api(
            reqwest::Method::GET,
            &format!("/apps/{app}/log-drains"),
            None,
        )
        .await;
    let drains: Vec<_> = drains
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["url"].clone())
        .collect();
    serde_json::json!({
        "releases": releases, "config": config, "formation": formation,
        "domains": domains, "drains": drains,
    })
}

/// Two running apps (one with a custom domain and a drain, two builds) are backed up
/// while paasd serves them; the archive verifies (and a damaged copy does not); then
/// paasd, its containers and the apps' images are gone, `paasd restore` fills a fresh
/// data dir and database, and a new paasd serves both apps again at their current
/// release, with the same config, formation, domains, drains, release history, git
/// repositories and tokens.
#[tokio::test]
async fn a_backup_of_a_running_platform_restores_every_app_onto_a_fresh_server() {
    support::require_stack_image();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let (one, two) = (format!("bk1-{suffix}"), format!("bk2-{suffix}"));
    let domain = format!("www.{one}.test");
    let old = Paasd::start().await;

    // The app answers with its GREETING and a build marker, so the body tells which
    // release (build and config) serves.
    let repo = fixture_repo("procfile-shell");
    let server = repo.path().join("server.sh");
    let write_server = |marker: &str| {
        std::fs::write(
            &server,
            format!(
                "#!/bin/sh\nmkdir -p /tmp/www && echo \"$GREETING from {marker}\" > /tmp/www/index.html\n\
                 exec python3 -m http.server \"$PORT\" --bind 0.0.0.0 --directory /tmp/www\n"
            ),
        )
        .unwrap();
    };
    write_server("build-1");
    let first = commit_all(repo.path(), "build 1");
    for app in [&one, &two] {
        old.create_app(app).await;
        ok(old.paas(repo.path(), &["config:set", "GREETING=hi", "-a", app]));
        let out = old.push(repo.path(), app, "main");
        assert!(out.status.success(), "push {app}: {}", stderr(&out));
    }
    write_server("build-2");
    let second = commit_all(repo.path(), "build 2");
    assert_ne!(first, second);
    let out = old.push(repo.path(), &one, "main");
    assert!(out.status.success(), "second push: {}", stderr(&out));
    ok(old.paas(repo.path(), &["config:set", "GREETING=hello", "-a", &one]));
    ok(old.paas(repo.path(), &["domains:add", &domain, "-a", &one]));
    ok(old.paas(
        repo.path(),
        &["drains:add", "syslog://127.0.0.1:9", "-a", &one],
    ));
    served(&old, &format!("{one}.localhost"), "hello from build-2").await;
    served(&old, &domain, "hello from build-2").await;
    served(&old, &format!("{two}.localhost"), "hi from build-1").await;
    let before = [state_of(&old, &one).await, state_of(&old, &two).await];

    // The images the releases run: app one's current and previous builds, app two's.
    let store = old.store().await;
    let mut ids = Vec::new();
    for app in [&one, &two] {
        let app = store.app(app).await.unwrap();
        for build in store.builds(app.app_id).await.unwrap() {
            ids.extend(build.image);
        }
    }
    assert_eq!(ids.len(), 3, "{ids:?}");
    let images = Images(ids.clone());

    // Backed up while paasd runs and serves.
    let archive_dir = tempfile::tempdir().unwrap();
    let archive = archive_dir.path().join("platform.tar");
    let archive_str = archive.to_str().unwrap();
    let started = Instant::now();
    let out = old.paasd(&["backup", "--to", archive_str]);
    assert!(out.status.success(), "backup: {}", stderr(&out));
    eprintln!(
        "backup: {:.1} s, {} MB",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&archive).unwrap().len() >> 20
    );
    served(&old, &format!("{one}.localhost"), "hello from build-2").await;
    let verified = old.paasd(&["backup", "--verify", archive_str]);
    assert!(verified.status.success(), "verify: {}", stderr(&verified));
    let report = stdout(&verified);
    for line in [
        format!(
            "app {one}: v5, 5 releases, 1 config vars, 1 domains ({domain}), 1 drains, 2 images"
        ),
        format!("app {two}: v3, 3 releases, 1 config vars, 0 domains, 0 drains, 1 images"),
        "3 images; 2 git repositories; TLS/CA material: yes; sealing key: yes".to_owned(),
    ] {
        assert!(report.contains(&line), "{line:?} not in:\n{report}");
    }
    // A damaged copy is refused.
    let damaged = archive_dir.path().join("damaged.tar");
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&damaged, bytes).unwrap();
    let out = old.paasd(&["backup", "--verify", damaged.to_str().unwrap()]);
    assert!(!out.status.success(), "a damaged archive verified");
    assert!(
        stderr(&out).contains("damaged") || stderr(&out).contains("archive"),
        "{}",
        stderr(&out)
    );
    let old_token = old.token.clone();
    let old_root = std::fs::read(old.data.path().join("tls/ca/root.pem")).unwrap();

    // The server is lost: paasd, its dynos (Paasd's drop removes them) and the images.
    drop(store);
    drop(old);
    let out = Command::new("docker")
        .args(["rmi", "-f"])
        .args(&ids)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(ids.iter().all(|id| !image_exists(id)));

    // A fresh data dir and (embedded) database: restore, then start paasd on it.
    let data = Paasd::data_dir();
    let instance = format!("e2e-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let started = Instant::now();
    let out = Paasd::paasd_on(data.path(), &instance, &["restore", "--from", archive_str]);
    eprintln!("restore: {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        out.status.success(),
        "restore: {}\n{}",
        stderr(&out),
        stdout(&out)
    );
    assert!(ids.iter().all(|id| image_exists(id)), "images not loaded");
    // Restoring again over what is now there is refused.
    let again = Paasd::paasd_on(data.path(), &instance, &["restore", "--from", archive_str]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("fresh"), "{}", stderr(&again));

    let new = Paasd::start_in(data, &[]).await;
    served(&new, &format!("{one}.localhost"), "hello from build-2").await;
    served(&new, &domain, "hello from build-2").await;
    served(&new, &format!("{two}.localhost"), "hi from build-1").await;
    let after = [state_of(&new, &one).await, state_of(&new, &two).await];
    assert_eq!(before, after);
    assert_eq!(
        std::fs::read(new.data.path().join("tls/ca/root.pem")).unwrap(),
        old_root,
        "the local CA came back"
    );
    // The old token works, and git has the apps' history.
    let response = reqwest::Client::new()
        .get(format!("{}/apps/{one}", new.url()))
        .bearer_auth(&old_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let url = format!("http://git:{}@127.0.0.1:{}/{one}.git", new.token, new.port);
    let refs = git(
        repo.path(),
        &["-c", "credential.helper=", "ls-remote", &url],
    );
    assert!(refs.contains(&second), "{refs}");
    // The previous release's image came back too: a rollback serves build 1 again.
    ok(new.paas(repo.path(), &["rollback", "v3", "-a", &one]));
    served(&new, &format!("{one}.localhost"), "hi from build-1").await;
    drop(new);
    drop(images);
}
