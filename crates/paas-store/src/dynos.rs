//! What the supervisor reads (desired state) and writes (the dynos it observed).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{DynoState, Store, StoreError};

/// What should run for one app: its current release's image and config, and the
/// formation.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredApp {
    pub app_id: Uuid,
    pub app_name: String,
    pub release_id: Uuid,
    pub version: i32,
    pub image: String,
    pub config: BTreeMap<String, String>,
    /// Process type → (quantity, command).
    pub formation: BTreeMap<String, (u32, String)>,
    /// Process type → restart generation.
    pub generations: BTreeMap<String, u32>,
    /// Custom domains, besides `<app>.<PAAS_DOMAIN>`.
    pub hostnames: Vec<String>,
    /// The router shows the maintenance page instead of forwarding.
    pub maintenance: bool,
}

/// app, name, current release, version, image, config, maintenance.
type CurrentRow = (
    Uuid,
    String,
    Uuid,
    i32,
    String,
    sqlx::types::Json<BTreeMap<String, String>>,
    bool,
);

/// A dyno as the supervisor last saw it, for `GET /apps/{app}/dynos`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DynoRow {
    pub dyno_id: Uuid,
    pub app_id: Uuid,
    pub name: String,
    #[sqlx(rename = "type")]
    pub process_type: String,
    pub release_id: Option<Uuid>,
    pub version: Option<i32>,
    pub command: String,
    pub state: String,
    pub container_id: Option<String>,
    pub exit_code: Option<i32>,
    pub started_at: Option<DateTime<Utc>>,
    /// The cluster node it runs on (`PAAS_RUNTIME=swarm`).
    pub node: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One observed dyno, to record.
#[derive(Debug, Clone)]
pub struct DynoReport {
    pub name: String,
    pub process_type: String,
    pub release_id: Option<Uuid>,
    pub command: String,
    pub state: DynoState,
    pub container_id: String,
    pub exit_code: Option<i32>,
    pub started_at: Option<DateTime<Utc>>,
    /// The cluster node it runs on; `None` on a single engine.
    pub node: Option<String>,
}

impl Store {
    /// Every app whose current release has an image to run, read in one snapshot: an
    /// app missing from this answer gets its dynos stopped, so a release made while this
    /// reads must never make an app look absent.
    pub async fn desired_apps(&self) -> Result<Vec<DesiredApp>, StoreError> {
        self.desired(None).await
    }

    /// One app's desired state, as [`Store::desired_apps`] would give it; `None` when it
    /// has no current release with an image to run (or does not exist).
    pub async fn desired_app(&self, app_id: Uuid) -> Result<Option<DesiredApp>, StoreError> {
        Ok(self.desired(Some(app_id)).await?.pop())
    }

