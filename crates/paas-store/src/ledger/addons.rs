//! The ledger's add-on writes: attaching and detaching change an app's config, so each
//! is a release made in a [`ReleaseTx`] ("Attach DATABASE (postgresql-curved-12345)").
//! An attachment owns its `<NAME>_URL` var: `config:set`/`unset` of it is refused
//! (`update_config`), and a rollback keeps the current attachments' values
//! (`attachment_config`).

use std::collections::BTreeMap;

use paas_core::addons::{AttachmentName, attach_description, detach_description};
use uuid::Uuid;

use super::ReleaseTx;
use crate::addons::{Addon, AddonState, Attachment, NewAddon, addon_in, owned_vars};
use crate::releases::{Release, ReleaseStatus};
use crate::{Store, StoreError};

impl ReleaseTx {
    /// Sets (`Some`) or removes (`None`) an attachment's var as a release; no release
    /// when the config already is so.
    async fn attachment_release(
        &mut self,
        key: &str,
        value: Option<&str>,
        description: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        let mut config = self.config().await?.into_map();
        let changed = match value {
            Some(v) => config.insert(key.to_owned(), v.to_owned()).as_deref() != Some(v),
            None => config.remove(key).is_some(),
        };
        if !changed {
            return Ok(None);
        }
        if let Some(v) = value {
            let app_id = self.app_id();
            sqlx::query(
                "insert into addon_config_history (app_id, key, value) values ($1, $2, $3)
                 on conflict do nothing",
            )
            .bind(app_id)
            .bind(key)
            .bind(v)
            .execute(self.conn())
            .await?;
        }
        self.replace_config(&config).await?;
        let build = self.current_build().await?;
        let release = self
            .append(build, &config, description, ReleaseStatus::Succeeded)
            .await?;
        Ok(Some(release))
    }

    /// Refuses an attachment name that is taken or whose var the user set by hand.
    async fn check_attachment_free(&mut self, name: &AttachmentName) -> Result<(), StoreError> {
        let app_id = self.app_id();
        let key = name.config_var();
        if let Some((_, addon)) = owned_vars(self.conn(), app_id)
            .await?
            .into_iter()
            .find(|(k, _)| *k == key)
        {
            return Err(StoreError::OwnedConfigVar(format!(
                "{key} is already owned by the add-on {addon}: attach with another name (--as)."
            )));
        }
        if self.config().await?.get(&key).is_some() {
            return Err(StoreError::OwnedConfigVar(format!(
                "{key} is already set on this app: unset it first or attach with another name (--as)."
            )));
        }
        Ok(())
    }

