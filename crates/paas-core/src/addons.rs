//! Add-ons: the backing services paas runs for apps (Postgres, Redis), attached to apps
//! by a URL in their config (twelve-factor IV).
//!
//! Everything here is a rule over plain data: which services and plans exist (and the
//! Heroku names the heroku CLI sends for them), how add-ons and attachments are named,
//! the URL an attachment sets, the descriptions of the releases attaching makes, and
//! [`plan`], every decision the add-on supervisor acts on.

use std::collections::BTreeSet;
use std::fmt;

use uuid::Uuid;

use crate::names::{is_label_byte, is_spelled};
use crate::{ConfigKey, ParseError};

/// A service paas can run as an add-on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Postgresql,
    Redis,
}

/// A size of an add-on: its container's memory and its connection limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The plan's slug (`essential-0`); on the wire `heroku-postgresql:essential-0`.
    pub name: &'static str,
    pub human_name: &'static str,
    pub memory_bytes: i64,
    pub max_connections: u32,
    /// The plan a bare `addons:create postgresql` gets.
    pub default: bool,
}

const MIB: i64 = 1024 * 1024;

// No plan name starts with `hobby`, `advanced`, `performance`, `private` or `shield`:
// the heroku CLI changes how it talks to such plans.
const POSTGRES_PLANS: &[Plan] = &[
    Plan {
        name: "essential-0",
        human_name: "Essential 0",
        memory_bytes: 256 * MIB,
        max_connections: 20,
        default: true,
    },
    Plan {
        name: "essential-1",
        human_name: "Essential 1",
        memory_bytes: 512 * MIB,
        max_connections: 40,
        default: false,
    },
    Plan {
        name: "standard-0",
        human_name: "Standard 0",
        memory_bytes: 1024 * MIB,
        max_connections: 120,
        default: false,
    },
];

const REDIS_PLANS: &[Plan] = &[
    Plan {
        name: "mini",
        human_name: "Mini",
        memory_bytes: 64 * MIB,
        max_connections: 20,
        default: true,
    },
    Plan {
        name: "premium-0",
        human_name: "Premium 0",
        memory_bytes: 256 * MIB,
        max_connections: 40,
        default: false,
    },
];

impl Service {
    pub const ALL: [Service; 2] = [Service::Postgresql, Service::Redis];

