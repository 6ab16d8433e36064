//! Add-ons in the ledger: attaching and detaching are releases, attachment-owned vars
//! refuse hand edits, and a rollback never brings back a destroyed add-on's URL.

use paas_core::addons::{AddonName, AttachmentName, Credentials, Service};
use paas_core::{ConfigChange, ReleaseRef, ReleaseVersion};
use paas_store::{AddonState, NewAddon, Store, StoreError};
use sqlx::PgPool;
use uuid::Uuid;

use crate::new_app;

fn new_addon(app_id: Uuid, name: &str, attachment: &str) -> NewAddon {
    NewAddon {
        name: AddonName::parse(name).unwrap(),
        service: Service::Postgresql,
        plan: Service::Postgresql.default_plan(),
        app_id,
        credentials: Credentials::from_entropy([3; 32]),
        attachment: AttachmentName::parse(attachment).unwrap(),
    }
}

fn version(n: i32) -> ReleaseRef {
    ReleaseRef::Version(ReleaseVersion::new(n).unwrap())
}

async fn config(store: &Store, app: Uuid) -> std::collections::BTreeMap<String, String> {
    store.config_vars(app).await.unwrap().into_map()
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn attaching_sets_the_url_as_a_release_and_the_var_refuses_hand_edits(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app = new_app(&store, "shop").await;
    let (addon, attachment) = store
        .create_addon(&new_addon(app, "postgresql-curved-12345", "DATABASE"))
        .await
        .unwrap();
    assert_eq!(addon.state, AddonState::Provisioning);
    assert_eq!(attachment.config_var(), "DATABASE_URL");
    // Nothing is set before the add-on answers.
    assert!(config(&store, app).await.is_empty());

    let releases = store.addon_provisioned(addon.addon_id).await.unwrap();
    assert_eq!(releases.len(), 1);
    assert_eq!(
        releases[0].description,
        "Attach DATABASE (postgresql-curved-12345)"
    );
    assert_eq!(releases[0].version, 2);
    assert_eq!(config(&store, app).await["DATABASE_URL"], addon.url());
    // Repeating it (a restart in between) makes no second release.
    assert!(
        store
            .addon_provisioned(addon.addon_id)
            .await
            .unwrap()
            .is_empty()
    );

    for change in [
        ConfigChange::parse([("DATABASE_URL", Some("postgres://elsewhere"))]).unwrap(),
        ConfigChange::parse([("DATABASE_URL", None), ("OTHER", Some("1"))]).unwrap(),
    ] {
        let err = store.update_config(app, &change).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::OwnedConfigVar(m) if m.contains("postgresql-curved-12345")),
            "{err:?}"
        );
    }
    let vars = config(&store, app).await;
    assert_eq!(vars.len(), 1, "a refused change changes nothing: {vars:?}");

    // The same name cannot be attached twice, nor over a var set by hand.
    let other = new_app(&store, "admin").await;
    store
        .update_config(
            other,
            &ConfigChange::parse([("DATABASE_URL", Some("x"))]).unwrap(),
        )
        .await
        .unwrap();
    let err = store
        .attach_addon(
            addon.addon_id,
            other,
            &AttachmentName::parse("DATABASE").unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OwnedConfigVar(_)), "{err:?}");
    let (shared, release) = store
        .attach_addon(
            addon.addon_id,
            other,
            &AttachmentName::parse("SHOP_DB").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        release.unwrap().description,
        "Attach SHOP_DB (postgresql-curved-12345)"
    );
    assert_eq!(config(&store, other).await["SHOP_DB_URL"], addon.url());

    let release = store
        .detach_addon(shared.attachment_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        release.description,
        "Detach SHOP_DB (postgresql-curved-12345)"
    );
    assert!(!config(&store, other).await.contains_key("SHOP_DB_URL"));
    // The last attachment stays: the add-on is destroyed instead.
    let err = store
        .detach_addon(attachment.attachment_id)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_rollback_keeps_current_attachments_and_drops_destroyed_ones(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app = new_app(&store, "shop").await;
    // v2: a var of the user's own.
    store
        .update_config(app, &ConfigChange::parse([("A", Some("1"))]).unwrap())
        .await
        .unwrap();
    let (pg, _) = store
        .create_addon(&new_addon(app, "postgresql-curved-12345", "DATABASE"))
        .await
        .unwrap();
    // v3: attached.
    store.addon_provisioned(pg.addon_id).await.unwrap();

    // Back to v2, from before the attachment: the add-on is still attached, so its URL
    // stays (dropping it would break the app while the var stays owned).
    let back = store.rollback(app, &version(2)).await.unwrap();
    assert_eq!(back.description, "Rollback to v2");
    assert_eq!(back.config.0["DATABASE_URL"], pg.url());
    assert_eq!(config(&store, app).await["DATABASE_URL"], pg.url());
    assert_eq!(config(&store, app).await["A"], "1");

    // Destroyed (v5: detached), then back to v3, which carried its URL: not brought back.
    let releases = store.begin_destroy_addon(pg.addon_id).await.unwrap();
    assert_eq!(
        releases[0].description,
        "Detach DATABASE (postgresql-curved-12345)"
    );
    store.forget_addon(pg.addon_id).await.unwrap();
    let back = store.rollback(app, &version(3)).await.unwrap();
    assert!(
        !back.config.0.contains_key("DATABASE_URL"),
        "{:?}",
        back.config.0
    );
    assert!(!config(&store, app).await.contains_key("DATABASE_URL"));
    // And the var is the user's again.
    store
        .update_config(
            app,
            &ConfigChange::parse([("DATABASE_URL", Some("postgres://mine"))]).unwrap(),
        )
        .await
        .unwrap();
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn destroying_an_app_destroys_the_addons_it_owns_and_detaches_the_rest(pool: PgPool) {
    let store = Store::from_pool(pool);
    let owner = new_app(&store, "owner").await;
    let guest = new_app(&store, "guest").await;
    let (owned, _) = store
        .create_addon(&new_addon(owner, "postgresql-owned-11111", "DATABASE"))
        .await
        .unwrap();
    let (foreign, _) = store
        .create_addon(&new_addon(guest, "postgresql-guest-22222", "DATABASE"))
        .await
        .unwrap();
    store.addon_provisioned(owned.addon_id).await.unwrap();
    store.addon_provisioned(foreign.addon_id).await.unwrap();
    // The guest uses the owner's add-on; the owner uses the guest's.
    store
        .attach_addon(
            owned.addon_id,
            guest,
            &AttachmentName::parse("OWNER").unwrap(),
        )
        .await
        .unwrap();
    store
        .attach_addon(
            foreign.addon_id,
            owner,
            &AttachmentName::parse("GUEST").unwrap(),
        )
        .await
        .unwrap();

    store.destroy_owned_addons(owner).await.unwrap();
    store.delete_app(owner).await.unwrap();

    let owned = store.addon_by_id(owned.addon_id).await.unwrap();
    assert_eq!(owned.state, AddonState::Deprovisioning);
    assert_eq!(owned.app_id, None);
    assert!(!config(&store, guest).await.contains_key("OWNER_URL"));
    let foreign = store.addon_by_id(foreign.addon_id).await.unwrap();
    assert_eq!(foreign.state, AddonState::Provisioned);
    let left = store
        .attachments(None, Some(foreign.addon_id))
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].app_name, "guest");
}
