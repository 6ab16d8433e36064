//! API tokens: made once (only a SHA-256 is stored), listed, expired, revoked.
//!
//! The auth hot path ([`Store::authenticate`]) answers from an in-memory cache while
//! [`Store::watch_tokens`] runs (paasd runs it): no query and no pool connection per
//! request, and last-used times are kept in memory and written in one batch a second.
//! A revocation or expiry change from any process (a trigger NOTIFYs `paas_api_token`
//! with the token's hash) evicts the entry at once; while the listening connection is
//! down the cache is not used at all, so a lost notification cannot keep a revoked token
//! alive. Without the watch (tests, one-shot commands) every call reads the database.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Store, StoreError};

/// Prefix that makes a paas token recognisable in a leaked file or a secret scanner.
const TOKEN_PREFIX: &str = "paas_";

/// The NOTIFY channel of `api_token_notify()` (migration `token_lifecycle`).
const CHANNEL: &str = "paas_api_token";

/// How often batched last-used times are written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiToken {
    pub token_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token as `paasd tokens list` shows it: never the secret (it is not stored).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenInfo {
    pub token_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A freshly made token: the secret is here and nowhere else, ever.
#[derive(Clone)]
pub struct NewToken {
    pub token: ApiToken,
    pub secret: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Tokens carry 256 random bits, so a fast hash is enough; a slow password hash would
/// only slow down every API request.
fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Compares in time independent of where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The in-memory side of authentication; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    inner: Mutex<CacheInner>,
    /// Bumped on every revocation heard, so open log streams can re-check their token.
    revocations: tokio::sync::watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct CacheInner {
    /// The listening connection is up: entries can be trusted.
    live: bool,
    /// Bumped by every eviction: a lookup that started before one does not fill the cache.
    generation: u64,
    by_hash: HashMap<[u8; 32], (ApiToken, [u8; 32])>,
    used: HashMap<Uuid, DateTime<Utc>>,
}

impl TokenCache {
    fn lock(&self) -> MutexGuard<'_, CacheInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn forget(&self, payload: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        match hex_hash(payload) {
            Some(h) => {
                inner.by_hash.remove(&h);
            }
            None => inner.by_hash.clear(),
        }
        drop(inner);
        self.revocations.send_modify(|n| *n += 1);
    }

    fn set_live(&self, live: bool) {
        let mut inner = self.lock();
        inner.live = live;
        inner.generation += 1;
        inner.by_hash.clear();
        drop(inner);
        self.revocations.send_modify(|n| *n += 1);
    }
}