    /// Every app's desired state, or only `only`'s, in one snapshot.
    async fn desired(&self, only: Option<Uuid>) -> Result<Vec<DesiredApp>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let rows: Vec<CurrentRow> = sqlx::query_as(
            "select a.app_id, a.name, r.release_id, r.version, b.image, r.config, a.maintenance
               from app a
               join current_release r using (app_id)
               join build b on b.build_id = r.build_id and b.image is not null
              where $1::uuid is null or a.app_id = $1",
        )
        .bind(only)
        .fetch_all(&mut *tx)
        .await?;
        let formation: Vec<(Uuid, String, i32, String, i32)> = sqlx::query_as(
            "select app_id, type, quantity, command, restart_seq from formation
              where $1::uuid is null or app_id = $1",
        )
        .bind(only)
        .fetch_all(&mut *tx)
        .await?;
        let domains: Vec<(Uuid, String)> = sqlx::query_as(
            "select app_id, hostname from domain where $1::uuid is null or app_id = $1
              order by hostname",
        )
        .bind(only)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(
                |(app_id, app_name, release_id, version, image, config, maintenance)| DesiredApp {
                    app_id,
                    app_name,
                    release_id,
                    version,
                    image,
                    config: config.0,
                    formation: formation
                        .iter()
                        .filter(|(a, ..)| *a == app_id)
                        .map(|(_, kind, qty, cmd, _)| {
                            (
                                kind.clone(),
                                (u32::try_from(*qty).unwrap_or(0), cmd.clone()),
                            )
                        })
                        .collect(),
                    generations: formation
                        .iter()
                        .filter(|(a, ..)| *a == app_id)
                        .map(|(_, kind, _, _, generation)| {
                            (kind.clone(), u32::try_from(*generation).unwrap_or(0))
                        })
                        .collect(),
                    hostnames: domains
                        .iter()
                        .filter(|(a, _)| *a == app_id)
                        .map(|(_, h)| h.clone())
                        .collect(),
                    maintenance,
                },
            )
            .collect())
    }

    /// `ps:restart`: makes the running dynos of one process type (or all) stale, so the
    /// supervisor replaces them one by one. Errors on an unknown type.
    pub async fn restart(
        &self,
        app_id: Uuid,
        process_type: Option<&str>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "update formation set restart_seq = restart_seq + 1, updated_at = now()
              where app_id = $1 and ($2::text is null or type = $2)",
        )
        .bind(app_id)
        .bind(process_type)
        .execute(&self.pool)
        .await?;
        match (done.rows_affected(), process_type) {
            (0, Some(kind)) => Err(StoreError::UnknownProcessType(kind.to_owned())),
            _ => Ok(()),
        }
    }

    /// The app's current release with an image to run one-off dynos from, and the next
    /// `run.N` number.
    pub async fn one_off_target(&self, app_id: Uuid) -> Result<(DesiredApp, i32), StoreError> {
        let app = self.desired_app(app_id).await?.ok_or_else(|| {
            StoreError::Conflict("The app has no deployed code to run: git push it first.".into())
        })?;
        let n = self.next_one_off_index(app_id).await?;
        Ok((app, n))
    }

    /// The next one-off dyno number of the app (`run.N`).
    pub async fn next_one_off_index(&self, app_id: Uuid) -> Result<i32, StoreError> {
        let n: Option<i32> = sqlx::query_scalar(
            "update app set run_seq = run_seq + 1 where app_id = $1 returning run_seq",
        )
        .bind(app_id)
        .fetch_optional(&self.pool)
        .await?;
        n.ok_or_else(|| StoreError::not_found("app"))
    }

    /// Makes what is recorded about an app's dynos what was just observed. A dyno keeps
    /// its row, id and `created_at` across passes for as long as it is the same container;
    /// a new container in its slot is a new dyno (a new id); a row is written only when
    /// something in it changed, and dynos no longer observed are removed. When a name is
    /// reported twice (a slot mid-rollout), the first report wins.
    pub async fn record_dynos(&self, app_id: Uuid, dynos: &[DynoReport]) -> Result<(), StoreError> {
        let mut names = BTreeSet::new();
        let dynos: Vec<&DynoReport> = dynos
            .iter()
            .filter(|d| names.insert(d.name.as_str()))
            .collect();
        let mut tx = self.pool.begin().await?;
        // The app's row, held against its destruction until this is written.
        let exists: Option<i32> =
            sqlx::query_scalar("select 1 from app where app_id = $1 for key share")
                .bind(app_id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(());
        }
        let names: Vec<&str> = names.into_iter().collect();
        sqlx::query("delete from dyno where app_id = $1 and name <> all($2::text[])")
            .bind(app_id)
            .bind(&names)
            .execute(&mut *tx)
            .await?;
        let ids: Vec<Uuid> = dynos.iter().map(|_| Uuid::now_v7()).collect();
        sqlx::query(
            "insert into dyno (dyno_id, app_id, name, type, release_id, command, state,
                               container_id, exit_code, started_at, node)
             select t.dyno_id, $1, t.name, t.type, t.release_id, t.command, t.state,
                    t.container_id, t.exit_code, t.started_at, t.node
               from unnest($2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::text[],
                           $7::text[], $8::text[], $9::int4[], $10::timestamptz[],
                           $11::text[])
                    as t(dyno_id, name, type, release_id, command, state, container_id,
                         exit_code, started_at, node)
             on conflict (app_id, name) do update set
                 dyno_id = case when dyno.container_id is distinct from excluded.container_id
                                then excluded.dyno_id else dyno.dyno_id end,
                 created_at = case when dyno.container_id is distinct from excluded.container_id
                                   then now() else dyno.created_at end,
                 type = excluded.type, release_id = excluded.release_id,
                 command = excluded.command, state = excluded.state,
                 container_id = excluded.container_id, exit_code = excluded.exit_code,
                 started_at = excluded.started_at, node = excluded.node, updated_at = now()
             where (dyno.type, dyno.release_id, dyno.command, dyno.state, dyno.container_id,
                    dyno.exit_code, dyno.started_at, dyno.node)
                   is distinct from
                   (excluded.type, excluded.release_id, excluded.command, excluded.state,
                    excluded.container_id, excluded.exit_code, excluded.started_at,
                    excluded.node)",
        )
        .bind(app_id)
        .bind(ids)
        .bind(dynos.iter().map(|d| d.name.as_str()).collect::<Vec<_>>())
        .bind(
            dynos
                .iter()
                .map(|d| d.process_type.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(dynos.iter().map(|d| d.release_id).collect::<Vec<_>>())
        .bind(dynos.iter().map(|d| d.command.as_str()).collect::<Vec<_>>())
        .bind(dynos.iter().map(|d| d.state.as_str()).collect::<Vec<_>>())
        .bind(
            dynos
                .iter()
                .map(|d| d.container_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(dynos.iter().map(|d| d.exit_code).collect::<Vec<_>>())
        .bind(dynos.iter().map(|d| d.started_at).collect::<Vec<_>>())
        .bind(dynos.iter().map(|d| d.node.as_deref()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn dynos(&self, app_id: Uuid) -> Result<Vec<DynoRow>, StoreError> {
        Ok(sqlx::query_as::<_, DynoRow>(
            "select d.dyno_id, d.app_id, d.name, d.type, d.release_id, r.version, d.command, d.state,
                    d.container_id, d.exit_code, d.started_at, d.node, d.created_at, d.updated_at
               from dyno d left join release r using (release_id)
              where d.app_id = $1 order by d.type, length(d.name), d.name",
        )
        .bind(app_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
