//! The release ledger's writes: every change that makes a release, and scaling.
//!
//! They all run in a [`ReleaseTx`], a transaction that holds the app's row lock from its
//! first statement on. The lock serializes these writers per app, so what one reads
//! (config, formation, the current build) cannot change under it, release versions come
//! out contiguous, and config, formation and the new release are written together or not
//! at all. `ReleaseTx` can only be made by taking that lock, so "the caller must hold the
//! lock" is a rule of the types, not of a comment.

use std::collections::BTreeMap;

use paas_core::formation::formation_for_release;
use paas_core::release::{deploy_description, rollback_description};
use paas_core::{AppName, ConfigChange, ConfigVars, ProcessType, Quantity, ReleaseRef};
use paas_core::{ReleaseVersion, ScaleChange};
use uuid::Uuid;

use crate::formation::{Formation, formation_entries, processes_of_build};
use crate::releases::{Release, ReleaseStatus, current_build, current_config};
use crate::{App, BuildStatus, INTERRUPTED_BY_RESTART, Store, StoreError, config};

use tx::ReleaseTx;

mod addons;

/// The transaction type, in its own module so its fields are private even to the rest
/// of the ledger: the only ways to get one are [`ReleaseTx::lock`] and
/// [`ReleaseTx::create_app`].
mod tx {
    use sqlx::{PgConnection, Postgres, Transaction};
    use uuid::Uuid;

    use crate::{Store, StoreError};

    pub(super) struct ReleaseTx {
        tx: Transaction<'static, Postgres>,
        app_id: Uuid,
    }

    impl ReleaseTx {
        /// Begins a transaction and takes the app's row lock for the rest of it.
        pub(super) async fn lock(store: &Store, app_id: Uuid) -> Result<Self, StoreError> {
            let mut tx = store.pool.begin().await?;
            sqlx::query("select 1 from app where app_id = $1 for update")
                .bind(app_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::not_found("app"))?;
            Ok(Self { tx, app_id })
        }

        /// Begins a transaction that creates an app: the row it inserts is invisible to
        /// every other transaction until the commit, which is as good as holding its lock.
        pub(super) async fn create_app(store: &Store, name: &str) -> Result<Self, StoreError> {
            let mut tx = store.pool.begin().await?;
            let app_id = Uuid::now_v7();
            sqlx::query("insert into app (app_id, name) values ($1, $2)")
                .bind(app_id)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.constraint() == Some("app_name_key") => {
                        StoreError::AppNameTaken(name.to_owned())
                    }
                    _ => e.into(),
                })?;
            Ok(Self { tx, app_id })
        }

        pub(super) fn app_id(&self) -> Uuid {
            self.app_id
        }

        /// The locked transaction's connection, for the statements of the ledger.
        pub(super) fn conn(&mut self) -> &mut PgConnection {
            &mut self.tx
        }

        pub(super) async fn commit(self) -> Result<(), StoreError> {
            self.tx.commit().await?;
            Ok(())
        }
    }
}

impl ReleaseTx {
    /// The app's config vars as they are now.
    async fn config(&mut self) -> Result<ConfigVars, StoreError> {
        let app_id = self.app_id();
        config::read_config(self.conn(), app_id).await
    }

    /// Makes the app's config exactly `vars`.
    async fn replace_config(&mut self, vars: &BTreeMap<String, String>) -> Result<(), StoreError> {
        let app_id = self.app_id();
        sqlx::query("delete from config_var where app_id = $1")
            .bind(app_id)
            .execute(&mut *self.conn())
            .await?;
        let (keys, values): (Vec<&str>, Vec<&str>) =
            vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).unzip();
        sqlx::query(
            "insert into config_var (app_id, key, value)
             select $1, k, v from unnest($2::text[], $3::text[]) as t(k, v)",
        )
        .bind(app_id)
        .bind(keys)
        .bind(values)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The build of the app's current release.
    async fn current_build(&mut self) -> Result<Option<Uuid>, StoreError> {
        let app_id = self.app_id();
        current_build(self.conn(), app_id).await
    }

