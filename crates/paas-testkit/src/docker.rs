//! The Docker Engine the tests run dynos on, and the stack image.

use std::process::Command;

const STACK_IMAGE: &str = "paas/stack:bookworm";

/// Starts dockerd unless an engine answers and makes the stack image unless it exists
/// (`scripts/lib.sh`), once per test binary: tests fail, never skip, without Docker.
pub fn ensure_docker_and_stack_image() {
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    READY.get_or_init(|| {
        let status = Command::new("bash")
            .current_dir(crate::workspace_root())
            .args([
                "-c",
                "set -euo pipefail; source scripts/lib.sh; ensure_dockerd; ensure_stack_image",
            ])
            .status()
            .expect("bash");
        assert!(
            status.success(),
            "could not start dockerd or make the stack image"
        );
    });
}

/// The stack image's id, after [`ensure_docker_and_stack_image`].
pub fn stack_image_id() -> String {
    ensure_docker_and_stack_image();
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", STACK_IMAGE])
        .output()
        .expect("docker");
    assert!(
        out.status.success(),
        "the stack image is missing: run scripts/test (it makes it)"
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Fails with a clear message when the stack image is missing: `scripts/test` makes it.
pub fn require_stack_image() {
    let image = std::env::var("PAAS_STACK_IMAGE").unwrap_or_else(|_| STACK_IMAGE.into());
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &image])
        .output();
    let present = out.is_ok_and(|o| o.status.success());
    assert!(
        present,
        "the stack image {image} is missing: run scripts/test (it starts Docker and builds the image)"
    );
}

/// Removes every container, network and volume labelled with installation `instance`: what a
/// test's paasd (or supervisor) left running on purpose.
pub fn remove_instance(instance: &str) {
    let label = format!("label=paas.instance={instance}");
    let ids = |args: &[&str]| -> Vec<String> {
        Command::new("docker")
            .args(args)
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = ids(&["ps", "-aq", "--filter", &label]);
    if !containers.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "-f"])
            .args(&containers)
            .output();
    }
    let networks = ids(&["network", "ls", "-q", "--filter", &label]);
    if !networks.is_empty() {
        let _ = Command::new("docker")
            .args(["network", "rm"])
            .args(&networks)
            .output();
    }
    // Add-on volumes carry the instance's label too (after their containers are gone).
    let volumes = ids(&["volume", "ls", "-q", "--filter", &label]);
    if !volumes.is_empty() {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f"])
            .args(&volumes)
            .output();
    }
}

/// Runs a shell command in a throwaway container of `image` and returns its stdout.
pub fn in_image(image: &str, script: &str) -> String {
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--entrypoint",
            "/bin/sh",
            image,
            "-c",
            script,
        ])
        .output()
        .expect("docker run");
    assert!(
        out.status.success(),
        "in {image}: {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
