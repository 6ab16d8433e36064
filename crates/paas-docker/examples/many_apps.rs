//! How many apps one engine holds (issue 12: "one engine must hold at least 500 apps").
//! Usage: many_apps [APPS] [IMAGE]  (defaults: 500, paas/stack:bookworm)
//!
//! For apps `many-0001`…: the app's network from paas's pool (`Docker::ensure_network`,
//! as the supervisor makes it) and one dyno on it (`Docker::run_dyno`, the stack image
//! running `sleep`), four apps at a time. Then it counts the installation's networks and
//! running dynos, prints the times, and removes everything it made. Its installation is
//! `many-apps-<pid>`, so it touches nothing else on the engine.

use std::time::Instant;

use futures::StreamExt;
use paas_core::runtime::{DynoLimits, DynoSpec, app_network_name};
use paas_core::{AppName, DynoIdentity, DynoName, ReleaseVersion};
use paas_docker::Docker;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let apps: u32 = args.next().map_or(Ok(500), |a| a.parse())?;
    let image = args.next().unwrap_or_else(|| "paas/stack:bookworm".into());
    let instance = format!("many-apps-{}", std::process::id());
    let docker = Docker::connect()?;
    let started = Instant::now();
    let made = futures::stream::iter(1..=apps)
        .map(|n| one_app(&docker, &instance, &image, n))
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    let failures: Vec<String> = made
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
    let took = started.elapsed();
    let networks = docker.app_networks(&instance).await?.len();
    let running = docker
        .list_dynos(&instance, None)
        .await?
        .iter()
        .filter(|d| d.status == paas_core::ContainerStatus::Running)
        .count();
    println!(
        "{apps} apps: {networks} app networks and {running} running dynos on one engine, made in {:.1} s ({:.0} ms an app, 4 at a time); {} failed{}",
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / f64::from(apps.max(1)),
        failures.len(),
        failures
            .first()
            .map(|f| format!(" (first: {f})"))
            .unwrap_or_default()
    );
    let cleanup = Instant::now();
    let dynos = docker.list_dynos(&instance, None).await?;
    futures::stream::iter(dynos)
        .for_each_concurrent(8, |d| {
            let docker = &docker;
            async move {
                if let Err(e) = docker.remove_container_now(&d.id).await {
                    eprintln!("removing {}: {e}", d.id);
                }
            }
        })
        .await;
    for network in docker.app_networks(&instance).await? {
        docker.remove_network(&network.id).await?;
    }
    println!("removed in {:.1} s", cleanup.elapsed().as_secs_f64());
    if failures.is_empty() && networks == apps as usize && running == apps as usize {
        Ok(())
    } else {
        Err(format!("expected {apps} networks and {apps} running dynos").into())
    }
}

async fn one_app(docker: &Docker, instance: &str, image: &str, n: u32) -> Result<(), Error> {
    let app_name = AppName::parse(&format!("many-{n:04}"))?;
    docker.ensure_network(instance, app_name.as_str()).await?;
    let spec = DynoSpec {
        instance: instance.to_owned(),
        dyno: DynoIdentity {
            app_id: uuid::Uuid::new_v4(),
            app_name: app_name.clone(),
            release_id: uuid::Uuid::new_v4(),
            version: ReleaseVersion::new(1)?,
            name: DynoName::parse("web.1")?,
            generation: 0,
        },
        image: image.to_owned(),
        command: "sleep 86400".into(),
        env: vec!["PORT=5000".into()],
        limits: DynoLimits::default(),
        network: app_network_name(instance, app_name.as_str()),
        health_path: None,
        grace_secs: 1,
    };
    docker.run_dyno(&spec).await?;
    Ok(())
}
