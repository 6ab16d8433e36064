//! What a platform backup needs from the database, read in the snapshot `pg_dump`
//! dumps, and what a restore does to the target database before `pg_restore`.

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

use crate::{Store, StoreError};

/// An app as the backup holds it: what `paasd backup --verify` reports, and the
/// images the restore must bring back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupApp {
    pub name: String,
    /// `None` while the app has no succeeded release.
    pub current_version: Option<i32>,
    pub releases: i64,
    pub config_vars: i64,
    pub domains: Vec<String>,
    pub drains: i64,
    /// The images of the current release and of the newest older build a rollback
    /// would go back to (newest first).
    pub images: Vec<String>,
}

/// A repeatable-read transaction held open while `pg_dump --snapshot` reads the same
/// snapshot: the apps listed here are exactly the dump's.
#[derive(Debug)]
pub struct BackupSnapshot {
    conn: PgConnection,
    pub snapshot_id: String,
    pub apps: Vec<BackupApp>,
}

impl BackupSnapshot {
    /// Ends the transaction (after `pg_dump` is done with the snapshot).
    pub async fn finish(mut self) -> Result<(), StoreError> {
        sqlx::query("commit").execute(&mut self.conn).await?;
        self.conn.close().await?;
        Ok(())
    }
}

impl Store {
    /// Opens the snapshot a backup dumps and reads its apps in it.
    pub async fn backup_snapshot(&self) -> Result<BackupSnapshot, StoreError> {
        let mut conn = self.pool.acquire().await?.detach();
        sqlx::query("begin isolation level repeatable read read only")
            .execute(&mut conn)
            .await?;
        let snapshot_id: String = sqlx::query_scalar("select pg_export_snapshot()")
            .fetch_one(&mut conn)
            .await?;
        let apps = sqlx::query_as::<_, (String, Option<i32>, i64, i64, Vec<String>, i64, Vec<String>)>(
            "select a.name, c.version,
                    (select count(*) from release r where r.app_id = a.app_id),
                    (select count(*) from config_var v where v.app_id = a.app_id),
                    array(select d.hostname from domain d where d.app_id = a.app_id order by d.hostname),
                    (select count(*) from log_drain l where l.app_id = a.app_id),
                    array(select b.image
                            from build b
                            join release r on r.build_id = b.build_id
                            join release_status s on s.release_id = r.release_id
                           where r.app_id = a.app_id and s.status = $1
                             and b.image is not null
                             and r.version <= coalesce(c.version, 0)
                           group by b.image
                           order by max(r.version) desc
                           limit 2)
               from app a
               left join current_release c on c.app_id = a.app_id
              order by a.name",
        )
        .bind(crate::ReleaseStatus::Succeeded)
        .fetch_all(&mut conn)
        .await?
        .into_iter()
        .map(
            |(name, current_version, releases, config_vars, domains, drains, images)| BackupApp {
                name,
                current_version,
                releases,
                config_vars,
                domains,
                drains,
                images,
            },
        )
        .collect();
        Ok(BackupSnapshot {
            conn,
            snapshot_id,
            apps,
        })
    }

    /// How many apps the database holds; 0 also when it has no schema yet.
    pub async fn app_count_if_any(&self) -> Result<i64, StoreError> {
        let has_schema: bool = sqlx::query_scalar("select to_regclass('public.app') is not null")
            .fetch_one(&self.pool)
            .await?;
        if !has_schema {
            return Ok(0);
        }
        Ok(sqlx::query_scalar("select count(*) from app")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Empties the database for `pg_restore`: the schema a fresh paasd migrated (and
    /// any tokens made before the restore) goes; the backup brings its own.
    pub async fn clear_for_restore(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("drop schema public cascade")
            .execute(&mut *tx)
            .await?;
        sqlx::query("create schema public")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
