//! Backups of Postgres add-ons you can trust: `pg_dump` custom-format files under
//! `PAAS_BACKUP_DIR/<add-on>/b001.dump`, each verified by restoring it into a scratch
//! database of the same server and comparing every table's row count with the counts
//! taken when it was captured. A backup is `verified`, or `failed` with the tools' own
//! words; never a silent success. A restore first captures what it replaces, and only
//! ever restores into the add-on's own database.
//!
//! Everything runs inside the add-on's container (`docker exec`, as the service user
//! over its socket): paasd needs no network path to the database.

use std::collections::BTreeMap;
use std::path::PathBuf;

use paas_core::addons::Service;
use paas_store::{Addon, Backup, BackupStatus};

use crate::{AddonError, Addons};

/// Counts every table's rows: the generator's output (one `select` per table) is run by a
/// second psql in the same database.
const COUNT_ROWS: &str = "select format('select %L || ''|'' || count(*) from %I.%I;', n.nspname || '.' || c.relname, n.nspname, c.relname)
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
   and n.nspname not like 'pg_toast%' and n.nspname not like 'pg_temp%'
 order by 1;\n";

/// `psql` on the add-on's socket, as its user, in database `$1`.
pub(crate) const PSQL: &str =
    r#"psql -X -At -v ON_ERROR_STOP=1 -h /var/run/postgresql -U "$PAAS_ADDON_USER" -d "$1""#;

pub(crate) fn sh(script: String, database: &str) -> Vec<String> {
    vec![
        "bash".into(),
        "-o".into(),
        "pipefail".into(),
        "-c".into(),
        script,
        "sh".into(),
        database.to_owned(),
    ]
}

/// The last lines of a tool's complaint, for a backup's reason.
pub(crate) fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(3);
    lines[start..].join(" / ")
}

impl Addons {
    fn backup_path(&self, addon: &Addon, backup: &Backup) -> PathBuf {
        self.inner
            .settings
            .backup_dir
            .join(addon.name.as_str())
            .join(format!("{}.dump", backup.name()))
    }

    /// The file of a backup, for downloading.
    pub fn backup_file(&self, addon: &Addon, backup: &Backup) -> PathBuf {
        self.backup_path(addon, backup)
    }

    pub(crate) async fn running_container(&self, addon: &Addon) -> Result<String, AddonError> {
        if addon.service != Service::Postgresql {
            return Err(AddonError::Backup(format!(
                "{} is a {} add-on: only Postgres add-ons have backups",
                addon.name, addon.service
            )));
        }
        self.container_id(addon)
            .await
            .ok_or_else(|| AddonError::Backup(format!("{} is not running", addon.name)))
    }

    /// Rows per table of `database`.
    async fn row_counts(
        &self,
        container: &str,
        database: &str,
    ) -> Result<Result<BTreeMap<String, i64>, String>, AddonError> {
        let mut out = Vec::new();
        let (code, stderr) = self
            .inner
            .docker
            .exec_addon(
                container,
                sh(format!("{PSQL} | {PSQL}"), database),
                Some(Box::new(std::io::Cursor::new(COUNT_ROWS.as_bytes()))),
                &mut out,
            )
            .await?;
        if code != 0 {
            return Ok(Err(format!("counting rows failed: {}", tail(&stderr))));
        }
        let mut counts = BTreeMap::new();
        for line in String::from_utf8_lossy(&out).lines() {
            if let Some((table, n)) = line.rsplit_once('|')
                && let Ok(n) = n.trim().parse()
            {
                counts.insert(table.to_owned(), n);
            }
        }
        Ok(Ok(counts))
    }

    /// Captures a backup and verifies it. The result is `verified` or `failed` (with the
    /// reason); an error means the platform could not even try.
    pub async fn capture(&self, addon: &Addon) -> Result<Backup, AddonError> {
        self.capture_as(addon, false).await
    }

    /// [`Addons::capture`], marked as a schedule's (pruned beyond its `keep`) or not.
    pub(crate) async fn capture_as(
        &self,
        addon: &Addon,
        scheduled: bool,
    ) -> Result<Backup, AddonError> {
        let container = self.running_container(addon).await?;
        let backup = self
            .inner
            .store
            .start_backup_of(addon.addon_id, scheduled)
            .await?;
        let path = self.backup_path(addon, &backup);
        let outcome = self.dump(&container, addon, &path).await;
        let backup = match outcome {
            Ok(Ok((size, counts))) => {
                let verified = self.verify_file(&container, &path, &counts).await?;
                self.finish(&backup, &verified, Some((size, &counts)))
                    .await?
            }
            Ok(Err(why)) => self.finish(&backup, &Err(why), None).await?,
            Err(e) => {
                self.finish(&backup, &Err(e.to_string()), None).await?;
                return Err(e);
            }
        };
        tracing::info!(addon = %addon.name, backup = %backup.name(), status = backup.status.as_str(), reason = ?backup.reason, "backup captured");
        Ok(backup)
    }