    /// paas's names (`postgresql`, `redis`) and Heroku's (`heroku-postgresql`,
    /// `heroku-redis`), plus the usual short forms.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "postgresql" | "postgres" | "pg" | "heroku-postgresql" => Ok(Service::Postgresql),
            "redis" | "heroku-redis" => Ok(Service::Redis),
            _ => Err(ParseError::new(
                "plan",
                format!(
                    "Couldn't find either the add-on service or the add-on plan of {raw:?}: paas offers postgresql (heroku-postgresql) and redis (heroku-redis)."
                ),
            )),
        }
    }

    /// The service's name on the wire, Heroku's, so the heroku CLI's pg and redis
    /// commands recognise it.
    pub fn slug(self) -> &'static str {
        match self {
            Service::Postgresql => "heroku-postgresql",
            Service::Redis => "heroku-redis",
        }
    }

    /// The prefix of its add-ons' names and of its image.
    pub fn short(self) -> &'static str {
        match self {
            Service::Postgresql => "postgresql",
            Service::Redis => "redis",
        }
    }

    /// The dyno name its server's output has in an app's log stream, Heroku's:
    /// `app[postgres]`, `app[redis]`.
    pub fn log_dyno(self) -> &'static str {
        match self {
            Service::Postgresql => "postgres",
            Service::Redis => "redis",
        }
    }

    /// A line of its server's output as an attached app's stream shows it, Heroku's
    /// way: the attachment first (`[DATABASE] [42] ERROR:  …`); Postgres's own
    /// timestamp goes (the line has the engine's).
    pub fn log_message(self, attachment: &str, raw: &str) -> String {
        let text = match self {
            Service::Postgresql => strip_pg_timestamp(raw),
            Service::Redis => raw,
        };
        format!("[{attachment}] {text}")
    }

    pub fn human_name(self) -> &'static str {
        match self {
            Service::Postgresql => "Postgres (PostgreSQL 17)",
            Service::Redis => "Redis",
        }
    }

    /// The attachment an add-on gets without `--as`.
    pub fn default_attachment(self) -> AttachmentName {
        AttachmentName(
            match self {
                Service::Postgresql => "DATABASE",
                Service::Redis => "REDIS",
            }
            .to_owned(),
        )
    }

    /// The service image, made locally from Debian packages.
    pub fn image(self) -> &'static str {
        match self {
            Service::Postgresql => "paas/addon_postgresql:17",
            Service::Redis => "paas/addon_redis:8",
        }
    }

    pub fn port(self) -> u16 {
        match self {
            Service::Postgresql => 5432,
            Service::Redis => 6379,
        }
    }

    pub fn plans(self) -> &'static [Plan] {
        match self {
            Service::Postgresql => POSTGRES_PLANS,
            Service::Redis => REDIS_PLANS,
        }
    }

    pub fn default_plan(self) -> &'static Plan {
        self.plans()
            .iter()
            .find(|p| p.default)
            .unwrap_or(&self.plans()[0])
    }

    /// One of this service's plans by slug.
    pub fn plan(self, name: &str) -> Result<&'static Plan, ParseError> {
        self.plans().iter().find(|p| p.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.plans().iter().map(|p| p.name).collect();
            ParseError::new(
                "plan",
                format!(
                    "Couldn't find the plan {name:?} of {}: its plans are {}.",
                    self.short(),
                    names.join(", ")
                ),
            )
        })
    }

    /// The URL an attachment of an add-on with these credentials sets; its host is the
    /// add-on's name, its alias on the networks of the apps attached to it.
    pub fn url(self, credentials: &Credentials, host: &AddonName) -> String {
        match self {
            // `postgres://`: the heroku CLI's pg:psql recognises no other scheme.
            Service::Postgresql => format!(
                "postgres://{}:{}@{host}:{}/{}",
                credentials.user,
                credentials.password,
                self.port(),
                credentials.database
            ),
            Service::Redis => format!(
                "redis://default:{}@{host}:{}",
                credentials.password,
                self.port()
            ),
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

/// `SERVICE[:PLAN]` as the heroku CLI sends it (`heroku-postgresql:essential-0`), or
/// paas's `postgresql` with a separate `--plan`.
pub fn parse_service_plan(
    raw: &str,
    plan: Option<&str>,
) -> Result<(Service, &'static Plan), ParseError> {
    let (service, inline) = match raw.split_once(':') {
        Some((s, p)) => (s, Some(p)),
        None => (raw, None),
    };
    let service = Service::parse(service)?;
    let plan = match plan.or(inline) {
        Some(name) => service.plan(name.trim())?,
        None => service.default_plan(),
    };
    Ok((service, plan))
}

/// An add-on's credentials: its database user, password and database name.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
    pub database: String,
}

impl Credentials {
    /// Credentials from caller-supplied random bytes (this crate has no random number
    /// generator): a 32-hex-digit password, user and database names of 12 hex digits.
    pub fn from_entropy(entropy: [u8; 32]) -> Self {
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        Self {
            user: format!("u{}", hex(&entropy[0..6])),
            password: hex(&entropy[6..22]),
            database: format!("d{}", hex(&entropy[22..28])),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("database", &self.database)
            .finish()
    }
}

/// An add-on's name, unique across the installation and a DNS label (it is the host of
/// its URL): `postgresql-curved-12345`, or one the user gives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddonName(String);

impl AddonName {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let valid = is_spelled(raw, 3..=63, |b| b.is_ascii_lowercase(), is_label_byte)
            && !raw.ends_with('-');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError::new(
                "name",
                format!(
                    "Add-on name {raw:?} is invalid: 3 to 63 lowercase letters, digits and dashes, starting with a letter."
                ),
            ))
        }
    }

    /// `<service>-<word>-<5 digits>` from caller-supplied entropy.
    pub fn generate(service: Service, entropy: u64) -> Self {
        const WORDS: &[&str] = &[
            "curved",
            "angular",
            "rugged",
            "silent",
            "cubic",
            "flat",
            "shallow",
            "deep",
            "solid",
            "fluffy",
            "round",
            "clear",
            "spherical",
            "sinuous",
            "tapered",
            "opaque",
            "triangular",
            "vertical",
            "dimensional",
            "amorphous",
            "metric",
            "elliptical",
            "concentric",
            "parallel",
        ];
        let word = WORDS[(entropy % WORDS.len() as u64) as usize];
        let number = (entropy >> 16) % 90_000 + 10_000;
        Self(format!("{}-{word}-{number}", service.short()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AddonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An attachment's name (`DATABASE`, `CACHE`): upper-case letters, digits and `_`; the
/// config var it sets is `<NAME>_URL`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttachmentName(String);

impl AttachmentName {
    /// Lower-case letters and dashes are accepted and normalised (`my-db` → `MY_DB`), as
    /// Heroku does.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let name = raw.trim().to_ascii_uppercase().replace('-', "_");
        let valid = is_spelled(
            &name,
            1..=60,
            |b| b.is_ascii_uppercase(),
            |b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_',
        );
        if !valid {
            return Err(ParseError::new(
                "name",
                format!(
                    "Attachment name {raw:?} is invalid: it must start with a letter and hold only letters, digits and '_'."
                ),
            ));
        }
        ConfigKey::parse(&format!("{name}_URL"))?;
        Ok(Self(name))
    }

    /// A name from the config var it sets (`DATABASE_URL` → `DATABASE`).
    pub fn from_config_var(raw: &str) -> Option<Self> {
        Self::parse(raw.strip_suffix("_URL")?).ok()
    }

    /// The config var this attachment owns.
    pub fn config_var(&self) -> String {
        format!("{}_URL", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AttachmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The description of the release that attaching makes, as Heroku writes it.
pub fn attach_description(attachment: &AttachmentName, addon: &AddonName) -> String {
    format!("Attach {attachment} ({addon})")
}

/// The description of the release that detaching makes.
pub fn detach_description(attachment: &AttachmentName, addon: &AddonName) -> String {
    format!("Detach {attachment} ({addon})")
}

/// An add-on as the store wants it, for [`plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedAddon {
    pub id: Uuid,
    /// The apps whose networks it must be on (the attached apps), by name.
    pub apps: BTreeSet<String>,
    /// Being destroyed: its container and volume go, then its row.
    pub destroying: bool,
}

/// An add-on's container as the engine shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenAddon {
    pub id: Uuid,
    pub running: bool,
    /// The app networks it is on, by app name.
    pub apps: BTreeSet<String>,
}

/// What the add-on supervisor does to bring the engine to the store's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddonAction {
    /// No container: make it (on its volume, which keeps any data it holds) and start it.
    Create { id: Uuid },
    /// A container that is not running (it crashed, or the engine restarted): start it.
    /// Never recreated, so nothing on its volume is ever initialised twice.
    Start { id: Uuid },
    /// Attached to an app whose network it is not on.
    Connect { id: Uuid, app: String },
    /// On the network of an app it is no longer attached to.
    Disconnect { id: Uuid, app: String },
    /// Being destroyed: remove its container and volume (if any), then forget it.
    Remove { id: Uuid },
}

/// Every decision of the add-on supervisor. Containers no wanted add-on names are left
/// alone (the store is the record of add-ons; a container without a row is not deleted
/// on a guess, since its volume may hold someone's data).
pub fn plan(wanted: &[WantedAddon], seen: &[SeenAddon]) -> Vec<AddonAction> {
    let mut actions = Vec::new();
    for want in wanted {
        let container = seen.iter().find(|s| s.id == want.id);
        if want.destroying {
            actions.push(AddonAction::Remove { id: want.id });
            continue;
        }
        let Some(container) = container else {
            actions.push(AddonAction::Create { id: want.id });
            continue;
        };
        for app in want.apps.difference(&container.apps) {
            actions.push(AddonAction::Connect {
                id: want.id,
                app: app.clone(),
            });
        }
        for app in container.apps.difference(&want.apps) {
            actions.push(AddonAction::Disconnect {
                id: want.id,
                app: app.clone(),
            });
        }
        if !container.running {
            actions.push(AddonAction::Start { id: want.id });
        }
    }
    actions
}

/// `2026-12-02 03:40:00.123 UTC [42] ERROR: …` → `[42] ERROR: …` (Postgres's default
/// `log_line_prefix`, `%m [%p] `); other lines are kept whole.
fn strip_pg_timestamp(raw: &str) -> &str {
    let mut parts = raw.splitn(4, ' ');
    let (Some(date), Some(time), Some(zone), Some(rest)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return raw;
    };
    let looks_like = date.len() == 10
        && date.as_bytes()[4] == b'-'
        && time.len() >= 8
        && time.as_bytes()[2] == b':'
        && zone
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '+' || c == '-' || c.is_ascii_digit())
        && date.chars().all(|c| c.is_ascii_digit() || c == '-');
    if looks_like { rest } else { raw }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_lines_name_their_attachment_heroku_style() {
        let pg = Service::Postgresql;
        assert_eq!(
            pg.log_message(
                "DATABASE",
                "2026-12-02 03:40:00.123 UTC [42] ERROR:  relation \"nope\" does not exist"
            ),
            "[DATABASE] [42] ERROR:  relation \"nope\" does not exist"
        );
        assert_eq!(
            pg.log_message("SHOP_DB", "paas: initialised the database d1"),
            "[SHOP_DB] paas: initialised the database d1"
        );
        assert_eq!(
            Service::Redis.log_message("CACHE", "1:M 02 Dec 2026 03:40:00.123 * Ready"),
            "[CACHE] 1:M 02 Dec 2026 03:40:00.123 * Ready"
        );
        assert_eq!(pg.log_dyno(), "postgres");
        assert_eq!(Service::Redis.log_dyno(), "redis");
    }

    fn apps(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn heroku_and_paas_names_of_services_and_plans_parse() {
        let (s, p) = parse_service_plan("heroku-postgresql:essential-1", None).unwrap();
        assert_eq!((s, p.name), (Service::Postgresql, "essential-1"));
        let (s, p) = parse_service_plan("postgresql", None).unwrap();
        assert_eq!((s, p.name), (Service::Postgresql, "essential-0"));
        let (s, p) = parse_service_plan("redis", Some("premium-0")).unwrap();
        assert_eq!((s, p.name), (Service::Redis, "premium-0"));
        assert!(parse_service_plan("mysql", None).is_err());
        let e = parse_service_plan("heroku-postgresql:huge", None).unwrap_err();
        assert!(e.message.contains("essential-0"), "{e}");
    }

    #[test]
    fn names_are_readable_and_attachments_own_their_url_var() {
        let name = AddonName::generate(Service::Postgresql, 0x1234_5678_9abc);
        assert!(AddonName::parse(name.as_str()).is_ok());
        let parts: Vec<&str> = name.as_str().split('-').collect();
        assert_eq!(parts[0], "postgresql");
        assert_eq!(parts[2].len(), 5);
        assert_eq!(
            AttachmentName::parse("cache").unwrap().config_var(),
            "CACHE_URL"
        );
        assert_eq!(AttachmentName::parse("my-db").unwrap().as_str(), "MY_DB");
        assert!(AttachmentName::parse("1DB").is_err());
        assert!(AttachmentName::parse("").is_err());
        assert_eq!(
            AttachmentName::from_config_var("DATABASE_URL").map(|a| a.to_string()),
            Some("DATABASE".into())
        );
        assert_eq!(AttachmentName::from_config_var("DATABASE"), None);
    }

    #[test]
    fn urls_carry_the_credentials_and_the_addons_name_as_host() {
        let c = Credentials::from_entropy([7; 32]);
        assert_eq!(c.password.len(), 32);
        assert!(!format!("{c:?}").contains(&c.password));
        let host = AddonName::parse("postgresql-curved-12345").unwrap();
        assert_eq!(
            Service::Postgresql.url(&c, &host),
            format!(
                "postgres://{}:{}@postgresql-curved-12345:5432/{}",
                c.user, c.password, c.database
            )
        );
        assert!(
            Service::Redis
                .url(&c, &host)
                .starts_with("redis://default:")
        );
        assert_eq!(
            attach_description(&Service::Postgresql.default_attachment(), &host),
            "Attach DATABASE (postgresql-curved-12345)"
        );
    }

    #[test]
    fn the_plan_creates_starts_and_follows_attachments() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let wanted = vec![
            WantedAddon {
                id: a,
                apps: apps(&["shop"]),
                destroying: false,
            },
            WantedAddon {
                id: b,
                apps: apps(&["shop", "admin"]),
                destroying: false,
            },
            WantedAddon {
                id: c,
                apps: apps(&[]),
                destroying: true,
            },
        ];
        let seen = vec![
            SeenAddon {
                id: b,
                running: false,
                apps: apps(&["shop", "old"]),
            },
            SeenAddon {
                id: c,
                running: true,
                apps: apps(&["x"]),
            },
            // No row: left alone.
            SeenAddon {
                id: Uuid::from_u128(9),
                running: false,
                apps: apps(&[]),
            },
        ];
        assert_eq!(
            plan(&wanted, &seen),
            vec![
                AddonAction::Create { id: a },
                AddonAction::Connect {
                    id: b,
                    app: "admin".into()
                },
                AddonAction::Disconnect {
                    id: b,
                    app: "old".into()
                },
                AddonAction::Start { id: b },
                AddonAction::Remove { id: c },
            ]
        );
    }

    #[test]
    fn a_running_addon_on_the_right_networks_needs_nothing() {
        let id = Uuid::from_u128(1);
        let wanted = [WantedAddon {
            id,
            apps: apps(&["shop"]),
            destroying: false,
        }];
        let seen = [SeenAddon {
            id,
            running: true,
            apps: apps(&["shop"]),
        }];
        assert!(plan(&wanted, &seen).is_empty());
    }
}
