//! The store's own pool (`Store::connect_lazy`, what paasd runs on).

use std::time::Duration;

use paas_store::Store;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The pool skips sqlx's ping on every checkout and pings only connections that sat idle
/// (more than a second): one Postgres dropped meanwhile (a restart, an administrator's
/// `pg_terminate_backend`) is replaced before a query uses it, so no request fails for it.
#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_connection_postgres_dropped_while_idle_is_replaced_before_use(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let store = Store::connect_lazy(options.clone(), 2);
    assert!(store.apps().await.unwrap().is_empty());

    let admin = PgPool::connect_with(options).await.unwrap();
    let dropped: Vec<bool> = sqlx::query_scalar(
        "select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()",
    )
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(
        dropped.contains(&true),
        "the store's idle connection was not found to drop"
    );

    tokio::time::sleep(Duration::from_millis(1_500)).await;
    store
        .apps()
        .await
        .expect("a query after the server dropped the pooled connection");
}