    /// Row counts, then `pg_dump` into `path` (written aside, renamed when complete).
    async fn dump(
        &self,
        container: &str,
        addon: &Addon,
        path: &std::path::Path,
    ) -> Result<Result<(i64, BTreeMap<String, i64>), String>, AddonError> {
        let counts = match self
            .row_counts(container, &addon.credentials.database)
            .await?
        {
            Ok(c) => c,
            Err(why) => return Ok(Err(why)),
        };
        let dir = path.parent().unwrap_or(path);
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        let partial = path.with_extension("partial");
        let mut file = tokio::fs::File::create(&partial).await.map_err(io)?;
        let (code, stderr) = self
            .inner
            .docker
            .exec_addon(
                container,
                sh(
                    r#"pg_dump -Fc -h /var/run/postgresql -U "$PAAS_ADDON_USER" -d "$1""#.into(),
                    &addon.credentials.database,
                ),
                None,
                &mut file,
            )
            .await?;
        drop(file);
        if code != 0 {
            let _ = tokio::fs::remove_file(&partial).await;
            return Ok(Err(format!("pg_dump failed: {}", tail(&stderr))));
        }
        tokio::fs::rename(&partial, path).await.map_err(io)?;
        let size = tokio::fs::metadata(path).await.map_err(io)?.len();
        Ok(Ok((i64::try_from(size).unwrap_or(i64::MAX), counts)))
    }

    /// Restores `path` into a scratch database and compares its row counts with
    /// `expected`; the scratch database is dropped either way.
    async fn verify_file(
        &self,
        container: &str,
        path: &std::path::Path,
        expected: &BTreeMap<String, i64>,
    ) -> Result<Result<(), String>, AddonError> {
        let scratch = format!("paas_verify_{}", uuid::Uuid::new_v4().simple());
        let docker = &self.inner.docker;
        let mut sink = tokio::io::sink();
        let (code, stderr) = docker
            .exec_addon(
                container,
                sh(
                    r#"createdb -h /var/run/postgresql -U "$PAAS_ADDON_USER" "$1""#.into(),
                    &scratch,
                ),
                None,
                &mut sink,
            )
            .await?;
        if code != 0 {
            return Ok(Err(format!(
                "could not make a scratch database: {}",
                tail(&stderr)
            )));
        }
        let file = tokio::fs::File::open(path).await.map_err(io)?;
        let restored = docker
            .exec_addon(
                container,
                sh(
                    r#"pg_restore --no-owner --no-privileges --exit-on-error -h /var/run/postgresql -U "$PAAS_ADDON_USER" -d "$1""#.into(),
                    &scratch,
                ),
                Some(Box::new(file)),
                &mut sink,
            )
            .await;
        let outcome = match restored {
            Ok((0, _)) => match self.row_counts(container, &scratch).await {
                Ok(Ok(counts)) if &counts == expected => Ok(Ok(())),
                Ok(Ok(counts)) => Ok(Err(format!(
                    "the restored copy's row counts differ from the database's: {}",
                    differences(expected, &counts)
                ))),
                Ok(Err(why)) => Ok(Err(why)),
                Err(e) => Err(e),
            },
            Ok((_, stderr)) => Ok(Err(format!(
                "restoring it into a scratch database failed: {}",
                tail(&stderr)
            ))),
            Err(e) => Err(e.into()),
        };
        let _ = docker
            .exec_addon(
                container,
                sh(
                    r#"dropdb --if-exists -h /var/run/postgresql -U "$PAAS_ADDON_USER" "$1""#
                        .into(),
                    &scratch,
                ),
                None,
                &mut sink,
            )
            .await;
        outcome
    }

