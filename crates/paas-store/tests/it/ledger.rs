//! The release ledger's invariants, proved with plain SQL and with racing writers.

use std::collections::BTreeSet;

use paas_core::{ConfigChange, ReleaseRef, ReleaseVersion};
use paas_store::Store;
use sqlx::PgPool;

use crate::new_app;

fn set(key: &str, value: &str) -> ConfigChange {
    ConfigChange::parse([(key, Some(value))]).expect("valid change")
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn the_trigger_rejects_update_and_delete_of_releases_issued_as_plain_sql(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let app = new_app(&store, "ledger").await;
    store.update_config(app, &set("A", "1")).await.unwrap();

    let update = sqlx::query("update release set description = 'tampered' where app_id = $1")
        .bind(app)
        .execute(&pool)
        .await;
    let err = update.expect_err("UPDATE must be rejected");
    assert!(err.to_string().contains("append-only"), "{err}");

    let delete = sqlx::query("delete from release where app_id = $1")
        .bind(app)
        .execute(&pool)
        .await;
    assert!(
        delete
            .expect_err("DELETE must be rejected")
            .to_string()
            .contains("append-only")
    );

    let truncate = sqlx::query("truncate release cascade").execute(&pool).await;
    assert!(truncate.is_err(), "TRUNCATE must be rejected");

    let descriptions: Vec<String> =
        sqlx::query_scalar("select description from release where app_id = $1 order by version")
            .bind(app)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(descriptions, ["Initial release", "Set A config vars"]);
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn destroying_an_app_removes_its_whole_history_in_one_statement(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let app = new_app(&store, "doomed").await;
    let other = new_app(&store, "survivor").await;
    store.update_config(app, &set("A", "1")).await.unwrap();
    crate::succeeded_build(&store, app, "abc1234", "web: run").await;

    store.delete_app(app).await.unwrap();

    for table in [
        "release",
        "config_var",
        "build",
        "formation",
        "release_status",
    ] {
        let sql = format!(
            "select count(*) from {table} where {}",
            if table == "release_status" {
                "release_id not in (select release_id from release)"
            } else {
                "app_id = $1"
            }
        );
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(app)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(count, 0, "{table} still has rows of the destroyed app");
    }
    assert_eq!(
        store.releases(other).await.unwrap().len(),
        1,
        "other apps keep their ledger"
    );
    assert!(matches!(
        store.app("doomed").await,
        Err(paas_store::StoreError::NotFound { .. })
    ));
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn fifty_concurrent_config_changes_leave_contiguous_unique_versions(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let app = new_app(&store, "racy").await;
    let writers = (0..50).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.update_config(app, &set(&format!("K{i}"), "v")).await })
    });
    for result in futures::future::join_all(writers).await {
        result.expect("task").expect("config change");
    }
    let versions: Vec<i32> = store
        .releases(app)
        .await
        .unwrap()
        .iter()
        .map(|r| r.version)
        .collect();
    assert_eq!(versions, (1..=51).collect::<Vec<_>>());
    let distinct: BTreeSet<_> = versions.iter().collect();
    assert_eq!(distinct.len(), 51);
    // Every change is in the final config: no writer lost another's update.
    assert_eq!(store.config_vars(app).await.unwrap().as_map().len(), 50);
    let current = store.current_release(app).await.unwrap();
    assert_eq!(current.version, 51);
    assert_eq!(
        current.config.0.len(),
        50,
        "the current release snapshots the whole config"
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn rollback_appends_a_release_equal_in_build_and_config_to_its_target(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app = new_app(&store, "rolling").await;
    let first_build =
        crate::succeeded_build(&store, app, "1111111aaaa", "web: one\nworker: w").await;
    let v2 = store
        .create_deploy_release(app, first_build, paas_store::ReleaseStatus::Succeeded)
        .await
        .unwrap();
    assert_eq!(v2.description, "Deploy 1111111");
    store.update_config(app, &set("A", "1")).await.unwrap(); // v3
    let second_build = crate::succeeded_build(&store, app, "2222222bbbb", "web: two").await;
    store
        .create_deploy_release(app, second_build, paas_store::ReleaseStatus::Succeeded)
        .await
        .unwrap(); // v4
    store.update_config(app, &set("A", "2")).await.unwrap(); // v5

    let target = ReleaseRef::Version(ReleaseVersion::new(3).unwrap());
    let rollback = store.rollback(app, &target).await.unwrap();
    let v3 = store.release(app, &target).await.unwrap();

    assert_eq!(rollback.version, 6);
    assert_eq!(rollback.description, "Rollback to v3");
    assert_eq!(rollback.build_id, v3.build_id);
    assert_eq!(rollback.build_id, Some(first_build));
    assert_eq!(rollback.config, v3.config);
    assert!(rollback.current);
    assert_eq!(store.config_vars(app).await.unwrap().get("A"), Some("1"));
    let types: Vec<String> = store
        .formation(app)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.process_type)
        .collect();
    assert_eq!(
        types,
        ["web", "worker"],
        "the formation follows the rolled-back build"
    );
    // The rolled-back-from releases are still there, untouched.
    assert_eq!(store.releases(app).await.unwrap().len(), 6);
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn every_kind_of_ledger_writer_is_serialized_by_the_apps_lock(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app = new_app(&store, "mixed").await;
    let build = crate::succeeded_build(&store, app, "3333333cccc", "web: serve").await;
    store
        .create_deploy_release(app, build, paas_store::ReleaseStatus::Succeeded)
        .await
        .unwrap(); // v2, web=1
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .update_config(app, &set(&format!("K{i}"), "v"))
                .await
                .map(|_| ())
        }));
    }
    for _ in 0..5 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_deploy_release(app, build, paas_store::ReleaseStatus::Succeeded)
                .await
                .map(|_| ())
        }));
    }
    for _ in 0..5 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let web = paas_core::ProcessType::web();
            store
                .scale(app, &[(web, paas_core::ScaleChange::By(1))])
                .await
                .map(|_| ())
        }));
    }
    for result in futures::future::join_all(tasks).await {
        result.expect("task").expect("ledger write");
    }
    let releases = store.releases(app).await.unwrap();
    let versions: Vec<i32> = releases.iter().map(|r| r.version).collect();
    assert_eq!(versions, (1..=17).collect::<Vec<_>>());
    // A deploy takes the config as it is under the lock: no config change is lost,
    // and no deploy's snapshot has a key that was not set before it.
    assert_eq!(store.config_vars(app).await.unwrap().as_map().len(), 10);
    for pair in releases.windows(2) {
        assert!(
            pair[0].config.0.len() <= pair[1].config.0.len(),
            "v{} has fewer vars than v{}",
            pair[1].version,
            pair[0].version
        );
    }
    assert_eq!(store.formation(app).await.unwrap()[0].quantity, 6);
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn every_read_agrees_on_the_current_release(pool: PgPool) {
    use paas_store::ReleaseStatus;
    let store = Store::from_pool(pool);
    let app = new_app(&store, "agreed").await;
    let build = crate::succeeded_build(&store, app, "4444444dddd", "web: serve").await;
    let v2 = store
        .create_deploy_release(app, build, ReleaseStatus::Succeeded)
        .await
        .unwrap();
    let (_, v3) = store.update_config(app, &set("A", "1")).await.unwrap();
    let v3 = v3.unwrap();
    let pending = store
        .create_deploy_release(app, build, ReleaseStatus::Pending)
        .await
        .unwrap(); // v4, never settled
    assert!(
        store
            .fail_rollout(v3.release_id, "never listened")
            .await
            .unwrap()
    );

    let releases = store.releases(app).await.unwrap();
    let statuses: Vec<ReleaseStatus> = releases.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            ReleaseStatus::Succeeded,
            ReleaseStatus::Succeeded,
            ReleaseStatus::Failed,
            ReleaseStatus::Pending
        ]
    );
    let current: Vec<i32> = releases
        .iter()
        .filter(|r| r.current)
        .map(|r| r.version)
        .collect();
    assert_eq!(current, [v2.version]);
    assert_eq!(
        store.current_release(app).await.unwrap().release_id,
        v2.release_id
    );
    assert_eq!(
        store.app("agreed").await.unwrap().released_at,
        Some(v2.created_at)
    );
    let desired = store.desired_apps().await.unwrap();
    assert_eq!(desired.len(), 1);
    assert_eq!(desired[0].release_id, v2.release_id);
    assert!(
        !desired[0].config.contains_key("A"),
        "{:?}",
        desired[0].config
    );
    // The failed change's config is gone from the app too, so the next release
    // (made from the current build) does not bring it back.
    assert_eq!(store.config_vars(app).await.unwrap().get("A"), None);
    let (_, v5) = store.update_config(app, &set("B", "2")).await.unwrap();
    let v5 = v5.unwrap();
    assert_eq!(v5.build_id, Some(build));
    assert!(v5.current);
    assert_ne!(pending.release_id, v5.release_id);
}

