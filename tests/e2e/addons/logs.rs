//! What a Postgres add-on tells: its server's log lines in every attached app's stream
//! (under that app's attachment name, until it is detached), and its figures on
//! `/metrics` (size, connections, the plan's limit, the last verified backup).

use std::time::Duration;

use serde_json::Value;

use super::{app_with_postgres, attach, destroy, eventually, psql, start, wait_for_log};
use crate::support::{Paasd, ok};

/// The value of the first `/metrics` line that starts with `series` (name and labels).
fn metric(text: &str, series: &str) -> Option<i64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

async fn metrics_text(paasd: &Paasd) -> String {
    match paasd.api(reqwest::Method::GET, "/metrics", None).await {
        Value::String(text) => text,
        other => panic!("/metrics is not text: {other}"),
    }
}

#[tokio::test]
async fn a_postgres_servers_log_reaches_its_attached_apps_and_metrics_show_its_figures() {
    let (paasd, dir) = start().await;
    let dir = dir.path();
    let (name, url) = app_with_postgres(&paasd, dir, "owner").await;
    paasd.create_app("guest").await;
    attach(&paasd, dir, &name, "SHOP_DB", "guest");
    // The collector reads who is attached every second (`SAVE_EVERY`): lines the server
    // writes before then go to the owner only.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A failing query is the server's error line, in both attached apps' streams under
    // each one's attachment name.
    let query = |table: &str| {
        let out = psql(
            &paasd,
            "owner",
            &url,
            "require",
            &format!("select * from {table}"),
        );
        assert!(!out.status.success(), "select from {table} worked");
    };
    let (in_owner, in_guest) = ("app[postgres]: [DATABASE] [", "app[postgres]: [SHOP_DB] [");
    query("missing_before_detach");
    let error = "ERROR:  relation \"missing_before_detach\" does not exist";
    wait_for_log(&paasd, dir, "owner", &[in_owner, error], 30).await;
    wait_for_log(&paasd, dir, "guest", &[in_guest, error], 30).await;

    // Detached, guest stops getting the server's lines; owner still does.
    ok(paasd.paas(dir, &["addons:detach", "SHOP_DB", "-a", "guest"]));
    tokio::time::sleep(Duration::from_secs(3)).await;
    query("missing_after_detach");
    wait_for_log(
        &paasd,
        dir,
        "owner",
        &[in_owner, "\"missing_after_detach\""],
        30,
    )
    .await;
    let only = ok(paasd.paas(
        dir,
        &["logs", "-n", "1500", "--dyno", "postgres", "-a", "owner"],
    ));
    assert!(
        only.contains("missing_after_detach")
            && only
                .lines()
                .all(|l| l.contains(" app[postgres]: [DATABASE] ")),
        "{only}"
    );
    let guest = ok(paasd.paas(dir, &["logs", "-n", "1500", "-a", "guest"]));
    assert!(
        guest.contains("missing_before_detach") && !guest.contains("missing_after_detach"),
        "{guest}"
    );

    // /metrics: the database's size, its connections within the plan's limit, and the
    // last verified backup's time once there is one.
    let labels = format!("{{addon=\"{name}\",service=\"postgresql\",app=\"owner\"}}");
    let text = eventually(&paasd, 30, Duration::from_millis(500), async || {
        let text = metrics_text(&paasd).await;
        if metric(&text, &format!("paas_addon_up{labels}")) == Some(1) {
            Ok(text)
        } else {
            Err(format!("no add-on figures:\n{text}"))
        }
    })
    .await;
    let size = metric(&text, &format!("paas_addon_database_size_bytes{labels}")).unwrap();
    assert!((1 << 20..1 << 30).contains(&size), "{text}");
    let connections = metric(&text, &format!("paas_addon_connections{labels}")).unwrap();
    assert!((1..=20).contains(&connections), "{text}");
    assert_eq!(
        metric(&text, &format!("paas_addon_connection_limit{labels}")),
        Some(20),
        "{text}"
    );
    let backup_series = format!("paas_addon_last_verified_backup_timestamp_seconds{labels}");
    assert_eq!(metric(&text, &backup_series), Some(0), "{text}");
    ok(paasd.paas(dir, &["pg:backups:capture", "-a", "owner"]));
    let captured_at = chrono::Utc::now().timestamp();
    let (at, text) = eventually(&paasd, 30, Duration::from_millis(500), async || {
        let text = metrics_text(&paasd).await;
        match metric(&text, &backup_series).filter(|t| *t > 0) {
            Some(at) => Ok((at, text)),
            None => Err(format!("the backup never showed:\n{text}")),
        }
    })
    .await;
    assert!(
        (captured_at - 120..=captured_at + 5).contains(&at),
        "{text}"
    );
    destroy(&paasd, dir, &name, "owner");
}
