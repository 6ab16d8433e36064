//! What the supervisor records about the dynos it observed.

use paas_store::{DynoReport, Store};
use sqlx::PgPool;

use crate::new_app;

fn report(name: &str, container: &str, state: &'static str) -> DynoReport {
    DynoReport {
        name: name.to_owned(),
        process_type: name.split('.').next().unwrap().to_owned(),
        release_id: None,
        command: "serve".to_owned(),
        state: crate::dyno_state(state),
        container_id: container.to_owned(),
        exit_code: None,
        started_at: None,
        node: None,
    }
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_dyno_keeps_its_id_across_passes_and_a_removed_one_disappears(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app = new_app(&store, "observed").await;
    let ids = |rows: &[paas_store::DynoRow]| {
        rows.iter()
            .map(|d| (d.name.clone(), d.dyno_id))
            .collect::<std::collections::BTreeMap<_, _>>()
    };

    let first = [
        report("web.1", "c1", "starting"),
        report("worker.1", "c2", "up"),
    ];
    store.record_dynos(app, &first).await.unwrap();
    let one = store.dynos(app).await.unwrap();
    assert_eq!(one.len(), 2);

    // The next pass sees the same containers, one of them now up.
    let second = [report("web.1", "c1", "up"), report("worker.1", "c2", "up")];
    store.record_dynos(app, &second).await.unwrap();
    let two = store.dynos(app).await.unwrap();
    assert_eq!(ids(&two), ids(&one), "the same dynos keep their ids");
    assert_eq!(two[0].state, "up");
    let worker =
        |rows: &[paas_store::DynoRow]| rows.iter().find(|d| d.name == "worker.1").unwrap().clone();
    assert_eq!(
        worker(&two).updated_at,
        worker(&one).updated_at,
        "an unchanged dyno is not rewritten"
    );

    // worker.1 is gone; web.1 was replaced by a new container (a new dyno).
    let third = [report("web.1", "c3", "starting")];
    store.record_dynos(app, &third).await.unwrap();
    let three = store.dynos(app).await.unwrap();
    assert_eq!(three.len(), 1, "{three:?}");
    assert_eq!(three[0].name, "web.1");
    assert_eq!(three[0].container_id.as_deref(), Some("c3"));
    assert_ne!(three[0].dyno_id, ids(&one)["web.1"]);

    // A slot reported twice mid-rollout keeps the first report, as before.
    let fourth = [
        report("web.1", "c3", "up"),
        report("web.1", "c4", "starting"),
    ];
    store.record_dynos(app, &fourth).await.unwrap();
    let four = store.dynos(app).await.unwrap();
    assert_eq!(four.len(), 1);
    assert_eq!(four[0].dyno_id, three[0].dyno_id);
    assert_eq!(four[0].state, "up");

    store.record_dynos(app, &[]).await.unwrap();
    assert!(store.dynos(app).await.unwrap().is_empty());
}

/// Apps named `names`, each with a succeeded release (`web` and `worker`) and a domain
/// `<name>.example.com`.
async fn deployed_apps(store: &Store, names: &[&str]) -> Vec<uuid::Uuid> {
    let mut deployed = Vec::new();
    for name in names {
        let app = new_app(store, name).await;
        let build = crate::succeeded_build(store, app, "9999999cccc", "web: a\nworker: b").await;
        store
            .create_deploy_release(app, build, paas_store::ReleaseStatus::Succeeded)
            .await
            .unwrap();
        store
            .add_domain(app, &format!("{name}.example.com"))
            .await
            .unwrap();
        deployed.push(app);
    }
    deployed
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn one_apps_desired_state_is_what_the_whole_read_says_of_it(pool: PgPool) {
    let store = Store::from_pool(pool);
    let deployed = deployed_apps(&store, &["first", "second"]).await;
    let undeployed = new_app(&store, "empty").await;
    let all = store.desired_apps().await.unwrap();
    assert_eq!(all.len(), 2);
    for app in &deployed {
        let one = store.desired_app(*app).await.unwrap().expect("deployed");
        assert_eq!(Some(&one), all.iter().find(|d| d.app_id == *app));
        assert_eq!(one.hostnames.len(), 1, "{one:?}");
        assert_eq!(one.formation.len(), 2, "{one:?}");
    }
    assert_eq!(store.desired_app(undeployed).await.unwrap(), None);
    assert_eq!(store.desired_app(uuid::Uuid::now_v7()).await.unwrap(), None);
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn some_apps_desired_state_is_what_the_whole_read_says_of_them(pool: PgPool) {
    let store = Store::from_pool(pool);
    let deployed = deployed_apps(&store, &["first", "second", "third"]).await;
    let undeployed = new_app(&store, "empty").await;
    let all = store.desired_apps().await.unwrap();
    let asked = [deployed[0], deployed[2], undeployed, uuid::Uuid::now_v7()];
    let some = store.desired_apps_in(&asked).await.unwrap();
    let mut ids: Vec<uuid::Uuid> = some.iter().map(|d| d.app_id).collect();
    ids.sort();
    let mut expected = vec![deployed[0], deployed[2]];
    expected.sort();
    assert_eq!(ids, expected, "only the deployed apps asked for");
    for one in &some {
        assert_eq!(Some(one), all.iter().find(|d| d.app_id == one.app_id));
        assert_eq!(one.hostnames.len(), 1, "{one:?}");
        assert_eq!(one.formation.len(), 2, "{one:?}");
    }
    assert!(store.desired_apps_in(&[]).await.unwrap().is_empty());
}
