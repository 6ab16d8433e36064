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
mod authorizations;
mod certs;
mod data;
mod session;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{Paasd, stderr, stdout, workspace_root};

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
            // The data host (`pg:info`, `pg:backups`): HEROKU_HOST's scheme and port with
            // this host name, so paasd's own port (`/client/v11/…`).
            ("HEROKU_DATA_HOST", "127.0.0.1".into()),
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
