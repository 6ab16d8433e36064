//! Logs as event streams, end to end: a pushed app's output, router request lines and
//! platform events reach `paas logs`; `--tail` sees them live; a flood blocks neither the
//! app nor the API; a slow reader is told what it missed; a syslog drain gets frames.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

use crate::support::{self, Paasd, binary, fixture_repo, ok};

/// `paas logs` until every `wanted` text is in it (panics after `secs`).
fn logs_until(
    paasd: &Paasd,
    cwd: &std::path::Path,
    app: &str,
    wanted: &[&str],
    secs: u64,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let text = ok(paasd.paas(cwd, &["logs", "-a", app, "-n", "1500"]));
        if wanted.iter().all(|w| text.contains(w)) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "paas logs never showed all of {wanted:?}:\n{text}\n{}",
            paasd.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[tokio::test]
async fn a_pushed_apps_output_requests_and_events_reach_paas_logs_tail_and_a_drain() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("logsapp").await;
    let repo = fixture_repo("procfile-shell");
    let out = paasd.push(repo.path(), "logsapp", "main");
    assert!(out.status.success(), "{}", support::stderr(&out));
    paasd
        .wait_dynos("logsapp", 90, |d| d.iter().any(|x| x["state"] == "up"))
        .await;

    // A syslog drain, listening in the test.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let drain_url = format!("syslog://{}", listener.local_addr().unwrap());
    ok(paasd.paas(repo.path(), &["drains:add", &drain_url, "-a", "logsapp"]));
    assert!(ok(paasd.paas(repo.path(), &["drains", "-a", "logsapp"])).contains(&drain_url));

    // A live reader, started before the request it should see.
    let mut tail = Command::new(binary("paas"))
        .args(["logs", "--tail", "-n", "0", "-a", "logsapp"])
        .env("PAAS_API_URL", paasd.url())
        .env("PAAS_API_TOKEN", &paasd.token)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let tail_out = tail.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(tail_out).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (status, _) = paasd.get_via_router("logsapp").await;
    assert_eq!(status, 200);
    let text = logs_until(
        &paasd,
        repo.path(),
        "logsapp",
        &[
            "app[api]: Initial release by user",
            "app[api]: Build started",
            "app[api]: Build succeeded",
            "app[api]: Deploy ",
            "heroku[web.1]: Starting process with command `./server.sh`",
            "heroku[web.1]: State changed from starting to up",
            "heroku[router]: at=info method=GET path=\"/\" host=logsapp.localhost",
            "\"GET / HTTP/1.1\" 200",
        ],
        60,
    );
    // Heroku's shape: `<RFC 3339 with microseconds> <source>[<dyno>]: <message>`, in order.
    let stamps: Vec<chrono::DateTime<chrono::FixedOffset>> = text
        .lines()
        .map(|l| {
            let stamp = l.split_once(' ').unwrap().0;
            assert!(stamp.ends_with("+00:00"), "{l}");
            chrono::DateTime::parse_from_rfc3339(stamp).unwrap()
        })
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] <= w[1]),
        "time order:\n{text}"
    );
    let router_line = text.lines().find(|l| l.contains("heroku[router]")).unwrap();
    assert!(
        router_line.contains(" dyno=web.1 ") && router_line.contains(" status=200 "),
        "{router_line}"
    );
    // The same request counted in the router's metrics, behind a token like the API.
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", paasd.url()))
        .bearer_auth(&paasd.token)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("paas_router_requests_total{app=\"logsapp\",status=\"2xx\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("paas_router_request_duration_seconds_bucket{app=\"logsapp\""));
    let anonymous = reqwest::get(format!("{}/metrics", paasd.url()))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    // Filters.
    let app_only = ok(paasd.paas(repo.path(), &["logs", "-a", "logsapp", "--source", "app"]));
    assert!(
        !app_only.contains("heroku[") && app_only.contains("app[api]"),
        "{app_only}"
    );
    let router_only = ok(paasd.paas(repo.path(), &["logs", "-a", "logsapp", "-d", "router"]));
    assert!(
        router_only.lines().all(|l| l.contains("heroku[router]")),
        "{router_only}"
    );

    // The live reader saw the request, and sees a config change as it happens.
    paasd
        .api(
            Method::PATCH,
            "/apps/logsapp/config-vars",
            Some(json!({"LIVE": "1"})),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut saw_request, mut saw_config) = (false, false);
    while !(saw_request && saw_config) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines_rx.recv_timeout(left).unwrap_or_else(|_| {
            panic!("--tail missed lines (request {saw_request}, config {saw_config})")
        });
        saw_request |= line.contains("heroku[router]: at=info method=GET");
        saw_config |= line.contains("app[api]: Set LIVE config vars by user");
    }
    let _ = tail.kill();
    let _ = tail.wait();

    // The drain got octet-counted RFC 5424 frames of the same stream.
    let (socket, _) = tokio::time::timeout(Duration::from_secs(30), listener.accept())
        .await
        .expect("the drain connects")
        .unwrap();
    let mut reader = tokio::io::BufReader::new(socket);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut frames = Vec::new();
    while !frames
        .iter()
        .any(|f: &String| f.contains(" app api - - Set LIVE config vars"))
    {
        assert!(Instant::now() < deadline, "drain frames: {frames:#?}");
        let mut len = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), reader.read_until(b' ', &mut len))
            .await
            .expect("a frame")
            .unwrap();
        let len: usize = String::from_utf8_lossy(&len).trim().parse().unwrap();
        let mut frame = vec![0; len];
        reader.read_exact(&mut frame).await.unwrap();
        let frame = String::from_utf8(frame).unwrap();
        assert!(frame.starts_with("<190>1 "), "{frame}");
        frames.push(frame);
    }
}

