//! Bare repositories and git's smart-HTTP protocol, done by the real `git`.
//!
//! paasd does not speak the pack protocol itself: every request is handed to
//! `git http-backend` as a CGI program (it handles ref advertisement, gzip, protocol v2
//! and `receive-pack`). The build runs inside git's own `pre-receive` hook, which git runs
//! after the pack is received (quarantined) and before any ref moves: the hook calls back
//! into paasd over HTTP, prints the build's output (git relays it to the pusher as
//! `remote:` lines) and exits non-zero when the build fails, so a failed build leaves the
//! repository exactly as it was.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use paas_core::AppName;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio_util::io::ReaderStream;

use crate::BuildError;

/// The pre-receive hook of every app repository. It only relays: the pushed refs go to
/// paasd (with the quarantine's object directories, so paasd can read the new commit),
/// paasd's streamed answer is printed, and its last line says whether to accept.
const PRE_RECEIVE_HOOK: &str = r#"#!/bin/sh
# Installed by paasd (crates/paas-builder/src/git.rs); rewritten at every push.
if [ -z "$PAAS_PUSH_URL" ]; then
  echo "This repository is managed by paasd: push through its HTTP git endpoint." >&2
  exit 1
fi
status_file=$(mktemp)
echo failed > "$status_file"
curl --silent --show-error --no-buffer --max-time 7200 -X POST \
  -H "Authorization: Bearer $PAAS_PUSH_SECRET" \
  -H "X-Git-Object-Directory: $GIT_OBJECT_DIRECTORY" \
  -H "X-Git-Alternate-Object-Directories: $GIT_ALTERNATE_OBJECT_DIRECTORIES" \
  --data-binary @- "$PAAS_PUSH_URL" |
while IFS= read -r line; do
  case "$line" in
    "::paas-push-status:: ok") echo ok > "$status_file" ;;
    "::paas-push-status:: "*) ;;
    *) printf '%s\n' "$line" ;;
  esac
done
status=$(cat "$status_file")
rm -f "$status_file"
[ "$status" = ok ]
"#;

/// The last line of a push's answer, read by the hook.
pub const PUSH_STATUS_OK: &str = "::paas-push-status:: ok";
pub const PUSH_STATUS_FAILED: &str = "::paas-push-status:: failed";

/// Where the apps' bare repositories live (`$PAAS_DATA_DIR/repos/<app>.git`).
#[derive(Debug, Clone)]
pub struct GitRepos {
    root: PathBuf,
    /// Serializes creating repositories and installing hooks: two first pushes to one
    /// app arrive together.
    setup: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl GitRepos {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            setup: Default::default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, app: &AppName) -> PathBuf {
        self.root.join(format!("{app}.git"))
    }

    /// Creates the app's bare repository on first use and (re)installs the hook. Both
    /// appear whole or not at all: a repository is made under a temporary name and
    /// renamed into place, the hook is written beside and renamed over the old one (a
    /// running hook keeps its file; writing into it would fail with "text file busy").
    pub async fn ensure(&self, app: &AppName) -> Result<PathBuf, BuildError> {
        let path = self.path(app);
        let _setup = self.setup.lock().await;
        if !path.join("HEAD").exists() {
            tokio::fs::create_dir_all(&self.root).await?;
            let staging = self
                .root
                .join(format!(".{app}.git.{}", uuid::Uuid::new_v4().simple()));
            let made = async {
                git(
                    &self.root,
                    &[
                        "init",
                        "--quiet",
                        "--bare",
                        "--initial-branch=main",
                        path_str(&staging)?,
                    ],
                )
                .await?;
                git(&staging, &["config", "http.receivepack", "true"]).await?;
                // Heroku accepts force pushes; deletions of the deploy branch make no sense.
                git(&staging, &["config", "receive.denyDeletes", "true"]).await?;
                if path.exists() {
                    // Left half made by a crash before this code renamed into place.
                    tokio::fs::remove_dir_all(&path).await?;
                }
                tokio::fs::rename(&staging, &path).await?;
                Ok::<(), BuildError>(())
            }
            .await;
            if made.is_err() {
                let _ = tokio::fs::remove_dir_all(&staging).await;
            }
            made?;
        }
        let hook = path.join("hooks/pre-receive");
        let current = tokio::fs::read(&hook).await.unwrap_or_default();
        if current != PRE_RECEIVE_HOOK.as_bytes() {
            tokio::fs::create_dir_all(path.join("hooks")).await?;
            let staged = path.join("hooks/.pre-receive.new");
            tokio::fs::write(&staged, PRE_RECEIVE_HOOK).await?;
            set_mode(&staged, 0o755).await?;
            tokio::fs::rename(&staged, &hook).await?;
        }
        Ok(path)
    }

