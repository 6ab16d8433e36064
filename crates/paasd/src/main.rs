use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use paasd::Settings;

/// paasd: a Heroku-style platform for one server. Configured only through the
/// environment (DATABASE_URL, PAAS_DATA_DIR, PAAS_API_ADDR, PAAS_ROUTER_ADDR,
/// PAAS_DOMAIN, PAAS_STACK_IMAGE, RUST_LOG, PAAS_LOG_FORMAT; see the README).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (the default).
    Serve,
    /// Manage API tokens (against the same database as paasd).
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Print the environment file scripts/install writes: every setting, commented with
    /// its default.
    EnvFile {
        /// Set NAME to VALUE instead (repeatable): PAAS_DATA_DIR=/var/lib/paas
        #[arg(long, value_name = "NAME=VALUE", value_parser = name_value)]
        set: Vec<(String, String)>,
    },
    /// Back up the whole platform into one archive, while paasd runs (`--to FILE`), or
    /// re-read an archive and report what it holds (`--verify FILE`).
    Backup {
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "verify",
            conflicts_with = "verify"
        )]
        to: Option<std::path::PathBuf>,
        #[arg(long, value_name = "FILE")]
        verify: Option<std::path::PathBuf>,
    },
    /// Restore a backup onto a fresh PAAS_DATA_DIR and database (paasd stopped); the
    /// next paasd brings every app back at its release.
    Restore {
        #[arg(long, value_name = "FILE")]
        from: std::path::PathBuf,
    },
    /// List the machines dynos run on (the Swarm's nodes with PAAS_RUNTIME=swarm), with
    /// their state and this installation's running dynos.
    Nodes,
    /// The stack image builds and dynos start from.
    Stack {
        #[command(subcommand)]
        command: StackCommand,
    },
}

#[derive(Debug, Subcommand)]
enum StackCommand {
    /// Make PAAS_STACK_IMAGE without a registry: debootstrap Debian, docker import,
    /// install the runtimes the bundled buildpacks use.
    Build {
        /// Then make every runtime image too (Go, Ruby, Java, PHP, Python 3.14, Node.js 24).
        #[arg(long)]
        all: bool,
    },
    /// Make the runtime images (from Debian packages, on the stack) that are missing or
    /// older than the stack: the named ones (`go:1.25`, `jdk:21`), else all of them.
    /// Builds make the one they need on first use; this makes them ahead of time.
    Runtimes { images: Vec<String> },
}

/// `scripts/stack-build.sh`, built into the binary so an installed paasd needs no checkout.
const STACK_BUILD_SCRIPT: &str = include_str!("../../../scripts/stack-build.sh");

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Make a token and print it once: only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
        /// Expire the token after this long: 3600, 90m, 12h, 30d [default: never]
        #[arg(long, value_name = "DURATION", value_parser = paasd::tokens::parse_duration)]
        expires_in: Option<std::time::Duration>,
    },
    /// List the tokens: name, id, created, last used, expiry (never the token itself).
    List,
    /// Revoke a token by name or id: every paasd refuses it at once.
    Revoke {
        #[arg(value_name = "NAME|ID")]
        token: String,
    },
}

fn name_value(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value))
            if paasd::settings::VARIABLES
                .iter()
                .any(|(n, _, _)| *n == name) =>
        {
            Ok((name.to_owned(), value.to_owned()))
        }
        Some((name, _)) => Err(format!("{name} is not a paasd setting")),
        None => Err("expected NAME=VALUE".into()),
    }
}

/// mimalloc: the router and the API allocate per request from every core; glibc's
/// allocator showed up in their profiles, mimalloc's per-thread pages do not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Needs no valid environment: it describes it.
    if let Some(Command::EnvFile { set }) = &cli.command {
        print!("{}", paasd::settings::env_file(set));
        return std::process::ExitCode::SUCCESS;
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("paasd: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    paasd::telemetry::init(settings.log_format, !matches!(command, Command::Serve));
    let result = match command {
        Command::Serve => {
            let shutdown = CancellationToken::new();
            match paasd::cancel_on_signals(shutdown.clone()) {
                Ok(()) => paasd::serve(settings, shutdown).await,
                Err(e) => Err(e),
            }
        }
        Command::Stack {
            command: StackCommand::Build { all },
        } => match stack_build(&settings.stack_image) {
            Ok(()) if all => runtimes(&settings, &[]).await,
            other => other,
        },
        Command::Stack {
            command: StackCommand::Runtimes { images },
        } => runtimes(&settings, &images).await,
        Command::EnvFile { .. } => Ok(()),
        Command::Backup {
            verify: Some(file), ..
        } => paasd::backup::verify(&file).await.map(|r| print!("{r}")),
        Command::Backup { to: Some(file), .. } => paasd::backup::backup(&settings, &file)
            .await
            .map(|r| print!("{r}")),
        Command::Backup { .. } => Ok(()),
        Command::Restore { from } => paasd::backup::restore(&settings, &from)
            .await
            .map(|r| print!("{r}")),
        Command::Nodes => paasd::nodes_table(&settings)
            .await
            .map(|table| print!("{table}")),
        Command::Tokens { command } => match command {
            TokensCommand::Create { name, expires_in } => {
                paasd::tokens::create(&settings, &name, expires_in)
                    .await
                    .map(|secret| println!("{secret}"))
            }
            TokensCommand::List => paasd::tokens::list(&settings)
                .await
                .map(|table| print!("{table}")),
            TokensCommand::Revoke { token } => paasd::tokens::revoke(&settings, &token)
                .await
                .map(|line| println!("{line}")),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "paasd failed");
            eprintln!("paasd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn stack_build(image: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(STACK_BUILD_SCRIPT)
        .arg("stack-build")
        .arg(image)
        .status()
        .context("running bash for the stack build")?;
    anyhow::ensure!(status.success(), "the stack build failed ({status})");
    Ok(())
}

async fn runtimes(settings: &Settings, only: &[String]) -> anyhow::Result<()> {
    use anyhow::Context;
    let docker = paas_builder::Docker::connect()
        .context("DOCKER_HOST does not name a usable Docker Engine")?;
    let limits = paas_builder::Limits {
        memory_bytes: settings.build.memory_bytes,
        nano_cpus: settings.build.nano_cpus,
        pids: 4096,
    };
    let failed = paas_builder::runtime_image::make_all(
        &docker,
        &settings.stack_image,
        &limits,
        settings.build.ca_bundle.as_deref(),
        only,
    )
    .await?;
    anyhow::ensure!(
        failed.is_empty(),
        "could not make {}",
        failed
            .iter()
            .map(|(image, _)| image.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