#[tokio::test]
async fn a_flood_of_100k_lines_blocks_neither_the_app_nor_the_api_and_a_slow_reader_is_told() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("flood").await;
    let repo = fixture_repo("procfile-shell");
    // A process type that prints 100,000 lines of ~250 bytes at once, then idles.
    let mut procfile = std::fs::read_to_string(repo.path().join("Procfile")).unwrap();
    procfile.push_str(
        "flood: bash -c 'pad=$(printf %0240d 0); for i in $(seq 1 100000); do echo \"$i $pad\"; done; echo flood-done; exec sleep infinity'\n",
    );
    std::fs::write(repo.path().join("Procfile"), procfile).unwrap();
    support::commit_all(repo.path(), "a flood process");
    let out = paasd.push(repo.path(), "flood", "main");
    assert!(out.status.success(), "{}", support::stderr(&out));
    paasd
        .wait_dynos("flood", 90, |d| {
            d.iter().any(|x| x["name"] == "web.1" && x["state"] == "up")
        })
        .await;

    // A tail reader that stops reading: its socket buffers fill, then the stream lags.
    let session = paasd
        .api(
            Method::POST,
            "/apps/flood/log-sessions",
            Some(json!({"tail": true, "lines": 0})),
        )
        .await;
    let url = reqwest::Url::parse(session["logplex_url"].as_str().unwrap()).unwrap();
    let mut slow =
        std::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).unwrap();
    write!(
        slow,
        "GET {} HTTP/1.1\r\nhost: paas\r\naccept: text/plain\r\n\r\n",
        url.path()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));

    paasd
        .api(
            Method::PATCH,
            "/apps/flood/formation/flood",
            Some(json!({"quantity": 1})),
        )
        .await;
    // While it floods, the API and the app's web dyno keep answering.
    let started = Instant::now();
    let (mut slowest_api, mut slowest_web) = (Duration::ZERO, Duration::ZERO);
    let text = loop {
        let asked = Instant::now();
        paasd.api(Method::GET, "/apps/flood", None).await;
        slowest_api = slowest_api.max(asked.elapsed());
        let asked = Instant::now();
        let (status, _) = paasd.get_via_router("flood").await;
        assert_eq!(status, 200);
        slowest_web = slowest_web.max(asked.elapsed());
        let text = ok(paasd.paas(
            repo.path(),
            &["logs", "-a", "flood", "-n", "3", "-d", "flood"],
        ));
        if text.contains("app[flood.1]: flood-done") {
            break text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the flood never reached the stream: {text}\n{}",
            paasd.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        text.contains("app[flood.1]: 100000 000"),
        "in order: {text}"
    );
    assert!(
        slowest_api < Duration::from_secs(2),
        "the API took {slowest_api:?} during the flood"
    );
    assert!(
        slowest_web < Duration::from_secs(2),
        "the app took {slowest_web:?} during the flood"
    );

    // The slow reader now reads, and is told how many lines it missed.
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut seen = String::new();
    let mut buf = vec![0; 1 << 20];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no L10 notice");
        let n = slow.read(&mut buf).unwrap();
        assert!(n > 0, "stream ended");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if seen.contains("heroku[logplex]: Error L10 (output buffer overflow): ") {
            break;
        }
        // Keep only the end: the flood is large.
        if seen.len() > 1 << 16 {
            let keep_from = seen.len() - (1 << 15);
            let keep_from = (keep_from..seen.len())
                .find(|i| seen.is_char_boundary(*i))
                .unwrap_or(seen.len());
            seen.drain(..keep_from);
        }
    }
}
