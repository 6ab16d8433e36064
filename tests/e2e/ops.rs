//! Operating paasd like a product: started from anywhere, `paas login`, tokens.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, Paasd, fixture_repo, stderr};

/// paasd started from `/` (every e2e paasd is) with no `PAAS_BUILDPACKS_DIR` builds a
/// buildpack app from the buildpacks built into the binary, unpacked under its data dir.
#[tokio::test]
async fn paasd_started_from_the_root_builds_with_its_built_in_buildpacks() {
    support::require_stack_image();
    // An empty value is unset: the built-in buildpacks.
    let paasd = Paasd::start_with(&[("PAAS_BUILDPACKS_DIR", "")]).await;
    let unpacked = paasd.data.path().join("buildpacks");
    let log = paasd.log();
    assert!(
        log.contains(r#""buildpacks":"built in""#) && log.contains(&unpacked.display().to_string()),
        "the resolved paths are logged absolute:\n{log}"
    );
    paasd.create_app("rooted").await;
    let repo = fixture_repo("procfile-shell");
    let out = paasd.push(repo.path(), "rooted", "main");
    assert!(out.status.success(), "push failed:\n{}", stderr(&out));
    assert!(
        stderr(&out).contains("Procfile"),
        "detected by the built-in procfile buildpack:\n{}",
        stderr(&out)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = paasd.get_via_router("rooted").await;
        if status == 200 {
            assert!(body.contains("hello from shell"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "not served: {status} {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn paas_at(home: &Path, cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(support::binary("paas"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("PAAS_API_URL")
        .env_remove("PAAS_API_TOKEN")
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// `paas login` with the token on stdin is the only step before `paas` commands and
/// `git push` work: nothing else is set (no PAAS_API_URL, no PAAS_API_TOKEN, no
/// credentials in the remote).
#[tokio::test]
async fn paas_login_from_stdin_is_all_that_git_push_needs() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    let home = tempfile::tempdir().unwrap();
    let repo = fixture_repo("procfile-shell");

    // A wrong token is refused and nothing is written.
    let login = |token: &str| {
        paas_at(
            home.path(),
            repo.path(),
            &["login", "--api-url", &paasd.url()],
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{token}\n").as_bytes())?;
            child.wait_with_output()
        })
        .unwrap()
    };
    let out = login("paas_wrong");
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(!home.path().join(".netrc").exists());

    let out = login(&paasd.token);
    assert!(out.status.success(), "login: {}", stderr(&out));
    assert!(
        stderr(&out).contains("Logged in as e2e@localhost"),
        "{}",
        stderr(&out)
    );
    let netrc = home.path().join(".netrc");
    let mode = std::fs::metadata(&netrc).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&netrc).unwrap();
    assert!(
        text.contains("machine 127.0.0.1\n")
            && text.contains(&format!("machine 127.0.0.1:{}\n", paasd.port)),
        "{text}"
    );

    let run = |args: &[&str]| paas_at(home.path(), repo.path(), args).output().unwrap();
    assert_eq!(support::ok(run(&["auth:whoami"])).trim(), "e2e@localhost");
    assert_eq!(support::ok(run(&["auth:token"])).trim(), paasd.token);
    support::ok(run(&["apps:create", "logged-in"]));
    let push = Command::new("git")
        .args(["-c", "credential.helper=", "push", "paas", "main"])
        .current_dir(repo.path())
        .env("HOME", home.path())
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(push.status.success(), "git push: {}", stderr(&push));

    let out = run(&["logout"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&netrc).unwrap();
    assert!(!text.contains("machine"), "{text}");
    let out = run(&["auth:whoami"]);
    assert!(!out.status.success());
}

fn ls_remote(paasd: &Paasd, app: &str, token: &str) -> std::process::Output {
    let url = format!("http://git:{token}@127.0.0.1:{}/{app}.git", paasd.port);
    Command::new("git")
        .args(["-c", "credential.helper=", "ls-remote", &url])
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

async fn status_with(paasd: &Paasd, token: &str, path: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}{path}", paasd.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn token_from(out: std::process::Output) -> String {
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `paasd tokens revoke`, run as its own process, takes effect at once on the API, on
/// git and on an open log stream; an expired token is refused the same way; `tokens
/// list` shows them without their secrets.
#[tokio::test]
async fn revoked_and_expired_tokens_are_refused_on_the_api_git_and_open_log_streams() {
    let paasd = Paasd::start().await;
    paasd.create_app("guarded").await;
    let doomed = token_from(paasd.paasd(&["tokens", "create", "--name", "doomed"]));
    let short =
        token_from(paasd.paasd(&["tokens", "create", "--name", "short", "--expires-in", "3s"]));
    assert_eq!(status_with(&paasd, &doomed, "/apps/guarded").await, 200);
    assert_eq!(status_with(&paasd, &short, "/apps/guarded").await, 200);
    assert!(ls_remote(&paasd, "guarded", &doomed).status.success());

    let listed = support::stdout(&paasd.paasd(&["tokens", "list"]));
    for name in ["e2e", "doomed", "short"] {
        assert!(listed.contains(name), "{listed}");
    }
    for secret in [&doomed, &short, &paasd.token] {
        assert!(
            !listed.contains(&secret[5..]),
            "tokens list shows a secret:\n{listed}"
        );
    }

    // A live log stream opened with the doomed token.
    let session = reqwest::Client::new()
        .post(format!("{}/apps/guarded/log-sessions", paasd.url()))
        .bearer_auth(&doomed)
        .json(&serde_json::json!({"tail": true}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let url = session["logplex_url"].as_str().unwrap().to_owned();
    let mut stream = reqwest::get(&url).await.unwrap();
    assert_eq!(stream.status(), 200);

    let out = paasd.paasd(&["tokens", "revoke", "doomed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let revoked = Instant::now();
    assert_eq!(status_with(&paasd, &doomed, "/apps/guarded").await, 401);
    assert!(
        revoked.elapsed() < Duration::from_millis(500),
        "refused at once"
    );
    assert!(!ls_remote(&paasd, "guarded", &doomed).status.success());
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the open log stream was not closed");
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 404);

    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(status_with(&paasd, &short, "/apps/guarded").await, 401);
    assert!(!ls_remote(&paasd, "guarded", &short).status.success());
    let listed = support::stdout(&paasd.paasd(&["tokens", "list"]));
    assert!(listed.contains("(expired)"), "{listed}");
    assert!(!listed.contains("doomed"), "{listed}");
    assert_eq!(
        status_with(&paasd, &paasd.token, "/apps/guarded").await,
        200
    );
}

/// `/oauth/authorizations` in Heroku's shape: create (expires_in as the heroku CLI's
/// string), list, info, `~`, revoke.
#[tokio::test]
async fn oauth_authorizations_create_list_show_and_revoke_tokens() {
    let paasd = Paasd::start().await;
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/oauth/authorizations", paasd.url()))
        .bearer_auth(&paasd.token)
        .json(&serde_json::json!({"description": "ci", "expires_in": "3600", "scope": ["global"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    let secret = created["access_token"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let expires_in = created["access_token"]["expires_in"].as_i64().unwrap();
    assert!((3590..=3600).contains(&expires_in), "{created}");
    assert_eq!(created["description"], "ci");
    assert_eq!(created["user"]["email"], "ci@localhost");
    assert_eq!(status_with(&paasd, &secret, "/account").await, 200);

    let list = paasd
        .api(reqwest::Method::GET, "/oauth/authorizations", None)
        .await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    for a in list {
        // Only the caller's own secret comes back; the new one is never shown again.
        let token = a["access_token"]["token"].as_str();
        if a["description"] == "e2e" {
            assert_eq!(token, Some(paasd.token.as_str()));
        } else {
            assert_eq!(token, None, "{a}");
        }
    }
    let own = paasd
        .api(reqwest::Method::GET, "/oauth/authorizations/~", None)
        .await;
    assert_eq!(own["description"], "e2e");
    let info = paasd
        .api(
            reqwest::Method::GET,
            &format!("/oauth/authorizations/{id}"),
            None,
        )
        .await;
    assert_eq!(info["description"], "ci");
    let revoked = paasd
        .api(
            reqwest::Method::DELETE,
            &format!("/oauth/authorizations/{id}"),
            None,
        )
        .await;
    assert_eq!(revoked["description"], "ci");
    assert_eq!(status_with(&paasd, &secret, "/account").await, 401);
    let bad = client
        .post(format!("{}/oauth/authorizations", paasd.url()))
        .bearer_auth(&paasd.token)
        .json(&serde_json::json!({"expires_in": "soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}

fn run_script(script: &str, root: &Path, args: &[&str], input: &str) -> std::process::Output {
    let bin_dir = support::binary("paasd").parent().unwrap().to_owned();
    let mut child = Command::new(support::workspace_root().join("scripts").join(script))
        .args(args)
        .env("DESTDIR", root)
        .env("PAAS_INSTALL_BIN_DIR", bin_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() || script == "uninstall",
        "{script}: {}\n{}",
        support::stdout(&out),
        stderr(&out)
    );
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `scripts/install` into a scratch root lays out every file (binaries, env file with
/// every setting, unit, data dir, Docker's live-restore), `systemd-analyze verify`
/// accepts the unit, a re-run upgrades in place (settings and data kept), and
/// `scripts/uninstall` keeps the data unless `--purge` is confirmed.
#[test]
fn install_into_a_scratch_root_lays_out_every_file_and_the_unit_verifies() {
    let root = tempfile::tempdir().unwrap();
    let r = |p: &str| root.path().join(p.trim_start_matches('/'));
    std::fs::create_dir_all(r("/etc/docker")).unwrap();
    std::fs::write(
        r("/etc/docker/daemon.json"),
        r#"{"log-driver": "json-file"}"#,
    )
    .unwrap();
    let out = run_script("install", root.path(), &[], "");
    assert!(
        support::stdout(&out).contains("nothing started"),
        "{}",
        support::stdout(&out)
    );

    for bin in ["/usr/local/bin/paasd", "/usr/local/bin/paas"] {
        assert_eq!(mode(&r(bin)), 0o755, "{bin}");
    }
    assert_eq!(mode(&r("/etc/paas/paasd.env")), 0o600);
    assert!(r("/var/lib/paas").is_dir());
    let env = std::fs::read_to_string(r("/etc/paas/paasd.env")).unwrap();
    assert!(env.contains("\nPAAS_DATA_DIR=/var/lib/paas\n"), "{env}");
    let listed = Command::new(support::binary("paasd"))
        .args(["env-file"])
        .output()
        .unwrap();
    for line in support::stdout(&listed)
        .lines()
        .filter(|l| l.starts_with('#') && l.contains('='))
    {
        let name = line.trim_start_matches('#').split('=').next().unwrap();
        if name != "PAAS_DATA_DIR" {
            assert!(
                env.contains(&format!("\n{line}\n")),
                "{name} is not in the env file:\n{env}"
            );
        }
    }
    assert!(env.contains("\n#PAAS_ROUTER_DRAIN_TIMEOUT=25\n"), "{env}");
    let daemon: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r("/etc/docker/daemon.json")).unwrap())
            .unwrap();
    assert_eq!(daemon["live-restore"], true);
    assert_eq!(daemon["log-driver"], "json-file", "other settings are kept");

    let unit = std::fs::read_to_string(r("/etc/systemd/system/paasd.service")).unwrap();
    for line in [
        "After=docker.service network-online.target",
        "Requires=docker.service",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
        "EnvironmentFile=/etc/paas/paasd.env",
        "ExecStart=/usr/local/bin/paasd",
        "WantedBy=multi-user.target",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing:\n{unit}");
    }
    let stop: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        stop > 25,
        "TimeoutStopSec={stop} must exceed the router's 25 s drain"
    );
    // The unit as it would run, with its paths inside the scratch root.
    let check = tempfile::tempdir().unwrap();
    let rooted = unit
        .replace(
            "=/usr/local/bin/",
            &format!("={}/", r("/usr/local/bin").display()),
        )
        .replace("=/etc/paas/", &format!("={}/", r("/etc/paas").display()));
    std::fs::write(check.path().join("paasd.service"), rooted).unwrap();
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(check.path().join("paasd.service"))
        .output()
        .expect("systemd-analyze (package systemd) is needed");
    assert!(
        verify.status.success() && verify.stderr.is_empty() && verify.stdout.is_empty(),
        "systemd-analyze verify: {}{}",
        support::stdout(&verify),
        stderr(&verify)
    );

    // Upgrade in place: the operator's settings and the data stay.
    std::fs::write(
        r("/etc/paas/paasd.env"),
        format!("{env}PAAS_DOMAIN=apps.example.com\n"),
    )
    .unwrap();
    std::fs::write(r("/var/lib/paas/marker"), "data").unwrap();
    let out = run_script("install", root.path(), &[], "");
    assert!(support::stdout(&out).contains("Keeping /etc/paas/paasd.env"));
    assert!(
        std::fs::read_to_string(r("/etc/paas/paasd.env"))
            .unwrap()
            .contains("PAAS_DOMAIN=apps.example.com")
    );
    assert!(r("/etc/paas/paasd.env.default").is_file());
    assert!(r("/var/lib/paas/marker").is_file());

    // Uninstall keeps the data; --purge needs the confirmation.
    run_script("uninstall", root.path(), &[], "");
    for gone in [
        "/usr/local/bin/paasd",
        "/usr/local/bin/paas",
        "/etc/paas",
        "/etc/systemd/system/paasd.service",
    ] {
        assert!(!r(gone).exists(), "{gone} is still there");
    }
    assert!(r("/var/lib/paas/marker").is_file());
    let refused = run_script("uninstall", root.path(), &["--purge"], "no\n");
    assert!(!refused.status.success());
    assert!(r("/var/lib/paas/marker").is_file());
    let purged = run_script("uninstall", root.path(), &["--purge"], "/var/lib/paas\n");
    assert!(purged.status.success(), "{}", stderr(&purged));
    assert!(!r("/var/lib/paas").exists());
}
