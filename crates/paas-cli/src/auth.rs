//! `login`, `logout`, `auth:whoami`, `auth:token`: the token lives in `~/.netrc` (mode
//! 0600), as the heroku CLI keeps it, so `git push` and every `paas` command find it with
//! nothing else set.
//!
//! Login writes two entries with the same token: the API's bare host (what `paas`, git
//! and curl look up; paas serves git on the API's host) and `host:port` (what the heroku
//! CLI looks up for `HEROKU_HOST=http://host:port`). A URL other than the default is
//! remembered in `~/.config/paas/api-url` so later commands need no `PAAS_API_URL`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use paas_wire::Account;
use reqwest::Url;

use crate::{Client, Context, Error, Result, Settings, netrc};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in: check a token against the API and keep it in ~/.netrc for paas and git
    #[command(name = "login", visible_alias = "auth:login")]
    Login(LoginArgs),
    /// Remove the ~/.netrc entries login wrote (the token itself stays valid)
    #[command(name = "logout", visible_alias = "auth:logout")]
    Logout,
    /// Show who the current token belongs to
    #[command(name = "auth:whoami", visible_alias = "whoami")]
    Whoami,
    /// Print the current token (for scripts: `curl -H "Authorization: Bearer $(paas auth:token)"`)
    #[command(name = "auth:token")]
    Token,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The API to log in to [default: PAAS_API_URL, asked for on a terminal]
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// The token (from `paasd tokens create`); without it, asked for with hidden input
    /// on a terminal, else read from standard input
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

/// Where login remembers a non-default API URL, under `$HOME`.
pub const API_URL_FILE: &str = ".config/paas/api-url";

pub async fn run(ctx: &Context, settings: &Settings, cmd: Command) -> Result<()> {
    match cmd {
        Command::Login(args) => login(ctx, settings, args).await,
        Command::Logout => logout(settings),
        Command::Whoami => {
            let raw = ctx.client.get("/account").await.map_err(not_logged_in)?;
            if ctx.json {
                return ctx.print_json(&raw);
            }
            let account: Account = ctx.decode(raw)?;
            ctx.print(&format!("{}\n", account.email))
        }
        Command::Token => match &settings.token {
            Some(token) => ctx.print(&format!("{token}\n")),
            None => Err(Error::Refused(
                "not logged in: run `paas login` (or set PAAS_API_TOKEN)".into(),
            )),
        },
    }
}

fn not_logged_in(e: crate::ApiError) -> Error {
    if e.status() == Some(401) {
        Error::Refused(format!("not logged in: {e}"))
    } else {
        e.into()
    }
}

fn home() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or_else(|| Error::Environment("HOME is not set: there is no ~/.netrc".into()))
}

async fn login(ctx: &Context, settings: &Settings, args: LoginArgs) -> Result<()> {
    let terminal = std::io::stdin().is_terminal();
    let default_url = settings.api_url.as_str().trim_end_matches('/').to_owned();
    let raw_url = match args.api_url {
        Some(url) => url,
        None if terminal && args.token.is_none() => {
            let answer = prompt(&format!("API URL [{default_url}]: "))?;
            if answer.trim().is_empty() {
                default_url.clone()
            } else {
                answer
            }
        }
        None => default_url.clone(),
    };
    let login_settings = Settings::resolve(Some(&raw_url), None, None)?;
    let token = match args.token {
        Some(token) => token,
        None if terminal => read_hidden("Token (input hidden): ")?,
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line
        }
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(Error::Refused("no token given".into()));
    }
    let check = Settings {
        api_url: login_settings.api_url.clone(),
        token: Some(token.clone()),
    };
    let raw = Client::new(&check)?
        .get("/account")
        .await
        .map_err(|e| match e.status() {
            Some(401) => Error::Refused(
                "that token was refused by the API (Invalid credentials provided.)".into(),
            ),
            _ => e.into(),
        })?;
    let account: Account = ctx.decode(raw)?;
    let home = home()?;
    let path = home.join(".netrc");
    let mut text = read(&path)?;
    for machine in machines(&check.api_url) {
        text = netrc::upsert(&text, &machine, &account.email, &token);
    }
    write_private(&path, &text)?;
    remember_url(&home, &check.api_url, &default_url)?;
    eprintln!(
        "Logged in as {} (token saved in {} for {})",
        account.email,
        path.display(),
        machines(&check.api_url).join(" and ")
    );
    Ok(())
}

fn logout(settings: &Settings) -> Result<()> {
    let home = home()?;
    let path = home.join(".netrc");
    let before = read(&path)?;
    let mut text = before.clone();
    for machine in machines(&settings.api_url) {
        text = netrc::remove(&text, &machine);
    }
    if text != before {
        write_private(&path, &text)?;
    }
    let _ = std::fs::remove_file(home.join(API_URL_FILE));
    eprintln!(
        "Logged out of {} (the token stays valid: revoke it with `paasd tokens revoke`)",
        settings.api_url.as_str().trim_end_matches('/')
    );
    Ok(())
}

/// The netrc machine names for an API URL: its host, and `host:port` when it has a port.
pub fn machines(url: &Url) -> Vec<String> {
    let host = url.host_str().unwrap_or_default().to_owned();
    let mut out = vec![host.clone()];
    if let Some(port) = url.port() {
        out.push(format!("{host}:{port}"));
    }
    out
}

fn read(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::Environment(format!(
            "could not read {}: {e}",
            path.display()
        ))),
    }
}

/// Writes `text` to `path` with mode 0600 through a temporary file and a rename, so the
/// file is never readable by others nor half-written.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension(format!("paas-{}", std::process::id()));
    let failed =
        |e: std::io::Error| Error::Environment(format!("could not write {}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(failed)?;
    Ok(())
}

fn remember_url(home: &Path, url: &Url, default_url: &str) -> Result<()> {
    let file = home.join(API_URL_FILE);
    let url = url.as_str().trim_end_matches('/');
    if url == crate::settings::DEFAULT_API_URL
        || (url == default_url && std::env::var_os("PAAS_API_URL").is_some())
    {
        let _ = std::fs::remove_file(&file);
        return Ok(());
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&file, format!("{url}\n"))?;
    Ok(())
}

fn prompt(text: &str) -> Result<String> {
    eprint!("{text}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

/// Reads a line from the terminal with echo off (`stty -echo`), restoring it after.
fn read_hidden(text: &str) -> Result<String> {
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    let hidden = stty("-echo");
    let line = prompt(text);
    if hidden {
        stty("echo");
    }
    eprintln!();
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_writes_the_bare_host_and_the_heroku_clis_host_port() {
        let url = Url::parse("http://127.0.0.1:5000/").unwrap();
        assert_eq!(machines(&url), ["127.0.0.1", "127.0.0.1:5000"]);
        let url = Url::parse("https://paas.example.com/").unwrap();
        assert_eq!(machines(&url), ["paas.example.com"]);
    }

    #[test]
    fn the_netrc_is_written_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".netrc");
        std::fs::write(&path, "machine x password y\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "machine x password z\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "machine x password z\n"
        );
    }
}
