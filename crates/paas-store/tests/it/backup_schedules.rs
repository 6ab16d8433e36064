//! Backup schedules with the clock as a value: due times in the schedule's zone
//! (daylight saving included), one claim per due time, and pruning that keeps the newest
//! `keep` verified scheduled backups and every manual one.

use chrono::{DateTime, Utc};
use paas_core::addons::{AddonName, AttachmentName, Credentials, Service};
use paas_core::backup_schedule::{BackupAt, ScheduledRun, scheduled_run};
use paas_store::{BackupStatus, NewAddon, Store, StoreError};
use sqlx::PgPool;

use crate::new_app;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

async fn provisioned_addon(store: &Store) -> uuid::Uuid {
    let app = new_app(store, "shop").await;
    let (addon, _) = store
        .create_addon(&NewAddon {
            name: AddonName::parse("postgresql-curved-12345").unwrap(),
            service: Service::Postgresql,
            plan: Service::Postgresql.default_plan(),
            app_id: app,
            credentials: Credentials::from_entropy([5; 32]),
            attachment: AttachmentName::parse("DATABASE").unwrap(),
        })
        .await
        .unwrap();
    store.addon_provisioned(addon.addon_id).await.unwrap();
    addon.addon_id
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn due_times_follow_the_schedules_zone_and_each_is_claimed_once(pool: PgPool) {
    let store = Store::from_pool(pool.clone());
    let addon = provisioned_addon(&store).await;
    let unknown = store
        .set_backup_schedule(addon, &BackupAt::parse("02:00 Mars/Olympus").unwrap(), 7)
        .await
        .unwrap_err();
    assert!(matches!(unknown, StoreError::Invalid(_)), "{unknown:?}");

    let set = store
        .set_backup_schedule(addon, &BackupAt::parse("02:30 Europe/Paris").unwrap(), 3)
        .await
        .unwrap();
    assert_eq!(set.keep, 3);
    // Winter: Paris is UTC+1; 02:45 local: today's is the latest due time. Before
    // 02:30 local, the latest is yesterday's.
    let s = store
        .backup_schedule(addon, t("2026-12-02T01:45:00Z"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.due_at, t("2026-12-02T01:30:00Z"));
    assert_eq!(s.next_at, t("2026-12-03T01:30:00Z"));
    let s = store
        .backup_schedule(addon, t("2026-12-02T01:29:59Z"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.due_at, t("2026-12-01T01:30:00Z"));
    assert_eq!(s.next_at, t("2026-12-02T01:30:00Z"));
    // Summer: UTC+2.
    let s = store
        .backup_schedule(addon, t("2026-07-01T12:00:00Z"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.due_at, t("2026-07-01T00:30:00Z"));

    // Claimed once per due time; a schedule replaced since is not claimed for.
    sqlx::query("update addon_backup_schedule set created_at = $1")
        .bind(t("2026-11-01T00:00:00Z"))
        .execute(&pool)
        .await
        .unwrap();
    let now = t("2026-12-02T01:30:04Z");
    let s = store.backup_schedule(addon, now).await.unwrap().unwrap();
    assert_eq!(
        scheduled_run(s.due_at, s.last_due_at, s.created_at, now),
        ScheduledRun::Run
    );
    assert!(
        store
            .claim_scheduled_run(addon, s.due_at, s.created_at)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_scheduled_run(addon, s.due_at, s.created_at)
            .await
            .unwrap()
    );
    let s = store.backup_schedule(addon, now).await.unwrap().unwrap();
    assert_eq!(
        scheduled_run(s.due_at, s.last_due_at, s.created_at, now),
        ScheduledRun::Wait
    );
    assert!(
        !store
            .claim_scheduled_run(addon, t("2026-12-03T01:30:00Z"), t("2026-01-01T00:00:00Z"))
            .await
            .unwrap()
    );
    assert_eq!(store.backup_schedules(now).await.unwrap().len(), 1);
    assert!(store.delete_backup_schedule(addon).await.unwrap());
    assert!(store.backup_schedule(addon, now).await.unwrap().is_none());
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn pruning_keeps_the_newest_verified_scheduled_backups_and_every_manual_one(pool: PgPool) {
    let store = Store::from_pool(pool);
    let addon = provisioned_addon(&store).await;
    // b1 manual, a2 verified, a3 failed, a4 verified, a5 verified, a6 failed.
    let outcomes = [
        (false, BackupStatus::Verified),
        (true, BackupStatus::Verified),
        (true, BackupStatus::Failed),
        (true, BackupStatus::Verified),
        (true, BackupStatus::Verified),
        (true, BackupStatus::Failed),
    ];
    for (scheduled, status) in outcomes {
        let b = store.start_backup_of(addon, scheduled).await.unwrap();
        store
            .finish_backup(b.backup_id, status, None, Some(1), None)
            .await
            .unwrap();
    }
    let names = |bs: Vec<paas_store::Backup>| bs.iter().map(|b| b.name()).collect::<Vec<_>>();
    // Fewer verified than keep: nothing goes.
    assert!(
        store
            .prune_scheduled_backups(addon, 4)
            .await
            .unwrap()
            .is_empty()
    );
    // Keep 2: a4 and a5 stay, with the newer failure a6; a2 and a3 go; b001 stays.
    let mut pruned = names(store.prune_scheduled_backups(addon, 2).await.unwrap());
    pruned.sort();
    assert_eq!(pruned, ["a002", "a003"]);
    assert_eq!(
        names(store.backups(addon).await.unwrap()),
        ["a006", "a005", "a004", "b001"]
    );
}
