//! Daily backup schedules of add-ons (`addon_backup_schedule`, migration
//! `20261204000000_h_addons_backup_schedules.sql`) and the pruning of scheduled
//! backups. Due times are computed here, in SQL, in each schedule's time zone (Postgres's
//! tz database, so `02:00 Europe/Paris` follows daylight saving), for a `now` the caller
//! passes: the clock is a value, and the decision on it is `paas_core::backup_schedule`.

use chrono::{DateTime, NaiveTime, Utc};
use paas_core::ParseError;
use paas_core::backup_schedule::BackupAt;
use uuid::Uuid;

use crate::backups::Backup;
use crate::{Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BackupSchedule {
    pub addon_id: Uuid,
    pub addon_name: String,
    pub at_time: NaiveTime,
    pub timezone: String,
    pub keep: i32,
    /// The due time its last run was for.
    pub last_due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Its latest due time at or before the `now` it was read for.
    pub due_at: DateTime<Utc>,
    /// Its next due time after that `now`.
    pub next_at: DateTime<Utc>,
}

impl BackupSchedule {
    pub fn at(&self) -> BackupAt {
        BackupAt {
            time: self.at_time,
            timezone: self.timezone.clone(),
        }
    }
}

/// Every schedule with its due times around `$1`: the day of `$1` in the schedule's
/// zone, at its time, converted back; yesterday's when today's is still ahead.
const SELECT_SCHEDULE: &str = "
select s.addon_id, d.name as addon_name, s.at_time, s.timezone, s.keep, s.last_due_at,
       s.created_at,
       case when t.today <= $1 then t.today else t.yesterday end as due_at,
       case when t.today <= $1 then t.tomorrow else t.today end as next_at
  from addon_backup_schedule s
  join addon d using (addon_id)
  cross join lateral (
    select (l.day + s.at_time) at time zone s.timezone as today,
           (l.day - interval '1 day' + s.at_time) at time zone s.timezone as yesterday,
           (l.day + interval '1 day' + s.at_time) at time zone s.timezone as tomorrow
      from (select date_trunc('day', $1 at time zone s.timezone) as day) l
  ) t";

impl Store {
    /// Sets (or replaces) an add-on's daily schedule. A zone Postgres does not know is
    /// refused. Replacing one starts it afresh: a time already past today runs tomorrow.
    pub async fn set_backup_schedule(
        &self,
        addon_id: Uuid,
        at: &BackupAt,
        keep: u16,
    ) -> Result<BackupSchedule, StoreError> {
        let known: Option<bool> = sqlx::query_scalar(
            "select true from pg_timezone_names where name = $1
             union all select true from pg_timezone_abbrevs where abbrev = $1 limit 1",
        )
        .bind(&at.timezone)
        .fetch_optional(&self.pool)
        .await?;
        if known.is_none() {
            return Err(StoreError::Invalid(ParseError::new(
                "at",
                format!(
                    "unknown time zone {:?}: use an IANA name such as Europe/Paris, or UTC",
                    at.timezone
                ),
            )));
        }
        sqlx::query(
            "insert into addon_backup_schedule (addon_id, at_time, timezone, keep)
             values ($1, $2, $3, $4)
             on conflict (addon_id) do update
               set at_time = excluded.at_time, timezone = excluded.timezone,
                   keep = excluded.keep, last_due_at = null, created_at = now()",
        )
        .bind(addon_id)
        .bind(at.time)
        .bind(&at.timezone)
        .bind(i32::from(keep))
        .execute(&self.pool)
        .await?;
        self.backup_schedule(addon_id, Utc::now())
            .await?
            .ok_or_else(|| StoreError::not_found("backup schedule"))
    }

    /// An add-on's schedule, with its due times around `now`.
    pub async fn backup_schedule(
        &self,
        addon_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<BackupSchedule>, StoreError> {
        let sql = format!("{SELECT_SCHEDULE} where s.addon_id = $2");
        Ok(
            sqlx::query_as::<_, BackupSchedule>(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(addon_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Every schedule of provisioned add-ons, with its due times around `now`.
    pub async fn backup_schedules(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<BackupSchedule>, StoreError> {
        let sql = format!("{SELECT_SCHEDULE} where d.state = 'provisioned' order by d.name");
        Ok(
            sqlx::query_as::<_, BackupSchedule>(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Removes an add-on's schedule; whether it had one.
    pub async fn delete_backup_schedule(&self, addon_id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("delete from addon_backup_schedule where addon_id = $1")
            .bind(addon_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Records that the schedule ran (or was found missed) for due time `due`; false
    /// when another run already took it (or the schedule changed meanwhile).
    pub async fn claim_scheduled_run(
        &self,
        addon_id: Uuid,
        due: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "update addon_backup_schedule set last_due_at = $2
              where addon_id = $1 and created_at = $3
                and (last_due_at is null or last_due_at < $2)",
        )
        .bind(addon_id)
        .bind(due)
        .bind(since)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the add-on's scheduled backups older than its `keep` newest verified
    /// scheduled ones (failed ones among them too), and returns them (their files are
    /// the caller's to remove). Nothing goes while fewer than `keep` verified: a run of
    /// failures never costs the last good backups. Manual captures are never pruned.
    pub async fn prune_scheduled_backups(
        &self,
        addon_id: Uuid,
        keep: i32,
    ) -> Result<Vec<Backup>, StoreError> {
        Ok(sqlx::query_as::<_, Backup>(
            "with oldest_kept as (
               select num from addon_backup
                where addon_id = $1 and scheduled and status = 'verified'
                order by num desc offset $2 - 1 limit 1)
             delete from addon_backup
              where addon_id = $1 and scheduled and status <> 'running'
                and num < (select num from oldest_kept)
             returning backup_id, addon_id, num, status, reason, size_bytes, row_counts,
                       started_at, finished_at, scheduled",
        )
        .bind(addon_id)
        .bind(keep.max(1))
        .fetch_all(&self.pool)
        .await?)
    }
}
