//! `git push` deploys: the real git client, paasd's git endpoint, real Docker builds.

use reqwest::Method;
use serde_json::Value;

use crate::support::{self, Paasd, commit_all, fixture_repo, in_image, stderr};

async fn builds(paasd: &Paasd, app: &str) -> Vec<Value> {
    paasd
        .api(Method::GET, &format!("/apps/{app}/builds"), None)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn releases(paasd: &Paasd, app: &str) -> Vec<Value> {
    paasd
        .api(Method::GET, &format!("/apps/{app}/releases"), None)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[track_caller]
fn pushed(out: &std::process::Output) -> String {
    let text = stderr(out);
    assert!(out.status.success(), "push failed:\n{text}");
    text
}

#[tokio::test]
async fn pushing_a_python_app_builds_an_image_releases_it_and_reuses_the_cache() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("py").await;
    let repo = fixture_repo("python-gunicorn");
    let commit = support::git(repo.path(), &["rev-parse", "HEAD"]);

    let first = pushed(&paasd.push(repo.path(), "py", "main"));
    assert!(first.contains("remote: -----> "), "{first}");
    assert!(first.contains("app detected"), "{first}");
    assert!(
        first.contains("gunicorn"),
        "dependency install is streamed: {first}"
    );
    assert!(first.contains("Released v2"), "{first}");
    // The app's URL is HTTPS wherever the router serves TLS (issue 13), as Heroku's is;
    // the tests' paasd has its TLS listener on a port of its own choosing.
    assert!(first.contains("https://py.localhost:"), "{first}");

    let build = &builds(&paasd, "py").await[0];
    assert_eq!(build["status"], "succeeded");
    assert_eq!(build["source_blob"]["version"], commit.as_str());
    let releases = releases(&paasd, "py").await;
    let v2 = &releases[1];
    assert_eq!(v2["description"], format!("Deploy {}", &commit[..7]));
    assert_eq!(v2["current"], true);
    assert_eq!(v2["slug"]["id"], build["id"]);
    let formation = paasd.api(Method::GET, "/apps/py/formation", None).await;
    assert_eq!(formation[0]["type"], "web");
    assert_eq!(formation[0]["quantity"], 1);
    assert!(
        formation[0]["command"]
            .as_str()
            .unwrap()
            .contains("gunicorn")
    );

    // The image holds the built app at /app, dependencies included.
    let store = paasd.store().await;
    let app = store.app("py").await.unwrap();
    let image = store.builds(app.app_id).await.unwrap()[0]
        .image
        .clone()
        .expect("image id");
    assert!(
        image.starts_with("sha256:"),
        "an immutable image id: {image}"
    );
    let listing = in_image(
        &image,
        "cat /app/app.py && . /app/.profile.d/*.sh && command -v gunicorn",
    );
    assert!(
        listing.contains("hello from python") && listing.contains("gunicorn"),
        "{listing}"
    );

    // A one-line change: dependencies are not installed again.
    let app_py = repo.path().join("app.py");
    let text = std::fs::read_to_string(&app_py)
        .unwrap()
        .replace("hello from python", "hello again from python");
    std::fs::write(&app_py, text).unwrap();
    commit_all(repo.path(), "one line");
    let second = pushed(&paasd.push(repo.path(), "py", "main"));
    assert!(second.contains("Released v3"), "{second}");
    assert!(
        !second.contains("Downloading") && !second.contains("Collecting"),
        "dependencies were reinstalled:\n{second}"
    );
    assert!(
        second.to_lowercase().contains("cache"),
        "the cache reuse is reported:\n{second}"
    );
}

#[tokio::test]
async fn a_failed_build_rejects_the_push_and_keeps_the_current_release() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("shell").await;
    let repo = fixture_repo("procfile-shell");
    pushed(&paasd.push(repo.path(), "shell", "main"));
    assert_eq!(releases(&paasd, "shell").await.len(), 2);

    // Replace the code by a codebase whose build fails.
    for entry in std::fs::read_dir(repo.path()).unwrap().flatten() {
        if entry.file_name() != ".git" {
            let _ = std::fs::remove_dir_all(entry.path())
                .or_else(|_| std::fs::remove_file(entry.path()));
        }
    }
    let failing = support::workspace_root().join("tests/fixtures/apps/failing-build");
    for entry in std::fs::read_dir(failing).unwrap().flatten() {
        std::fs::copy(entry.path(), repo.path().join(entry.file_name())).unwrap();
    }
    commit_all(repo.path(), "broken");
    let out = paasd.push(repo.path(), "shell", "main");
    let text = stderr(&out);
    assert!(
        !out.status.success(),
        "a failed build must reject the push:\n{text}"
    );
    assert!(text.contains("[remote rejected]"), "{text}");
    assert!(text.contains("the current release keeps running"), "{text}");
    assert!(
        text.contains("this-package-does-not-exist-paas-test"),
        "fails for the missing package: {text}"
    );

    let builds = builds(&paasd, "shell").await;
    assert_eq!(builds.iter().filter(|b| b["status"] == "failed").count(), 1);
    let releases = releases(&paasd, "shell").await;
    assert_eq!(releases.len(), 2, "no release for a failed build");
    assert_eq!(releases[1]["current"], true);
    // The rejected commit did not move the branch.
    let bare = paasd.data.path().join("repos/shell.git");
    let head = support::git(&bare, &["rev-parse", "refs/heads/main"]);
    assert_ne!(head, support::git(repo.path(), &["rev-parse", "HEAD"]));
    let output = paasd
        .api(
            Method::GET,
            &format!(
                "/apps/shell/builds/{}/output",
                builds[1]["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert!(
        output.as_str().is_some_and(|o| o.contains("failed")),
        "the failed build's output is kept: {output}"
    );
}

#[tokio::test]
async fn pushes_to_other_branches_unknown_apps_or_without_a_token_are_refused() {
    let paasd = Paasd::start().await;
    paasd.create_app("strict").await;
    let repo = fixture_repo("procfile-shell");

    let out = paasd.push(repo.path(), "strict", "HEAD:refs/heads/feature");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("push to main or master"),
        "{}",
        stderr(&out)
    );

    let out = paasd.push(repo.path(), "nope", "main");
    assert!(!out.status.success(), "unknown app");

    let out = paasd.push_with_token(repo.path(), "strict", "main", "paas_wrong");
    assert!(!out.status.success(), "wrong token");
    assert!(
        stderr(&out).to_lowercase().contains("authentication"),
        "{}",
        stderr(&out)
    );

    assert!(
        builds(&paasd, "strict").await.is_empty(),
        "nothing was built"
    );
    assert_eq!(releases(&paasd, "strict").await.len(), 1);
}

#[tokio::test]
async fn node_static_and_dockerfile_apps_build_with_their_default_processes() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    for (app, fixture, expect_web, expect_file) in [
        (
            "node",
            "node-express",
            "npm start",
            "/app/node_modules/express/package.json",
        ),
        ("site", "static-site", "", "/app/index.html"),
        ("docker", "dockerfile-app", "", ""),
    ] {
        paasd.create_app(app).await;
        let repo = fixture_repo(fixture);
        let text = pushed(&paasd.push(repo.path(), app, "main"));
        assert!(text.contains("Released v2"), "{app}: {text}");
        let formation = paasd
            .api(Method::GET, &format!("/apps/{app}/formation"), None)
            .await;
        let web = formation
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["type"] == "web")
            .cloned();
        let web = web.unwrap_or_else(|| panic!("{app} has a web process: {formation}"));
        assert!(
            web["command"].as_str().unwrap().contains(expect_web),
            "{app}: {web}"
        );
        if !expect_file.is_empty() {
            let store = paasd.store().await;
            let id = store.app(app).await.unwrap().app_id;
            let image = store.builds(id).await.unwrap()[0].image.clone().unwrap();
            in_image(&image, &format!("test -f {expect_file}"));
        }
        if app == "docker" {
            assert!(text.contains("Dockerfile detected"), "{text}");
        }
    }
}

