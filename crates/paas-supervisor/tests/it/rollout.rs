//! Rollouts: one web dyno at a time, gated by readiness (the health path), failed when
//! the new release never listens, retired dynos drained within the app's grace.

use super::*;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_config_change_rolls_out_with_a_web_dyno_serving_at_every_instant(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    h.scale("web", 2).await;
    let (sup, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    h.converge(&sup, 60, |_| ready_web_count(&routes.borrow(), &host) == 2)
        .await;
    let before: BTreeSet<String> = h.dynos().await.into_iter().map(|d| d.id).collect();

    let sup = Arc::new(sup);
    let nudge = Arc::new(Nudges::default());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let loop_task = tokio::spawn(sup.clone().run(nudge.clone(), shutdown.clone()));
    // A steady client: every 50 ms, some routed backend must answer.
    let probe_routes = routes.clone();
    let probe_host = host.clone();
    let stop_probe = shutdown.child_token();
    let probe = tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let (mut ok, mut failures) = (0, Vec::new());
        while !stop_probe.is_cancelled() {
            let backends = probe_routes
                .borrow()
                .lookup(&probe_host)
                .map(|r| r.backends.clone())
                .unwrap_or_default();
            match backends.first() {
                None => failures.push("no backend in the route table".to_owned()),
                Some(b) => match client.get(format!("http://{}/", b.addr)).send().await {
                    Ok(r) if r.status().is_success() => ok += 1,
                    other => failures.push(format!("{} answered {other:?}", b.dyno)),
                },
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (ok, failures)
    });

    h.store
        .update_config(
            h.app_id,
            &ConfigChange::parse([("GREETING", Some("hi"))]).unwrap(),
        )
        .await
        .unwrap();
    nudge.app(h.app_id);
    let version = h.store.current_release(h.app_id).await.unwrap().version;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let dynos = h.dynos().await;
        let web: Vec<_> = dynos
            .iter()
            .filter(|d| d.dyno.name.process_type.as_str() == "web")
            .collect();
        if web.len() == 2
            && web
                .iter()
                .all(|d| d.dyno.version.get() == version && d.running())
            && ready_web_count(&routes.borrow(), &host) == 2
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rollout did not finish: {dynos:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shutdown.cancel();
    let (ok, failures) = probe.await.unwrap();
    loop_task.await.unwrap();
    assert!(
        failures.is_empty(),
        "requests failed during the rollout: {failures:?}"
    );
    assert!(ok > 10, "the probe ran ({ok} requests)");
    let after: BTreeSet<String> = h.dynos().await.into_iter().map(|d| d.id).collect();
    assert!(before.is_disjoint(&after), "every dyno was replaced");
    // The new dynos got the new config.
    let id = after.iter().next().unwrap();
    let env = Command::new("docker")
        .args(["inspect", "--format", "{{json .Config.Env}}", id])
        .output()
        .unwrap();
    let env = String::from_utf8_lossy(&env.stdout);
    assert!(
        env.contains("GREETING=hi") && env.contains("PORT=5000") && env.contains("DYNO=web."),
        "{env}"
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_release_whose_web_dyno_never_listens_leaves_the_old_one_serving(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    let (sup, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    let dynos = h
        .converge(&sup, 60, |_| ready_web_count(&routes.borrow(), &host) == 1)
        .await;
    let old = running(&dynos, "web");

    h.deploy("web: sleep 100000").await;
    let started = Instant::now();
    let mut attempts = BTreeSet::new();
    while started.elapsed() < Duration::from_secs(10) {
        sup.reconcile_once().await.unwrap();
        assert_eq!(
            ready_web_count(&routes.borrow(), &host),
            1,
            "the old dyno keeps serving"
        );
        for d in h.dynos().await {
            if !old.iter().any(|(_, id)| *id == d.id) {
                attempts.insert(d.id);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dynos = h.dynos().await;
    assert!(
        old.is_subset(&running(&dynos, "web")),
        "the old web dyno still runs"
    );
    assert!(!attempts.is_empty(), "the new release was tried");
    // The ledger says so: the new release failed (with the reason), the old one is
    // current again, and nothing more is tried.
    let releases = h.store.releases(h.app_id).await.unwrap();
    let newest = releases.last().unwrap();
    assert_eq!(newest.status, "failed", "{releases:?}");
    assert!(
        newest
            .status_reason
            .as_deref()
            .unwrap_or_default()
            .contains("did not accept connections")
    );
    assert!(releases[releases.len() - 2].current);
    for _ in 0..10 {
        sup.reconcile_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dynos = h.dynos().await;
    assert_eq!(running(&dynos, "web"), old);
    assert_eq!(dynos.len(), 1, "{dynos:?}");
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_config_change_whose_web_dyno_never_listens_is_failed_and_its_config_undone(
    pool: PgPool,
) {
    let h = Harness::new(
        pool,
        &format!("web: if [ -n \"$BREAK\" ]; then exec sleep 100000; fi; {WEB}"),
    )
    .await;
    let (sup, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    h.converge(&sup, 60, |_| ready_web_count(&routes.borrow(), &host) == 1)
        .await;
    h.store
        .update_config(
            h.app_id,
            &ConfigChange::parse([("BREAK", Some("1"))]).unwrap(),
        )
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        sup.reconcile_once().await.unwrap();
        assert_eq!(
            ready_web_count(&routes.borrow(), &host),
            1,
            "the old dyno keeps serving"
        );
        let releases = h.store.releases(h.app_id).await.unwrap();
        if releases.last().unwrap().status == "failed" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{releases:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The config is the current release's again, so the next change does not carry the
    // breaking var along.
    let config = h.store.config_vars(h.app_id).await.unwrap();
    assert!(!config.as_map().contains_key("BREAK"), "{config:?}");
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn an_apps_health_path_gates_its_web_dynos(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    let (sup, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    let dynos = h
        .converge(&sup, 60, |_| ready_web_count(&routes.borrow(), &host) == 1)
        .await;
    let old = running(&dynos, "web");

    // The server answers 404 there: the new dyno listens but never gets ready, so the
    // rollout fails within the app's own 2 s limit and the old dyno keeps serving.
    let failing = h
        .set_config(&[
            ("PAAS_HEALTH_PATH", "/not-there"),
            ("PAAS_HEALTH_TIMEOUT", "2"),
        ])
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        sup.reconcile_once().await.unwrap();
        assert_eq!(ready_web_count(&routes.borrow(), &host), 1);
        let releases = h.store.releases(h.app_id).await.unwrap();
        let newest = releases.last().unwrap();
        if newest.version == failing && newest.status == "failed" {
            break;
        }
        assert!(Instant::now() < deadline, "the rollout did not fail");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(running(&h.dynos().await, "web"), old);

    // A path that answers 200 lets the next release roll out.
    let good = h.set_config(&[("PAAS_HEALTH_PATH", "/")]).await;
    let dynos = h
        .converge(&sup, 60, |d| {
            d.iter()
                .filter(|c| c.dyno.name.process_type.as_str() == "web")
                .all(|c| c.dyno.version.get() == good && c.running())
                && ready_web_count(&routes.borrow(), &host) == 1
        })
        .await;
    assert!(running(&dynos, "web").is_disjoint(&old));
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn an_apps_grace_period_bounds_how_long_a_retired_dyno_may_ignore_sigterm(pool: PgPool) {
    let mut h = Harness::new(
        pool,
        &format!("web: {WEB}\nworker: trap '' TERM; while true; do sleep 1; done"),
    )
    .await;
    h.settings.grace_secs = 30;
    h.set_config(&[("PAAS_DYNO_GRACE", "1")]).await;
    h.scale("worker", 1).await;
    let (sup, _) = h.supervisor();
    h.converge(&sup, 60, |d| running(d, "worker").len() == 1)
        .await;
    h.scale("worker", 0).await;
    let retired = Instant::now();
    h.converge(&sup, 20, |d| {
        !d.iter()
            .any(|c| c.dyno.name.process_type.as_str() == "worker")
    })
    .await;
    let took = retired.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "SIGKILL after the app's 1 s grace, not paasd's 30 s: {took:?}"
    );
}
