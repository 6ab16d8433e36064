//! The collector and drains against a real Docker Engine and a real Postgres. Each test
//! labels its containers with its own `paas.instance`; a guard removes them.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paas_core::AppName;
use paas_docker::Docker;
use paas_logs::{Collector, Delivery, Drains, LogFilter, LogHub, LogLine, Source};
use paas_store::Store;
use paas_testkit::docker::ensure_docker_and_stack_image;
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

struct Containers {
    instance: String,
}

impl Containers {
    fn new() -> Self {
        ensure_docker_and_stack_image();
        Self {
            instance: format!("logs-{}", &Uuid::new_v4().simple().to_string()[..8]),
        }
    }

    /// Runs `script` in a container labelled as dyno `dyno` of `app`.
    fn run(&self, app: &str, dyno: &str, script: &str) -> String {
        let (kind, index) = dyno.split_once('.').unwrap();
        let out = Command::new("docker")
            .args(["run", "-d", "--label", "paas.managed=1"])
            .args(["--label", &format!("paas.instance={}", self.instance)])
            .args(["--label", &format!("paas.app_name={app}")])
            .args(["--label", &format!("paas.type={kind}")])
            .args(["--label", &format!("paas.index={index}")])
            .args(["paas/stack:bookworm", "bash", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        paas_testkit::docker::remove_instance(&self.instance);
    }
}

fn start(collector: Collector) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(Arc::new(collector).run(shutdown.clone()));
    (shutdown, task)
}

/// The app's history, as `paas logs` would print it.
fn history(hub: &LogHub, app: &str) -> Vec<String> {
    hub.open(app, &LogFilter::default(), usize::MAX)
        .0
        .iter()
        .map(|l| format!("{}[{}]: {}", l.source.as_str(), l.dyno, l.message))
        .collect()
}

async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn output_arrives_in_order_and_a_restarted_collector_resumes_without_loss_or_repeats(
    pool: PgPool,
) {
    let containers = Containers::new();
    let store = Store::from_pool(pool);
    let docker = Docker::connect().unwrap();
    let first_hub = Arc::new(LogHub::new());
    let (stop_first, first) = start(Collector::new(
        docker.clone(),
        store.clone(),
        first_hub.clone(),
        &containers.instance,
    ));
    containers.run(
        "resume",
        "web.1",
        "for i in 1 2 3; do echo before $i; done; echo to stderr >&2; sleep 6; \
         for i in 1 2 3; do echo after $i; done; sleep 60",
    );
    wait_for("the first lines", 20, || {
        history(&first_hub, "resume").len() == 4
    })
    .await;
    let first_lines = history(&first_hub, "resume");
    // Docker reads stdout and stderr through separate pipes, so only each one's own
    // order is defined.
    let stdout: Vec<&String> = first_lines
        .iter()
        .filter(|l| l.contains("before"))
        .collect();
    assert_eq!(
        stdout,
        [
            "app[web.1]: before 1",
            "app[web.1]: before 2",
            "app[web.1]: before 3"
        ]
    );
    assert!(
        first_lines.contains(&"app[web.1]: to stderr".to_owned()),
        "{first_lines:?}"
    );
    // paasd stops; lines printed meanwhile must come through the next one, once.
    stop_first.cancel();
    first.await.unwrap();
    tokio::time::sleep(Duration::from_secs(7)).await;

    let second_hub = Arc::new(LogHub::new());
    let (stop_second, second) = start(Collector::new(
        docker,
        store,
        second_hub.clone(),
        &containers.instance,
    ));
    wait_for("the lines printed while stopped", 20, || {
        history(&second_hub, "resume").len() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        history(&second_hub, "resume"),
        [
            "app[web.1]: after 1",
            "app[web.1]: after 2",
            "app[web.1]: after 3"
        ]
    );
    stop_second.cancel();
    second.await.unwrap();
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_flood_of_100k_lines_blocks_neither_the_dyno_nor_other_readers(pool: PgPool) {
    let containers = Containers::new();
    let store = Store::from_pool(pool);
    let hub = Arc::new(LogHub::new());
    let (stop, task) = start(Collector::new(
        Docker::connect().unwrap(),
        store,
        hub.clone(),
        &containers.instance,
    ));
    // Give the collector its event subscription before the container starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A reader that never reads, and one that keeps up.
    let (_, mut stalled) = hub.open("flood", &LogFilter::default(), 0);
    let (_, mut reader) = hub.open("flood", &LogFilter::default(), 0);
    let counting = tokio::spawn(async move {
        let (mut lines, mut missed, mut last) = (0u64, 0u64, 0u64);
        while let Some(delivery) = reader.next().await {
            match delivery {
                Delivery::Line(line) if line.message == "done" => break,
                Delivery::Line(line) => {
                    let n: u64 = line.message.parse().unwrap();
                    assert!(n > last, "out of order: {n} after {last}");
                    last = n;
                    lines += 1;
                }
                Delivery::Missed(n) => missed += n,
            }
        }
        (lines, missed)
    });
    let started = Instant::now();
    let id = containers.run("flood", "web.1", "seq 1 100000; echo done");
    let exit = Command::new("docker").args(["wait", &id]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&exit.stdout).trim(), "0");
    let dyno_time = started.elapsed();
    let (lines, missed) = tokio::time::timeout(Duration::from_secs(120), counting)
        .await
        .expect("the reader saw the end of the flood")
        .unwrap();
    assert_eq!(
        lines + missed,
        100_000,
        "every line read or counted as missed"
    );
    assert!(lines > 0);
    // The stalled reader is told it missed lines instead of holding anyone up.
    match stalled.next().await {
        Some(Delivery::Missed(n)) => assert!(n > 90_000, "missed {n}"),
        other => panic!("expected a missed-lines notice, got {other:?}"),
    }
    assert!(
        dyno_time < Duration::from_secs(60),
        "the dyno ran for {dyno_time:?}"
    );
    let kept = history(&hub, "flood");
    assert_eq!(kept.len(), paas_core::logline::HISTORY_LINES);
    assert_eq!(kept.last().unwrap(), "app[web.1]: done");
    stop.cancel();
    task.await.unwrap();
}

async fn app_with_drain(store: &Store, url: &str) -> (String, paas_store::LogDrain) {
    let app = format!("drain-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let app_id = store
        .create_app(&AppName::parse(&app).unwrap())
        .await
        .unwrap()
        .app_id;
    let drain = store.add_log_drain(app_id, url).await.unwrap();
    (app, drain)
}

/// Reads one octet-counted syslog frame.
async fn read_frame(reader: &mut BufReader<tokio::net::TcpStream>) -> String {
    let mut len = Vec::new();
    reader.read_until(b' ', &mut len).await.unwrap();
    let len: usize = String::from_utf8_lossy(&len).trim().parse().unwrap();
    let mut frame = vec![0; len];
    reader.read_exact(&mut frame).await.unwrap();
    String::from_utf8(frame).unwrap()
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_syslog_drain_gets_framed_lines_and_one_that_was_down_gets_them_later(pool: PgPool) {
    let store = Store::from_pool(pool);
    // A port nobody listens on yet: the drain is down when the lines are written.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let (app, drain) = app_with_drain(&store, &format!("syslog://127.0.0.1:{port}")).await;
    let hub = Arc::new(LogHub::new());
    let changed = Arc::new(Notify::new());
    let shutdown = CancellationToken::new();
    let drains =
        tokio::spawn(Drains::new(store.clone(), hub.clone()).run(changed, shutdown.clone()));
    // The forwarder subscribes shortly after it starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    hub.publish(&app, LogLine::new(Source::App, "web.1", "first line"));
    hub.publish(&app, LogLine::api("Set FOO config vars by user admin"));
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let (socket, _) = tokio::time::timeout(Duration::from_secs(30), listener.accept())
        .await
        .expect("the drain reconnects")
        .unwrap();
    let mut reader = BufReader::new(socket);
    let first = read_frame(&mut reader).await;
    assert!(first.starts_with("<190>1 "), "{first}");
    assert!(
        first.ends_with(&format!(" {} app web.1 - - first line", drain.token)),
        "{first}"
    );
    let second = read_frame(&mut reader).await;
    assert!(
        second.ends_with(" app api - - Set FOO config vars by user admin"),
        "{second}"
    );
    hub.publish(
        &app,
        LogLine::new(Source::Heroku, "router", "at=info status=200"),
    );
    let third = read_frame(&mut reader).await;
    assert!(
        third.ends_with(" heroku router - - at=info status=200"),
        "{third}"
    );
    shutdown.cancel();
    drains.await.unwrap();
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn an_http_drain_gets_logplex_batches(pool: PgPool) {
    let store = Store::from_pool(pool);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (app, drain) = app_with_drain(&store, &format!("http://127.0.0.1:{port}/logs")).await;
    let hub = Arc::new(LogHub::new());
    let shutdown = CancellationToken::new();
    let drains = tokio::spawn(
        Drains::new(store.clone(), hub.clone()).run(Arc::new(Notify::new()), shutdown.clone()),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    hub.publish(&app, LogLine::new(Source::App, "web.1", "over http"));

    let (socket, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let mut reader = BufReader::new(socket);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    assert!(head.starts_with("post /logs http/1.1"), "{head}");
    assert!(
        head.contains("content-type: application/logplex-1"),
        "{head}"
    );
    assert!(head.contains("logplex-msg-count: 1"), "{head}");
    assert!(
        head.contains(&format!("logplex-drain-token: {}", drain.token)),
        "{head}"
    );
    let frame = read_frame(&mut reader).await;
    assert!(frame.ends_with(" app web.1 - - over http"), "{frame}");
    reader
        .get_mut()
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        .await
        .unwrap();
    shutdown.cancel();
    drains.await.unwrap();
}
