//! One session through every command paas supports: apps, config, releases, pushes over
//! the TLS port, one-off dynos by rendezvous, logs, scaling, domains, buildpacks.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{Heroku, assert_contains};
use crate::support::{Paasd, commit_all, fixture_repo, free_port, git, stderr, stdout};

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