    /// Makes the formation follow the process types of `build` (none: no processes),
    /// keeping the quantities of types that stay (the rule lives in
    /// `paas_core::formation`).
    async fn sync_formation(&mut self, build_id: Option<Uuid>) -> Result<(), StoreError> {
        let app_id = self.app_id();
        let processes = processes_of_build(self.conn(), build_id).await?;
        let current = formation_entries(self.conn(), app_id).await?;
        let next = formation_for_release(&current, &processes);
        let keep: Vec<&str> = next.iter().map(|e| e.process_type.as_str()).collect();
        sqlx::query("delete from formation where app_id = $1 and type <> all($2::text[])")
            .bind(app_id)
            .bind(&keep)
            .execute(self.conn())
            .await?;
        for entry in &next {
            sqlx::query(
                "insert into formation (formation_id, app_id, type, quantity, command)
                 values ($1, $2, $3, $4, $5)
                 on conflict (app_id, type) do update
                   set command = excluded.command, quantity = excluded.quantity, updated_at = now()",
            )
            .bind(Uuid::now_v7())
            .bind(app_id)
            .bind(entry.process_type.as_str())
            .bind(entry.quantity.get() as i32)
            .bind(&entry.command)
            .execute(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Appends a release, allocating its version (`app.release_seq`, bumped under the
    /// lock this transaction holds, so versions have no gaps and no duplicates).
    async fn append(
        &mut self,
        build_id: Option<Uuid>,
        config: &BTreeMap<String, String>,
        description: &str,
        status: ReleaseStatus,
    ) -> Result<Uuid, StoreError> {
        let app_id = self.app_id();
        let release_id = Uuid::now_v7();
        // One statement, one round trip under the lock: bump the version, insert the
        // release with it and its status, and make it the current release if it
        // succeeded (it is the newest).
        let done = sqlx::query(
            "with v as (update app set release_seq = release_seq + 1, updated_at = now(),
                                       current_release_id = case when $6 = $7 then $1
                                                                 else current_release_id end
                         where app_id = $2 returning release_seq),
                  r as (insert into release (release_id, app_id, version, build_id, config, description)
                        select $1, $2, v.release_seq, $3, $4, $5 from v
                        returning release_id)
             insert into release_status (release_id, status) select release_id, $6 from r",
        )
        .bind(release_id)
        .bind(app_id)
        .bind(build_id)
        .bind(sqlx::types::Json(config))
        .bind(description)
        .bind(status)
        .bind(ReleaseStatus::Succeeded)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::not_found("app"));
        }
        Ok(release_id)
    }

    /// Moves one of the app's releases from `from` to `to`; false when it was not `from`.
    async fn settle(
        &mut self,
        release_id: Uuid,
        from: ReleaseStatus,
        to: ReleaseStatus,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let app_id = self.app_id();
        let done = sqlx::query(
            "update release_status s set status = $4, reason = $5, updated_at = now()
               from release r
              where s.release_id = $1 and r.release_id = s.release_id and r.app_id = $2
                and s.status = $3",
        )
        .bind(release_id)
        .bind(app_id)
        .bind(from)
        .bind(to)
        .bind(reason)
        .execute(self.conn())
        .await?;
        let settled = done.rows_affected() == 1;
        if settled && (from == ReleaseStatus::Succeeded || to == ReleaseStatus::Succeeded) {
            // The current release is the newest succeeded one: a pending release that
            // succeeds may be older than one made meanwhile, and a failed rollout hands
            // the app back to the release before it.
            sqlx::query(
                "update app a set current_release_id = (
                        select r.release_id from release r join release_status s using (release_id)
                         where r.app_id = a.app_id and s.status = $2
                         order by r.version desc limit 1)
                  where a.app_id = $1",
            )
            .bind(app_id)
            .bind(ReleaseStatus::Succeeded)
            .execute(self.conn())
            .await?;
        }
        Ok(settled)
    }
}

