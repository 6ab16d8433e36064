//! The official `heroku` CLI (from npm, pinned in `scripts/heroku-cli.sh`) against a real
//! paasd: every command the issue lists, with real git pushes over the TLS port, real
//! one-off dynos through Heroku's rendezvous protocol and `logs`/`logs --tail` through the
//! CLI's EventSource. (CLI 10.17 has no `builds` command: that lives in a plugin.)
//!
//! The CLI's calls to other hosts are switched off by its own settings: telemetry
//! (`DISABLE_TELEMETRY`), analytics (`HEROKU_SKIP_ANALYTICS`), auto-update
//! (`HEROKU_DISABLE_AUTOUPDATE`), the update check (its cache file says the installed
//! version is the latest), and the delinquency check of `GET /account`, which goes to
//! `HEROKU_PARTICLEBOARD_URL` (paasd itself), and the buildpack registry of `buildpacks:*`
//! (`HEROKU_BUILDPACK_REGISTRY_URL`, paasd too).

mod addons;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{
    Paasd, commit_all, fixture_repo, free_port, git, stderr, stdout, workspace_root,
};

/// The CLI's executable, installed once into the shared cache by the script.
fn heroku_bin() -> PathBuf {
    let out = Command::new(workspace_root().join("scripts/heroku-cli.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/heroku-cli.sh");
    assert!(out.status.success(), "installing the heroku CLI failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A user of the heroku CLI: its own HOME, pointed at one paasd.
pub(crate) struct Heroku {
    bin: PathBuf,
    /// Kept for the CLI's config and caches; removed on drop.
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Heroku {
    pub(crate) fn new(paasd: &Paasd, tls_port: u16) -> Self {
        let bin = heroku_bin();
        let home = tempfile::Builder::new()
            .prefix("paas-heroku-home-")
            .tempdir()
            .unwrap();
        let cache = home.path().join(".cache/heroku");
        std::fs::create_dir_all(&cache).unwrap();
        // The update check reads this cache first and asks the npm registry only when
        // it is missing or stale.
        let package = bin.parent().unwrap().join("../heroku/package.json");
        let package: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(package).unwrap()).unwrap();
        let version = package["version"].as_str().unwrap();
        std::fs::write(
            cache.join("version"),
            serde_json::json!({"latest": version, "current": version}).to_string(),
        )
        .unwrap();
        let cert = paasd.data.path().join("tls/cert.pem");
        let h = |s: &Path| s.display().to_string();
        let env = vec![
            ("HOME", h(home.path())),
            ("XDG_CACHE_HOME", h(&home.path().join(".cache"))),
            ("XDG_DATA_HOME", h(&home.path().join(".local/share"))),
            ("XDG_CONFIG_HOME", h(&home.path().join(".config"))),
            ("HEROKU_HOST", paasd.url()),
            ("HEROKU_API_KEY", paasd.token.clone()),
            ("HEROKU_GIT_HOST", format!("127.0.0.1:{tls_port}")),
            ("HEROKU_PARTICLEBOARD_URL", paasd.url()),
            // `buildpacks:add heroku/nodejs` looks the name up in paasd's registry.
            ("HEROKU_BUILDPACK_REGISTRY_URL", paasd.url()),
            ("DISABLE_TELEMETRY", "true".into()),
            ("HEROKU_SKIP_ANALYTICS", "1".into()),
            ("HEROKU_DISABLE_AUTOUPDATE", "1".into()),
            ("NO_COLOR", "1".into()),
            // paasd's self-signed certificate, for `heroku run` (node) and git (https).
            ("NODE_EXTRA_CA_CERTS", h(&cert)),
            ("GIT_SSL_CAINFO", h(&cert)),
            ("GIT_TERMINAL_PROMPT", "0".into()),
        ];
        Self {
            bin,
            home,
            env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }

    fn command(&self, program: &Path, cwd: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(cwd)
            .env_remove("HEROKU_APP")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        command
    }

    pub(crate) fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        self.command(&self.bin, cwd)
            .args(args)
            .output()
            .expect("run heroku")
    }

    /// `heroku ARGS` with `input` on its stdin.
    fn run_with_input(&self, cwd: &Path, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(&self.bin, cwd)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run heroku");
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(input.as_bytes())
            .expect("write heroku's stdin");
        drop(stdin);
        child.wait_with_output().expect("wait for heroku")
    }

    /// `heroku login -i` on a terminal (`script` gives it one), answering its prompts as
    /// they appear: its password prompt reads a chunk at a time, so Enter goes alone.
    fn login_interactive(&self, cwd: &Path, email: &str, password: &str) -> (bool, String) {
        use std::io::Read as _;
        let command = format!("{} login -i", self.bin.display());
        let mut child = self
            .command(Path::new("script"), cwd)
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .env_remove("HEROKU_API_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run script");
        let mut stdin = child.stdin.take().unwrap();
        let mut out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let mut seen = String::new();
        let wait_for = |marker: &str, seen: &mut String| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while !seen.to_lowercase().contains(marker) {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match rx.recv_timeout(left) {
                    Ok(bytes) => seen.push_str(&String::from_utf8_lossy(&bytes)),
                    Err(_) => return false,
                }
            }
            true
        };
        let pause = || std::thread::sleep(std::time::Duration::from_millis(500));
        let mut ok = wait_for("email", &mut seen);
        if ok {
            stdin.write_all(format!("{email}\r").as_bytes()).unwrap();
            ok = wait_for("password", &mut seen);
        }
        if ok {
            pause();
            stdin.write_all(password.as_bytes()).unwrap();
            pause();
            stdin.write_all(b"\r").unwrap();
            ok = wait_for("logged in", &mut seen);
        }
        drop(stdin);
        let status = child.wait().unwrap();
        (ok && status.success(), seen)
    }

    /// `heroku ARGS`, which must succeed; returns stdout and stderr.
    #[track_caller]
    pub(crate) fn ok(&self, cwd: &Path, args: &[&str]) -> (String, String) {
        let out = self.run(cwd, args);
        assert!(
            out.status.success(),
            "heroku {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            stdout(&out),
            stderr(&out)
        );
        (stdout(&out), stderr(&out))
    }

    /// `git push REMOTE main` with the CLI as git's credential helper, as Heroku users do.
    fn push(&self, dir: &Path, remote: &str) -> Output {
        let helper = format!("!{} git:credentials", self.bin.display());
        self.command(Path::new("git"), dir)
            .args(["-c", "credential.helper=", "-c"])
            .arg(format!("credential.helper={helper}"))
            .args(["push", remote, "main"])
            .output()
            .expect("git push")
    }
}

impl Heroku {
    /// `heroku logs -n 500` until every needle shows (lines reach the stream within
    /// seconds, not at once); returns the last output.
    #[track_caller]
    fn logs_until(&self, cwd: &Path, app: &str, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (out, _) = self.ok(cwd, &["logs", "-n", "500", "-a", app]);
            if needles.iter().all(|n| out.contains(n)) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "heroku logs never showed all of {needles:?}:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// A running `heroku logs --tail -n 0`, its lines read on a thread.
    fn tail(&self, cwd: &Path, app: &str) -> Tail {
        let mut child = self
            .command(&self.bin, cwd)
            .args(["logs", "--tail", "-n", "0", "-a", app])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("heroku logs --tail");
        let out = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Tail { child, lines }
    }
}

/// `heroku logs --tail`, killed on drop.
struct Tail {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Tail {
    /// Waits up to 30 s until each needle has shown in some line, in any order.
    #[track_caller]
    fn expect(&mut self, needles: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut missing: Vec<&str> = needles.to_vec();
        let mut seen = Vec::new();
        while !missing.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                panic!(
                    "heroku logs --tail never showed {missing:?}; it showed:\n{}",
                    seen.join("\n")
                );
            };
            missing.retain(|n| !line.contains(n));
            seen.push(line);
        }
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[track_caller]
fn assert_contains(haystack: &str, needle: &str) {
    assert!(haystack.contains(needle), "{needle:?} not in:\n{haystack}");
}

/// The whole session the issue asks for, in the order a user would go.
#[tokio::test]
async fn the_heroku_cli_drives_paasd_end_to_end() {
    crate::support::require_stack_image();
    let tls_port = free_port();
    let paasd = Paasd::start_with(&[("PAAS_TLS_ADDR", &format!("127.0.0.1:{tls_port}"))]).await;
    let heroku = Heroku::new(&paasd, tls_port);
    let repo = fixture_repo("procfile-shell");
    let dir = repo.path();
    let app = "hk-e2e";

    let (out, _) = heroku.ok(dir, &["apps"]);
    assert_contains(&out, "You have no apps.");

    // apps:create adds the `heroku` remote: https on paasd's TLS port.
    let (out, _) = heroku.ok(dir, &["apps:create", app]);
    let remote = format!("https://127.0.0.1:{tls_port}/{app}.git");
    assert_contains(&out, &remote);
    assert_eq!(git(dir, &["remote", "get-url", "heroku"]), remote);

    let pushed = heroku.push(dir, "heroku");
    assert!(pushed.status.success(), "push: {}", stderr(&pushed));
    assert_contains(&stderr(&pushed), "Released v2");
    paasd
        .wait_dynos(app, 120, |d| {
            d.iter().any(|d| d["name"] == "web.1" && d["state"] == "up")
        })
        .await;

    // `heroku logs`: the deploy's platform events and the dyno's state, Heroku's shape.
    let out = heroku.logs_until(
        dir,
        app,
        &[
            "app[api]: Build succeeded",
            "app[api]: Deploy ",
            "heroku[web.1]: State changed from starting to up",
        ],
    );
    assert!(
        out.lines().all(|l| l.contains("+00:00 ")),
        "not `<time> <source>[<dyno>]: <message>` lines:\n{out}"
    );

    let (out, _) = heroku.ok(dir, &["apps"]);
    assert_contains(&out, app);
    let (out, _) = heroku.ok(dir, &["apps:info", "-a", app]);
    assert_contains(&out, &format!("=== {app}"));
    // HTTPS on the router's TLS port, as Heroku's web_url.
    assert_contains(&out, &format!("Web URL:        https://{app}.localhost:"));
    assert_contains(&out, "Dynos:          web: 1");

    // `heroku logs --tail`, started before a request and a config change it must show live.
    let mut tail = heroku.tail(dir, app);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, _) = paasd.get_via_router(app).await;
    assert_eq!(status, 200);

    // Config: each change is a release, reported with its version.
    let (out, err) = heroku.ok(dir, &["config:set", "A=1", "B=2", "-a", app]);
    assert_contains(&out, "A: 1");
    assert_contains(&out, "B: 2");
    assert_contains(&err, "done, v3");
    tail.expect(&[
        "heroku[router]: at=info method=GET path=\"/\"",
        "app[api]: Set A, B config vars by user",
        "app[api]: Release v3 created by user",
    ]);
    drop(tail);
    let (out, _) = heroku.ok(dir, &["config:get", "A", "-a", app]);
    assert_eq!(out, "1\n");
    let (_, err) = heroku.ok(dir, &["config:unset", "A", "-a", app]);
    assert_contains(&err, "done, v4");
    let (out, _) = heroku.ok(dir, &["config", "-a", app]);
    assert_contains(&out, "B: 2");
    assert!(!out.contains("A: 1"), "{out}");

    let (out, _) = heroku.ok(dir, &["releases", "-a", app]);
    assert_contains(&out, "Current: v4");
    for line in [
        "v4 Remove A config vars",
        "v3 Set A, B config vars",
        "v2 Deploy",
    ] {
        assert_contains(&out, line);
    }
    let (out, _) = heroku.ok(dir, &["releases:info", "v3", "-a", app]);
    assert_contains(&out, "=== Release v3");
    assert_contains(&out, "Set A, B config vars");
    assert_contains(&out, "Eligible for Rollback?: Yes");
    assert_contains(&out, "A: 1");

    // Rollback to a named release, then the bare form (the previous eligible one).
    let (_, err) = heroku.ok(dir, &["rollback", "v2", "-a", app]);
    assert_contains(&err, "Rolling back hk-e2e to v2... done, v5");
    let (out, _) = heroku.ok(dir, &["config", "-a", app]);
    assert!(!out.contains("B: 2"), "{out}");
    let (_, err) = heroku.ok(dir, &["rollback", "-a", app]);
    assert_contains(&err, "to v4... done, v6");
    let (out, _) = heroku.ok(dir, &["config:get", "B", "-a", app]);
    assert_eq!(out, "2\n");

    // The formation.
    let (out, _) = heroku.ok(dir, &["ps", "-a", app]);
    assert_contains(&out, "=== web (basic): ./server.sh (1)");
    let (_, err) = heroku.ok(dir, &["ps:scale", "web=2", "worker=1", "-a", app]);
    assert_contains(&err, "now running web at 2:basic, worker at 1:basic");
    paasd
        .wait_dynos(app, 120, |d| {
            let up = |n: &str| d.iter().any(|d| d["name"] == n && d["state"] == "up");
            up("web.1") && up("web.2") && up("worker.1")
        })
        .await;
    let (out, _) = heroku.ok(dir, &["ps", "-a", app]);
    for line in ["web.1: up", "web.2: up", "worker.1: up"] {
        assert_contains(&out, line);
    }
    let (_, err) = heroku.ok(dir, &["ps:restart", "-a", app]);
    assert_contains(&err, "Restarting all dynos on hk-e2e... done");
    // Relative scaling, resolved by paasd.
    let (_, err) = heroku.ok(dir, &["ps:scale", "web-1", "worker+1", "-a", app]);
    assert_contains(&err, "now running web at 1:basic, worker at 2:basic");

    // One-off dynos through rendezvous: output, and the exit status with -x.
    let (out, err) = heroku.ok(dir, &["run", "echo", "hi", "-a", app]);
    assert_eq!(out, "hi\n", "stderr: {err}");
    assert_contains(&err, "up, run.");
    let out = heroku.run(
        dir,
        &["run", "-x", "-a", app, "--", "sh", "-c", "echo out; exit 3"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert_contains(&stderr(&out), "Process exited with code 3");
    // Input reaches the dyno through a terminal, as `heroku run bash` needs: the shell
    // computes what it is sent, and the end of the CLI's input (it sends ^D) ends it.
    let out = heroku.run_with_input(
        dir,
        &["run", "-a", app, "--", "sh"],
        "echo computed-$((6*7))\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_contains(&stdout(&out), "computed-42");
    // On a terminal (`script` gives the CLI one) the CLI puts it in raw mode and sends
    // its size as numbers in `env`; the dyno gets a terminal of that width.
    let on_terminal = format!(
        "stty cols 100 rows 30; {} run -a {app} -- 'tty; echo cols=$COLUMNS'",
        heroku.bin.display()
    );
    let out = heroku
        .command(Path::new("script"), dir)
        .args(["-qec", &on_terminal, "/dev/null"])
        .output()
        .expect("script");
    let text = stdout(&out).replace('\r', "");
    assert!(out.status.success(), "{text}");
    assert_contains(&text, "/dev/pts/");
    assert_contains(&text, "cols=100");
    // A one-off whose `heroku run` goes away is stopped, as on Heroku.
    let mut session = heroku
        .command(&heroku.bin, dir)
        .args(["run", "-a", app, "--", "sleep", "299"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("heroku run");
    let is_session = |d: &serde_json::Value| d["command"] == "sleep 299";
    paasd
        .wait_dynos(app, 60, |d| {
            d.iter().any(|d| is_session(d) && d["state"] == "up")
        })
        .await;
    session.kill().expect("kill heroku run");
    session.wait().expect("reap heroku run");
    paasd
        .wait_dynos(app, 30, |d| !d.iter().any(is_session))
        .await;
    let (out, err) = heroku.ok(dir, &["run:detached", "sleep", "300", "-a", app]);
    assert_contains(&out, &format!("Run heroku logs --app {app} --dyno run."));
    let one_off = err
        .split("done, ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no dyno name in {err}"))
        .to_owned();
    let (out, _) = heroku.ok(dir, &["ps", "-a", app]);
    assert_contains(&out, &format!("{one_off} (basic): up"));
    assert_contains(&out, "sleep 300");
    let (_, err) = heroku.ok(dir, &["ps:stop", "--dyno-name", &one_off, "-a", app]);
    assert_contains(&err, &format!("Stopping dyno {one_off} on hk-e2e... done"));
    let (out, _) = heroku.ok(dir, &["ps", "-a", app]);
    assert!(!out.contains(&one_off), "{out}");
    // Every one-off at once.
    heroku.ok(dir, &["run:detached", "sleep", "300", "-a", app]);
    heroku.ok(dir, &["run:detached", "sleep", "301", "-a", app]);
    let (_, err) = heroku.ok(dir, &["ps:stop", "--process-type", "run", "-a", app]);
    assert_contains(&err, "Stopping all run dynos on hk-e2e... done");
    let (out, _) = heroku.ok(dir, &["ps", "-a", app]);
    assert!(!out.contains("sleep 30"), "{out}");

    // Domains.
    let (_, err) = heroku.ok(dir, &["domains:add", "www.example.test", "-a", app]);
    assert_contains(&err, "Adding www.example.test to hk-e2e... done");
    let (out, _) = heroku.ok(dir, &["domains", "-a", app]);
    assert_contains(&out, "hk-e2e.localhost");
    assert_contains(&out, "www.example.test");
    let (out, _) = heroku.ok(dir, &["domains:info", "www.example.test", "-a", app]);
    assert_contains(&out, "www.example.test");
    assert_contains(&out, "hk-e2e.localhost");

    // Maintenance mode: visitors get the maintenance page, the dynos keep running.
    let (out, _) = heroku.ok(dir, &["maintenance", "-a", app]);
    assert_eq!(out, "off\n");
    let (_, err) = heroku.ok(dir, &["maintenance:on", "-a", app]);
    assert_contains(&err, "Enabling maintenance mode for hk-e2e... done");
    let (out, _) = heroku.ok(dir, &["maintenance", "-a", app]);
    assert_eq!(out, "on\n");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = paasd.get_via_router(app).await;
        if status == 503 {
            assert_contains(&body, "Offline for maintenance");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still served in maintenance mode: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    heroku.ok(dir, &["maintenance:off", "-a", app]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while paasd.get_via_router(app).await.0 != 200 {
        assert!(Instant::now() < deadline, "still in maintenance mode");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A rename is refused with the reason, and changes nothing.
    let out = heroku.run(dir, &["apps:rename", "hk-renamed", "-a", app]);
    assert!(!out.status.success());
    assert_contains(&stderr(&out), "paas cannot rename apps");
    heroku.ok(dir, &["apps:info", "-a", app]);

    // git:remote adds a remote `git push` accepts (a second push deploys).
    let (out, _) = heroku.ok(dir, &["git:remote", "-a", app, "-r", "second"]);
    assert_contains(&out, &format!("set git remote second to {remote}"));
    std::fs::write(dir.join("CHANGELOG"), "second push\n").unwrap();
    commit_all(dir, "second");
    let pushed = heroku.push(dir, "second");
    assert!(pushed.status.success(), "push: {}", stderr(&pushed));
    assert_contains(&stderr(&pushed), "Released v7");

    // What paasd does not implement answers Heroku's error body, which the CLI prints.
    let out = heroku.run(dir, &["features", "-a", app]);
    assert!(!out.status.success());
    assert_contains(&stderr(&out), "Error ID: not_found");

    let (_, err) = heroku.ok(dir, &["apps:destroy", app, "--confirm", app]);
    assert_contains(&err, "Destroying hk-e2e");
    let out = heroku.run(dir, &["apps:info", "-a", app]);
    assert!(!out.status.success());
    assert_contains(&stderr(&out), "Couldn't find that app.");
    let (out, _) = heroku.ok(dir, &["apps"]);
    assert_contains(&out, "You have no apps.");
}

/// `heroku authorizations`, `:create`, `:info`, `:revoke` and `auth:token` on paasd's
/// tokens.
#[tokio::test]
async fn the_heroku_cli_manages_authorizations() {
    let tls_port = free_port();
    let paasd = Paasd::start_with(&[("PAAS_TLS_ADDR", &format!("127.0.0.1:{tls_port}"))]).await;
    let heroku = Heroku::new(&paasd, tls_port);
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();

    let (out, _) = heroku.ok(
        cwd,
        &[
            "authorizations:create",
            "-d",
            "ci deploys",
            "-e",
            "3600",
            "--json",
        ],
    );
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["access_token"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("paas_"), "{out}");
    let (out, _) = heroku.ok(cwd, &["authorizations"]);
    assert_contains(&out, "ci deploys");
    assert_contains(&out, &id);
    assert_contains(&out, "global");
    let (out, _) = heroku.ok(cwd, &["authorizations:info", &id]);
    assert_contains(&out, "ci deploys");
    let (out, _) = heroku.ok(cwd, &["auth:token"]);
    assert_eq!(out.trim(), paasd.token);
    let (_, err) = heroku.ok(cwd, &["authorizations:revoke", &id]);
    assert_contains(&err, "revoked authorization from ci deploys");
    let refused = reqwest::Client::new()
        .get(format!("{}/account", paasd.url()))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // `heroku login -i` on a terminal: email, then the token as password. The CLI makes
    // itself a 30-day authorization with them and keeps it in ~/.netrc, which every
    // later command uses (no HEROKU_API_KEY).
    let (logged_in, screen) = heroku.login_interactive(cwd, "me@example.com", &paasd.token);
    assert!(logged_in, "heroku login -i:\n{screen}");
    // (On a terminal the email is coloured: the two parts are checked apart.)
    assert_contains(&screen, "Logged in as ");
    assert_contains(&screen, "Heroku-CLI-login-from-");
    let netrc = std::fs::read_to_string(heroku.home.path().join(".netrc")).unwrap();
    assert_contains(&netrc, &format!("machine 127.0.0.1:{}", paasd.port));
    let out = heroku
        .command(&heroku.bin, cwd)
        .env_remove("HEROKU_API_KEY")
        .args(["auth:whoami"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_contains(&stdout(&out), "Heroku-CLI-login-from-");
    let listed = stdout(&paasd.paasd(&["tokens", "list"]));
    let line = listed
        .lines()
        .find(|l| l.starts_with("Heroku CLI login from"))
        .unwrap_or_else(|| panic!("no login token in:\n{listed}"));
    assert!(!line.ends_with("never"), "a 30-day token: {line}");
}

/// A self-signed certificate and key for `host`, written to `dir` (cert.pem, key.pem).
fn write_certificate(dir: &Path, host: &str) -> String {
    let made = rcgen::generate_simple_self_signed(vec![host.to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
    made.cert.pem()
}

/// A client that trusts `root` only and reaches every name at loopback (the URL's port).
fn https_client(root: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .tls_certs_only([reqwest::Certificate::from_pem(root.as_bytes()).unwrap()])
        .resolve("hk-certs.localhost", ([127, 0, 0, 1], 0).into())
        .resolve("www.hk-certs.example", ([127, 0, 0, 1], 0).into())
        .build()
        .unwrap()
}

/// HTTPS in the router end to end: a pushed app answers at
/// `https://<app>.localhost:<router TLS port>/` with a certificate from paasd's local CA
/// (trusted the way the README says), and the heroku CLI's `certs:*` commands upload,
/// show and remove a certificate the router then serves for a custom domain by SNI.
#[tokio::test]
async fn a_pushed_app_answers_over_https_and_the_heroku_cli_manages_its_certificates() {
    crate::support::require_stack_image();
    let (tls_port, router_tls) = (free_port(), free_port());
    let paasd = Paasd::start_with(&[
        ("PAAS_TLS_ADDR", &format!("127.0.0.1:{tls_port}")),
        ("PAAS_ROUTER_TLS_ADDR", &format!("127.0.0.1:{router_tls}")),
    ])
    .await;
    let heroku = Heroku::new(&paasd, tls_port);
    let repo = fixture_repo("procfile-shell");
    let dir = repo.path();
    let app = "hk-certs";
    heroku.ok(dir, &["apps:create", app]);
    let pushed = heroku.push(dir, "heroku");
    assert!(pushed.status.success(), "push: {}", stderr(&pushed));
    paasd
        .wait_dynos(app, 120, |d| {
            d.iter().any(|d| d["name"] == "web.1" && d["state"] == "up")
        })
        .await;

    // The default hostname over HTTPS, trusting the local CA's root only.
    let local_root =
        std::fs::read_to_string(paasd.data.path().join("tls/ca/root.pem")).expect("the local CA");
    let page = https_client(&local_root)
        .get(format!("https://{app}.localhost:{router_tls}/"))
        .send()
        .await
        .expect("HTTPS through the router");
    assert_eq!(page.status(), 200);

    // An uploaded certificate for a custom domain (added after the upload: the CLI
    // would otherwise offer an interactive choice of domains).
    let files = tempfile::tempdir().unwrap();
    let host = "www.hk-certs.example";
    let uploaded = write_certificate(files.path(), host);
    let (cert, key) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    let (out, err) = heroku.ok(
        dir,
        &[
            "certs:add",
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
            "-a",
            app,
        ],
    );
    assert_contains(&err, "Adding SSL certificate to");
    assert_contains(&out, host);
    let (out, _) = heroku.ok(dir, &["certs", "-a", app]);
    assert_contains(&out, host);
    assert_contains(&out, "hk-certs-");
    let (out, _) = heroku.ok(dir, &["certs:info", "-a", app]);
    assert_contains(&out, "Certificate details:");
    assert_contains(&out, host);
    // A key that does not belong to the certificate is refused and stores nothing.
    let other = tempfile::tempdir().unwrap();
    write_certificate(other.path(), host);
    let refused = heroku.run(
        dir,
        &[
            "certs:add",
            cert.to_str().unwrap(),
            other.path().join("key.pem").to_str().unwrap(),
            "-a",
            app,
        ],
    );
    assert!(!refused.status.success());
    assert_contains(&stderr(&refused), "does not match");

    heroku.ok(dir, &["domains:add", host, "-a", app]);
    let mut served = None;
    for _ in 0..50 {
        match https_client(&uploaded)
            .get(format!("https://{host}:{router_tls}/"))
            .send()
            .await
        {
            Ok(r) => {
                served = Some(r.status().as_u16());
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(
        served,
        Some(200),
        "the uploaded certificate is served for {host}"
    );
    let paas = |args: &[&str]| {
        Command::new(crate::support::binary("paas"))
            .args(args)
            .env("PAAS_API_URL", paasd.url())
            .env("PAAS_API_TOKEN", &paasd.token)
            .output()
            .expect("paas")
    };
    let listed = paas(&["domains", "-a", app]);
    assert_contains(&stdout(&listed), host);
    assert_contains(&stdout(&listed), "uploaded (hk-certs-");
    assert_contains(&stdout(&paas(&["certs", "-a", app])), host);

    // Automatic certificate management: on by default, switched off and on again.
    let (out, _) = heroku.ok(dir, &["certs:auto", "-a", app]);
    assert_contains(&out, "Automatic Certificate Management is enabled");
    heroku.ok(dir, &["certs:auto:disable", "-a", app, "--confirm", app]);
    let (out, _) = heroku.ok(dir, &["certs:auto", "-a", app]);
    assert_contains(&out, "Automatic Certificate Management is disabled");
    let (_, err) = heroku.ok(dir, &["certs:auto:enable", "-a", app]);
    assert_contains(&err, "Enabling Automatic Certificate Management");
    heroku.ok(dir, &["certs:auto:refresh", "-a", app]);

    heroku.ok(dir, &["certs:remove", "-a", app, "--confirm", app]);
    let (out, _) = heroku.ok(dir, &["certs", "-a", app]);
    assert_contains(&out, "has no SSL certificates");
    let mut still_served = true;
    for _ in 0..50 {
        if https_client(&uploaded)
            .get(format!("https://{host}:{router_tls}/"))
            .send()
            .await
            .is_err()
        {
            still_served = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!still_served, "a removed certificate is no longer served");
}
