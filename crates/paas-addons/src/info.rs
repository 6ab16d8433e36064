//! `pg:info`: what a Postgres add-on's server says of itself (version, size, connections,
//! tables), read by `docker exec` like the backups.

use paas_store::Addon;

use crate::backup::{PSQL, sh, tail};
use crate::{AddonError, Addons};

/// One line, `version|size|connections|limit|tables`.
const FACTS: &str = "select concat_ws('|', current_setting('server_version'),
       pg_database_size(current_database()),
       (select count(*) from pg_stat_activity where datname = current_database()),
       current_setting('max_connections'),
       (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
           and n.nspname not like 'pg_toast%' and n.nspname not like 'pg_temp%'));\n";

/// A Postgres add-on's own figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgFacts {
    pub version: String,
    pub size_bytes: i64,
    pub connections: i64,
    pub connection_limit: i64,
    pub tables: i64,
}

/// Parses [`FACTS`]' line.
fn parse(line: &str) -> Option<PgFacts> {
    let mut parts = line.trim().split('|');
    let version = parts.next()?.to_owned();
    let mut number = || parts.next()?.trim().parse::<i64>().ok();
    let (size_bytes, connections, connection_limit, tables) =
        (number()?, number()?, number()?, number()?);
    Some(PgFacts {
        version,
        size_bytes,
        connections,
        connection_limit,
        tables,
    })
}

impl Addons {
    /// Asks the add-on's server (it must be running).
    pub async fn pg_facts(&self, addon: &Addon) -> Result<PgFacts, AddonError> {
        let container = self.running_container(addon).await?;
        let mut out = Vec::new();
        let (code, stderr) = self
            .inner
            .docker
            .exec_addon(
                &container,
                sh(PSQL.to_owned(), &addon.credentials.database),
                Some(Box::new(std::io::Cursor::new(FACTS.as_bytes()))),
                &mut out,
            )
            .await?;
        if code != 0 {
            return Err(AddonError::Backup(format!(
                "{} did not answer: {}",
                addon.name,
                tail(&stderr)
            )));
        }
        let text = String::from_utf8_lossy(&out);
        parse(&text).ok_or_else(|| {
            AddonError::Backup(format!("{} answered {text:?}, not its figures", addon.name))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_line_is_read_field_by_field() {
        assert_eq!(
            parse("17.6 (Debian 17.6-0+deb13u1)|7631663|2|20|1\n"),
            Some(PgFacts {
                version: "17.6 (Debian 17.6-0+deb13u1)".into(),
                size_bytes: 7631663,
                connections: 2,
                connection_limit: 20,
                tables: 1,
            })
        );
        assert_eq!(parse("17.6|x|2|20|1"), None);
        assert_eq!(parse("17.6|1|2"), None);
    }
}
