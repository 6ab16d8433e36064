//! Store rules beyond the ledger: names, validation that stores nothing, formation.

use paas_core::{ConfigChange, ProcessType, Quantity, ScaleChange};
use paas_store::{ReleaseStatus, Store, StoreError};
use sqlx::PgPool;

use crate::new_app;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn app_names_are_unique(pool: PgPool) {
    let store = Store::from_pool(pool);
    new_app(&store, "taken").await;
    let again = store
        .create_app(&paas_core::AppName::parse("taken").unwrap())
        .await;
    assert!(matches!(again, Err(StoreError::AppNameTaken(name)) if name == "taken"));
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn the_schema_refuses_invalid_names_even_past_the_domain_types(pool: PgPool) {
    let bad = sqlx::query("insert into app (app_id, name) values (gen_random_uuid(), 'Bad_Name')")
        .execute(&pool)
        .await;
    assert!(bad.is_err());
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn an_oversized_config_change_stores_nothing(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app = new_app(&store, "big").await;
    let value = "x".repeat(30 * 1024);
    let change =
        ConfigChange::parse([("A", Some(value.as_str())), ("B", Some(value.as_str()))]).unwrap();
    store.update_config(app, &change).await.unwrap();
    let change = ConfigChange::parse([("C", Some(value.as_str()))]).unwrap();
    assert!(matches!(
        store.update_config(app, &change).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.config_vars(app).await.unwrap().as_map().len(), 2);
    assert_eq!(store.releases(app).await.unwrap().len(), 2);
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_deploy_starts_web_at_one_and_scaling_keeps_quantities_across_releases(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app = new_app(&store, "scaled").await;
    let build =
        crate::succeeded_build(&store, app, "abcdef0", "web: a\nworker: b\nrelease: m").await;
    store
        .create_deploy_release(app, build, ReleaseStatus::Succeeded)
        .await
        .unwrap();
    let quantities = |f: Vec<paas_store::Formation>| {
        f.into_iter()
            .map(|f| (f.process_type, f.quantity))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        quantities(store.formation(app).await.unwrap()),
        [("web".to_owned(), 1), ("worker".to_owned(), 0)]
    );
    let web = ProcessType::web();
    let worker = ProcessType::parse("worker").unwrap();
    store
        .scale(
            app,
            &[
                (web.clone(), ScaleChange::To(Quantity::new(3).unwrap())),
                (worker, ScaleChange::To(Quantity::new(2).unwrap())),
            ],
        )
        .await
        .unwrap();
    let build = crate::succeeded_build(&store, app, "bcdef01", "web: a2\nworker: b2").await;
    store
        .create_deploy_release(app, build, ReleaseStatus::Succeeded)
        .await
        .unwrap();
    let formation = store.formation(app).await.unwrap();
    assert_eq!(formation[0].command, "a2");
    assert_eq!(
        quantities(formation),
        [("web".to_owned(), 3), ("worker".to_owned(), 2)]
    );

    let unknown = ProcessType::parse("clock").unwrap();
    let err = store
        .scale(
            app,
            &[
                (web, ScaleChange::To(Quantity::new(5).unwrap())),
                (unknown, ScaleChange::To(Quantity::new(1).unwrap())),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownProcessType(t) if t == "clock"));
    assert_eq!(
        store.formation(app).await.unwrap()[0].quantity,
        3,
        "a refused batch changes nothing"
    );

    // Relative changes resolve against the stored quantity, under the app's lock: ten
    // concurrent `web+1`s all count, and one that would go below 0 changes nothing.
    let plus_one = || {
        let store = store.clone();
        let web = ProcessType::web();
        async move { store.scale(app, &[(web, ScaleChange::By(1))]).await }
    };
    let results = futures::future::join_all((0..10).map(|_| plus_one())).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(store.formation(app).await.unwrap()[0].quantity, 13);
    let err = store
        .scale(
            app,
            &[
                (ProcessType::web(), ScaleChange::By(-1)),
                (ProcessType::parse("worker").unwrap(), ScaleChange::By(-3)),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(
        quantities(store.formation(app).await.unwrap()),
        [("web".to_owned(), 13), ("worker".to_owned(), 2)],
        "a refused relative batch changes nothing"
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_pending_release_is_not_current_until_it_succeeds(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app = new_app(&store, "phased").await;
    let build = crate::succeeded_build(&store, app, "abcdef0", "web: a").await;
    let pending = store
        .create_deploy_release(app, build, ReleaseStatus::Pending)
        .await
        .unwrap();
    assert!(!pending.current);
    assert_eq!(store.current_release(app).await.unwrap().version, 1);
    assert!(
        store.formation(app).await.unwrap().is_empty(),
        "nothing moves before it succeeds"
    );
    let done = store
        .finish_release(pending.release_id, ReleaseStatus::Succeeded, None)
        .await
        .unwrap();
    assert!(done.current);
    assert_eq!(store.formation(app).await.unwrap().len(), 1);
    assert!(
        store
            .finish_release(pending.release_id, ReleaseStatus::Failed, None)
            .await
            .is_err()
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn tokens_are_stored_only_as_hashes(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let new = store.create_token("ci").await.unwrap();
    assert!(new.secret.starts_with("paas_"));
    let stored: String = sqlx::query_scalar("select token_sha256 from api_token")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(!stored.contains(&new.secret[5..]));
    assert_eq!(
        store
            .authenticate(&new.secret)
            .await
            .unwrap()
            .map(|t| t.name),
        Some("ci".into())
    );
    assert_eq!(store.authenticate("paas_wrong").await.unwrap(), None);
}
