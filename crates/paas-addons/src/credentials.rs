//! `pg:credentials:rotate`: a new random password for a Postgres add-on. The server
//! learns it first (`ALTER ROLE … PASSWORD`, by `docker exec` on its socket, the SQL on
//! stdin so the password is on no command line), then the store, which sets every
//! attachment's URL as a release on every attached app. From then on the old password
//! is refused (sessions already open stay open, as on Heroku). Should the store fail,
//! the server gets the old password back, so the URL in the config always works.

use paas_core::addons::{Credentials, Service};
use paas_store::{Addon, AddonState, Release};
use rand::RngCore;

use crate::backup::{PSQL, sh, tail};
use crate::{AddonError, Addons};

/// `ALTER ROLE` of the add-on's user (hex passwords and user names need no quoting
/// beyond the literal's).
fn alter_role(user: &str, password: &str) -> String {
    format!("ALTER ROLE \"{user}\" WITH PASSWORD '{password}';\n")
}

impl Addons {
    /// Rotates the add-on's password; returns the releases made (one per attachment).
    pub async fn rotate_credentials(&self, addon: &Addon) -> Result<Vec<Release>, AddonError> {
        if addon.service != Service::Postgresql {
            return Err(AddonError::Backup(format!(
                "{} is a {} add-on: only Postgres add-ons' credentials are rotated",
                addon.name, addon.service
            )));
        }
        if addon.state != AddonState::Provisioned {
            return Err(AddonError::Backup(format!(
                "{} is {}: only a provisioned add-on's credentials are rotated",
                addon.name,
                addon.state.as_str()
            )));
        }
        let container = self
            .container_id(addon)
            .await
            .ok_or_else(|| AddonError::Backup(format!("{} is not running", addon.name)))?;
        let mut entropy = [0u8; 32];
        rand::rng().fill_bytes(&mut entropy);
        let password = Credentials::from_entropy(entropy).password;
        self.set_password(&container, addon, &password).await?;
        match self
            .inner
            .store
            .rotate_addon_password(addon.addon_id, &password)
            .await
        {
            Ok(releases) => {
                for release in &releases {
                    self.inner.nudge.app_changed(release.app_id);
                }
                tracing::info!(addon = %addon.name, releases = releases.len(), "add-on credentials rotated");
                Ok(releases)
            }
            Err(e) => {
                if let Err(back) = self
                    .set_password(&container, addon, &addon.credentials.password)
                    .await
                {
                    tracing::error!(addon = %addon.name, error = %back, "the old password could not be restored after a failed rotation");
                }
                Err(e.into())
            }
        }
    }

    async fn set_password(
        &self,
        container: &str,
        addon: &Addon,
        password: &str,
    ) -> Result<(), AddonError> {
        let sql = alter_role(&addon.credentials.user, password);
        let mut sink = tokio::io::sink();
        let (code, stderr) = self
            .inner
            .docker
            .exec_addon(
                container,
                sh(PSQL.into(), &addon.credentials.database),
                Some(Box::new(std::io::Cursor::new(sql.into_bytes()))),
                &mut sink,
            )
            .await?;
        if code != 0 {
            return Err(AddonError::Backup(format!(
                "changing the password of {} failed: {}",
                addon.name,
                tail(&stderr)
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_password_goes_in_sql_not_on_a_command_line() {
        assert_eq!(
            alter_role("u1", "abc"),
            "ALTER ROLE \"u1\" WITH PASSWORD 'abc';\n"
        );
        assert!(!PSQL.contains("PASSWORD"));
    }
}
