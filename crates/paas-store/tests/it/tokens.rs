//! Token lifecycle: expiry, listing, revocation, and the cache that `watch_tokens` keeps.

use std::time::{Duration, Instant};

use paas_store::Store;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn expired_tokens_are_refused_and_listing_never_shows_a_secret(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let short = store
        .create_token_expiring("short", Some(Duration::from_secs(1)))
        .await
        .unwrap();
    let long = store.create_token("long").await.unwrap();
    assert!(store.authenticate(&short.secret).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(store.authenticate(&short.secret).await.unwrap(), None);
    assert!(store.authenticate(&long.secret).await.unwrap().is_some());

    let listed = store.tokens().await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["short", "long"]
    );
    assert!(listed[0].expires_at.is_some() && listed[1].expires_at.is_none());
    assert!(listed[1].last_used_at.is_some(), "last use is recorded");
    assert!(!format!("{listed:?}").contains(&long.secret[5..]));
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn tokens_are_revoked_by_id_or_unique_name(pool: PgPool) {
    let store = Store::from_pool(pool);
    let a = store.create_token("a").await.unwrap();
    let twin1 = store.create_token("twin").await.unwrap();
    store.create_token("twin").await.unwrap();
    assert!(store.revoke_token("twin").await.is_err(), "ambiguous name");
    assert!(store.revoke_token("nope").await.is_err());
    store.revoke_token("a").await.unwrap();
    assert_eq!(store.authenticate(&a.secret).await.unwrap(), None);
    let id = twin1.token.token_id.to_string();
    assert_eq!(store.revoke_token(&id).await.unwrap().name, "twin");
    assert_eq!(store.authenticate(&twin1.secret).await.unwrap(), None);
    assert_eq!(store.tokens().await.unwrap().len(), 1);
}

/// `watch_tokens` running in a task of its own until [`Watch::stop`].
struct Watch {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    fn start(store: &Store) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let store = store.clone();
            let stop = stop.clone();
            async move { store.watch_tokens(stop.cancelled_owned()).await }
        });
        Self { stop, task }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }
}

/// While `watch_tokens` runs, tokens are answered from memory, and a revocation made by
/// another process (here: another pool, plain SQL) is heard at once.
#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_revocation_from_another_process_evicts_the_cached_token(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let watch = Watch::start(&store);
    let token = store.create_token("cached").await.unwrap();
    // Wait until the cache is live and holds the token: its last use is then batched,
    // not written by the request.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(store.authenticate(&token.secret).await.unwrap().is_some());
        sqlx::query("update api_token set last_used_at = null")
            .execute(&pool)
            .await
            .unwrap();
        assert!(store.authenticate(&token.secret).await.unwrap().is_some());
        let written: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("select last_used_at from api_token")
                .fetch_one(&pool)
                .await
                .unwrap();
        if written.is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "the cache never went live");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut revocations = store.token_revocations();
    revocations.mark_unchanged();
    let other = PgPool::connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    sqlx::query("delete from api_token")
        .execute(&other)
        .await
        .unwrap();
    let revoked_at = Instant::now();
    loop {
        if store.authenticate(&token.secret).await.unwrap().is_none() {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "a revoked token was still accepted after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(revocations.has_changed().unwrap(), "streams are told");
    watch.stop().await;
}

/// Batched last-used times reach the database.
#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn batched_last_used_times_are_written(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let watch = Watch::start(&store);
    let token = store.create_token("used").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(store.authenticate(&token.secret).await.unwrap().is_some());
    watch.stop().await;
    assert!(store.tokens().await.unwrap()[0].last_used_at.is_some());
}
