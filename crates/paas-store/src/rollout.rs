//! How a release's rollout stands, read as one snapshot of what the supervisor
//! recorded: what a push waits on before it reports success.

use paas_core::ProcessType;
use uuid::Uuid;

use crate::{ReleaseStatus, Store, StoreError};

/// A dyno's state as the `dyno` table holds it (the `dyno_state` constraint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum DynoState {
    Starting,
    Up,
    Crashed,
    Down,
    Idle,
}

impl DynoState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Up => "up",
            Self::Crashed => "crashed",
            Self::Down => "down",
            Self::Idle => "idle",
        }
    }
}

/// Where the rollout of one release is, checked in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    /// The supervisor failed the release (its web dynos never became ready while older
    /// ones served): the previous release is current again.
    Failed { reason: Option<String> },
    /// A web dyno of the release exited. Nothing older serves (or the supervisor would
    /// have failed the rollout): the release stays and the crash back-off restarts it.
    Crashed {
        dyno: String,
        exit_code: Option<i32>,
    },
    /// Done: every wanted web dyno of the release is up, none is wanted, or dynos of a
    /// newer release are already running (a later push took over).
    Done { up: u32, wanted: u32 },
    /// The engine refuses to start the release's dynos (`failures` times in a row so
    /// far): the supervisor backs off and keeps trying; nothing of the release runs.
    CannotStart { reason: String, failures: u32 },
    /// The release's web dynos are still starting.
    Starting { up: u32, wanted: u32 },
}

/// What the rollout needs of one recorded dyno.
#[derive(sqlx::FromRow)]
struct RecordedDyno {
    name: String,
    process_type: String,
    state: DynoState,
    version: Option<i32>,
    exit_code: Option<i32>,
}

impl Store {
    /// How the rollout of the app's release `version` stands.
    pub async fn rollout(&self, app_id: Uuid, version: i32) -> Result<Rollout, StoreError> {
        let web = ProcessType::web();
        let mut tx = self.pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await?;
        let (status, reason): (ReleaseStatus, Option<String>) = sqlx::query_as(
            "select s.status, s.reason from release r join release_status s using (release_id)
              where r.app_id = $1 and r.version = $2",
        )
        .bind(app_id)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("release"))?;
        if status == ReleaseStatus::Failed {
            return Ok(Rollout::Failed { reason });
        }
        let refused: Option<(String, i32)> = sqlx::query_as(
            "select f.reason, f.failures from start_failure f join release r using (release_id)
              where f.app_id = $1 and r.version = $2",
        )
        .bind(app_id)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((reason, failures)) = refused {
            return Ok(Rollout::CannotStart {
                reason,
                failures: u32::try_from(failures).unwrap_or(0),
            });
        }
        let wanted: Option<i32> =
            sqlx::query_scalar("select quantity from formation where app_id = $1 and type = $2")
                .bind(app_id)
                .bind(web.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let dynos: Vec<RecordedDyno> = sqlx::query_as(
            "select d.name, d.type as process_type, d.state, r.version, d.exit_code
               from dyno d left join release r using (release_id)
              where d.app_id = $1 order by length(d.name), d.name",
        )
        .bind(app_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;

        let wanted = wanted.and_then(|w| u32::try_from(w).ok()).unwrap_or(0);
        let of_release = || {
            dynos
                .iter()
                .filter(|d| d.process_type == web.as_str() && d.version == Some(version))
        };
        if let Some(crashed) = of_release().find(|d| d.state == DynoState::Crashed) {
            return Ok(Rollout::Crashed {
                dyno: crashed.name.clone(),
                exit_code: crashed.exit_code,
            });
        }
        let up = of_release().filter(|d| d.state == DynoState::Up).count();
        let up = u32::try_from(up).unwrap_or(u32::MAX);
        let superseded = dynos.iter().any(|d| d.version.is_some_and(|v| v > version));
        Ok(if wanted == 0 || superseded || up >= wanted {
            Rollout::Done { up, wanted }
        } else {
            Rollout::Starting { up, wanted }
        })
    }
}