    pub async fn remove(&self, app: &AppName) -> Result<(), BuildError> {
        match tokio::fs::remove_dir_all(self.path(app)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// `git ARGS` in the app's repository, reading objects from the push's quarantine
    /// (`object_dirs`) when the hook is still running; its output, whatever its status.
    async fn git_reading(
        &self,
        app: &AppName,
        object_dirs: &ObjectDirs,
        args: &[&str],
    ) -> Result<std::process::Output, BuildError> {
        let repo = self.path(app);
        let mut command = Command::new("git");
        command.args(args).current_dir(&repo);
        object_dirs.apply(&mut command, &repo)?;
        Ok(command.stdin(Stdio::null()).output().await?)
    }

    /// `git archive` of `commit` as a tar stream, reading objects from the push's
    /// quarantine (`object_dirs`) when the hook is still running.
    pub async fn archive(
        &self,
        app: &AppName,
        commit: &str,
        object_dirs: &ObjectDirs,
    ) -> Result<Vec<u8>, BuildError> {
        let output = self
            .git_reading(app, object_dirs, &["archive", "--format=tar", commit])
            .await?;
        if !output.status.success() {
            return Err(BuildError::Git(
                String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            ));
        }
        Ok(output.stdout)
    }

    /// The type of object `rev` names (`commit`, `tag`, …), or `None` when it is unknown.
    pub async fn object_type(
        &self,
        app: &AppName,
        rev: &str,
        object_dirs: &ObjectDirs,
    ) -> Result<Option<String>, BuildError> {
        let output = self
            .git_reading(app, object_dirs, &["cat-file", "-t", rev])
            .await?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()))
    }

    /// Where `name` (`refs/heads/main`) points now, if it exists.
    pub async fn ref_target(
        &self,
        app: &AppName,
        name: &str,
    ) -> Result<Option<String>, BuildError> {
        let output = Command::new("git")
            .args(["rev-parse", "--verify", "--quiet", name])
            .current_dir(self.path(app))
            .stdin(Stdio::null())
            .output()
            .await?;
        Ok(output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()))
    }

    /// The content of `path` in `commit`.
    pub async fn show(
        &self,
        app: &AppName,
        commit: &str,
        path: &str,
        object_dirs: &ObjectDirs,
    ) -> Result<String, BuildError> {
        let output = self
            .git_reading(app, object_dirs, &["show", &format!("{commit}:{path}")])
            .await?;
        if !output.status.success() {
            return Err(BuildError::Git(
                String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Whether `path` (relative to the tree root) exists in `commit`.
    pub async fn has_file(
        &self,
        app: &AppName,
        commit: &str,
        path: &str,
        object_dirs: &ObjectDirs,
    ) -> Result<bool, BuildError> {
        Ok(self
            .object_type(app, &format!("{commit}:{path}"), object_dirs)
            .await?
            .as_deref()
            == Some("blob"))
    }
}

/// The object directories git gives a pre-receive hook: new objects sit in a quarantine
/// until the hook accepts them.
#[derive(Debug, Clone, Default)]
pub struct ObjectDirs {
    pub object_directory: Option<String>,
    pub alternates: Option<String>,
}

impl ObjectDirs {
    /// Only directories inside the app's repository are accepted.
    fn apply(&self, command: &mut Command, repo: &Path) -> Result<(), BuildError> {
        let inside = |dir: &str| Path::new(dir).starts_with(repo) || Path::new(dir).is_relative();
        if let Some(dir) = self.object_directory.as_deref().filter(|d| !d.is_empty()) {
            if !inside(dir) {
                return Err(BuildError::Git(
                    "object directory outside the repository".into(),
                ));
            }
            command.env("GIT_OBJECT_DIRECTORY", dir);
        }
        if let Some(dirs) = self.alternates.as_deref().filter(|d| !d.is_empty()) {
            if !dirs.split(':').all(inside) {
                return Err(BuildError::Git(
                    "alternate object directory outside the repository".into(),
                ));
            }
            command.env("GIT_ALTERNATE_OBJECT_DIRECTORIES", dirs);
        }
        Ok(())
    }
}

/// One smart-HTTP request, as `git http-backend` wants it.
#[derive(Debug)]
pub struct CgiRequest {
    pub method: String,
    /// `/<app>.git/info/refs`, `/<app>.git/git-receive-pack`, …
    pub path_info: String,
    pub query: String,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub git_protocol: Option<String>,
    /// Extra environment for git and its hooks (the push callback).
    pub env: Vec<(String, String)>,
}

pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

#[derive(Debug)]
pub struct CgiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ByteStreamDebug,
}

/// The body of a CGI response, streamed as git writes it.
pub struct ByteStreamDebug(pub ByteStream);

impl std::fmt::Debug for ByteStreamDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ByteStream")
    }
}

