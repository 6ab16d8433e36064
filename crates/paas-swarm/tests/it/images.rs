//! Images by digest: a rollback pulls the older image on a node that never ran it, and
//! a deleted app's images leave the registry and every node that pulled them, and
//! nothing else does.

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

/// Every reference (`repo:tag`, `repo@sha256:…`) of every image node `n` holds.
fn references_on(n: u32) -> BTreeSet<String> {
    let ids: BTreeSet<String> = node_docker(n, &["image", "ls", "-aq"])
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return BTreeSet::new();
    }
    let mut args = vec![
        "image",
        "inspect",
        "--format",
        "{{range .RepoTags}}{{println .}}{{end}}{{range .RepoDigests}}{{println .}}{{end}}",
    ];
    args.extend(ids.iter().map(String::as_str));
    node_docker(n, &args)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// The repository of `repo:tag` or `repo@sha256:…` (a registry's `host:port` kept).
fn repository(reference: &str) -> &str {
    if let Some((repo, _)) = reference.split_once('@') {
        return repo;
    }
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => reference,
    }
}

fn of_repository(references: &BTreeSet<String>, repo: &str) -> BTreeSet<String> {
    references
        .iter()
        .filter(|r| repository(r) == repo)
        .cloned()
        .collect()
}

fn collectors(instance: &str) -> String {
    node_docker(
        1,
        &[
            "service",
            "ls",
            "-q",
            "--filter",
            "label=paas.kind=image_collector",
            "--filter",
            &format!("label=paas.instance={instance}"),
        ],
    )
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_deleted_apps_images_leave_every_node_that_pulled_them_and_nothing_else_does(
    pool: PgPool,
) {
    let mut h = Harness::new(pool).await;
    h.settings.network_min_age = Duration::ZERO;
    // Its name starts with the deleted app's: only that app's exact repository may go.
    let other = format!("{}-b", h.app);
    let other_id = ledger::create_app(&h.store, &other).await;
    // Both apps run v1 (on a node: one image under two names); the deleted app then
    // rolls on to v2, an image of its own.
    let v1 = h.deploy("v1").await;
    let other_v1 = ledger::deploy(&h.store, other_id, &image("v1"), PROCFILE).await;
    h.scale(3).await;
    ledger::scale(&h.store, other_id, "web", 3).await;
    let running = Arc::new(h.start().await);
    let app_id = h.app_id;
    let on = move |d: &[ObservedContainer], app: Uuid, version: i32| {
        d.iter()
            .filter(|c| c.running() && c.dyno.app_id == app && c.dyno.version.get() == version)
            .count()
    };
    h.wait_for(&running, 300, "web=3 of both apps on v1", |d, _| {
        on(d, app_id, v1) == 3 && on(d, other_id, other_v1) == 3
    })
    .await;
    let v2 = h.deploy("v2").await;
    let dynos = h
        .wait_for(&running, 300, "web=3 of the first app on v2", |d, _| {
            on(d, app_id, v2) == 3 && d.iter().filter(|c| c.dyno.app_id == app_id).count() == 3
        })
        .await;

    let registry = &cluster().registry;
    let gone_repo = format!("{registry}/paas/{}", h.app);
    let kept_repo = format!("{registry}/paas/{other}");
    let before: HashMap<u32, BTreeSet<String>> = (1..=3).map(|n| (n, references_on(n))).collect();
    let holders: Vec<u32> = [2, 3]
        .into_iter()
        .filter(|n| !of_repository(&before[n], &gone_repo).is_empty())
        .collect();
    assert!(
        !holders.is_empty(),
        "no worker pulled the app's images: {dynos:#?} {before:#?}"
    );
    // An unrelated name for the deleted app's own v2 image, on a worker that pulled it
    // (a worker may hold only v1, when v2's dynos were placed elsewhere): removing the
    // app's names must leave the image (no forced removal by id).
    let (worker, v2_ref) = holders
        .iter()
        .find_map(|n| {
            of_repository(&before[n], &gone_repo)
                .into_iter()
                .find(|r| dynos.iter().any(|d| service_image(d) == *r))
                .map(|r| (*n, r))
        })
        .unwrap_or_else(|| panic!("no worker holds the v2 image: {dynos:#?} {before:#?}"));
    let unrelated = format!("unrelated-{}/kept:1", h.instance);
    node_docker(worker, &["tag", &v2_ref, &unrelated]);
    assert!(references_on(worker).contains(&unrelated));
    let kept_before: HashMap<u32, BTreeSet<String>> = before
        .iter()
        .map(|(n, refs)| (*n, of_repository(refs, &kept_repo)))
        .collect();
    assert!(
        kept_before.values().any(|r| !r.is_empty()),
        "the other app's images are on no node: {before:#?}"
    );

    h.store.delete_app(h.app_id).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let left: Vec<(u32, BTreeSet<String>)> = (1..=3)
            .map(|n| (n, of_repository(&references_on(n), &gone_repo)))
            .filter(|(_, refs)| !refs.is_empty())
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deleted app's images are still on nodes (workers {holders:?} held them): {left:#?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for n in 1..=3 {
        let now = references_on(n);
        assert_eq!(
            of_repository(&now, &kept_repo),
            kept_before[&n],
            "node {n}: the other app's images changed"
        );
        let untouched: BTreeSet<&String> = before[&n]
            .iter()
            .filter(|r| repository(r) != gone_repo)
            .collect();
        let missing: Vec<&&String> = untouched.iter().filter(|r| !now.contains(**r)).collect();
        assert!(missing.is_empty(), "node {n} lost {missing:?}");
    }
    assert!(references_on(worker).contains(&unrelated));
    let others = h.dynos().await;
    assert_eq!(on(&others, other_id, other_v1), 3, "{others:#?}");

    // The finished job is removed by the supervisor's reap timer.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !collectors(&h.instance).trim().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the image collector is still there: {}",
            collectors(&h.instance)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    node_docker(worker, &["rmi", &unrelated]);
    Arc::into_inner(running).unwrap().kill();
}
