//! Placement and rollout: web dynos spread over the nodes, and a config change rolled
//! across them with no failed request.

use super::*;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn web_dynos_spread_over_nodes_and_a_config_change_rolls_across_them_without_a_failed_request(
    pool: PgPool,
) {
    let h = Harness::new(pool).await;
    let (running, dynos) = h.four_web_dynos().await;
    let nodes = nodes_of(&dynos);
    assert!(nodes.len() >= 2, "web=4 on one node only: {dynos:#?}");
    // `paas ps` reads each dyno's node from its row.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = h.store.dynos(h.app_id).await.unwrap();
        let row_nodes: BTreeSet<String> = rows.iter().filter_map(|r| r.node.clone()).collect();
        if row_nodes == nodes && rows.len() == 4 {
            break;
        }
        assert!(Instant::now() < deadline, "{nodes:?} vs {rows:#?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Routed at node addresses and published ports, never at overlay addresses.
    for d in &dynos {
        let ip = d.ip.unwrap().to_string();
        let net = cluster_setting("PAAS_SWARM_NET", "10.213.0");
        assert!(ip.starts_with(&format!("{net}.")), "{d:#?}");
        assert!(d.port.is_some(), "{d:#?}");
    }

    // The router balances over all four.
    let mut seen = BTreeSet::new();
    for _ in 0..40 {
        let body = running.get().await.unwrap();
        seen.insert(body.split_whitespace().next().unwrap().to_owned());
    }
    assert_eq!(seen.len(), 4, "the router answered from {seen:?} only");

    // A config change under steady load rolls over every node, no request failing.
    let stop = CancellationToken::new();
    let loads: Vec<_> = (0..2).map(|_| running.load(stop.clone())).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let v2 = h.set_config("GREETING", "rolled").await;
    let started = Instant::now();
    let after = h
        .wait_for(&running, 240, "the rollout to the new release", |d, t| {
            running_on_version(d, v2) == 4
                && d.len() == 4
                && running.backends(t).iter().all(|(_, v)| *v == v2)
                && running.backends(t).len() == 4
        })
        .await;
    let rollout = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let mut sent = 0;
    let mut bodies = BTreeSet::new();
    for load in loads {
        let load = load.await.unwrap();
        sent += load.sent;
        assert!(
            load.failures.is_empty(),
            "{} of {} requests failed during the rollout: {:?}",
            load.failures.len(),
            load.sent,
            &load.failures[..load.failures.len().min(5)]
        );
        bodies.extend(load.bodies);
    }
    assert!(bodies.iter().any(|b| b.ends_with("rolled")), "{bodies:?}");
    assert!(bodies.iter().any(|b| !b.ends_with("rolled")), "{bodies:?}");
    assert!(nodes_of(&after).len() >= 2, "{after:#?}");
    eprintln!(
        "rollout of web=4 across {} nodes: {:.1}s, {sent} requests, none failed",
        nodes_of(&after).len(),
        rollout.as_secs_f32()
    );
    Arc::into_inner(running).unwrap().kill();
}
