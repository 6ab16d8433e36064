//! Scheduled backups of a Postgres add-on: set in a zone, run at their time, a failed one
//! loud in the app's stream, a missed one announced and run at once, old scheduled ones
//! pruned (manual ones kept); unscheduled.

use super::{app_with_postgres, docker_ok, sql, start, wait_for_log};
use crate::support::{fails, ok};

/// `HH:MM` (UTC) of the start of the minute at least 70 s from now: a schedule set for
/// it is due within 10 to 70 s.
fn a_minute_ahead() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = (now + 70) / 60 * 60;
    format!("{:02}:{:02}", (at % 86_400) / 3600, (at % 3600) / 60)
}

#[tokio::test]
async fn scheduled_backups_run_at_their_time_a_missed_one_is_announced_and_run_and_old_ones_are_pruned()
 {
    let (paasd, dir) = start().await;
    let dir = dir.path();
    let (daily, url) = app_with_postgres(&paasd, dir, "daily").await;
    let (stalled, _) = app_with_postgres(&paasd, dir, "stalled").await;
    sql(
        &paasd,
        "daily",
        &url,
        "create table items (name text); insert into items values ('a'), ('b');",
    );
    // A manual capture: never pruned by the schedule.
    ok(paasd.paas(dir, &["pg:backups:capture", "-a", "daily"]));

    let bad = fails(paasd.paas(
        dir,
        &[
            "pg:backups:schedule",
            "--at",
            "02:00 Mars/Olympus",
            "-a",
            "daily",
        ],
    ));
    assert!(bad.contains("unknown time zone"), "{bad}");
    let bad = fails(paasd.paas(
        dir,
        &["pg:backups:schedule", "--at", "25:00", "-a", "daily"],
    ));
    assert!(bad.contains("not a time of day"), "{bad}");

    // Both scheduled for the coming minute; the second add-on cannot be backed up then
    // (its container is paused: the supervisor leaves a paused container alone).
    let at = a_minute_ahead();
    for app in ["daily", "stalled"] {
        let set = ok(paasd.paas(
            dir,
            &[
                "pg:backups:schedule",
                "--at",
                &format!("{at} UTC"),
                "--keep",
                "1",
                "-a",
                app,
            ],
        ));
        assert!(
            set.contains(&format!("every day at {at} UTC, keeping 1")),
            "{set}"
        );
    }
    let listed = ok(paasd.paas(dir, &["pg:backups:schedules", "-a", "daily"]));
    assert!(
        listed.contains(&daily)
            && listed.contains(&format!("{at} UTC"))
            && !listed.contains(&stalled),
        "{listed}"
    );
    let stalled_container = format!("paas-{}-addon-{stalled}", paasd.instance);
    docker_ok(&["pause", &stalled_container]);

    let scheduled = |backup: &str| format!("Scheduled backup {backup} of {daily} verified");
    let logs = wait_for_log(&paasd, dir, "daily", &[&scheduled("a002")], 180).await;
    assert!(!logs.contains("FAILED"), "{logs}");
    let list = ok(paasd.paas(dir, &["pg:backups", "-a", "daily"]));
    assert!(list.contains("a002") && list.contains("b001"), "{list}");
    let files = paasd.data.path().join("backups/addons").join(&daily);
    assert!(files.join("a002.dump").is_file());
    // The failure is loud in the stalled app's stream, and recorded.
    let failed = format!("app[api]: Error: scheduled backup of {stalled} FAILED");
    let logs = wait_for_log(&paasd, dir, "stalled", &[&failed], 120).await;
    assert!(!logs.contains("verified"), "{logs}");
    docker_ok(&["unpause", &stalled_container]);

    // paasd was "down" across the next due time: the schedule (now in another zone)
    // was set two days ago for an hour ago and never ran since. The next pass says it
    // was missed, captures at once, and prunes the older scheduled backup (keep 1);
    // the manual one stays.
    let store = paasd.store().await;
    sqlx::query(
        "update addon_backup_schedule
            set timezone = 'Asia/Kolkata',
                at_time = ((now() - interval '1 hour') at time zone 'Asia/Kolkata')::time,
                created_at = now() - interval '2 days', last_due_at = now() - interval '1 day 1 hour'
          where addon_id = (select addon_id from addon where name = $1)",
    )
    .bind(&daily)
    .execute(store.pool())
    .await
    .unwrap();
    let logs = wait_for_log(&paasd, dir, "daily", &[&scheduled("a003")], 120).await;
    assert!(
        logs.contains(&format!(
            "app[api]: Error: the scheduled backup of {daily} due at"
        )) && logs.contains("was MISSED"),
        "{logs}"
    );
    let list = ok(paasd.paas(dir, &["pg:backups", "-a", "daily"]));
    assert!(
        list.contains("a003") && list.contains("b001") && !list.contains("a002"),
        "{list}"
    );
    assert!(
        !files.join("a002.dump").exists(),
        "a pruned backup's file goes too"
    );
    let verified = ok(paasd.paas(dir, &["pg:backups:verify", "a003", "-a", "daily"]));
    assert!(verified.contains("a003: verified"), "{verified}");

    ok(paasd.paas(dir, &["pg:backups:unschedule", "-a", "daily"]));
    let listed = ok(paasd.paas(dir, &["pg:backups:schedules", "-a", "daily"]));
    assert!(listed.contains("No backup schedules"), "{listed}");
}