fn hex_hash(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

fn expired(token: &ApiToken, now: DateTime<Utc>) -> bool {
    token.expires_at.is_some_and(|at| at <= now)
}

impl Store {
    /// Makes a token that never expires.
    pub async fn create_token(&self, name: &str) -> Result<NewToken, StoreError> {
        self.create_token_expiring(name, None).await
    }

    /// Makes a token; `expires_in` `None` never expires.
    pub async fn create_token_expiring(
        &self,
        name: &str,
        expires_in: Option<Duration>,
    ) -> Result<NewToken, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(StoreError::Invalid(paas_core::ParseError::new(
                "name",
                "A token name must be 1 to 100 characters.",
            )));
        }
        let expires_at = match expires_in {
            None => None,
            Some(d) => Some(
                chrono::TimeDelta::from_std(d)
                    .ok()
                    .and_then(|d| Utc::now().checked_add_signed(d))
                    .ok_or_else(|| {
                        StoreError::Invalid(paas_core::ParseError::new(
                            "expires_in",
                            "The expiry is too far away.",
                        ))
                    })?,
            ),
        };
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
        let token = sqlx::query_as::<_, ApiToken>(
            "insert into api_token (token_id, name, token_sha256, expires_at)
             values ($1, $2, $3, $4) returning token_id, name, created_at, expires_at",
        )
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(hex::encode(hash(&secret)))
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(NewToken { token, secret })
    }

    /// The live (unexpired, unrevoked) token this secret belongs to, if any.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<ApiToken>, StoreError> {
        let presented = hash(secret);
        let now = Utc::now();
        let generation = {
            let mut inner = self.tokens.lock();
            if inner.live {
                if let Some((token, stored)) = inner.by_hash.get(&presented) {
                    if !constant_time_eq(stored, &presented) || expired(token, now) {
                        return Ok(None);
                    }
                    let token = token.clone();
                    inner.used.insert(token.token_id, now);
                    return Ok(Some(token));
                }
                Some(inner.generation)
            } else {
                None
            }
        };
        let Some(generation) = generation else {
            // No watch: the database is the only truth, and last-used is written now.
            return Ok(sqlx::query_as::<_, ApiToken>(
                "update api_token set last_used_at = now()
                 where token_sha256 = $1 and (expires_at is null or expires_at > now())
                 returning token_id, name, created_at, expires_at",
            )
            .bind(hex::encode(presented))
            .fetch_optional(&self.pool)
            .await?);
        };
        let row: Option<(ApiToken, String)> = sqlx::query_as::<_, TokenRow>(
            "select token_id, name, created_at, expires_at, token_sha256 from api_token
             where token_sha256 = $1",
        )
        .bind(hex::encode(presented))
        .fetch_optional(&self.pool)
        .await?
        .map(TokenRow::split);
        let Some((token, stored)) = row else {
            return Ok(None);
        };
        let Some(stored) = hex_hash(&stored).filter(|s| constant_time_eq(s, &presented)) else {
            return Ok(None);
        };
        let mut inner = self.tokens.lock();
        if inner.live && inner.generation == generation {
            inner.by_hash.insert(presented, (token.clone(), stored));
        }
        if expired(&token, now) {
            return Ok(None);
        }
        inner.used.insert(token.token_id, now);
        Ok(Some(token))
    }

    /// Whether the token `token_id` is still live (for streams opened with it).
    pub async fn token_is_live(&self, token_id: Uuid) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar::<_, bool>(
            "select exists (select 1 from api_token where token_id = $1
                            and (expires_at is null or expires_at > now()))",
        )
        .bind(token_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Changes whenever a revocation is heard (see [`Store::watch_tokens`]).
    pub fn token_revocations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.tokens.revocations.subscribe()
    }

    pub async fn token_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("select count(*) from api_token")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Every token, oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        Ok(sqlx::query_as::<_, TokenInfo>(
            "select token_id, name, created_at, last_used_at, expires_at from api_token
             order by created_at, token_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The token with this id, or the only one with this name.
    pub async fn token(&self, id_or_name: &str) -> Result<TokenInfo, StoreError> {
        let rows = sqlx::query_as::<_, TokenInfo>(
            "select token_id, name, created_at, last_used_at, expires_at from api_token
             where token_id::text = $1 or name = $1",
        )
        .bind(id_or_name.trim())
        .fetch_all(&self.pool)
        .await?;
        let by_id: Vec<&TokenInfo> = rows
            .iter()
            .filter(|t| t.token_id.to_string() == id_or_name.trim())
            .collect();
        match (by_id.as_slice(), rows.as_slice()) {
            ([one], _) => Ok((*one).clone()),
            ([], [one]) => Ok(one.clone()),
            ([], []) => Err(StoreError::not_found("token")),
            _ => Err(StoreError::Invalid(paas_core::ParseError::new(
                "token",
                format!(
                    "{} tokens are named {:?}: revoke one by its id.",
                    rows.len(),
                    id_or_name.trim()
                ),
            ))),
        }
    }

    /// Revokes (deletes) a token by id or unique name; every paasd stops accepting it at
    /// once (the delete trigger notifies them).
    pub async fn revoke_token(&self, id_or_name: &str) -> Result<TokenInfo, StoreError> {
        let token = self.token(id_or_name).await?;
        sqlx::query("delete from api_token where token_id = $1")
            .bind(token.token_id)
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// Keeps the token cache coherent and writes batched last-used times, until
    /// `shutdown` resolves (then it writes the last batch). paasd runs one per process.
    pub async fn watch_tokens(&self, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut listener: Option<sqlx::postgres::PgListener> = None;
        let mut retry_at = tokio::time::Instant::now();
        loop {
            if listener.is_none() && tokio::time::Instant::now() >= retry_at {
                match self.listen().await {
                    Ok(l) => {
                        self.tokens.set_live(true);
                        listener = Some(l);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "token cache off: cannot LISTEN for revocations");
                        retry_at = tokio::time::Instant::now() + Duration::from_secs(2);
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                _ = flush.tick() => self.flush_last_used().await,
                message = recv(&mut listener) => match message {
                    Ok(Some(notification)) => self.tokens.forget(notification.payload()),
                    Ok(None) | Err(_) => {
                        // Notifications may have been missed: trust nothing cached.
                        self.tokens.set_live(false);
                        listener = None;
                        retry_at = tokio::time::Instant::now();
                        tracing::warn!("token cache off until the revocation listener reconnects");
                    }
                },
            }
        }
        self.tokens.set_live(false);
        self.flush_last_used().await;
    }

    async fn listen(&self) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }

    async fn flush_last_used(&self) {
        let used: Vec<(Uuid, DateTime<Utc>)> = self.tokens.lock().used.drain().collect();
        if used.is_empty() {
            return;
        }
        let (ids, times): (Vec<Uuid>, Vec<DateTime<Utc>>) = used.into_iter().unzip();
        let result = sqlx::query(
            "update api_token t set last_used_at = greatest(t.last_used_at, u.at)
             from unnest($1::uuid[], $2::timestamptz[]) as u(id, at) where t.token_id = u.id",
        )
        .bind(&ids)
        .bind(&times)
        .execute(&self.pool)
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, tokens = ids.len(), "could not write tokens' last-used times");
        }
    }
}

/// `try_recv` on the listener, or never when there is none.
async fn recv(
    listener: &mut Option<sqlx::postgres::PgListener>,
) -> Result<Option<sqlx::postgres::PgNotification>, sqlx::Error> {
    match listener {
        Some(l) => l.try_recv().await,
        None => std::future::pending().await,
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    #[sqlx(flatten)]
    token: ApiToken,
    token_sha256: String,
}

impl TokenRow {
    fn split(self) -> (ApiToken, String) {
        (self.token, self.token_sha256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn a_notification_evicts_one_token_or_all() {
        let cache = TokenCache::default();
        cache.set_live(true);
        let token = ApiToken {
            token_id: Uuid::nil(),
            name: "t".into(),
            created_at: Utc::now(),
            expires_at: None,
        };
        let (a, b) = (hash("a"), hash("b"));
        cache.lock().by_hash.insert(a, (token.clone(), a));
        cache.lock().by_hash.insert(b, (token, b));
        let revocations = cache.revocations.subscribe();
        cache.forget(&hex::encode(a));
        assert!(revocations.has_changed().unwrap());
        assert!(!cache.lock().by_hash.contains_key(&a));
        assert!(cache.lock().by_hash.contains_key(&b));
        cache.forget("*");
        assert!(cache.lock().by_hash.is_empty());
    }
}
