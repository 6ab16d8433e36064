//! Making runtime images: `ensure` (the one a build needs, unless one made on the
//! current stack exists; one build at a time) and `make_all` (`paasd stack runtimes`,
//! `paasd stack build --all`).

use std::path::Path;
use std::sync::LazyLock;
use std::time::Instant;

use paas_core::langs::{self, Runtime};
use paas_docker::{Docker, DockerError, Limits};
use tokio::sync::mpsc;

use super::recipe::{context_tar, dockerfile, recipe};

/// One runtime image build at a time (two pushes that both need it wait for one build).
static MAKING: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(Default::default);

/// The runtime image `runtime` needs, made now unless one made on the current stack
/// exists. `None`: the stack itself carries it. `on_line` gets the progress (header lines
/// with `-----> `, the rest indented by the caller). `Ok(Err(reason))`: the image could not
/// be made (apt failed), shown to the pusher.
pub async fn ensure(
    docker: &Docker,
    stack: &str,
    runtime: &Runtime,
    limits: &Limits,
    ca_bundle: Option<&Path>,
    on_line: mpsc::UnboundedSender<String>,
) -> Result<Result<Option<String>, String>, DockerError> {
    let Some(image) = runtime.image(langs::STACK_RUNTIMES) else {
        return Ok(Ok(None));
    };
    let Some(recipe) = recipe(runtime.kind, runtime.line) else {
        return Ok(Err(format!("paas has no recipe for {image}")));
    };
    let Some(stack_info) = docker.image_info(stack).await? else {
        return Ok(Err(format!(
            "The stack image {stack} is missing: run `paasd stack build` on the server."
        )));
    };
    let current = |info: &Option<paas_docker::ImageInfo>| {
        info.as_ref()
            .is_some_and(|i| paas_docker::labels::is_made_on(&i.labels, &stack_info.id))
    };
    if current(&docker.image_info(&image).await?) {
        return Ok(Ok(Some(image)));
    }
    let _making = MAKING.lock().await;
    // Another build may have made it while this one waited.
    if current(&docker.image_info(&image).await?) {
        return Ok(Ok(Some(image)));
    }
    let started = Instant::now();
    let _ = on_line.send(format!(
        "-----> Making the {} {} runtime image {image} from {} (once; later builds reuse it)",
        runtime.label, runtime.line, recipe.from
    ));
    let tar = match context_tar(&dockerfile(stack, &recipe), ca_bundle) {
        Ok(tar) => tar,
        Err(e) => {
            return Ok(Err(format!(
                "could not write the Dockerfile of {image}: {e}"
            )));
        }
    };
    let (repo, tag) = image
        .trim_start_matches("paas/")
        .split_once(':')
        .unwrap_or((&image, "latest"));
    let labels = paas_docker::labels::runtime_image(runtime.kind, runtime.line, &stack_info.id);
    let lines = on_line.clone();
    let built = docker
        .build_dockerfile(repo, tag, tar, limits, labels, move |l| {
            // The engine's own step lines are noise here; apt's tail and the versions are not.
            if !l.starts_with("Step ")
                && !l.starts_with(" ---> ")
                && !l.starts_with("Removing intermediate")
            {
                let _ = lines.send(l);
            }
        })
        .await?;
    match built {
        Ok(_) => {
            let _ = on_line.send(format!(
                "-----> Runtime image {image} ready ({:.0}s)",
                started.elapsed().as_secs_f64()
            ));
            Ok(Ok(Some(image)))
        }
        Err(reason) => Ok(Err(format!(
            "Could not make the runtime image {image}: {reason}"
        ))),
    }
}

/// Makes the runtime images named (`go:1.25`, `paas/runtime_jdk:21`; every one the
/// platform offers when `only` is empty) that are missing or older than the stack,
/// printing progress on stderr (`paasd stack runtimes`, `paasd stack build --all`).
/// Returns the images that could not be made, with why.
pub async fn make_all(
    docker: &Docker,
    stack: &str,
    limits: &Limits,
    ca_bundle: Option<&Path>,
    only: &[String],
) -> Result<Vec<(String, String)>, DockerError> {
    let mut failed = Vec::new();
    let offered: Vec<(String, String)> = langs::all_runtime_images()
        .iter()
        .map(|r| {
            (
                r.image(langs::STACK_RUNTIMES).unwrap_or_default(),
                format!("{}:{}", r.kind, r.line),
            )
        })
        .collect();
    for name in only {
        if !offered
            .iter()
            .any(|(image, short)| image == name || short == name)
        {
            let names: Vec<&str> = offered.iter().map(|(_, short)| short.as_str()).collect();
            failed.push((
                name.clone(),
                format!(
                    "no runtime image {name}: this platform makes {}",
                    names.join(", ")
                ),
            ));
            eprintln!(" !     {}", failed[failed.len() - 1].1);
        }
    }
    for runtime in langs::all_runtime_images() {
        let image = runtime.image(langs::STACK_RUNTIMES).unwrap_or_default();
        let short = format!("{}:{}", runtime.kind, runtime.line);
        if !only.is_empty() && !only.iter().any(|o| *o == image || *o == short) {
            continue;
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let printer = tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                if line.starts_with("-----> ") {
                    eprintln!("{line}");
                } else {
                    eprintln!("       {line}");
                }
            }
        });
        let started = Instant::now();
        let made = ensure(docker, stack, &runtime, limits, ca_bundle, tx).await?;
        let _ = printer.await;
        match made {
            Ok(_) => eprintln!(
                "-----> {image}: {} {} ({:.0}s)",
                runtime.label,
                runtime.line,
                started.elapsed().as_secs_f64()
            ),
            Err(reason) => {
                eprintln!(" !     {reason}");
                failed.push((image, reason));
            }
        }
    }
    Ok(failed)
}
