//! Dyno output from every node reaches the app's log stream, and a restarted collector
//! resumes without loss or repeats.

use super::*;

/// A web dyno that also prints `tick <n>` (n = 1, 2, …) three times a second.
const TICKING: &str = "web: i=0; while :; do i=$((i+1)); echo \"tick $i\"; sleep 0.3; done & exec python3 /app/server.py";

/// The tick numbers an app's stream holds per dyno, in stream order.
fn ticks(hub: &paas_logs::LogHub, app: &str) -> HashMap<String, Vec<u64>> {
    let mut out: HashMap<String, Vec<u64>> = HashMap::new();
    for line in hub
        .open(app, &paas_logs::LogFilter::default(), usize::MAX)
        .0
    {
        if line.source == paas_logs::Source::App
            && let Some(n) = line.message.strip_prefix("tick ")
        {
            out.entry(line.dyno.clone())
                .or_default()
                .push(n.parse().unwrap());
        }
    }
    out
}

fn collect(
    h: &Harness,
    hub: &Arc<paas_logs::LogHub>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let shutdown = CancellationToken::new();
    let collector = paas_logs::Collector::new(
        h.swarm.clone(),
        h.store.clone(),
        hub.clone(),
        h.instance.clone(),
    );
    let task = tokio::spawn(Arc::new(collector).run(shutdown.clone()));
    (shutdown, task)
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn output_of_dynos_on_workers_reaches_the_apps_stream_and_a_restarted_collector_resumes_without_loss_or_repeats(
    pool: PgPool,
) {
    let h = Harness::new(pool).await;
    let v1 = h.deploy_procfile("v1", TICKING).await;
    h.scale(3).await;
    let first_hub = Arc::new(paas_logs::LogHub::new());
    let (stop_first, first) = collect(&h, &first_hub);
    let running = h.start().await;
    let dynos = h
        .wait_for(&running, 240, "web=3 running", |d, _| {
            running_on_version(d, v1) == 3
        })
        .await;
    let on_workers: Vec<(String, String)> = dynos
        .iter()
        .filter(|d| d.node.as_deref().is_some_and(|n| *n != node_host(1)))
        .map(|d| (d.dyno.name.to_string(), d.node.clone().unwrap()))
        .collect();
    assert!(!on_workers.is_empty(), "no dyno on a worker: {dynos:#?}");
    wait_for_ticks(&first_hub, &h.app, &on_workers, 5).await;

    // paasd stops; what the dynos print meanwhile must come through the next one, once.
    stop_first.cancel();
    first.await.unwrap();
    let before = ticks(&first_hub, &h.app);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let second_hub = Arc::new(paas_logs::LogHub::new());
    let (stop_second, second) = collect(&h, &second_hub);
    let last_before: HashMap<&String, u64> = on_workers
        .iter()
        .map(|(dyno, _)| (dyno, *before[dyno].last().unwrap()))
        .collect();
    // Everything printed while no collector ran, and a little more.
    let want = last_before.values().max().unwrap() + 15;
    wait_for_ticks(&second_hub, &h.app, &on_workers, 0).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while on_workers
        .iter()
        .any(|(dyno, _)| ticks(&second_hub, &h.app)[dyno].last().unwrap() < &want)
    {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            ticks(&second_hub, &h.app)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = ticks(&second_hub, &h.app);
    for (dyno, node) in &on_workers {
        let mut all = before[dyno].clone();
        all.extend(&after[dyno]);
        let expected: Vec<u64> = (1..=*all.last().unwrap()).collect();
        assert_eq!(
            all, expected,
            "{dyno} on {node}: the first collector read {:?}, the second {:?}",
            before[dyno], after[dyno]
        );
        eprintln!(
            "{dyno} on {node}: ticks 1..={} before the restart, {}..={} after",
            last_before[dyno],
            after[dyno][0],
            after[dyno].last().unwrap()
        );
    }
    stop_second.cancel();
    second.await.unwrap();
    running.kill();
}

/// Waits until the stream holds more than `at_least` ticks of each of `dynos`.
async fn wait_for_ticks(
    hub: &paas_logs::LogHub,
    app: &str,
    dynos: &[(String, String)],
    at_least: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let seen = ticks(hub, app);
        if dynos
            .iter()
            .all(|(d, _)| seen.get(d).is_some_and(|t| t.len() > at_least))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no output of {dynos:?} in the app's stream: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
