//! What a previous paasd left unfinished is failed at start-up, and never released.

use paas_store::{BuildStatus, INTERRUPTED_BY_RESTART, NewBuild, ReleaseStatus, Store, StoreError};
use sqlx::PgPool;

use crate::new_app;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn builds_and_releases_left_pending_by_a_restart_are_failed_and_never_released(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app = new_app(&store, "interrupted").await;
    let done = crate::succeeded_build(&store, app, "5555555eeee", "web: serve").await;
    let pending = store
        .create_deploy_release(app, done, ReleaseStatus::Pending)
        .await
        .unwrap(); // v2: its release phase was cut off
    let cut_off = store
        .create_build(
            app,
            NewBuild {
                source_version: "6666666ffff",
                buildpacks: &[],
            },
        )
        .await
        .unwrap();
    let releases_before = store.releases(app).await.unwrap().len();

    assert_eq!(
        store.fail_interrupted_builds().await.unwrap(),
        [cut_off.build_id]
    );
    assert_eq!(
        store.fail_interrupted_releases().await.unwrap(),
        [pending.release_id]
    );

    let build = store.build(app, cut_off.build_id).await.unwrap();
    assert_eq!(build.status, BuildStatus::Failed);
    assert!(
        build
            .output
            .contains("interrupted by a restart of the platform"),
        "{:?}",
        build.output
    );
    assert_eq!(
        store.build(app, done).await.unwrap().status,
        BuildStatus::Succeeded,
        "finished builds are left alone"
    );
    let v2 = paas_core::ReleaseRef::Version(paas_core::ReleaseVersion::new(2).unwrap());
    let release = store.release(app, &v2).await.unwrap();
    assert_eq!(release.status, ReleaseStatus::Failed);
    assert_eq!(
        release.status_reason.as_deref(),
        Some(INTERRUPTED_BY_RESTART)
    );
    assert_eq!(store.current_release(app).await.unwrap().version, 1);

    // The release the interrupted build would have made never appears: a stale
    // builder can neither finish the build nor release it.
    assert!(matches!(
        store.finish_build(cut_off.build_id, Err(()), "late").await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_deploy_release(app, cut_off.build_id, ReleaseStatus::Succeeded)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.release_of_build(cut_off.build_id).await.unwrap(),
        None
    );
    assert_eq!(store.releases(app).await.unwrap().len(), releases_before);
    // A second start finds nothing left to fail.
    assert!(store.fail_interrupted_builds().await.unwrap().is_empty());
    assert!(store.fail_interrupted_releases().await.unwrap().is_empty());
}
