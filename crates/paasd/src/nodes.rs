//! `paasd nodes`: the machines dynos run on (this engine, or every node of a Swarm),
//! with state and dyno counts.

use anyhow::Context;

use crate::{Settings, settings};

/// `paasd nodes`: the machines dynos run on, with state and dyno counts.
pub async fn nodes_table(settings: &Settings) -> anyhow::Result<String> {
    use paas_core::runtime::ContainerRuntime;
    let docker = paas_docker::Docker::connect()
        .context("DOCKER_HOST does not name a usable Docker Engine")?;
    let instance = &settings.dynos.instance;
    let nodes = match &settings.dynos.runtime {
        settings::Runtime::Docker => docker.nodes(instance).await?,
        settings::Runtime::Swarm { registry, .. } => {
            paas_swarm::Swarm::connect(docker, None, registry)?
                .nodes(instance)
                .await?
        }
    };
    let mut out = format!(
        "{:<24} {:<16} {:<12} {:<12} {:<8} {}\n",
        "NAME", "ADDRESS", "STATE", "AVAILABILITY", "ROLE", "DYNOS"
    );
    for n in nodes {
        out.push_str(&format!(
            "{:<24} {:<16} {:<12} {:<12} {:<8} {}\n",
            n.name,
            n.addr.map_or_else(|| "-".to_owned(), |a| a.to_string()),
            n.state,
            n.availability,
            if n.manager { "manager" } else { "worker" },
            n.dynos
        ));
    }
    Ok(out)
}