impl Store {
    /// Creates an app and its first release, v1 "Initial release" (empty config, no
    /// build), as Heroku does, so an app always has a current release.
    pub async fn create_app(&self, name: &AppName) -> Result<App, StoreError> {
        let mut tx = ReleaseTx::create_app(self, name.as_str()).await?;
        let app_id = tx.app_id();
        tx.append(
            None,
            &BTreeMap::new(),
            "Initial release",
            ReleaseStatus::Succeeded,
        )
        .await?;
        tx.commit().await?;
        self.app(&app_id.to_string()).await
    }

    /// Applies a config change and appends its release in one transaction. Returns the
    /// resulting config and the new release, or no release when nothing changed.
    pub async fn update_config(
        &self,
        app_id: Uuid,
        change: &ConfigChange,
    ) -> Result<(ConfigVars, Option<Release>), StoreError> {
        let mut tx = ReleaseTx::lock(self, app_id).await?;
        addons::refuse_owned(&mut tx, change.keys()).await?;
        let current = tx.config().await?;
        let Some((next, description)) = current.apply(change)? else {
            return Ok((current, None));
        };
        tx.replace_config(next.as_map()).await?;
        let build = tx.current_build().await?;
        let release_id = tx
            .append(build, next.as_map(), &description, ReleaseStatus::Succeeded)
            .await?;
        tx.commit().await?;
        let release = self.release_by_id(release_id).await?;
        Ok((next, Some(release)))
    }

    /// Rolls back to `target`: appends a release with the target's build and config,
    /// described "Rollback to vK", and makes the config and formation follow it.
    pub async fn rollback(&self, app_id: Uuid, target: &ReleaseRef) -> Result<Release, StoreError> {
        let target = self.release(app_id, target).await?;
        let refused = match target.status {
            ReleaseStatus::Succeeded => None,
            ReleaseStatus::Failed => Some("failed"),
            ReleaseStatus::Pending => Some("is still pending"),
        };
        if let Some(why) = refused {
            return Err(StoreError::Conflict(format!(
                "Release v{} {why} and cannot be rolled back to.",
                target.version
            )));
        }
        let version = ReleaseVersion::new(target.version)?;
        let mut tx = ReleaseTx::lock(self, app_id).await?;
        let previous_build = tx.current_build().await?;
        // Attachments' vars follow the attachments, not the target (`ledger/addons.rs`).
        let config = addons::attachment_config(&mut tx, &target.config.0).await?;
        tx.replace_config(&config).await?;
        if previous_build != target.build_id {
            tx.sync_formation(target.build_id).await?;
        }
        let release_id = tx
            .append(
                target.build_id,
                &config,
                &rollback_description(version),
                ReleaseStatus::Succeeded,
            )
            .await?;
        tx.commit().await?;
        self.release_by_id(release_id).await
    }

    /// Appends the release of a finished build ("Deploy abc1234") with the app's current
    /// config, and brings the formation in line with the build's process types.
    pub async fn create_deploy_release(
        &self,
        app_id: Uuid,
        build_id: Uuid,
        status: ReleaseStatus,
    ) -> Result<Release, StoreError> {
        let build = self.build(app_id, build_id).await?;
        if build.status != BuildStatus::Succeeded {
            return Err(StoreError::Conflict(
                "Only a succeeded build can be released.".into(),
            ));
        }
        let mut tx = ReleaseTx::lock(self, app_id).await?;
        let config = tx.config().await?;
        if status == ReleaseStatus::Succeeded {
            tx.sync_formation(Some(build_id)).await?;
        }
        let description = deploy_description(build.source_version.as_deref().unwrap_or("unknown"));
        let release_id = tx
            .append(Some(build_id), config.as_map(), &description, status)
            .await?;
        tx.commit().await?;
        self.release_by_id(release_id).await
    }

