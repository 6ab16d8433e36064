//! Isolation across nodes: a dyno on a worker reaches its own app's dynos over its
//! overlay, and neither another app's dynos (by overlay address) nor their published
//! ports on any node, which only the router on the manager reaches
//! (`scripts/swarm-node-firewall.sh`, set on every node by `scripts/swarm-cluster.sh`).
//!
//! Every probe runs inside a dyno's container on its node (`docker exec` through that
//! node's engine); nothing is sent from the host to an overlay address.

use super::*;

/// Node number and container id of a running dyno's task.
fn task_container(d: &ObservedContainer) -> (u32, String) {
    let n = node_number(d.node.as_deref().unwrap());
    let ids = node_docker(
        n,
        &[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.swarm.service.id={}", d.id),
        ],
    );
    let id = ids.split_whitespace().next().unwrap_or_default().to_owned();
    assert!(!id.is_empty(), "no container of {} on node {n}", d.id);
    (n, id)
}

/// The task's address on its app's overlay network.
fn overlay_ip(h: &Harness, d: &ObservedContainer) -> String {
    let (n, id) = task_container(d);
    let network = format!("paas-{}-{}", h.instance, d.dyno.app_name);
    let ip = node_docker(
        n,
        &[
            "inspect",
            "--format",
            &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
            &id,
        ],
    );
    let ip = ip.trim().to_owned();
    assert!(!ip.is_empty(), "{} has no address on {network}", d.id);
    ip
}

/// From inside `from`'s container: `REACHED`, or `BLOCKED <why>`, for a TCP connection
/// to `target`.
fn probe(from: &ObservedContainer, target: &str) -> String {
    let (n, id) = task_container(from);
    let (host, port) = target.rsplit_once(':').unwrap();
    let script = format!(
        "import socket\ntry:\n socket.create_connection(('{host}', {port}), 3); print('REACHED')\nexcept OSError as e: print('BLOCKED', e)"
    );
    node_docker(n, &["exec", &id, "python3", "-c", &script])
        .trim()
        .to_owned()
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_dyno_on_a_worker_reaches_neither_another_apps_dynos_nor_their_published_ports(
    pool: PgPool,
) {
    // Two apps under one supervisor: alpha (the harness's own) and beta, web=2 each.
    let h = Harness::new(pool).await;
    let beta = format!("{}-b", h.app);
    let beta_id = ledger::create_app(&h.store, &beta).await;
    let v1 = h.deploy("v1").await;
    ledger::deploy(&h.store, beta_id, &image("v1"), PROCFILE).await;
    h.scale(2).await;
    ledger::scale(&h.store, beta_id, "web", 2).await;
    let running = Arc::new(h.start().await);
    let beta_host = format!("{beta}.{}", h.settings.domain);
    let routed = |t: &RouteTable, host: &str| t.lookup(host).map_or(0, |r| r.backends.len());
    let dynos = h
        .wait_for(
            &running,
            240,
            "web=2 of both apps ready and routed",
            |d, t| {
                running_on_version(d, v1) == 4
                    && routed(t, &running.host) == 2
                    && routed(t, &beta_host) == 2
            },
        )
        .await;
    let of = |app: &str| -> Vec<&ObservedContainer> {
        dynos
            .iter()
            .filter(|d| d.running() && d.dyno.app_name.as_str() == app)
            .collect()
    };
    // The prober: a dyno on a worker (Swarm places each dyno's service; whichever app
    // has one there probes the other); its app's other dyno is its sibling.
    let on_worker = |d: &&ObservedContainer| d.node.as_deref().is_some_and(|n| *n != node_host(1));
    let (prober, prober_host, target_host) = match of(&h.app).into_iter().find(on_worker) {
        Some(d) => (d, running.host.clone(), beta_host.clone()),
        None => (
            of(&beta)
                .into_iter()
                .find(on_worker)
                .expect("no dyno on a worker"),
            beta_host.clone(),
            running.host.clone(),
        ),
    };
    let prober_app = prober.dyno.app_name.to_string();
    let target_app = if prober_app == h.app {
        beta.clone()
    } else {
        h.app.clone()
    };
    let sibling = *of(&prober_app).iter().find(|d| d.id != prober.id).unwrap();

    // The probe itself works: its own app's other dyno, over the overlay.
    let own = probe(prober, &format!("{}:5000", overlay_ip(&h, sibling)));
    assert_eq!(
        own, "REACHED",
        "{prober_app}'s dyno could not reach its sibling"
    );

    // The other app's dynos: at the published ports the router uses, on whichever nodes they run
    // (maybe the prober's own), and by their overlay addresses.
    let table = running.routes.borrow().clone();
    let mut targets: Vec<String> = table
        .lookup(&target_host)
        .unwrap()
        .backends
        .iter()
        .map(|b| b.addr.to_string())
        .collect();
    targets.extend(
        of(&target_app)
            .iter()
            .map(|d| format!("{}:5000", overlay_ip(&h, d))),
    );
    for target in &targets {
        let got = probe(prober, target);
        assert!(
            got.starts_with("BLOCKED"),
            "a dyno of {prober_app} on {} reached {target_app} at {target}: {got}",
            prober.node.as_deref().unwrap_or_default()
        );
    }

    // The router on the manager still reaches both apps at those ports.
    let client = reqwest::Client::new();
    for host in [&prober_host, &target_host, &prober_host, &target_host] {
        let response = client
            .get(&running.url)
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{response:?}");
    }
    eprintln!(
        "from a dyno of {prober_app} on {}: {target_app} blocked at {targets:?}, its sibling reached",
        prober.node.as_deref().unwrap_or_default()
    );
    Arc::into_inner(running).unwrap().kill();
}