/// The pointer `app.current_release_id` (what the `current_release` view reads) is the
/// newest succeeded release after every kind of ledger write, asked the long way round.
#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn the_stored_current_release_is_the_newest_succeeded_one_after_every_write(pool: PgPool) {
    use paas_store::ReleaseStatus;
    let store = Store::from_pool(pool.clone());
    let app = new_app(&store, "pointer").await;
    let other = new_app(&store, "bystander").await;
    let agree = |step: &'static str| {
        let pool = pool.clone();
        async move {
            let (stored, newest): (Option<uuid::Uuid>, Option<uuid::Uuid>) = sqlx::query_as(
                "select a.current_release_id,
                        (select r.release_id from release r join release_status s using (release_id)
                          where r.app_id = a.app_id and s.status = 'succeeded'
                          order by r.version desc limit 1)
                   from app a where a.app_id = $1",
            )
            .bind(app)
            .fetch_one(&pool)
            .await
            .unwrap();
            assert!(stored.is_some(), "{step}: no current release");
            assert_eq!(stored, newest, "{step}");
        }
    };
    agree("created").await;
    let build = crate::succeeded_build(&store, app, "5555555eeee", "web: serve").await;
    let v2 = store
        .create_deploy_release(app, build, ReleaseStatus::Succeeded)
        .await
        .unwrap();
    agree("deployed").await;
    let v3 = store
        .create_deploy_release(app, build, ReleaseStatus::Pending)
        .await
        .unwrap();
    agree("a pending release").await;
    let (_, v4) = store.update_config(app, &set("A", "1")).await.unwrap();
    agree("a config change while one is pending").await;
    store
        .finish_release(v3.release_id, ReleaseStatus::Succeeded, None)
        .await
        .unwrap();
    agree("the older pending one succeeded after the newer").await;
    assert!(
        store
            .fail_rollout(v4.unwrap().release_id, "never listened")
            .await
            .unwrap()
    );
    agree("the newest one's rollout failed").await;
    store
        .rollback(
            app,
            &ReleaseRef::Version(ReleaseVersion::new(v2.version).unwrap()),
        )
        .await
        .unwrap();
    agree("rolled back").await;
    let v7 = store
        .create_deploy_release(app, build, ReleaseStatus::Pending)
        .await
        .unwrap();
    store
        .finish_release(v7.release_id, ReleaseStatus::Failed, Some("release phase"))
        .await
        .unwrap();
    agree("a failed release phase").await;
    assert_eq!(
        store.current_release(other).await.unwrap().version,
        1,
        "another app's writes move only its own"
    );
    let bogus = sqlx::query("update app set current_release_id = $2 where app_id = $1")
        .bind(other)
        .bind(v2.release_id)
        .execute(&pool)
        .await;
    assert!(
        bogus.is_err(),
        "an app's current release must be one of its own"
    );
}

/// "The newest succeeded release" is read through the `current_release` view, and only
/// the ledger writes the pointer it reads: no query of the store spells the rule out
/// again, and no other file sets `current_release_id`.
#[test]
fn the_current_release_is_defined_only_by_the_view() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // Every source file, in modules' directories too (`src/ledger/`).
    let mut dirs = vec![src];
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("status = 'succeeded'"),
            "{} selects succeeded releases itself; use the current_release view",
            path.display()
        );
        assert!(
            !text.contains("current_release_id") || path.ends_with("ledger.rs"),
            "{} writes the current release; only the ledger (ReleaseTx) may",
            path.display()
        );
    }
}
