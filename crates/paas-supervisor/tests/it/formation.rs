//! The formation: scaling, adopting what runs after a restart, and leaving alone (or
//! removing) what is not the current formation's.

use super::*;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn scaling_starts_and_retires_only_the_difference(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}\nworker: sleep 100000")).await;
    let (sup, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    let dynos = h.converge(&sup, 60, |d| running(d, "web").len() == 1).await;
    let first = running(&dynos, "web");
    assert!(running(&dynos, "worker").is_empty(), "worker starts at 0");

    h.scale("web", 3).await;
    h.scale("worker", 1).await;
    let dynos = h
        .converge(&sup, 60, |d| {
            running(d, "web").len() == 3 && running(d, "worker").len() == 1
        })
        .await;
    let web = running(&dynos, "web");
    assert!(first.is_subset(&web), "web.1 was left alone");
    assert_eq!(web.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 2, 3]);
    h.converge(&sup, 30, |_| ready_web_count(&routes.borrow(), &host) == 3)
        .await;

    h.scale("web", 1).await;
    let dynos = h
        .converge(&sup, 60, |d| {
            running(d, "web").len() == 1
                && d.iter()
                    .filter(|c| c.dyno.name.process_type.as_str() == "web")
                    .count()
                    == 1
        })
        .await;
    assert_eq!(
        running(&dynos, "web"),
        first,
        "the highest numbers went, web.1 stayed"
    );
    assert_eq!(running(&dynos, "worker").len(), 1);
    assert_eq!(ready_web_count(&routes.borrow(), &host), 1);
    let recorded = h.store.dynos(h.app_id).await.unwrap();
    let names: Vec<&str> = recorded.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["web.1", "worker.1"]);
    assert!(recorded.iter().all(|d| d.state == "up"), "{recorded:?}");
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_new_supervisor_adopts_running_dynos_and_recreates_a_removed_one(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    h.scale("web", 2).await;
    let (first, _) = h.supervisor();
    let dynos = h
        .converge(&first, 60, |d| running(d, "web").len() == 2)
        .await;
    let ids = running(&dynos, "web");
    drop(first); // paasd killed: nothing is stopped.

    let (second, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    let dynos = h
        .converge(&second, 30, |_| {
            ready_web_count(&routes.borrow(), &host) == 2
        })
        .await;
    assert_eq!(
        running(&dynos, "web"),
        ids,
        "adopted: same containers, none added"
    );

    let (_, victim) = ids.iter().next().unwrap().clone();
    assert!(
        Command::new("docker")
            .args(["rm", "-f", &victim])
            .output()
            .unwrap()
            .status
            .success()
    );
    let dynos = h
        .converge(&second, 60, |d| {
            running(d, "web").len() == 2 && !d.iter().any(|c| c.id == victim)
        })
        .await;
    assert_eq!(
        running(&dynos, "web")
            .iter()
            .map(|(i, _)| *i)
            .collect::<Vec<_>>(),
        [1, 2]
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_container_of_another_installation_holding_a_dynos_name_is_left_alone(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    // Another paasd on the same engine runs an app of the same name.
    let name = format!("{}.web.1.v2", h.app);
    let out = Command::new("docker")
        .args([
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            "paas.managed=1",
            "--label",
            "paas.kind=formation",
            "--label",
            &format!("paas.instance=other-{}", h.instance),
            &stack_image(),
            "sleep",
            "100000",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let foreign = String::from_utf8_lossy(&out.stdout).trim().to_owned();

    let (sup, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    let converged = tokio::time::timeout(
        Duration::from_secs(60),
        h.converge(&sup, 60, |_| ready_web_count(&routes.borrow(), &host) == 1),
    )
    .await;
    let foreign_state = Command::new("docker")
        .args(["inspect", "--format", "{{.State.Running}}", &foreign])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rm", "-f", &foreign]).output();
    let dynos = converged.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&foreign_state.stdout).trim(),
        "true"
    );
    let ours = running(&dynos, "web");
    assert_eq!(ours.len(), 1);
    assert!(!ours.iter().any(|(_, id)| *id == foreign), "not adopted");
    let (_, id) = ours.iter().next().unwrap();
    let our_name = Command::new("docker")
        .args(["inspect", "--format", "{{.Name}}", id])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&our_name.stdout).trim(),
        format!("/{name}.{}", h.instance)
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_deleted_apps_dynos_and_network_are_removed(pool: PgPool) {
    let mut h = Harness::new(pool, &format!("web: {WEB}")).await;
    h.settings.network_min_age = Duration::ZERO;
    let network_exists = |name: &str| {
        Command::new("docker")
            .args(["network", "inspect", name])
            .output()
            .unwrap()
            .status
            .success()
    };
    let network = format!("paas-{}-{}", h.instance, h.app);
    let (sup, _) = h.supervisor();
    h.converge(&sup, 60, |d| running(d, "web").len() == 1).await;
    assert!(network_exists(&network));

    h.store.delete_app(h.app_id).await.unwrap();
    h.converge(&sup, 60, |d| d.is_empty()).await;
    // A supervisor started afterwards (paasd restarted) finds the network orphaned.
    let (fresh, _) = h.supervisor();
    let deadline = Instant::now() + Duration::from_secs(20);
    while network_exists(&network) {
        assert!(
            Instant::now() < deadline,
            "the network of the deleted app is left"
        );
        fresh.reconcile_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// paasd killed between creating a dyno's container and starting it (the rollout of a
/// config change was under way) left it made but never started; the restarted
/// supervisor must finish the rollout, not wait on that container forever.
#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_rollout_interrupted_between_create_and_start_is_finished_after_a_restart(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    h.scale("web", 2).await;
    let (sup, _routes) = h.supervisor();
    h.converge(&sup, 30, |d| running(d, "web").len() == 2).await;
    drop(sup);

    let version = h.set_config(&[("GREETING", "interrupted")]).await;
    let release = h.store.current_release(h.app_id).await.unwrap();
    let name = paas_core::DynoName::parse("web.2").unwrap();
    let spec = paas_core::runtime::DynoSpec {
        instance: h.instance.clone(),
        dyno: paas_core::DynoIdentity {
            app_id: h.app_id,
            app_name: AppName::parse(&h.app).unwrap(),
            release_id: release.release_id,
            version: paas_core::ReleaseVersion::new(release.version).unwrap(),
            name: name.clone(),
            generation: 0,
        },
        image: stack_image(),
        command: WEB.into(),
        env: paas_core::dyno_env(&Default::default(), &name, Some(5000)),
        limits: h.settings.limits,
        network: paas_core::runtime::app_network_name(&h.instance, &h.app),
        health_path: None,
        grace_secs: h.settings.grace_secs,
    };
    let created = h.docker.create_dyno(&spec).await.unwrap();

    // A restarted paasd: a new supervisor with nothing in memory.
    let (fresh, _routes) = h.supervisor();
    let dynos = h
        .converge(&fresh, 40, |d| {
            let web: Vec<_> = d
                .iter()
                .filter(|c| c.dyno.name.process_type.as_str() == "web")
                .collect();
            web.len() == 2
                && web
                    .iter()
                    .all(|c| c.dyno.version.get() == version && c.running())
        })
        .await;
    assert!(
        dynos.iter().any(|c| c.id == created),
        "the interrupted dyno was adopted and started: {dynos:#?}"
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn exited_one_offs_nobody_collected_are_removed_and_running_ones_kept(pool: PgPool) {
    let mut h = Harness::new(pool, &format!("web: {WEB}")).await;
    h.settings.one_off_ttl = Duration::from_secs(1);
    let release = h.store.current_release(h.app_id).await.unwrap();
    let one_off = |name: &str, command: &str, detached: bool| paas_docker::OneOffSpec {
        instance: h.instance.clone(),
        dyno: paas_docker::OneOffLabels {
            app_name: AppName::parse(&h.app).unwrap(),
            name: paas_core::DynoName::parse(name).unwrap(),
            release_id: Some(release.release_id),
            version: paas_core::ReleaseVersion::new(release.version).ok(),
            command: command.into(),
            detached,
        },
        image: stack_image(),
        env: vec![],
        limits: paas_docker::DynoLimits {
            memory_bytes: 64 << 20,
            pids: 64,
            ..Default::default()
        },
        tty: false,
    };
    // Attached, its client never came: it waits, created, until reaped.
    let never_attached = h
        .docker
        .run_one_off(&one_off("run.1", "echo bye", false))
        .await
        .unwrap();
    // Attached, its client went away before it exited.
    let done = h
        .docker
        .run_one_off(&one_off("run.2", "echo bye", false))
        .await
        .unwrap();
    drop(h.docker.attach_one_off(&done).await.unwrap());
    let busy = h
        .docker
        .run_one_off(&one_off("run.3", "sleep 100000", true))
        .await
        .unwrap();
    let exists = |id: &str| {
        Command::new("docker")
            .args(["inspect", id])
            .output()
            .unwrap()
            .status
            .success()
    };
    let (sup, _) = h.supervisor();
    let deadline = Instant::now() + Duration::from_secs(20);
    while exists(&done) || exists(&never_attached) {
        assert!(
            Instant::now() < deadline,
            "the exited or never attached one-off was not reaped"
        );
        sup.reconcile_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(exists(&busy), "a running one-off is left alone");
}
