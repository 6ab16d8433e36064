//! The services paas runs as add-ons (Postgres, Redis), by paas's and Heroku's names:
//! their plans, images, ports and log lines, an add-on's credentials, and the URL an
//! attachment sets.

use std::fmt;

use crate::ParseError;

use super::{AddonName, AttachmentName};

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
    use crate::addons::attach_description;

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
}
