//! `paasd tokens create|list|revoke`: run against the same database as paasd (its
//! embedded cluster is started and stopped around the command when paasd is not running).
//! A revocation reaches a running paasd at once through the store's NOTIFY trigger.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::bail;
use chrono::Utc;

use crate::{Database, Settings};

/// `3600`, `3600s`, `90m`, `12h`, `30d`.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let (digits, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration like 3600, 90m, 12h or 30d"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{raw:?} is not a duration like 3600, 90m, 12h or 30d"
            ));
        }
    };
    match n.checked_mul(factor) {
        Some(secs @ 1..=315_360_000) => Ok(Duration::from_secs(secs)),
        _ => Err(format!("{raw:?} must be from 1 second to 10 years")),
    }
}

/// Runs `f` on the database and closes it (stopping an embedded cluster it started).
async fn with_store<T>(
    settings: &Settings,
    f: impl AsyncFnOnce(&paas_store::Store) -> Result<T, paas_store::StoreError>,
) -> anyhow::Result<T> {
    let database = Database::open(settings).await?;
    let result = f(&database.store).await;
    database.close().await?;
    Ok(result?)
}

pub async fn create(
    settings: &Settings,
    name: &str,
    expires_in: Option<Duration>,
) -> anyhow::Result<String> {
    let token = with_store(settings, async |store| {
        store.create_token_expiring(name, expires_in).await
    })
    .await?;
    Ok(token.secret)
}

/// A table: name, id, created, last used, expires.
pub async fn list(settings: &Settings) -> anyhow::Result<String> {
    let tokens = with_store(settings, async |store| store.tokens().await).await?;
    let now = Utc::now();
    let when = |t: Option<chrono::DateTime<Utc>>, none: &str| {
        t.map_or_else(
            || none.to_owned(),
            |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        )
    };
    let rows: Vec<[String; 5]> = tokens
        .iter()
        .map(|t| {
            let expires = match t.expires_at {
                Some(at) if at <= now => format!("{} (expired)", when(Some(at), "")),
                other => when(other, "never"),
            };
            [
                t.name.clone(),
                t.token_id.to_string(),
                when(Some(t.created_at), ""),
                when(t.last_used_at, "never"),
                expires,
            ]
        })
        .collect();
    let header = ["NAME", "ID", "CREATED", "LAST USED", "EXPIRES"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    if rows.is_empty() {
        out.push_str("No tokens: make one with `paasd tokens create --name NAME`.\n");
    }
    Ok(out)
}

pub async fn revoke(settings: &Settings, name_or_id: &str) -> anyhow::Result<String> {
    if name_or_id.trim().is_empty() {
        bail!("name the token to revoke (its name or id; see `paasd tokens list`)");
    }
    let token = with_store(settings, async |store| store.revoke_token(name_or_id).await).await?;
    Ok(format!("Revoked token {} ({})", token.name, token.token_id))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("3600"), Ok(Duration::from_secs(3_600)));
        for bad in ["", "0", "d", "1w", "-1d", "99999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
