//! The local git repository: which app a remote points at, and adding, updating and
//! removing the remote `git push` deploys through.
//!
//! This shells out to the real `git` (in the current directory) rather than reading
//! `.git/config` itself, so worktrees, `includeIf` and `GIT_DIR` behave as the user's
//! own `git push` will. Remotes hold the plain `git_url`: git authenticates with HTTP
//! basic auth, the API token as the password, taken from `~/.netrc`, never stored in
//! `.git/config`.

use std::process::Output;

use paas_core::AppName;
use tokio::process::Command;

/// The remote `paas` creates and reads by default.
pub const DEFAULT_REMOTE: &str = "paas";
/// Remotes whose URL names the app when `-a` is not given, in order.
pub const INFERENCE_REMOTES: &[&str] = &[DEFAULT_REMOTE, "heroku"];

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GitError(String);

/// What [`set_remote`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteChange {
    Added,
    Updated,
    Unchanged,
}

/// The app a git URL deploys to: the last path segment without `.git`, when that is a
/// valid app name (`http://127.0.0.1:5000/myapp.git`, `https://git.heroku.com/myapp.git`,
/// `git@heroku.com:myapp.git`).
pub fn app_from_git_url(url: &str) -> Option<AppName> {
    let url = url.trim();
    let path = if url.contains("://") {
        reqwest::Url::parse(url).ok()?.path().to_owned()
    } else {
        // scp-like `user@host:path`
        url.split_once(':')?.1.to_owned()
    };
    let last = path.trim_end_matches('/').rsplit('/').next()?;
    let name = last.strip_suffix(".git").unwrap_or(last);
    AppName::parse(name).ok()
}

async fn git(args: &[&str]) -> Result<Output, GitError> {
    Command::new("git")
        .args(args)
        .output()
        .await
        .map_err(|e| GitError(format!("could not run git ({e}); is git installed?")))
}

fn failure(args: &[&str], output: &Output) -> GitError {
    let stderr = String::from_utf8_lossy(&output.stderr);
    GitError(format!("git {} failed: {}", args.join(" "), stderr.trim()))
}

/// Whether the current directory is inside a git work tree.
pub async fn inside_work_tree() -> bool {
    match git(&["rev-parse", "--is-inside-work-tree"]).await {
        Ok(out) => out.status.success() && out.stdout.starts_with(b"true"),
        Err(_) => false,
    }
}

/// The URL of remote `name`, or `None` when there is no such remote or no repository.
pub async fn remote_url(name: &str) -> Result<Option<String>, GitError> {
    let out = git(&["remote", "get-url", name]).await?;
    if !out.status.success() {
        return Ok(None);
    }
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok((!url.is_empty()).then_some(url))
}

/// Every remote of the current repository with its URL; empty outside a repository.
pub async fn remotes() -> Result<Vec<(String, String)>, GitError> {
    let out = git(&["remote"]).await?;
    if !out.status.success() {
        return Ok(Vec::new());
    }
    let mut remotes = Vec::new();
    for name in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(url) = remote_url(name).await? {
            remotes.push((name.to_owned(), url));
        }
    }
    Ok(remotes)
}

/// Points remote `name` at `url`, adding it if missing.
pub async fn set_remote(name: &str, url: &str) -> Result<RemoteChange, GitError> {
    let (args, change) = match remote_url(name).await? {
        Some(current) if current == url => return Ok(RemoteChange::Unchanged),
        Some(_) => (["remote", "set-url", name, url], RemoteChange::Updated),
        None => (["remote", "add", name, url], RemoteChange::Added),
    };
    let out = git(&args).await?;
    if !out.status.success() {
        return Err(failure(&args, &out));
    }
    Ok(change)
}

pub async fn remove_remote(name: &str) -> Result<(), GitError> {
    let args = ["remote", "remove", name];
    let out = git(&args).await?;
    if !out.status.success() {
        return Err(failure(&args, &out));
    }
    Ok(())
}

/// The app named by the first of `remotes` that exists and points at an app URL.
pub async fn infer_app(remotes: &[&str]) -> Result<Option<(String, AppName)>, GitError> {
    for remote in remotes {
        if let Some(url) = remote_url(remote).await?
            && let Some(app) = app_from_git_url(&url)
        {
            return Ok(Some(((*remote).to_owned(), app)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(url: &str) -> Option<String> {
        app_from_git_url(url).map(|a| a.to_string())
    }

    #[test]
    fn the_app_is_the_last_path_segment_without_dot_git() {
        assert_eq!(
            app("http://127.0.0.1:5000/myapp.git").as_deref(),
            Some("myapp")
        );
        assert_eq!(
            app("http://paas.example/my-app.git/").as_deref(),
            Some("my-app")
        );
        assert_eq!(
            app("https://git.heroku.com/demo-1.git").as_deref(),
            Some("demo-1")
        );
        assert_eq!(app("git@heroku.com:demo.git").as_deref(), Some("demo"));
        assert_eq!(app("http://localhost:5000/noext").as_deref(), Some("noext"));
    }

    #[test]
    fn urls_without_an_app_name_infer_nothing() {
        for url in [
            "",
            "http://127.0.0.1:5000/",
            "http://localhost",
            "localhost",
            "http://127.0.0.1:5000/.git",
            "https://github.com/Someone/Repo.git",
            "http://127.0.0.1:5000/my_app.git",
        ] {
            assert_eq!(app(url), None, "{url}");
        }
    }
}