/// A buildpack in a directory the build user can read, as an admin would install one.
fn local_buildpack(compile: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("paas-bp-")
        .tempdir()
        .unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, body) in [
        ("detect", "#!/bin/sh\necho Custom\n".to_owned()),
        ("compile", format!("#!/bin/sh\nset -e\n{compile}\n")),
        (
            "release",
            "#!/bin/sh\nprintf 'default_process_types:\\n  web: ./serve\\n'\n".to_owned(),
        ),
    ] {
        std::fs::write(bin.join(name), body).unwrap();
        std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for path in [dir.path(), &bin] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

#[tokio::test]
async fn an_apps_own_buildpack_overrides_detection_and_the_dockerfile() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    let repo = fixture_repo("dockerfile-app");
    support::git(
        repo.path(),
        &[
            "remote",
            "add",
            "paas",
            &format!("{}/custom.git", paasd.url()),
        ],
    );
    support::ok(paasd.paas(repo.path(), &["apps:create", "custom", "--no-remote"]));
    let buildpack =
        local_buildpack("echo '-----> custom compile ran'\necho marker > \"$1/built-by-custom\"");
    let path = buildpack.path().to_str().unwrap();
    support::ok(paasd.paas(repo.path(), &["buildpacks:set", path]));
    assert!(support::ok(paasd.paas(repo.path(), &["buildpacks"])).contains(path));

    let text = pushed(&paasd.push(repo.path(), "custom", "main"));
    assert!(text.contains("custom compile ran"), "{text}");
    assert!(!text.contains("Dockerfile detected"), "{text}");
    let formation = paasd.api(Method::GET, "/apps/custom/formation", None).await;
    assert_eq!(formation[0]["command"], "./serve");
    let store = paasd.store().await;
    let id = store.app("custom").await.unwrap().app_id;
    let image = store.builds(id).await.unwrap()[0].image.clone().unwrap();
    assert_eq!(
        in_image(&image, "cat /app/built-by-custom").trim(),
        "marker"
    );

    // A path that is not a buildpack fails the build with a clear reason.
    support::ok(paasd.paas(repo.path(), &["buildpacks:set", "/nonexistent/buildpack"]));
    commit_all(repo.path(), "again");
    let out = paasd.push(repo.path(), "custom", "main");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is not a buildpack"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_build_that_runs_out_of_memory_fails_cleanly() {
    support::require_stack_image();
    let paasd = Paasd::start_with(&[("PAAS_BUILD_MEMORY", "96m")]).await;
    paasd.create_app("hungry").await;
    let repo = fixture_repo("procfile-shell");
    let buildpack = local_buildpack("python3 -c \"b = b'x' * (512 << 20); print(len(b))\"");
    paasd
        .api(
            Method::PATCH,
            "/apps/hungry/config-vars",
            Some(serde_json::json!({ "BUILDPACK_URL": buildpack.path().to_str().unwrap() })),
        )
        .await;
    let out = paasd.push(repo.path(), "hungry", "main");
    let text = stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("ran out of memory (limit 96 MiB)"), "{text}");
    let builds = builds(&paasd, "hungry").await;
    assert_eq!(builds[0]["status"], "failed");
    // paasd itself is fine and answers.
    assert_eq!(
        releases(&paasd, "hungry").await.len(),
        2,
        "Initial release + the config change only"
    );
}