    /// Verifies an existing backup again (the file may have been damaged since).
    pub async fn verify(&self, addon: &Addon, backup: &Backup) -> Result<Backup, AddonError> {
        let container = self.running_container(addon).await?;
        let expected = backup
            .row_counts
            .as_ref()
            .map(|c| c.0.clone())
            .unwrap_or_default();
        let path = self.backup_path(addon, backup);
        let outcome = if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            self.verify_file(&container, &path, &expected).await?
        } else {
            Err(format!("its file {} is missing", path.display()))
        };
        self.finish(backup, &outcome, None).await
    }

    /// Records how a backup ended: `verified`, or `failed` with the reason `outcome`
    /// gives; `dumped` is a new file's size and row counts, when one was written.
    async fn finish(
        &self,
        backup: &Backup,
        outcome: &Result<(), String>,
        dumped: Option<(i64, &BTreeMap<String, i64>)>,
    ) -> Result<Backup, AddonError> {
        let (status, reason) = match outcome {
            Ok(()) => (BackupStatus::Verified, None),
            Err(why) => (BackupStatus::Failed, Some(why.as_str())),
        };
        let (size, counts) = dumped.unzip();
        Ok(self
            .inner
            .store
            .finish_backup(backup.backup_id, status, reason, size, counts)
            .await?)
    }

    /// Restores a verified backup into the add-on's own database, after capturing what
    /// it replaces. Returns that safety backup.
    pub async fn restore(&self, addon: &Addon, backup: &Backup) -> Result<Backup, AddonError> {
        if backup.addon_id != addon.addon_id {
            return Err(AddonError::Backup(format!(
                "{} is a backup of another add-on",
                backup.name()
            )));
        }
        if backup.status != BackupStatus::Verified {
            return Err(AddonError::Backup(format!(
                "{} is {}, not verified: it is not restored",
                backup.name(),
                backup.status.as_str()
            )));
        }
        let safety = self.capture(addon).await?;
        if safety.status != BackupStatus::Verified {
            return Err(AddonError::Backup(format!(
                "the backup of what the restore would replace ({}) failed: {}; nothing was restored",
                safety.name(),
                safety.reason.as_deref().unwrap_or("no reason")
            )));
        }
        let container = self.running_container(addon).await?;
        let file = tokio::fs::File::open(self.backup_path(addon, backup))
            .await
            .map_err(io)?;
        let mut sink = tokio::io::sink();
        let (code, stderr) = self
            .inner
            .docker
            .exec_addon(
                &container,
                sh(
                    r#"pg_restore --clean --if-exists --no-owner --no-privileges --exit-on-error --single-transaction -h /var/run/postgresql -U "$PAAS_ADDON_USER" -d "$1""#.into(),
                    &addon.credentials.database,
                ),
                Some(Box::new(file)),
                &mut sink,
            )
            .await?;
        if code != 0 {
            return Err(AddonError::Backup(format!(
                "restoring {} failed (nothing changed: it runs in one transaction): {}",
                backup.name(),
                tail(&stderr)
            )));
        }
        tracing::info!(addon = %addon.name, backup = %backup.name(), safety = %safety.name(), "backup restored");
        Ok(safety)
    }

    /// Deletes a backup and its file.
    pub async fn delete_backup(&self, addon: &Addon, backup: &Backup) -> Result<(), AddonError> {
        match tokio::fs::remove_file(self.backup_path(addon, backup)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        self.inner.store.delete_backup(backup.backup_id).await?;
        Ok(())
    }
}

fn io(e: std::io::Error) -> AddonError {
    AddonError::Backup(format!("backup file: {e}"))
}

/// `public.items: 3 → 2`, for a failed verification's reason.
fn differences(expected: &BTreeMap<String, i64>, got: &BTreeMap<String, i64>) -> String {
    let mut out = Vec::new();
    for (table, n) in expected {
        match got.get(table) {
            Some(m) if m == n => {}
            Some(m) => out.push(format!("{table}: {n} → {m}")),
            None => out.push(format!("{table}: {n} → missing")),
        }
    }
    for table in got.keys().filter(|t| !expected.contains_key(*t)) {
        out.push(format!("{table}: unexpected"));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_names_every_table_that_differs() {
        let expected = BTreeMap::from([("public.a".to_owned(), 3), ("public.b".to_owned(), 1)]);
        let got = BTreeMap::from([("public.a".to_owned(), 2), ("public.c".to_owned(), 0)]);
        assert_eq!(
            differences(&expected, &got),
            "public.a: 3 → 2, public.b: 1 → missing, public.c: unexpected"
        );
        assert_eq!(tail("a\n\nb\nc\nd\n"), "b / c / d");
    }
}
