//! An app in a test's database, changed the way the API and the builder change it: made,
//! deployed from an image with a Procfile, reconfigured and scaled through the store's
//! ledger. For the harnesses that drive the supervisor without a paasd.

use paas_core::{AppName, ConfigChange, ProcessType, Procfile, Quantity, ScaleChange};
use paas_store::{NewBuild, ReleaseStatus, Store};
use uuid::Uuid;

/// Creates the app `name`; returns its id.
pub async fn create_app(store: &Store, name: &str) -> Uuid {
    store
        .create_app(&AppName::parse(name).unwrap())
        .await
        .unwrap()
        .app_id
}

/// A succeeded build of `image` with `procfile`'s process types, as the builder records
/// it, and its release; returns the release's version.
pub async fn deploy(store: &Store, app_id: Uuid, image: &str, procfile: &str) -> i32 {
    let build = store
        .create_build(
            app_id,
            NewBuild {
                source_version: "0123456789",
                buildpacks: &[],
            },
        )
        .await
        .unwrap();
    let procfile = Procfile::parse(procfile).unwrap();
    store
        .finish_build(build.build_id, Ok((image, &procfile)), "")
        .await
        .unwrap();
    store
        .create_deploy_release(app_id, build.build_id, ReleaseStatus::Succeeded)
        .await
        .unwrap()
        .version
}

/// Sets config vars (a release); returns the release's version.
pub async fn set_config(store: &Store, app_id: Uuid, pairs: &[(&str, &str)]) -> i32 {
    let change = ConfigChange::parse(pairs.iter().map(|(k, v)| (*k, Some(*v)))).unwrap();
    let (_, release) = store.update_config(app_id, &change).await.unwrap();
    release.unwrap().version
}

/// Scales process type `kind` to `n`.
pub async fn scale(store: &Store, app_id: Uuid, kind: &str, n: i64) {
    store
        .scale(
            app_id,
            &[(
                ProcessType::parse(kind).unwrap(),
                ScaleChange::To(Quantity::new(n).unwrap()),
            )],
        )
        .await
        .unwrap();
}