#[tokio::test]
async fn a_push_waits_for_its_web_dynos_and_is_rejected_when_they_never_listen() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("booting").await;
    let repo = fixture_repo("procfile-shell");
    let out = paasd.push(repo.path(), "booting", "main");
    let text = stderr(&out);
    assert!(out.status.success(), "{text}");
    // The push ends once the release runs, and says so.
    assert!(
        text.contains("1 of 1 web dynos of v2 up"),
        "the push reports its dynos:\n{text}"
    );
    let (status, _) = paasd.get_via_router("booting").await;
    assert_eq!(status, 200, "up when the push returns");

    // A deploy whose web process never listens: the push fails with the reason and the
    // previous release keeps serving.
    paasd
        .api(
            Method::PATCH,
            "/apps/booting/config-vars",
            Some(serde_json::json!({"PAAS_HEALTH_TIMEOUT": "5"})),
        )
        .await;
    std::fs::write(repo.path().join("Procfile"), "web: sleep 100000\n").unwrap();
    let head = commit_all(repo.path(), "a web process that never binds $PORT");
    let out = paasd.push(repo.path(), "booting", "main");
    let text = stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("v4 failed to start"), "{text}");
    assert!(
        text.contains("did not accept connections on $PORT"),
        "{text}"
    );
    assert!(text.contains("[remote rejected]"), "{text}");
    let list = releases(&paasd, "booting").await;
    let newest = list.last().unwrap();
    assert_eq!(newest["version"], 4);
    assert_eq!(newest["status"], "failed");
    assert_eq!(list[list.len() - 2]["current"], true, "v3 is current again");
    let info = support::ok(paasd.paas(repo.path(), &["releases:info", "v4", "-a", "booting"]));
    assert!(
        info.contains("failed") && info.contains("did not accept connections"),
        "{info}"
    );
    let (status, _) = paasd.get_via_router("booting").await;
    assert_eq!(status, 200, "the previous release keeps serving");
    let bare = paasd.data.path().join("repos/booting.git");
    let remote_head = support::git(&bare, &["rev-parse", "refs/heads/main"]);
    assert_ne!(remote_head, head, "the branch did not move");

    // One that crashes at once fails the same way, with its exit status.
    std::fs::write(repo.path().join("Procfile"), "web: echo broken; exit 3\n").unwrap();
    commit_all(repo.path(), "a web process that exits");
    let out = paasd.push(repo.path(), "booting", "main");
    let text = stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("v5 failed to start"), "{text}");
    assert!(text.contains("exited with status 3"), "{text}");
    let (status, _) = paasd.get_via_router("booting").await;
    assert_eq!(status, 200, "the previous release keeps serving");
}

