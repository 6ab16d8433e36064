//! paasd's own Postgres cluster, for when `DATABASE_URL` is unset.
//!
//! The cluster lives under `$PAAS_DATA_DIR/postgres` (made by `initdb` on first start,
//! reused after) and listens only on a unix socket with mode 0700, so dynos, which
//! reach paasd's host only over TCP, cannot reach it. `pg_ctl` daemonizes the server:
//! if paasd is killed the cluster keeps running and the next paasd adopts it; a paasd
//! that started the cluster stops it on a clean exit. Postgres refuses to run as root,
//! so under root the cluster belongs to the `postgres` system user.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sqlx::postgres::PgConnectOptions;
use tokio::process::Command;

#[derive(Debug)]
pub struct EmbeddedPostgres {
    data_dir: PathBuf,
    socket_dir: PathBuf,
    bin_dir: PathBuf,
    owner: Option<nix::unistd::User>,
    started_here: bool,
}

const DATABASE: &str = "paas";
const SUPERUSER: &str = "postgres";

/// The newest `/usr/lib/postgresql/<v>/bin` holding initdb (also where `pg_dump` and
/// `pg_restore` are taken from for backups: the newest reads every older server).
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    candidates.sort();
    match candidates.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "DATABASE_URL is unset and no Postgres server binaries were found under /usr/lib/postgresql \
             (install postgresql, or set DATABASE_URL)"
        ),
    }
}

impl EmbeddedPostgres {
    /// Starts the cluster under `data_dir` (creating it on first use), or adopts the
    /// one already running there.
    pub async fn start(paas_data_dir: &Path) -> anyhow::Result<Self> {
        let bin_dir = bin_dir()?;
        std::fs::create_dir_all(paas_data_dir)
            .with_context(|| format!("creating PAAS_DATA_DIR {}", paas_data_dir.display()))?;
        let base = std::fs::canonicalize(paas_data_dir)?;
        let data_dir = base.join("postgres");
        let socket_dir = socket_dir_for(&base);
        let owner = if nix::unistd::Uid::effective().is_root() {
            let user = nix::unistd::User::from_name("postgres")?
                .or(nix::unistd::User::from_name("nobody")?)
                .context("running as root, but there is no postgres (or nobody) user to own the embedded cluster")?;
            Some(user)
        } else {
            None
        };
        if let Some(user) = &owner {
            check_reachable(&base, user)?;
        }
        let mut pg = Self {
            data_dir,
            socket_dir,
            bin_dir,
            owner,
            started_here: false,
        };
        pg.prepare_dirs()?;
        if !pg.data_dir.join("PG_VERSION").exists() {
            tracing::info!(dir = %pg.data_dir.display(), "creating the embedded Postgres cluster");
            pg.run(
                "initdb",
                &[
                    "-D",
                    path_str(&pg.data_dir)?,
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                ],
            )
            .await
            .context("initdb of the embedded Postgres cluster")?;
        }
        if pg.is_running().await {
            tracing::info!(dir = %pg.data_dir.display(), "adopting the running embedded Postgres");
        } else {
            let log = pg.data_dir.join("server.log");
            let options = format!(
                "-c listen_addresses='' -k {} -c unix_socket_permissions=0700",
                path_str(&pg.socket_dir)?
            );
            pg.run(
                "pg_ctl",
                &[
                    "-D",
                    path_str(&pg.data_dir)?,
                    "-l",
                    path_str(&log)?,
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &options,
                    "start",
                ],
            )
            .await
            .with_context(|| {
                format!(
                    "starting the embedded Postgres (its log: {})",
                    log.display()
                )
            })?;
            pg.started_here = true;
            tracing::info!(dir = %pg.data_dir.display(), "embedded Postgres started");
        }
        pg.ensure_database().await?;
        Ok(pg)
    }

    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .username(SUPERUSER)
            .database(DATABASE)
    }

    /// libpq arguments that reach the platform database (`pg_dump`, `pg_restore`).
    pub fn client_args(&self) -> Vec<String> {
        vec![
            format!("--host={}", self.socket_dir.display()),
            format!("--username={SUPERUSER}"),
            format!("--dbname={DATABASE}"),
        ]
    }

    /// Stops the cluster if this process started it.
    pub async fn stop(self) -> anyhow::Result<()> {
        if !self.started_here {
            return Ok(());
        }
        self.run(
            "pg_ctl",
            &["-D", path_str(&self.data_dir)?, "-m", "fast", "-w", "stop"],
        )
        .await
        .context("stopping the embedded Postgres")?;
        tracing::info!("embedded Postgres stopped");
        Ok(())
    }

    fn prepare_dirs(&self) -> anyhow::Result<()> {
        for dir in [&self.data_dir, &self.socket_dir] {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            if let Some(user) = &self.owner {
                nix::unistd::chown(dir, Some(user.uid), Some(user.gid)).with_context(|| {
                    format!("handing {} to the {} user", dir.display(), user.name)
                })?;
            }
        }
        Ok(())
    }

    async fn is_running(&self) -> bool {
        let Ok(dir) = path_str(&self.data_dir) else {
            return false;
        };
        self.command("pg_ctl")
            .args(["-D", dir, "status"])
            .output()
            .await
            .is_ok_and(|o| o.status.success())
    }

    async fn ensure_database(&self) -> anyhow::Result<()> {
        paas_store::create_database_unless_exists(
            &self.connect_options().database("postgres"),
            DATABASE,
        )
        .await
        .context("creating paasd's database in the embedded Postgres")
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        command
            .stdin(std::process::Stdio::null())
            .kill_on_drop(false);
        if let Some(user) = &self.owner {
            command
                .uid(user.uid.as_raw())
                .gid(user.gid.as_raw())
                .env("HOME", &user.dir);
        }
        command
    }

    async fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let output = self
            .command(program)
            .args(args)
            .output()
            .await
            .with_context(|| format!("running {program}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stdout = String::from_utf8_lossy(&output.stdout);
            bail!(
                "{program} failed ({}): {}{}",
                output.status,
                stderr.trim(),
                stdout.trim()
            );
        }
        Ok(())
    }
}

/// Under root the cluster runs as `user`, who must be able to walk down to the data dir;
/// a home like `/root` (mode 0700) is the usual trap, so say so plainly.
fn check_reachable(base: &Path, user: &nix::unistd::User) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    for dir in base.ancestors() {
        let meta = std::fs::metadata(dir)?;
        let searchable = if meta.uid() == user.uid.as_raw() {
            meta.mode() & 0o100 != 0
        } else if meta.gid() == user.gid.as_raw() {
            meta.mode() & 0o010 != 0
        } else {
            meta.mode() & 0o001 != 0
        };
        if !searchable {
            bail!(
                "the embedded Postgres runs as the {} user, who cannot enter {} (on the way to PAAS_DATA_DIR={}); \
                 set PAAS_DATA_DIR to a directory outside it, run `chmod o+x {}`, or set DATABASE_URL",
                user.name,
                dir.display(),
                base.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// Unix socket paths are limited to about 100 bytes; a deep data dir gets its socket
/// under /tmp instead, at a path derived from the data dir so restarts find it again.
fn socket_dir_for(base: &Path) -> PathBuf {
    let preferred = base.join("run");
    if preferred.as_os_str().len() <= 80 {
        return preferred;
    }
    let hash = base
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
    std::env::temp_dir().join(format!("paas-pg-{hash:016x}"))
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .with_context(|| format!("path {} is not UTF-8", path.display()))
}