    async fn insert_attachment(
        &mut self,
        addon_id: Uuid,
        name: &AttachmentName,
    ) -> Result<Uuid, StoreError> {
        let app_id = self.app_id();
        let id = Uuid::now_v7();
        sqlx::query(
            "insert into addon_attachment (attachment_id, addon_id, app_id, name) values ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(addon_id)
        .bind(app_id)
        .bind(name.as_str())
        .execute(self.conn())
        .await?;
        Ok(id)
    }
}

/// The config a rollback to a release with `target` config gets: the target's, without
/// any value an attachment ever set, plus what the app's attachments set now. A rollback
/// therefore never brings back the URL of a destroyed add-on (or an old password), and
/// never drops the URL of one that is attached.
pub(super) async fn attachment_config(
    tx: &mut ReleaseTx,
    target: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, StoreError> {
    let app_id = tx.app_id();
    let history: Vec<(String, String)> =
        sqlx::query_as("select key, value from addon_config_history where app_id = $1")
            .bind(app_id)
            .fetch_all(tx.conn())
            .await?;
    let mut config: BTreeMap<String, String> = target
        .iter()
        .filter(|(k, v)| !history.iter().any(|(hk, hv)| hk == *k && hv == *v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let current = tx.config().await?;
    for (key, _) in owned_vars(tx.conn(), app_id).await? {
        match current.get(&key) {
            Some(value) => config.insert(key, value.to_owned()),
            None => config.remove(&key),
        };
    }
    Ok(config)
}

/// Refuses a config change that touches a var an attachment owns.
pub(super) async fn refuse_owned(
    tx: &mut ReleaseTx,
    keys: impl Iterator<Item = &str>,
) -> Result<(), StoreError> {
    let app_id = tx.app_id();
    let owned = owned_vars(tx.conn(), app_id).await?;
    for key in keys {
        if let Some((_, addon)) = owned.iter().find(|(k, _)| k == key) {
            return Err(StoreError::OwnedConfigVar(format!(
                "{key} is owned by the add-on {addon} and cannot be changed by hand: detach it (paas addons:detach) or attach it under another name."
            )));
        }
    }
    Ok(())
}

impl Store {
    /// Stores a new add-on, `provisioning`, attached to its app under `attachment`. No
    /// release yet: the URL is set when the add-on answers ([`Store::addon_provisioned`]).
    pub async fn create_addon(&self, new: &NewAddon) -> Result<(Addon, Attachment), StoreError> {
        let mut tx = ReleaseTx::lock(self, new.app_id).await?;
        tx.check_attachment_free(&new.attachment).await?;
        let addon_id = Uuid::now_v7();
        sqlx::query(
            "insert into addon (addon_id, name, service, plan, app_id, db_user, password, db_name)
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(addon_id)
        .bind(new.name.as_str())
        .bind(new.service.short())
        .bind(new.plan.name)
        .bind(new.app_id)
        .bind(&new.credentials.user)
        .bind(&new.credentials.password)
        .bind(&new.credentials.database)
        .execute(tx.conn())
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.constraint() == Some("addon_name_key") => {
                StoreError::Conflict(format!("The add-on name {} is taken.", new.name))
            }
            _ => e.into(),
        })?;
        let attachment_id = tx.insert_attachment(addon_id, &new.attachment).await?;
        tx.commit().await?;
        let addon = self.addon_by_id(addon_id).await?;
        let attachment = self.attachment(None, &attachment_id.to_string()).await?;
        Ok((addon, attachment))
    }

    /// The add-on answers: each attachment that lacks its URL gets it as a release, and
    /// it is `provisioned`. Safe to repeat (a restart between the steps finishes them).
    pub async fn addon_provisioned(&self, addon_id: Uuid) -> Result<Vec<Release>, StoreError> {
        // The URLs first, then the state: whoever sees `provisioned` (`paas addons:create`
        // waits for it) finds every attachment's URL in its app's config. An attach
        // committed between the two gets its URL from the second round; one after the
        // state change sets its URL itself.
        let addon = self.addon_by_id(addon_id).await?;
        if addon.state == AddonState::Deprovisioning {
            return Ok(Vec::new());
        }
        let mut releases = self.attachment_urls(&addon).await?;
        sqlx::query(
            "update addon set state = 'provisioned', updated_at = now()
              where addon_id = $1 and state = 'provisioning'",
        )
        .bind(addon_id)
        .execute(&self.pool)
        .await?;
        let addon = self.addon_by_id(addon_id).await?;
        if addon.state == AddonState::Provisioned {
            releases.extend(self.attachment_urls(&addon).await?);
        }
        Ok(releases)
    }

    /// Sets the URL of each of the add-on's attachments that lacks it, a release each.
    async fn attachment_urls(&self, addon: &Addon) -> Result<Vec<Release>, StoreError> {
        let mut releases = Vec::new();
        for attachment in self.attachments(None, Some(addon.addon_id)).await? {
            let mut tx = ReleaseTx::lock(self, attachment.app_id).await?;
            let name = AttachmentName::parse(&attachment.name)?;
            let release = tx
                .attachment_release(
                    &attachment.config_var(),
                    Some(&addon.url()),
                    &attach_description(&name, &addon.name),
                )
                .await?;
            tx.commit().await?;
            if let Some(id) = release {
                releases.push(self.release_by_id(id).await?);
            }
        }
        Ok(releases)
    }

    /// Attaches an add-on to an app under `name`; the URL is set as a release at once
    /// when the add-on is provisioned (else when it is).
    pub async fn attach_addon(
        &self,
        addon_id: Uuid,
        app_id: Uuid,
        name: &AttachmentName,
    ) -> Result<(Attachment, Option<Release>), StoreError> {
        let mut tx = ReleaseTx::lock(self, app_id).await?;
        // Locks the add-on's row against `addon_provisioned` and destruction.
        let state: Option<AddonState> =
            sqlx::query_scalar("select state from addon where addon_id = $1 for update")
                .bind(addon_id)
                .fetch_optional(tx.conn())
                .await?;
        match state {
            None => return Err(StoreError::not_found("add-on")),
            Some(AddonState::Deprovisioning) => {
                return Err(StoreError::Conflict(
                    "This add-on is being destroyed.".into(),
                ));
            }
            Some(_) => {}
        }
        tx.check_attachment_free(name).await?;
        let attachment_id = tx.insert_attachment(addon_id, name).await?;
        let addon = addon_in(tx.conn(), addon_id).await?;
        let release = if addon.state == AddonState::Provisioned {
            tx.attachment_release(
                &name.config_var(),
                Some(&addon.url()),
                &attach_description(name, &addon.name),
            )
            .await?
        } else {
            None
        };
        tx.commit().await?;
        let attachment = self.attachment(None, &attachment_id.to_string()).await?;
        let release = match release {
            Some(id) => Some(self.release_by_id(id).await?),
            None => None,
        };
        Ok((attachment, release))
    }

    /// Detaches: the attachment goes and its var is unset as a release. The add-on's
    /// last attachment stays unless it is being destroyed (destroy it instead).
    pub async fn detach_addon(&self, attachment_id: Uuid) -> Result<Option<Release>, StoreError> {
        let attachment = self.attachment(None, &attachment_id.to_string()).await?;
        let mut tx = ReleaseTx::lock(self, attachment.app_id).await?;
        let (state, others): (AddonState, i64) = sqlx::query_as(
            "select d.state, (select count(*) from addon_attachment o
                               where o.addon_id = d.addon_id and o.attachment_id <> $2)
               from addon d where d.addon_id = $1 for update",
        )
        .bind(attachment.addon_id)
        .bind(attachment_id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| StoreError::not_found("add-on"))?;
        if others == 0 && state != AddonState::Deprovisioning {
            return Err(StoreError::Conflict(format!(
                "{} is the last attachment of {}: destroy the add-on instead (paas addons:destroy {}).",
                attachment.name, attachment.addon_name, attachment.addon_name
            )));
        }
        let done = sqlx::query("delete from addon_attachment where attachment_id = $1")
            .bind(attachment_id)
            .execute(tx.conn())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("add-on attachment"));
        }
        let name = AttachmentName::parse(&attachment.name)?;
        let addon = paas_core::addons::AddonName::parse(&attachment.addon_name)?;
        let release = tx
            .attachment_release(
                &attachment.config_var(),
                None,
                &detach_description(&name, &addon),
            )
            .await?;
        tx.commit().await?;
        match release {
            Some(id) => Ok(Some(self.release_by_id(id).await?)),
            None => Ok(None),
        }
    }

