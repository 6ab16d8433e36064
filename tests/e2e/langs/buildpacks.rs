//! Several buildpacks per app, Heroku's way: the list edited by `paas buildpacks:*` and
//! the official heroku CLI alike, each buildpack run in order with the earlier ones'
//! `export` in its environment, the last one's `bin/release` defaults.

use reqwest::Method;

use super::{destroy, pushed, replace_files, serves};
use crate::heroku::Heroku;
use crate::support::{self, Paasd, commit_all, fixture_repo, free_port, stderr};

/// Python first (a venv), then Node.js, whose build script runs `python` and so finds the
/// venv only through Python's `export`; the web process is Node.js's default (`npm
/// start`: the last buildpack's release), and it runs the venv's Python in the dyno.
const PACKAGE_JSON: &str = r#"{
  "name": "duo",
  "scripts": {
    "build": "python -c \"import sys; open('prefix.txt', 'w').write(sys.prefix)\"",
    "start": "node server.js"
  }
}
"#;
const SERVER_JS: &str = r#"const fs = require("fs");
const { execSync } = require("child_process");
require("http").createServer((req, res) => {
  const python = execSync("python --version").toString().trim();
  res.end(`node ${process.version}; built with python at ${fs.readFileSync("prefix.txt")}; runs ${python}\n`);
}).listen(process.env.PORT);
"#;

#[tokio::test]
async fn an_app_with_two_buildpacks_builds_with_both_in_order() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    let heroku = Heroku::new(&paasd, free_port());
    let app = "duo";
    paasd.create_app(app).await;
    let repo = fixture_repo("procfile-shell");
    let dir = repo.path();
    replace_files(
        dir,
        &[
            ("requirements.txt", ""),
            ("package.json", PACKAGE_JSON),
            ("server.js", SERVER_JS),
        ],
    );
    commit_all(dir, "python and node");

    // The heroku CLI resolves `heroku/nodejs` in paasd's registry; paas puts Python first.
    let (out, _) = heroku.ok(dir, &["buildpacks:add", "heroku/nodejs", "-a", app]);
    assert!(
        out.contains("Buildpack added. Next release on duo will use heroku/nodejs."),
        "{out}"
    );
    let out = support::ok(paasd.paas(
        dir,
        &["buildpacks:add", "--index", "1", "python", "-a", app],
    ));
    assert!(out.contains("1. heroku/python\n2. heroku/nodejs"), "{out}");
    let (out, _) = heroku.ok(dir, &["buildpacks", "-a", app]);
    assert!(out.contains("1. heroku/python\n2. heroku/nodejs"), "{out}");
    let again = heroku.run(dir, &["buildpacks:add", "heroku/python", "-a", app]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("The buildpack heroku/python is already set on your app."),
        "{}",
        stderr(&again)
    );

    let text = pushed(&paasd.push(dir, app, "main"));
    let python = text
        .find("Python app detected")
        .unwrap_or_else(|| panic!("{text}"));
    let node = text
        .find("Node.js app detected")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(python < node, "Python must run first:\n{text}");
    assert!(text.contains("Running build (npm run build)"), "{text}");
    assert!(text.contains("Discovering process types: web"), "{text}");
    let formation = paasd
        .api(Method::GET, &format!("/apps/{app}/formation"), None)
        .await;
    assert_eq!(formation[0]["command"], "npm start", "{formation}");
    let builds = paasd
        .api(Method::GET, &format!("/apps/{app}/builds"), None)
        .await;
    let used: Vec<&str> = builds[0]["buildpacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        used,
        ["urn:buildpack:heroku/python", "urn:buildpack:heroku/nodejs"]
    );
    let body = serves(&paasd, app, "built with python at /app/.venv;").await;
    assert!(
        body.contains("node v20.") && body.contains("runs Python 3.13."),
        "{body}"
    );

    // A bundled buildpack the source does not suit fails the push before any build runs.
    support::ok(paasd.paas(
        dir,
        &["buildpacks:set", "--index", "2", "heroku/go", "-a", app],
    ));
    std::fs::write(
        dir.join("server.js"),
        SERVER_JS.replace("runs", "still runs"),
    )
    .unwrap();
    commit_all(dir, "go?");
    let out = paasd.push(dir, app, "main");
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("App not compatible with buildpack: heroku/go (it looks for go.mod)"),
        "{}",
        stderr(&out)
    );

    // heroku buildpacks:remove and :clear.
    let (out, _) = heroku.ok(dir, &["buildpacks:remove", "heroku/go", "-a", app]);
    assert!(
        out.contains("Next release on duo will use heroku/python."),
        "{out}"
    );
    let (out, _) = heroku.ok(dir, &["buildpacks:clear", "-a", app]);
    assert!(out.contains("will detect buildpacks normally"), "{out}");
    let out = support::ok(paasd.paas(dir, &["buildpacks", "-a", app]));
    assert!(out.contains("duo has no buildpacks set"), "{out}");
    destroy(&paasd, app).await;
}
