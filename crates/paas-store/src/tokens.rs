use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Store, StoreError};

/// Prefix that makes a paas token recognisable in a leaked file or a secret scanner.
const TOKEN_PREFIX: &str = "paas_";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiToken {
    pub token_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
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
fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Store {
    pub async fn create_token(&self, name: &str) -> Result<NewToken, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(StoreError::Invalid(paas_core::ParseError::new(
                "name",
                "A token name must be 1 to 100 characters.",
            )));
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
        let token = sqlx::query_as::<_, ApiToken>(
            "insert into api_token (token_id, name, token_sha256) values ($1, $2, $3)
             returning token_id, name, created_at",
        )
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(hash(&secret))
        .fetch_one(&self.pool)
        .await?;
        Ok(NewToken { token, secret })
    }

    /// The token this secret belongs to, if any.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<ApiToken>, StoreError> {
        Ok(sqlx::query_as::<_, ApiToken>(
            "update api_token set last_used_at = now() where token_sha256 = $1
             returning token_id, name, created_at",
        )
        .bind(hash(secret))
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn token_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("select count(*) from api_token")
            .fetch_one(&self.pool)
            .await?)
    }
}
