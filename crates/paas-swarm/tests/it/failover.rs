//! Failures: a worker lost and back, and a killed supervisor replaced by one that
//! adopts every service.

use super::*;

/// Starts node `n`'s dockerd again when dropped, whatever the test did.
struct NodeBack(u32);

impl Drop for NodeBack {
    fn drop(&mut self) {
        let _ = Command::new(format!("{ROOT}/scripts/swarm-cluster.sh"))
            .args(["start-node", &self.0.to_string()])
            .status();
    }
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn losing_a_worker_moves_its_dynos_to_live_nodes_and_nothing_is_duplicated_when_it_returns(
    pool: PgPool,
) {
    let h = Harness::new(pool).await;
    let (running, dynos) = h.four_web_dynos().await;
    // The worker with the most of the app's dynos goes away.
    let mut per_node: HashMap<u32, usize> = HashMap::new();
    for d in dynos.iter().filter(|d| d.running()) {
        *per_node
            .entry(node_number(d.node.as_deref().unwrap()))
            .or_default() += 1;
    }
    let (&lost, &had) = per_node
        .iter()
        .filter(|(n, _)| **n != 1)
        .max_by_key(|(_, count)| **count)
        .expect("no dyno on a worker");
    let lost_host = node_host(lost);
    let _back = NodeBack(lost);
    let stopped = Instant::now();
    let status = Command::new(format!("{ROOT}/scripts/swarm-cluster.sh"))
        .args(["stop-node", &lost.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let moved = h
        .wait_for(
            &running,
            120,
            "the lost node's dynos running elsewhere",
            |d, t| {
                let live: Vec<_> = d
                    .iter()
                    .filter(|d| d.running() && d.node.as_deref() != Some(lost_host.as_str()))
                    .collect();
                live.len() == 4 && d.len() == 4 && running.backends(t).len() == 4
            },
        )
        .await;
    let move_secs = stopped.elapsed().as_secs_f32();
    let lost_addr = node_addr(lost);
    assert!(
        moved.iter().all(|d| d.ip.unwrap().to_string() != lost_addr),
        "{moved:#?}"
    );
    for _ in 0..8 {
        running.get().await.unwrap();
    }
    eprintln!("{had} dynos of node {lost} moved to live nodes in {move_secs:.1}s");

    // The node comes back: its old tasks are shut down, nothing runs twice.
    drop(_back);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mine = node_docker(
            lost,
            &["ps", "-q", "--filter", &format!("name={}-web-", h.app)],
        );
        let ready = h
            .swarm
            .cluster_nodes()
            .await
            .unwrap()
            .iter()
            .any(|n| n.hostname == lost_host && n.ready);
        if ready && mine.trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node {lost} still runs {mine:?} (ready: {ready})"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = h.dynos().await;
    assert_eq!(after.len(), 4, "{after:#?}");
    assert_eq!(
        after.iter().filter(|d| d.running()).count(),
        4,
        "{after:#?}"
    );
    Arc::into_inner(running).unwrap().kill();
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_killed_supervisor_is_replaced_by_one_that_adopts_every_service(pool: PgPool) {
    let h = Harness::new(pool).await;
    let v1 = h.deploy("v1").await;
    h.scale(3).await;
    let running = h.start().await;
    let before = h
        .wait_for(&running, 240, "web=3 ready and routed", |d, t| {
            running_on_version(d, v1) == 3 && running.backends(t).len() == 3
        })
        .await;
    running.kill();

    // A new paasd: a new client (nothing cached) and a new supervisor.
    let cluster = cluster();
    let docker = paas_docker::Docker::connect_to(&cluster.manager).unwrap();
    let mut h = h;
    h.swarm = Swarm::connect(docker, Some(&cluster.manager), &cluster.registry).unwrap();
    let running = h.start().await;
    h.wait_for(&running, 60, "the adopted dynos routed", |_, t| {
        running.backends(t).len() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = h.dynos().await;
    let ids = |d: &[ObservedContainer]| d.iter().map(|d| d.id.clone()).collect::<BTreeSet<_>>();
    assert_eq!(
        ids(&before),
        ids(&after),
        "services were replaced: {after:#?}"
    );
    assert!(after.iter().all(|d| d.running()), "{after:#?}");
    running.kill();
}
