//! Crashes: restarts with a growing delay, and the engine's events waking the loop.

use super::*;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_crashing_dyno_is_restarted_with_a_growing_delay(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}\nworker: echo boom; exit 3")).await;
    h.scale("worker", 1).await;
    let (sup, _routes) = h.supervisor();
    let mut containers = BTreeSet::new();
    let mut saw_crashed = false;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        sup.reconcile_once().await.unwrap();
        for d in h
            .dynos()
            .await
            .into_iter()
            .filter(|d| d.dyno.name.process_type.as_str() == "worker")
        {
            containers.insert(d.id);
        }
        let recorded = h.store.dynos(h.app_id).await.unwrap();
        saw_crashed |= recorded
            .iter()
            .any(|d| d.name == "worker.1" && d.state == "crashed" && d.exit_code == Some(3));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saw_crashed, "the crash is recorded with its exit status");
    // Restarts at once, then after 1, 2, 4 s: about five in 10 s; without a back-off
    // this loop would have made dozens.
    assert!(
        (3..=7).contains(&containers.len()),
        "{} worker containers in 10 s",
        containers.len()
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn dockers_events_wake_the_loop_for_crashes_and_removed_dynos(pool: PgPool) {
    let mut h = Harness::new(pool, &format!("web: {WEB}\nworker: sleep 2; exit 3")).await;
    // A resync far beyond the test: only a nudge or a Docker event can wake the loop.
    h.settings.resync = Duration::from_secs(600);
    h.scale("worker", 1).await;
    let (sup, routes) = h.supervisor();
    let (shutdown, _nudge, task) = h.spawn_loop(sup);
    let host = format!("{}.localhost", h.app);
    let dynos = h
        .wait_for(60, |d| {
            running(d, "web").len() == 1 && running(d, "worker").len() == 1
        })
        .await;
    let first_worker = running(&dynos, "worker").into_iter().next().unwrap().1;

    // The worker exits after 2 s; its replacement starts at once (first crash: no
    // back-off), long before any resync.
    let dynos = h
        .wait_for(10, |d| {
            d.iter().any(|c| {
                c.dyno.name.process_type.as_str() == "worker" && c.running() && c.id != first_worker
            })
        })
        .await;

    // A web dyno removed behind the supervisor's back comes back at once.
    let web = running(&dynos, "web").into_iter().next().unwrap().1;
    let removed = Instant::now();
    assert!(
        Command::new("docker")
            .args(["rm", "-f", &web])
            .status()
            .unwrap()
            .success()
    );
    h.wait_for(10, |d| {
        d.iter()
            .any(|c| c.dyno.name.process_type.as_str() == "web" && c.running() && c.id != web)
    })
    .await;
    let recreated = removed.elapsed();
    assert!(
        recreated < Duration::from_secs(5),
        "recreated in {recreated:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready_web_count(&routes.borrow(), &host) != 1 {
        assert!(Instant::now() < deadline, "the new web dyno is routed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    task.await.unwrap();
}