#[tokio::test]
async fn two_pushes_to_one_app_at_once_build_one_after_the_other_and_never_half_deploy() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("twice").await;
    // Builds slow enough (a pip install) that the pushes overlap.
    let first = fixture_repo("python-gunicorn");
    let second = fixture_repo("python-gunicorn");
    std::fs::write(second.path().join("version.txt"), "second").unwrap();
    commit_all(second.path(), "the second push");
    let push = |dir: std::path::PathBuf, force: bool| {
        let url = format!(
            "http://git:{}@127.0.0.1:{}/twice.git",
            paasd.token, paasd.port
        );
        std::thread::spawn(move || {
            let mut args = vec!["-c", "credential.helper=", "push"];
            if force {
                args.push("--force");
            }
            args.extend([url.as_str(), "main"]);
            std::process::Command::new("git")
                .args(&args)
                .current_dir(dir)
                .env("GIT_TERMINAL_PROMPT", "0")
                .output()
                .unwrap()
        })
    };
    let pushes = [
        push(first.path().to_owned(), false),
        push(second.path().to_owned(), false),
    ];
    let outs: Vec<_> = pushes.into_iter().map(|p| p.join().unwrap()).collect();
    let texts: Vec<String> = outs.iter().map(stderr).collect();
    // One deployed; the other waited for it, then found the branch moved and was
    // refused before building (git would have refused its ref update after a release).
    let won: Vec<usize> = (0..2).filter(|i| outs[*i].status.success()).collect();
    assert_eq!(
        won.len(),
        1,
        "{}\n---\n{}\n{}",
        texts[0],
        texts[1],
        paasd.log()
    );
    let lost = 1 - won[0];
    assert!(
        texts[lost].contains("Waiting for the build already running for twice"),
        "{}",
        texts[lost]
    );
    assert!(
        texts[lost].contains("main moved while this push waited"),
        "{}",
        texts[lost]
    );
    let builds = builds(&paasd, "twice").await;
    assert_eq!(builds.len(), 1, "{builds:?}");
    let versions: Vec<i64> = releases(&paasd, "twice")
        .await
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);

    // Forced, the refused one deploys over the other.
    let repos = [first.path().to_owned(), second.path().to_owned()];
    let out = push(repos[lost].clone(), true).join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let bare = paasd.data.path().join("repos/twice.git");
    assert_eq!(
        support::git(&bare, &["rev-parse", "refs/heads/main"]),
        support::git(&repos[lost], &["rev-parse", "HEAD"])
    );
    assert_eq!(releases(&paasd, "twice").await.len(), 3);
}
