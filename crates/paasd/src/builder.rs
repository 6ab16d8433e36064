//! The builder, made from the build settings (buildpacks, CA bundle, proxies, limits)
//! and the dyno settings it shares with the supervisor (network pool, Swarm overlays).

use anyhow::Context;
use paas_store::Store;

use crate::{Settings, buildpacks, settings};

/// The builder, from the build settings; Docker is reached lazily, so paasd starts
/// (and its API answers) while Docker is still coming up.
/// The builder; `web_url` (apps' URLs, printed at the end of a push) is over HTTPS when
/// the router has a TLS listener.
pub fn builder(
    settings: &Settings,
    store: Store,
    web_url: paas_core::routes::WebUrl,
) -> anyhow::Result<paas_builder::Builder> {
    let mut docker = paas_builder::Docker::connect()
        .context("DOCKER_HOST does not name a usable Docker Engine")?
        .with_network_pool(settings.dynos.network_pool);
    if matches!(settings.dynos.runtime, settings::Runtime::Swarm { .. }) {
        // One-offs and the release phase run on the manager, on the app's overlay.
        docker = docker.with_overlay_networks();
    }
    let data_dir = settings.data_dir.clone();
    let buildpacks_dir = match &settings.build.buildpacks_dir {
        Some(dir) => dir.clone(),
        None => buildpacks::unpack(&data_dir).context("unpacking the built-in buildpacks")?,
    };
    tracing::info!(
        data_dir = %data_dir.display(),
        buildpacks_dir = %buildpacks_dir.display(),
        buildpacks = if settings.build.buildpacks_dir.is_some() { "PAAS_BUILDPACKS_DIR" } else { "built in" },
        ca_bundle = ?settings.build.ca_bundle,
        "paths"
    );
    Ok(paas_builder::Builder::new(
        store,
        docker,
        paas_builder::BuildSettings {
            data_dir,
            buildpacks_dir,
            buildpack_order: [
                "ruby", "python", "nodejs", "java", "php", "go", "static", "procfile",
            ]
            .map(String::from)
            .to_vec(),
            stack_image: settings.stack_image.clone(),
            ca_bundle: settings.build.ca_bundle.clone(),
            proxy_env: settings.build.proxy_env.clone(),
            limits: paas_builder::Limits {
                memory_bytes: settings.build.memory_bytes,
                nano_cpus: settings.build.nano_cpus,
                pids: paas_builder::Limits::BUILD_DEFAULT.pids,
            },
            web_url,
            instance: settings.dynos.instance.clone(),
            dyno_limits: settings.dynos.limits(),
        },
    ))
}
