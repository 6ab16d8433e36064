//! A careless tenant cannot fill the host's disk (a dyno's kept output and its writable
//! filesystem are bounded), and dynos run unprivileged, limited, on their app's network.

use super::*;

/// The size of everything Docker keeps for a container under its own directory (its
/// kept output among it), in bytes.
fn container_dir_bytes(id: &str) -> u64 {
    let out = Command::new("du")
        .args(["-sb", &format!("/var/lib/docker/containers/{id}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_dyno_that_floods_its_output_keeps_a_bounded_log_that_still_reads(pool: PgPool) {
    let mut h = Harness::new(pool, &format!("web: {WEB}\nworker: yes flood")).await;
    h.settings.limits.log_file_bytes = 1 << 20;
    h.settings.limits.log_files = 2;
    h.scale("worker", 1).await;
    let (sup, _routes) = h.supervisor();
    let dynos = h
        .converge(&sup, 30, |d| running(d, "worker").len() == 1)
        .await;
    let worker = running(&dynos, "worker").into_iter().next().unwrap().1;
    // `yes` writes hundreds of MB in this time without a bound.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let kept = container_dir_bytes(&worker);
    assert!(
        kept < 4 << 20,
        "a flooding dyno keeps {kept} bytes of output, over 2 × 1 MiB"
    );
    let tail = Command::new("docker")
        .args(["logs", "--tail", "3", &worker])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&tail.stdout)
            .lines()
            .collect::<Vec<_>>(),
        ["flood", "flood", "flood"],
        "the newest output still reads: {tail:?}"
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_write_past_the_dyno_disk_limit_fails_inside_the_dyno_and_nowhere_else(pool: PgPool) {
    let mut h = Harness::new(
        pool,
        &format!(
            "web: {WEB}\nworker: dd if=/dev/zero of=/tmp/fill bs=1M count=64; echo dd=$?; sleep 100000"
        ),
    )
    .await;
    h.settings.limits.disk_bytes = 16 << 20;
    h.scale("worker", 1).await;
    let (sup, routes) = h.supervisor();
    let dynos = h
        .converge(&sup, 30, |d| {
            running(d, "worker").len() == 1 && running(d, "web").len() == 1
        })
        .await;
    let worker = running(&dynos, "worker").into_iter().next().unwrap().1;
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let out = Command::new("docker")
            .args(["logs", &worker])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if text.contains("dd=") || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        out.contains("No space left on device") && !out.contains("dd=0"),
        "a 64 MiB write into a 16 MiB dyno disk must fail: {out}"
    );
    // The other dyno serves on (once its readiness probe has seen it listen).
    let host = format!("{}.localhost", h.app);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        sup.reconcile_once().await.unwrap();
        let table = routes.borrow().clone();
        if ready_web_count(&table, &host) == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the web dyno never served: {table:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn dynos_run_unprivileged_with_limits_on_their_apps_network(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    let (sup, _) = h.supervisor();
    let dynos = h.converge(&sup, 60, |d| running(d, "web").len() == 1).await;
    let id = &dynos[0].id;
    let format = "{{json .HostConfig.CapDrop}}|{{json .HostConfig.SecurityOpt}}|{{.HostConfig.Memory}}|{{.HostConfig.PidsLimit}}|{{.HostConfig.Privileged}}|{{json .HostConfig.Binds}}|{{.HostConfig.NetworkMode}}|{{.Config.User}}|{{.Name}}";
    let out = Command::new("docker")
        .args(["inspect", "--format", format, id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let fields: Vec<&str> = text.split('|').collect();
    assert_eq!(fields[0], r#"["ALL"]"#, "{text}");
    assert_eq!(fields[1], r#"["no-new-privileges"]"#, "{text}");
    assert_eq!(fields[2], (256u64 << 20).to_string(), "{text}");
    assert_eq!(fields[3], "512", "{text}");
    assert_eq!(fields[4], "false", "{text}");
    assert_eq!(fields[5], "null", "no host mounts: {text}");
    assert_eq!(
        fields[6],
        format!("paas-{}-{}", h.instance, h.app),
        "{text}"
    );
    assert_eq!(
        fields[7], "1000:1000",
        "the image's unprivileged user: {text}"
    );
    assert_eq!(fields[8], format!("/{}.web.1.v2", h.app), "{text}");
}
