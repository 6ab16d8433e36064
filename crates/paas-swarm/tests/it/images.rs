//! Images by digest: a rollback pulls the older image on a node that never ran it.

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
