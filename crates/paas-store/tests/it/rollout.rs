//! The rollout state a push waits on, from what the supervisor recorded.

use paas_core::{ConfigChange, ProcessType, Quantity, ScaleChange};
use paas_store::{DynoReport, ReleaseStatus, Rollout, Store};
use sqlx::PgPool;
use uuid::Uuid;

use crate::new_app;

fn dyno(name: &str, release: Uuid, state: &'static str, exit_code: Option<i32>) -> DynoReport {
    DynoReport {
        name: name.to_owned(),
        process_type: name.split('.').next().unwrap().to_owned(),
        release_id: Some(release),
        command: "serve".to_owned(),
        state: crate::dyno_state(state),
        container_id: format!("{name}-{release}"),
        exit_code,
        started_at: None,
        node: None,
    }
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_rollout_is_starting_done_crashed_or_failed_as_the_supervisor_recorded(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app = new_app(&store, "rolled").await;
    let build = crate::succeeded_build(&store, app, "8888888bbbb", "web: a\nworker: b").await;
    let v2 = store
        .create_deploy_release(app, build, ReleaseStatus::Succeeded)
        .await
        .unwrap();
    let web = |n: u32| ScaleChange::To(Quantity::new(n.into()).unwrap());
    store
        .scale(app, &[(ProcessType::web(), web(2))])
        .await
        .unwrap();
    let id = v2.release_id;

    store
        .record_dynos(
            app,
            &[
                dyno("web.1", id, "up", None),
                dyno("web.2", id, "starting", None),
                dyno("worker.1", id, "crashed", Some(3)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.rollout(app, 2).await.unwrap(),
        Rollout::Starting { up: 1, wanted: 2 },
        "a crashed worker is not the web rollout's business"
    );

    store
        .record_dynos(
            app,
            &[dyno("web.1", id, "up", None), dyno("web.2", id, "up", None)],
        )
        .await
        .unwrap();
    assert_eq!(
        store.rollout(app, 2).await.unwrap(),
        Rollout::Done { up: 2, wanted: 2 }
    );

    store
        .record_dynos(
            app,
            &[
                dyno("web.1", id, "up", None),
                dyno("web.2", id, "crashed", Some(1)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.rollout(app, 2).await.unwrap(),
        Rollout::Crashed {
            dyno: "web.2".into(),
            exit_code: Some(1)
        }
    );

    // v3 (a config change) starts; a dyno of it supersedes v2's rollout.
    let change = ConfigChange::parse([("A", Some("1"))]).unwrap();
    let v3 = store.update_config(app, &change).await.unwrap().1.unwrap();
    store
        .record_dynos(
            app,
            &[
                dyno("web.1", v3.release_id, "starting", None),
                dyno("web.2", id, "up", None),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.rollout(app, 2).await.unwrap(),
        Rollout::Done { up: 1, wanted: 2 }
    );
    assert_eq!(
        store.rollout(app, 3).await.unwrap(),
        Rollout::Starting { up: 0, wanted: 2 }
    );

    assert!(
        store
            .fail_rollout(v3.release_id, "never listened")
            .await
            .unwrap()
    );
    assert_eq!(
        store.rollout(app, 3).await.unwrap(),
        Rollout::Failed {
            reason: Some("never listened".into())
        }
    );

    store
        .scale(app, &[(ProcessType::web(), web(0))])
        .await
        .unwrap();
    store.record_dynos(app, &[]).await.unwrap();
    assert_eq!(
        store.rollout(app, 2).await.unwrap(),
        Rollout::Done { up: 0, wanted: 0 },
        "no web dyno wanted: nothing to wait for"
    );
    assert!(matches!(
        store.rollout(app, 9).await,
        Err(paas_store::StoreError::NotFound { .. })
    ));
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_start_failure_of_the_release_is_what_its_rollout_reports_until_cleared(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app = new_app(&store, "refused").await;
    let build = crate::succeeded_build(&store, app, "8888888cccc", "web: a").await;
    let v2 = store
        .create_deploy_release(app, build, ReleaseStatus::Succeeded)
        .await
        .unwrap();
    let web = ScaleChange::To(Quantity::new(1).unwrap());
    store
        .scale(app, &[(ProcessType::web(), web)])
        .await
        .unwrap();
    assert_eq!(
        store.rollout(app, 2).await.unwrap(),
        Rollout::Starting { up: 0, wanted: 1 }
    );

    store
        .record_start_failure(app, v2.release_id, "no such image", 1)
        .await
        .unwrap();
    store
        .record_start_failure(app, v2.release_id, "no network", 2)
        .await
        .unwrap();
    assert_eq!(
        store.rollout(app, 2).await.unwrap(),
        Rollout::CannotStart {
            reason: "no network".into(),
            failures: 2
        },
        "the latest refusal, counted"
    );
    let failure = store.start_failure(app).await.unwrap().unwrap();
    assert_eq!((failure.version, failure.failures), (2, 2));
    assert_eq!(
        store.rollout(app, 1).await.unwrap(),
        Rollout::Starting { up: 0, wanted: 1 },
        "another release's rollout is not refused"
    );

    store.clear_start_failure(app).await.unwrap();
    assert_eq!(store.start_failure(app).await.unwrap(), None);
    assert_eq!(
        store.rollout(app, 2).await.unwrap(),
        Rollout::Starting { up: 0, wanted: 1 }
    );
}
