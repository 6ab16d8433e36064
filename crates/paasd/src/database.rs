//! The database paasd talks to: `DATABASE_URL`'s server or the embedded cluster
//! (`embedded_pg`), migrated on open, and how `pg_dump`/`pg_restore` reach it.

use anyhow::Context;
use paas_store::Store;
use sqlx::postgres::PgConnectOptions;

use crate::Settings;
use crate::embedded_pg::EmbeddedPostgres;

/// The database paasd talks to, and the embedded cluster behind it if it runs one.
#[derive(Debug)]
pub struct Database {
    pub store: Store,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects (starting the embedded cluster when `DATABASE_URL` is unset) and runs
    /// the migrations.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let (options, embedded) = match &settings.database_url {
            Some(url) => (
                url.parse::<PgConnectOptions>()
                    .context("DATABASE_URL is not a valid Postgres URL")?,
                None,
            ),
            None => {
                let pg = EmbeddedPostgres::start(&settings.data_dir).await?;
                (pg.connect_options(), Some(pg))
            }
        };
        let store = Store::connect_lazy(options, settings.db_max_connections);
        store
            .migrate()
            .await
            .context("running database migrations")?;
        Ok(Self { store, embedded })
    }

    /// libpq arguments by which `pg_dump` and `pg_restore` reach this database.
    pub fn pg_args(&self, settings: &Settings) -> anyhow::Result<Vec<String>> {
        match (&settings.database_url, &self.embedded) {
            (Some(url), _) => Ok(vec![format!("--dbname={url}")]),
            (None, Some(pg)) => Ok(pg.client_args()),
            (None, None) => anyhow::bail!("no database settings"),
        }
    }

    pub async fn close(self) -> anyhow::Result<()> {
        self.store.pool().close().await;
        if let Some(pg) = self.embedded {
            pg.stop().await?;
        }
        Ok(())
    }
}