/// Runs `git http-backend` for one request: the body streams into its stdin while its
/// stdout streams back, so a long build inside the hook reaches the client as it runs.
pub async fn http_backend(
    repos: &GitRepos,
    request: CgiRequest,
    body: ByteStream,
) -> Result<CgiResponse, BuildError> {
    let mut command = Command::new("git");
    command
        .arg("http-backend")
        .env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        )
        .env("GIT_PROJECT_ROOT", repos.root())
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REMOTE_USER", "paas")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REQUEST_METHOD", &request.method)
        .env("PATH_INFO", &request.path_info)
        .env("QUERY_STRING", &request.query)
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(v) = &request.content_type {
        command.env("CONTENT_TYPE", v);
    }
    if let Some(v) = &request.content_encoding {
        command.env("HTTP_CONTENT_ENCODING", v);
    }
    if let Some(v) = &request.git_protocol {
        command.env("GIT_PROTOCOL", v);
    }
    for (k, v) in &request.env {
        command.env(k, v);
    }
    let mut child = command.spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| BuildError::Git("no stdin".into()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BuildError::Git("no stdout".into()))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| BuildError::Git("no stderr".into()))?;

    tokio::spawn(async move {
        let mut body = body;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(bytes) => {
                    if stdin.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "git request body ended early");
                    break;
                }
            }
        }
        let _ = stdin.shutdown().await;
    });
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::warn!(target: "git", "{line}");
        }
    });

    let mut reader = BufReader::new(stdout);
    let mut status = 200;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            break;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_owned();
            if name.eq_ignore_ascii_case("status") {
                status = value
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(500);
            } else {
                headers.push((name.trim().to_owned(), value));
            }
        }
    }
    // The child is reaped in the background once its output is drained.
    let body = ReaderStream::new(reader).chain(futures::stream::once(async move {
        let _ = child.wait().await;
        Ok(Bytes::new())
    }));
    Ok(CgiResponse {
        status,
        headers,
        body: ByteStreamDebug(Box::pin(body)),
    })
}

async fn git(dir: &Path, args: &[&str]) -> Result<(), BuildError> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await?;
    if output.status.success() {
        Ok(())
    } else {
        Err(BuildError::Git(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

async fn set_mode(path: &Path, mode: u32) -> Result<(), BuildError> {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).await?;
    Ok(())
}

fn path_str(path: &Path) -> Result<&str, BuildError> {
    path.to_str()
        .ok_or_else(|| BuildError::Git(format!("path {} is not UTF-8", path.display())))
}

/// Reads a whole stream (tests and small bodies).
pub async fn collect(mut stream: ByteStream) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}
