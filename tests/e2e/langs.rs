//! The languages beyond the stack's: Go, Ruby, Java and PHP apps (dependencies vendored,
//! as no registry of theirs is reachable here) built on runtime images made from Debian's
//! packages, served through the router; pinned versions honoured or refused.

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::support::{self, Paasd, commit_all, fixture_repo, stderr};

struct Lang {
    app: &'static str,
    fixture: &'static str,
    /// The file the code-only second push edits, and the greeting in it.
    source: &'static str,
    greeting: &'static str,
    /// In the first push's output.
    first: &'static [&'static str],
    /// In the second push's output (the cache is used) ...
    second: &'static str,
    /// ... and not (nothing is installed again).
    not_second: &'static [&'static str],
    /// In the app's answer: the runtime it runs on.
    serves: &'static str,
}

const LANGS: &[Lang] = &[
    Lang {
        app: "golang",
        fixture: "go-httprouter",
        source: "main.go",
        greeting: "hello from go",
        first: &[
            "Go app detected",
            "Using Go 1.25.",
            "(from go.mod)",
            "-mod=vendor",
            "example.com/hello",
        ],
        second: "Reusing the Go build cache",
        not_second: &["go: downloading", "Making the"],
        serves: "go1.25.",
    },
    Lang {
        app: "ruby",
        fixture: "ruby-assets",
        source: "app.rb",
        greeting: "hello from ruby",
        first: &[
            "Ruby app detected",
            "Using Ruby 3.3.",
            "(from Gemfile.lock)",
            "Installing rake 13.2.1",
            "Gems in the groups 'development' and 'test' were not installed",
            "rake assets:precompile",
            "Compiled app/assets/app.css",
        ],
        second: "Reusing cached gems",
        not_second: &["Installing rake", "Making the"],
        serves: "rack_env=production bundle_without=development:test",
    },
    Lang {
        app: "java",
        fixture: "java-maven",
        source: "src/main/java/hello/Main.java",
        greeting: "hello from java",
        first: &[
            "Java app detected",
            "Using Java 21.",
            "(from system.properties)",
            "Using Maven 3.",
            "BUILD SUCCESS",
            "Runnable: target/hello-1.0.jar",
        ],
        second: "Reusing the cached Maven repository",
        not_second: &["Downloading from", "Making the"],
        serves: "hello again from java 21.",
    },
    Lang {
        app: "php",
        fixture: "php-nginx",
        source: "src/Greeting.php",
        greeting: "hello from php",
        first: &[
            "PHP app detected",
            "Using PHP 8.4.",
            "(from composer.json require.php)",
            "composer install",
            "heroku-php-nginx, heroku-php-apache2 installed",
        ],
        second: "Reusing cached dependencies",
        not_second: &["Installing dependencies", "Making the"],
        serves: "(fpm-fcgi)",
    },
];

#[track_caller]
fn pushed(out: &std::process::Output) -> String {
    let text = stderr(out);
    assert!(out.status.success(), "push failed:\n{text}");
    text
}

/// GET / through the router until the new release answers (the old one may still be
/// serving for a moment after the push returns).
async fn serves(paasd: &Paasd, app: &str, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = paasd.get_via_router(app).await;
        if status == 200 && body.contains(wanted) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{app} does not serve {wanted:?} through the router: {status} {body}\n{}",
            paasd.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn go_ruby_java_and_php_apps_build_on_their_runtime_images_and_serve() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    for lang in LANGS {
        paasd.create_app(lang.app).await;
        let repo = fixture_repo(lang.fixture);
        let first = pushed(&paasd.push(repo.path(), lang.app, "main"));
        for wanted in lang.first {
            assert!(
                first.contains(wanted),
                "{}: no {wanted:?} in\n{first}",
                lang.app
            );
        }
        assert!(first.contains("Released v2"), "{first}");
        serves(&paasd, lang.app, lang.greeting).await;

        // The app's image is its runtime image plus the app.
        let store = paasd.store().await;
        let id = store.app(lang.app).await.unwrap().app_id;
        let image = store.builds(id).await.unwrap()[0].image.clone().unwrap();
        let labels = support::in_image(&image, "cat /etc/os-release | head -n 1");
        assert!(labels.contains("Debian"), "{labels}");

        // A code-only change: the runtime image and the dependencies are reused.
        let path = repo.path().join(lang.source);
        let again = lang.greeting.replace("hello from", "hello again from");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace(lang.greeting, &again);
        std::fs::write(&path, text).unwrap();
        commit_all(repo.path(), "one line");
        let second = pushed(&paasd.push(repo.path(), lang.app, "main"));
        assert!(second.contains("Released v3"), "{second}");
        assert!(
            second.contains(lang.second),
            "{}: the cache is not reused:\n{second}",
            lang.app
        );
        for unwanted in lang.not_second {
            assert!(
                !second.contains(unwanted),
                "{}: {unwanted:?} on a code-only push:\n{second}",
                lang.app
            );
        }
        let body = serves(&paasd, lang.app, &again).await;
        assert!(body.contains(lang.serves), "{}: {body}", lang.app);
        // One app's network and dynos at a time.
        destroy(&paasd, lang.app).await;
    }
}

