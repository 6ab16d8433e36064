//! Images by digest: a rollback pulls the older image on a node that never ran it, and
//! a deleted app's images leave the registry.

use super::*;

/// The image references (`repo@sha256:…`) node `n` holds.
fn digests_on(n: u32) -> String {
    node_docker(
        n,
        &[
            "image",
            "ls",
            "--digests",
            "--format",
            "{{.Repository}}@{{.Digest}}",
        ],
    )
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_rollback_pulls_the_older_image_by_digest_on_a_node_that_never_ran_it(pool: PgPool) {
    let h = Harness::new(pool).await;
    let v1 = h.deploy("v1").await;
    let running = Arc::new(h.start().await);
    let first = h
        .wait_for(&running, 240, "web.1 of the first release", |d, t| {
            running_on_version(d, v1) == 1 && running.backends(t).len() == 1
        })
        .await;
    let reference = node_docker(
        1,
        &[
            "service",
            "inspect",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            &first[0].id,
        ],
    )
    .trim()
    .to_owned();
    assert!(
        reference.contains("@sha256:") && reference.starts_with(&cluster().registry),
        "services must name their image by digest in the registry: {reference}"
    );
    let (repo, digest) = reference.split_once('@').unwrap();
    let v1_ref = format!("{repo}@{digest}");

    let v2 = h.deploy("v2").await;
    h.scale(3).await;
    h.wait_for(&running, 240, "web=3 of the second release", |d, t| {
        running_on_version(d, v2) == 3 && d.len() == 3 && running.backends(t).len() == 3
    })
    .await;
    let never_ran: Vec<u32> = [2, 3]
        .into_iter()
        .filter(|n| !digests_on(*n).contains(&v1_ref))
        .collect();
    assert!(!never_ran.is_empty(), "every worker already holds {v1_ref}");

    let rollback = h
        .store
        .rollback(
            h.app_id,
            &ReleaseRef::Version(paas_core::ReleaseVersion::new(v1).unwrap()),
        )
        .await
        .unwrap()
        .version;
    let rolled = h
        .wait_for(&running, 240, "web=3 of the rollback", |d, t| {
            running_on_version(d, rollback) == 3
                && d.len() == 3
                && running.backends(t).iter().all(|(_, v)| *v == rollback)
        })
        .await;
    let body = running.get().await.unwrap();
    assert!(body.contains(" v1 "), "{body}");
    let pulled: Vec<u32> = rolled
        .iter()
        .map(|d| node_number(d.node.as_deref().unwrap()))
        .filter(|n| never_ran.contains(n))
        .collect();
    assert!(
        !pulled.is_empty(),
        "no dyno of the rollback landed on a node that never ran it ({never_ran:?}): {rolled:#?}"
    );
    for n in pulled {
        assert!(digests_on(n).contains(&v1_ref), "node {n} lacks {v1_ref}");
    }
    Arc::into_inner(running).unwrap().kill();
}

/// The registry's status for `HEAD` of `reference` (`registry/repo@sha256:…`).
async fn manifest_status(reference: &str) -> u16 {
    let (repo, digest) = reference.split_once('@').unwrap();
    let (registry, name) = repo.split_once('/').unwrap();
    reqwest::Client::new()
        .head(format!("http://{registry}/v2/{name}/manifests/{digest}"))
        .header(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The image the service of `dyno` names.
fn service_image(dyno: &ObservedContainer) -> String {
    node_docker(
        1,
        &[
            "service",
            "inspect",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            &dyno.id,
        ],
    )
    .trim()
    .to_owned()
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_deleted_apps_release_images_leave_the_registry(pool: PgPool) {
    let mut h = Harness::new(pool).await;
    h.settings.network_min_age = Duration::ZERO;
    let v1 = h.deploy("v1").await;
    let running = Arc::new(h.start().await);
    let first = h
        .wait_for(&running, 240, "web.1 of the first release", |d, t| {
            running_on_version(d, v1) == 1 && running.backends(t).len() == 1
        })
        .await;
    let first = service_image(&first[0]);
    let v2 = h.deploy("v2").await;
    let second = h
        .wait_for(&running, 240, "web.1 of the second release", |d, t| {
            running_on_version(d, v2) == 1 && d.len() == 1 && running.backends(t).len() == 1
        })
        .await;
    let references = [first, service_image(&second[0])];
    assert_ne!(references[0], references[1]);
    for reference in &references {
        // While the app exists every release can be rolled back to: both are kept.
        assert_eq!(manifest_status(reference).await, 200, "{reference}");
    }

    h.store.delete_app(h.app_id).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut statuses = Vec::new();
        for reference in &references {
            statuses.push(manifest_status(reference).await);
        }
        if statuses == [404, 404] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deleted app's manifests are still in the registry: {references:?} → {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(h.dynos().await.is_empty());
    Arc::into_inner(running).unwrap().kill();
}
