//! The command line: Heroku-style topics whose subcommands are literally named with a
//! colon (`config:set`). Each topic module owns a clap `Subcommand` enum, flattened here,
//! so the list below is the whole map of the CLI.
//!
//! Arguments are parsed into `paas-core` types by clap value parsers (`AppName`,
//! `ConfigKey`, `ScaleChange`, `ReleaseRef`), so bad input is a usage error (exit 2)
//! before any request is sent.

use clap::{Parser, Subcommand};

use crate::{
    addons, apps, auth, buildpacks, builds, certs, config, domains, git, logs, maintenance, pg, ps,
    releases, run,
};

const AFTER_HELP: &str = "\
Environment:
  PAAS_API_URL     where the control API listens [default: http://127.0.0.1:5000]
  PAAS_API_TOKEN   the API token (make one with `paasd tokens create --name NAME`)

`paas login` checks a token and keeps it in ~/.netrc (mode 0600), the entry for the
API's host, where paas reads it when PAAS_API_TOKEN is unset:
    machine 127.0.0.1 login e2e@localhost password <token>
git reads the same entry when you `git push paas main`: it sends the token as the
HTTP basic-auth password, so the git remote holds the plain URL and no secret.

Commands about one app take -a APP; without it the app is the one the `paas` git
remote of the current repository points at (`paas git:remote -a APP` adds it).";

#[derive(Debug, Parser)]
#[command(
    name = "paas",
    version,
    about = "Deploy and run apps on a paas server, Heroku style",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Print the API's JSON instead of text, for scripts
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Apps(apps::Command),
    #[command(flatten)]
    Config(config::Command),
    #[command(flatten)]
    Releases(releases::Command),
    #[command(flatten)]
    Ps(ps::Command),
    #[command(flatten)]
    Git(git::Command),
    #[command(flatten)]
    Builds(builds::Command),
    #[command(flatten)]
    Buildpacks(buildpacks::Command),
    #[command(flatten)]
    Run(run::Command),
    #[command(flatten)]
    Domains(domains::Command),
    #[command(flatten)]
    Certs(certs::Command),
    #[command(flatten)]
    Logs(logs::Command),
    #[command(flatten)]
    Maintenance(maintenance::Command),
    #[command(flatten)]
    Auth(auth::Command),
    #[command(flatten)]
    Addons(addons::Command),
    #[command(flatten)]
    Pg(pg::Command),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn subcommands_carry_their_colon_names() {
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        for expected in [
            "apps",
            "apps:create",
            "apps:info",
            "apps:destroy",
            "config",
            "config:get",
            "config:set",
            "config:unset",
            "releases",
            "releases:info",
            "rollback",
            "ps",
            "ps:scale",
            "git:remote",
            "certs",
            "certs:add",
            "certs:auto",
            "certs:auto:enable",
            "certs:auto:disable",
            "certs:auto:refresh",
        ] {
            assert!(names.iter().any(|n| n == expected), "missing {expected}");
        }
    }

    #[test]
    fn json_is_accepted_after_the_command() {
        let cli = Cli::try_parse_from(["paas", "apps", "--json"]).unwrap();
        assert!(cli.json);
    }

    #[test]
    fn bad_app_names_are_usage_errors() {
        let err = Cli::try_parse_from(["paas", "apps:info", "-a", "Bad_Name"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