    /// Marks a current release failed after the fact: its web dynos never became
    /// healthy. The previous succeeded release is current again, so the supervisor keeps
    /// (or puts back) the dynos that served before.
    pub async fn fail_rollout(&self, release_id: Uuid, reason: &str) -> Result<bool, StoreError> {
        let release = self.release_by_id(release_id).await?;
        let mut tx = ReleaseTx::lock(self, release.app_id).await?;
        let done = tx
            .settle(
                release_id,
                ReleaseStatus::Succeeded,
                ReleaseStatus::Failed,
                Some(reason),
            )
            .await?;
        if done {
            // The app's config is the current release's again: a failed config change
            // must not stay behind as the config the next release would take.
            let app_id = tx.app_id();
            if let Some(config) = current_config(tx.conn(), app_id).await? {
                tx.replace_config(&config).await?;
            }
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Settles a pending release. Succeeding makes it current, so the formation follows
    /// its build in the same transaction.
    pub async fn finish_release(
        &self,
        release_id: Uuid,
        status: ReleaseStatus,
        reason: Option<&str>,
    ) -> Result<Release, StoreError> {
        let release = self.release_by_id(release_id).await?;
        let mut tx = ReleaseTx::lock(self, release.app_id).await?;
        let settled = tx
            .settle(release_id, ReleaseStatus::Pending, status, reason)
            .await?;
        if !settled {
            return Err(StoreError::Conflict(format!(
                "Release v{} is already {}.",
                release.version, release.status
            )));
        }
        if status == ReleaseStatus::Succeeded {
            tx.sync_formation(release.build_id).await?;
        }
        tx.commit().await?;
        self.release_by_id(release_id).await
    }

    /// Fails every release still pending (its release phase was cut off), with the
    /// reason [`INTERRUPTED_BY_RESTART`]. Only for paasd's start-up, before it runs any
    /// release phase; a pending release was never current, so nothing else moves.
    /// Returns the releases it failed.
    pub async fn fail_interrupted_releases(&self) -> Result<Vec<Uuid>, StoreError> {
        let pending: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "select r.app_id, r.release_id from release r join release_status s using (release_id)
              where s.status = $1 order by r.app_id, r.version",
        )
        .bind(ReleaseStatus::Pending)
        .fetch_all(&self.pool)
        .await?;
        let mut failed = Vec::new();
        for (app_id, release_id) in pending {
            let mut tx = ReleaseTx::lock(self, app_id).await?;
            let settled = tx
                .settle(
                    release_id,
                    ReleaseStatus::Pending,
                    ReleaseStatus::Failed,
                    Some(INTERRUPTED_BY_RESTART),
                )
                .await?;
            tx.commit().await?;
            if settled {
                failed.push(release_id);
            }
        }
        Ok(failed)
    }

    /// Sets quantities of existing process types, all or nothing. A type the current
    /// release does not have is an error naming it (as on Heroku). Scaling makes no
    /// release, but it resolves relative changes against the formation that releases
    /// write, so it takes the same lock: concurrent `web+1`s each count.
    pub async fn scale(
        &self,
        app_id: Uuid,
        updates: &[(ProcessType, ScaleChange)],
    ) -> Result<Vec<Formation>, StoreError> {
        let mut tx = ReleaseTx::lock(self, app_id).await?;
        for (kind, change) in updates {
            let current: Option<i32> = sqlx::query_scalar(
                "select quantity from formation where app_id = $1 and type = $2",
            )
            .bind(app_id)
            .bind(kind.as_str())
            .fetch_optional(tx.conn())
            .await?;
            let current =
                current.ok_or_else(|| StoreError::UnknownProcessType(kind.to_string()))?;
            let quantity = change.resolve(Quantity::new(current.into())?)?;
            let done = sqlx::query(
                "update formation set quantity = $3, updated_at = now()
                  where app_id = $1 and type = $2",
            )
            .bind(app_id)
            .bind(kind.as_str())
            .bind(quantity.get() as i32)
            .execute(tx.conn())
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::UnknownProcessType(kind.to_string()));
            }
        }
        tx.commit().await?;
        self.formation(app_id).await
    }
}
