//! Database errors become the `StoreError` their cause deserves.

use paas_store::{ReleaseStatus, Store, StoreError};
use sqlx::PgPool;

use crate::new_app;

async fn raise(pool: &PgPool, code: &str) -> sqlx::Error {
    let sql =
        format!("do $$ begin raise exception 'raised by a test' using errcode = '{code}'; end $$");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .expect_err("the statement raises")
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn transient_refusals_are_unavailable_and_other_errors_are_not(pool: PgPool) {
    for code in ["40001", "40P01"] {
        let e = StoreError::from(raise(&pool, code).await);
        assert!(matches!(e, StoreError::Unavailable(_)), "{code}: {e:?}");
    }
    let e = StoreError::from(raise(&pool, "P0001").await);
    assert!(matches!(e, StoreError::Db(_)), "{e:?}");
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_real_serialization_failure_is_unavailable(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let app = new_app(&store, "contended").await;
    let mut first = pool.begin().await.unwrap();
    sqlx::query("set transaction isolation level serializable")
        .execute(&mut *first)
        .await
        .unwrap();
    sqlx::query("select run_seq from app where app_id = $1")
        .bind(app)
        .execute(&mut *first)
        .await
        .unwrap();
    // Another transaction changes the row after `first` took its snapshot.
    sqlx::query("update app set run_seq = run_seq + 1 where app_id = $1")
        .bind(app)
        .execute(&pool)
        .await
        .unwrap();
    let e = sqlx::query("update app set run_seq = run_seq + 1 where app_id = $1")
        .bind(app)
        .execute(&mut *first)
        .await
        .expect_err("a serializable transaction cannot update a row changed since its snapshot");
    assert!(
        matches!(StoreError::from(e), StoreError::Unavailable(_)),
        "a serialization failure is worth retrying, not a conflict"
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn corrupt_stored_process_types_are_a_database_error_not_a_conflict(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let app = new_app(&store, "corrupt").await;
    for types in [r#"["not", "a map"]"#, r#"{"Web!": "serve"}"#] {
        let build = crate::succeeded_build(&store, app, "7777777aaaa", "web: serve").await;
        sqlx::query("update build set process_types = $2::jsonb where build_id = $1")
            .bind(build)
            .bind(types)
            .execute(&pool)
            .await
            .unwrap();
        let e = store
            .create_deploy_release(app, build, ReleaseStatus::Succeeded)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Db(_)), "{types}: {e:?}");
    }
    assert_eq!(
        store.releases(app).await.unwrap().len(),
        1,
        "nothing was released"
    );
}
