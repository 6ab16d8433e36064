//! The release phase and one-off dynos run on the manager, on the app's overlay.

use super::*;
use paas_core::AppName;

/// A one-off dyno on the manager, the way the release phase (`Builder::release_phase`)
/// and `paas run:detached` start it: `run_one_off` on paasd's engine client (which makes
/// overlay app networks under `PAAS_RUNTIME=swarm`), then `follow_and_reap`. Returns
/// its output and exit status.
async fn one_off(
    h: &Harness,
    docker: &paas_docker::Docker,
    name: &str,
    command: &str,
) -> (Vec<String>, i64) {
    let name = paas_core::DynoName::parse(name).unwrap();
    let spec = paas_docker::OneOffSpec {
        instance: h.instance.clone(),
        env: paas_core::dyno_env(&Default::default(), &name, None),
        dyno: paas_docker::OneOffLabels {
            app_name: AppName::parse(&h.app).unwrap(),
            name,
            release_id: None,
            version: None,
            command: command.to_owned(),
            detached: true,
        },
        image: image("v1"),
        limits: Default::default(),
        tty: false,
    };
    let id = docker.run_one_off(&spec).await.unwrap();
    let mut lines = Vec::new();
    let code = docker
        .follow_and_reap(&id, |line| lines.push(line))
        .await
        .unwrap();
    (lines, code)
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_release_phase_before_any_dyno_and_a_one_off_run_on_the_manager_on_the_apps_overlay(
    pool: PgPool,
) {
    let h = Harness::new(pool).await;
    let cluster = cluster();
    // What paasd hands the builder and the API under PAAS_RUNTIME=swarm.
    let docker = paas_docker::Docker::connect_to(&cluster.manager)
        .unwrap()
        .with_overlay_networks();
    let v1 = h.deploy("v1").await;

    // The first release's release phase comes before any service of the app: it makes
    // the app's network, and that must be the overlay its services join on any node.
    let (out, code) = one_off(&h, &docker, "release.1", "echo release ran on $(hostname)").await;
    assert_eq!(
        (out.as_slice(), code),
        (["release ran on release.1".to_owned()].as_slice(), 0)
    );
    let network = format!("paas-{}-{}", h.instance, h.app);
    let driver = node_docker(
        1,
        &[
            "network",
            "inspect",
            "--format",
            "{{.Driver}} {{.Attachable}}",
            &network,
        ],
    );
    assert_eq!(driver.trim(), "overlay true", "{network}");

    h.scale(3).await;
    let running = h.start().await;
    let dynos = h
        .wait_for(
            &running,
            240,
            "web=3 on the one-off's network, routed",
            |d, t| running_on_version(d, v1) == 3 && running.backends(t).len() == 3,
        )
        .await;
    let worker = dynos
        .iter()
        .find(|d| d.node.as_deref().is_some_and(|n| *n != node_host(1)))
        .unwrap_or_else(|| panic!("no dyno on a worker: {dynos:#?}"));
    let service = node_docker(
        1,
        &[
            "service",
            "inspect",
            "--format",
            "{{.Spec.Name}}",
            &worker.id,
        ],
    );

    // `paas run` on the manager reaches a dyno on a worker over the app's overlay (from
    // a container on that overlay, never from the host), by the service's DNS name. The
    // manager's DNS learns a worker's task address by gossip, a moment after the task
    // runs (CI saw "Temporary failure in name resolution" once): the lookup alone is
    // tried again, for up to 15 s.
    let fetch = format!(
        "python3 -c \"import socket, time, urllib.request\nfor i in range(30):\n    try: socket.getaddrinfo('{0}', 5000); break\n    except socket.gaierror: time.sleep(0.5)\nprint(urllib.request.urlopen('http://{0}:5000/', timeout=10).read().decode().strip())\"",
        service.trim()
    );
    let (out, code) = one_off(&h, &docker, "run.1", &fetch).await;
    assert_eq!(code, 0, "{out:?}");
    assert_eq!(
        out,
        [format!("{} v1", worker.dyno.name)],
        "the one-off reached {} on {:?}",
        service.trim(),
        worker.node
    );
    eprintln!(
        "one-off on the manager reached {} on {} over the overlay",
        worker.dyno.name,
        worker.node.as_deref().unwrap_or("?")
    );
    running.kill();
}

/// A paasd on the cluster; when dropped, it stops first (else its supervisor would
/// start again what the clean-up removes), then its services and networks are removed
/// from the cluster (paasd leaves its dynos running when it stops, on purpose).
struct ClusterPaasd(Option<paas_testkit::Paasd>);

impl std::ops::Deref for ClusterPaasd {
    type Target = paas_testkit::Paasd;
    fn deref(&self) -> &paas_testkit::Paasd {
        self.0.as_ref().unwrap()
    }
}

impl Drop for ClusterPaasd {
    fn drop(&mut self) {
        let Some(paasd) = self.0.take() else { return };
        let filter = format!("label=paas.instance={}", paasd.instance);
        drop(paasd);
        let ids = node_docker(1, &["service", "ls", "-q", "--filter", &filter]);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["service", "rm"];
            args.extend(ids);
            node_docker(1, &args);
        }
        for _ in 0..20 {
            let networks = node_docker(1, &["network", "ls", "-q", "--filter", &filter]);
            let networks: Vec<&str> = networks.split_whitespace().collect();
            if networks.is_empty() {
                break;
            }
            let mut args = vec!["network", "rm"];
            args.extend(networks);
            node_docker(1, &args);
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// paasd itself with `PAAS_RUNTIME=swarm` on the manager: a `git push` of an app with a
/// `release:` process runs the release phase (before any service of the app), its
/// dynos run on the workers too, `paas logs` shows what a worker's dyno printed, and
/// `paas run` runs on the manager.
#[tokio::test]
async fn paasd_on_a_swarm_runs_the_release_phase_shows_workers_output_in_paas_logs_and_runs_one_offs()
 {
    let cluster = cluster();
    let paasd = ClusterPaasd(Some(
        paas_testkit::Paasd::start_with(&[
            ("DOCKER_HOST", cluster.manager.as_str()),
            ("PAAS_RUNTIME", "swarm"),
            ("PAAS_REGISTRY", cluster.registry.as_str()),
            // The nodes share the host's file system: /var/run/docker.sock would be
            // the host engine's, not the node's.
            ("PAAS_SWARM_NODE_SOCKET", cluster.node_socket.as_str()),
        ])
        .await,
    ));
    let app = format!("swe-{}", &Uuid::new_v4().simple().to_string()[..8]);
    paasd.create_app(&app).await;
    let repo = paas_testkit::git::fixture_repo("procfile-shell");
    let procfile = repo.path().join("Procfile");
    let base = std::fs::read_to_string(&procfile).unwrap();
    std::fs::write(
        &procfile,
        format!("{base}release: echo \"migrating in $DYNO\"\n"),
    )
    .unwrap();
    paas_testkit::git::commit_all(repo.path(), "with a release phase");
    let out = paasd.push(repo.path(), &app, "main");
    let text = paas_testkit::stderr(&out);
    assert!(out.status.success(), "{text}\n{}", paasd.log());
    assert!(
        text.contains("Running release command") && text.contains("migrating in release.2"),
        "{text}"
    );
    paasd
        .api(
            reqwest::Method::PATCH,
            &format!("/apps/{app}/formation"),
            Some(serde_json::json!({"updates": [
                {"type": "web", "quantity": 1},
                {"type": "worker", "quantity": 3},
            ]})),
        )
        .await;
    let dynos = paasd
        .wait_dynos(&app, 240, |d| {
            d.iter().filter(|x| x["state"] == "up").count() == 4
        })
        .await;
    let on_workers: Vec<String> = dynos
        .iter()
        .filter(|d| d["type"] == "worker" && d["node"].as_str().is_some_and(|n| *n != node_host(1)))
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !on_workers.is_empty(),
        "no worker dyno on a worker node: {dynos:#?}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let logs = paas_testkit::ok(paasd.paas(repo.path(), &["logs", "-a", &app, "-n", "1500"]));
        if on_workers
            .iter()
            .all(|d| logs.contains(&format!("app[{d}]: tick")))
        {
            assert!(
                logs.contains("app[release.2]: migrating in release.2"),
                "{logs}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no output of {on_workers:?} (on worker nodes) in paas logs: {logs}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let out = paasd.paas(
        repo.path(),
        &["run", "-a", &app, "--", "sh", "-c", "echo one-off $DYNO"],
    );
    let run = paas_testkit::ok(out);
    assert!(run.contains("one-off run."), "{run}");
    eprintln!(
        "release phase, paas logs from {on_workers:?} on worker nodes, and paas run all worked"
    );
}