/// `DELETE /apps/{app}`. Right after a rollout the supervisor may still be writing the
/// app's dyno rows and the delete can fail (a 500, seen here): it is tried again.
async fn destroy(paasd: &Paasd, app: &str) {
    for _ in 0..20 {
        let response = reqwest::Client::new()
            .delete(format!("{}/apps/{app}", paasd.url()))
            .bearer_auth(&paasd.token)
            .send()
            .await
            .unwrap();
        if response.status().is_success() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{app} could not be destroyed:\n{}", paasd.log());
}

/// Replaces the repository's files (all but .git) by `files`.
fn replace_files(dir: &std::path::Path, files: &[(&str, &str)]) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_name() != ".git" {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(path).unwrap();
            } else {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    for (name, body) in files {
        std::fs::write(dir.join(name), body).unwrap();
    }
}

#[tokio::test]
async fn pinned_versions_are_honoured_or_refused_with_what_is_offered() {
    support::require_stack_image();
    let paasd = Paasd::start().await;

    // Refusals happen before any build container runs: one app, several pushes.
    paasd.create_app("pinned").await;
    let repo = fixture_repo("procfile-shell");
    for (files, message) in [
        (
            &[("requirements.txt", ""), (".python-version", "3.9\n")][..],
            "Python 3.9 isn't available (requested in .python-version); this platform offers Python 3.13 and 3.14",
        ),
        (
            &[(
                "package.json",
                r#"{"name": "x", "engines": {"node": "22.x"}}"#,
            )][..],
            "Node.js 22.x isn't available (requested in package.json engines.node); this platform offers Node.js 20 and 24",
        ),
        (
            &[
                ("go.mod", "module x\n\ngo 1.21\n"),
                ("main.go", "package main\n"),
            ][..],
            "Go 1.21 isn't available (requested in go.mod); this platform offers Go 1.24, 1.25, 1.26 and 1.27",
        ),
    ] {
        replace_files(repo.path(), files);
        commit_all(repo.path(), "pinned");
        let out = paasd.push(repo.path(), "pinned", "main");
        let text = stderr(&out);
        assert!(!out.status.success(), "{text}");
        assert!(text.contains(message), "no {message:?} in\n{text}");
    }
    let builds = paasd.api(Method::GET, "/apps/pinned/builds", None).await;
    assert!(
        builds
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["status"] == "failed"),
        "{builds}"
    );

    // Honoured: Node.js 20 (the stack's) from engines.node; Python 3.14 (its runtime
    // image, from Debian forky) from .python-version.
    replace_files(
        repo.path(),
        &[(
            "package.json",
            r#"{"name": "x", "engines": {"node": "20.x"}, "scripts": {"start": "node -e 'require(`http`).createServer((q, s) => s.end(`node ` + process.version)).listen(process.env.PORT)'"}}"#,
        )],
    );
    commit_all(repo.path(), "node 20");
    let node = pushed(&paasd.push(repo.path(), "pinned", "main"));
    assert!(
        node.contains("Using Node.js 20.") && node.contains("(from package.json engines.node)"),
        "{node}"
    );
    serves(&paasd, "pinned", "node v20.").await;

    let python = fixture_repo("python-gunicorn");
    std::fs::write(python.path().join(".python-version"), "3.14\n").unwrap();
    commit_all(python.path(), "python 3.14");
    // Another history: a forced push.
    let text = pushed(&paasd.push(python.path(), "pinned", "+main"));
    assert!(
        text.contains("Using Python 3.14.") && text.contains("(from .python-version)"),
        "{text}"
    );
    let store = paasd.store().await;
    let id = store.app("pinned").await.unwrap().app_id;
    let image = store
        .builds(id)
        .await
        .unwrap()
        .last()
        .unwrap()
        .image
        .clone()
        .unwrap();
    let version = support::in_image(&image, "/app/.venv/bin/python --version");
    assert!(version.starts_with("Python 3.14."), "{version}");
    serves(&paasd, "pinned", "hello from python").await;
}
