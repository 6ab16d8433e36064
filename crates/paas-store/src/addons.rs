//! Add-ons and their attachments (`addon`, `addon_attachment`): rows and reads. The
//! writes that change an app's config (attach, detach, provisioned) make releases and
//! live in the ledger (`ledger/addons.rs`).

use chrono::{DateTime, Utc};
use paas_core::addons::{AddonName, AttachmentName, Credentials, Service};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{Store, StoreError};

/// Where an add-on is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum AddonState {
    /// Its container is being made; attachments get their URL when it answers.
    Provisioning,
    Provisioned,
    /// Detached everywhere; its container and volume are being removed.
    Deprovisioning,
}

impl AddonState {
    pub fn as_str(self) -> &'static str {
        match self {
            AddonState::Provisioning => "provisioning",
            AddonState::Provisioned => "provisioned",
            AddonState::Deprovisioning => "deprovisioning",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct AddonRow {
    addon_id: Uuid,
    name: String,
    service: String,
    plan: String,
    app_id: Option<Uuid>,
    app_name: Option<String>,
    db_user: String,
    password: String,
    db_name: String,
    state: AddonState,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// An add-on, parsed.
#[derive(Debug, Clone)]
pub struct Addon {
    pub addon_id: Uuid,
    pub name: AddonName,
    pub service: Service,
    pub plan: &'static paas_core::addons::Plan,
    /// The owning app; `None` once it was destroyed.
    pub app_id: Option<Uuid>,
    pub app_name: Option<String>,
    pub credentials: Credentials,
    pub state: AddonState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Addon {
    /// The URL its attachments set.
    pub fn url(&self) -> String {
        self.service.url(&self.credentials, &self.name)
    }
}

impl TryFrom<AddonRow> for Addon {
    type Error = StoreError;

    fn try_from(r: AddonRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::corrupt(format!("add-on {}: {what}", r.addon_id));
        let service = Service::parse(&r.service).map_err(|_| corrupt("service"))?;
        Ok(Addon {
            addon_id: r.addon_id,
            name: AddonName::parse(&r.name).map_err(|_| corrupt("name"))?,
            service,
            plan: service.plan(&r.plan).map_err(|_| corrupt("plan"))?,
            app_id: r.app_id,
            app_name: r.app_name,
            credentials: Credentials {
                user: r.db_user,
                password: r.password,
                database: r.db_name,
            },
            state: r.state,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const SELECT_ADDON: &str =
    "select d.addon_id, d.name, d.service, d.plan, d.app_id, a.name as app_name,
    d.db_user, d.password, d.db_name, d.state, d.created_at, d.updated_at
  from addon d left join app a using (app_id)";

/// An attachment, with its add-on's and app's names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attachment {
    pub attachment_id: Uuid,
    pub name: String,
    pub app_id: Uuid,
    pub app_name: String,
    pub addon_id: Uuid,
    pub addon_name: String,
    pub addon_app_id: Option<Uuid>,
    pub addon_app_name: Option<String>,
    pub service: String,
    pub plan: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Attachment {
    /// The config var it owns (`DATABASE_URL`).
    pub fn config_var(&self) -> String {
        format!("{}_URL", self.name)
    }
}

const SELECT_ATTACHMENT: &str = "select t.attachment_id, t.name, t.app_id, a.name as app_name,
    t.addon_id, d.name as addon_name, d.app_id as addon_app_id, o.name as addon_app_name,
    d.service, d.plan, t.created_at, t.updated_at
  from addon_attachment t join app a on a.app_id = t.app_id join addon d on d.addon_id = t.addon_id
  left join app o on o.app_id = d.app_id";

/// A new add-on: what `addons:create` stores before its container exists.
#[derive(Debug, Clone)]
pub struct NewAddon {
    pub name: AddonName,
    pub service: Service,
    pub plan: &'static paas_core::addons::Plan,
    pub app_id: Uuid,
    pub credentials: Credentials,
    pub attachment: AttachmentName,
}

/// The config vars of `app_id` that attachments own, with the attachment's name.
pub(crate) async fn owned_vars<'c>(
    conn: impl PgExecutor<'c>,
    app_id: Uuid,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "select t.name || '_URL', d.name from addon_attachment t join addon d using (addon_id)
          where t.app_id = $1",
    )
    .bind(app_id)
    .fetch_all(conn)
    .await?)
}

pub(crate) async fn addon_in<'c>(
    conn: impl PgExecutor<'c>,
    addon_id: Uuid,
) -> Result<Addon, StoreError> {
    let sql = format!("{SELECT_ADDON} where d.addon_id = $1");
    sqlx::query_as::<_, AddonRow>(sqlx::AssertSqlSafe(sql))
        .bind(addon_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::not_found("add-on"))?
        .try_into()
}

impl Store {
    /// Every add-on of the installation, by name.
    pub async fn addons(&self) -> Result<Vec<Addon>, StoreError> {
        let sql = format!("{SELECT_ADDON} order by d.name");
        sqlx::query_as::<_, AddonRow>(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Addon::try_from)
            .collect()
    }

    /// The add-ons an app owns or has attached.
    pub async fn addons_of_app(&self, app_id: Uuid) -> Result<Vec<Addon>, StoreError> {
        let sql = format!(
            "{SELECT_ADDON} where d.app_id = $1
                or d.addon_id in (select addon_id from addon_attachment where app_id = $1)
             order by d.name"
        );
        sqlx::query_as::<_, AddonRow>(sqlx::AssertSqlSafe(sql))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Addon::try_from)
            .collect()
    }

    /// An add-on by id or name.
    pub async fn addon(&self, id_or_name: &str) -> Result<Addon, StoreError> {
        let sql = format!("{SELECT_ADDON} where d.addon_id::text = $1 or d.name = $1");
        sqlx::query_as::<_, AddonRow>(sqlx::AssertSqlSafe(sql))
            .bind(id_or_name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("add-on"))?
            .try_into()
    }

    pub async fn addon_by_id(&self, addon_id: Uuid) -> Result<Addon, StoreError> {
        addon_in(&self.pool, addon_id).await
    }

    /// Every attachment; of one app (`app`), of one add-on (`addon`), or both.
    pub async fn attachments(
        &self,
        app: Option<Uuid>,
        addon: Option<Uuid>,
    ) -> Result<Vec<Attachment>, StoreError> {
        let sql = format!(
            "{SELECT_ATTACHMENT} where ($1::uuid is null or t.app_id = $1)
                and ($2::uuid is null or t.addon_id = $2)
              order by a.name, t.name"
        );
        Ok(sqlx::query_as::<_, Attachment>(sqlx::AssertSqlSafe(sql))
            .bind(app)
            .bind(addon)
            .fetch_all(&self.pool)
            .await?)
    }

    /// An attachment by id, or by name (or config var) within an app.
    pub async fn attachment(
        &self,
        app: Option<Uuid>,
        id_or_name: &str,
    ) -> Result<Attachment, StoreError> {
        let name = AttachmentName::from_config_var(id_or_name)
            .map(|n| n.as_str().to_owned())
            .unwrap_or_else(|| id_or_name.to_ascii_uppercase());
        let sql = format!(
            "{SELECT_ATTACHMENT} where t.attachment_id::text = $1
                or ($3::uuid is not null and t.app_id = $3 and t.name = $2)
              order by t.created_at limit 1"
        );
        sqlx::query_as::<_, Attachment>(sqlx::AssertSqlSafe(sql))
            .bind(id_or_name)
            .bind(name)
            .bind(app)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("add-on attachment"))
    }

    /// What the add-on supervisor wants running: every add-on with the names of the
    /// apps attached to it.
    pub async fn addons_to_supervise(&self) -> Result<Vec<(Addon, Vec<String>)>, StoreError> {
        let addons = self.addons().await?;
        let pairs: Vec<(Uuid, String)> = sqlx::query_as(
            "select t.addon_id, a.name from addon_attachment t join app a using (app_id)",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(addons
            .into_iter()
            .map(|addon| {
                let apps = pairs
                    .iter()
                    .filter(|(id, _)| *id == addon.addon_id)
                    .map(|(_, name)| name.clone())
                    .collect();
                (addon, apps)
            })
            .collect())
    }

    /// Forgets a destroyed add-on once its container and volume are gone.
    pub async fn forget_addon(&self, addon_id: Uuid) -> Result<(), StoreError> {
        sqlx::query("delete from addon where addon_id = $1 and state = 'deprovisioning'")
            .bind(addon_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