    /// Starts destroying an add-on: `deprovisioning`, then detached everywhere (each a
    /// release). The add-on supervisor then removes its container and volume and
    /// forgets it. Returns the releases made.
    pub async fn begin_destroy_addon(&self, addon_id: Uuid) -> Result<Vec<Release>, StoreError> {
        let done = sqlx::query(
            "update addon set state = 'deprovisioning', updated_at = now() where addon_id = $1",
        )
        .bind(addon_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("add-on"));
        }
        let mut releases = Vec::new();
        for attachment in self.attachments(None, Some(addon_id)).await? {
            match self.detach_addon(attachment.attachment_id).await {
                Ok(Some(release)) => releases.push(release),
                Ok(None) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(releases)
    }

    /// Before an app is destroyed: the add-ons it owns are destroyed (detached from
    /// every app, as releases). Attachments of other apps' add-ons go with the app's row.
    pub async fn destroy_owned_addons(&self, app_id: Uuid) -> Result<Vec<Release>, StoreError> {
        let owned: Vec<Uuid> = sqlx::query_scalar("select addon_id from addon where app_id = $1")
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?;
        let mut releases = Vec::new();
        for addon_id in owned {
            releases.extend(self.begin_destroy_addon(addon_id).await?);
        }
        Ok(releases)
    }

    /// Stores an add-on's new password (its server already has it: `paas-addons`
    /// changes it there first) and sets every attachment's URL to carry it, a release on
    /// every attached app ("Rotate DATABASE credentials (postgresql-…)"). The old URL
    /// joins the attachment history, so no rollback brings it back.
    pub async fn rotate_addon_password(
        &self,
        addon_id: Uuid,
        password: &str,
    ) -> Result<Vec<Release>, StoreError> {
        let done = sqlx::query(
            "update addon set password = $2, updated_at = now()
              where addon_id = $1 and state = 'provisioned'",
        )
        .bind(addon_id)
        .bind(password)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "Only a provisioned add-on's credentials can be rotated.".into(),
            ));
        }
        let addon = self.addon_by_id(addon_id).await?;
        let mut releases = Vec::new();
        for attachment in self.attachments(None, Some(addon_id)).await? {
            let mut tx = ReleaseTx::lock(self, attachment.app_id).await?;
            let release = tx
                .attachment_release(
                    &attachment.config_var(),
                    Some(&addon.url()),
                    &format!("Rotate {} credentials ({})", attachment.name, addon.name),
                )
                .await?;
            tx.commit().await?;
            if let Some(id) = release {
                releases.push(self.release_by_id(id).await?);
            }
        }
        Ok(releases)
    }
}
