//! Operating paasd like a product: started from anywhere, `paas login`, tokens.

use std::time::{Duration, Instant};

use crate::support::{self, Paasd, fixture_repo, stderr};

/// paasd started from `/` (every e2e paasd is) with no `PAAS_BUILDPACKS_DIR` builds a
/// buildpack app from the buildpacks built into the binary, unpacked under its data dir.
#[tokio::test]
async fn paasd_started_from_the_root_builds_with_its_built_in_buildpacks() {
    support::require_stack_image();
    // An empty value is unset: the built-in buildpacks.
    let paasd = Paasd::start_with(&[("PAAS_BUILDPACKS_DIR", "")]).await;
    let unpacked = paasd.data.path().join("buildpacks");
    let log = paasd.log();
    assert!(
        log.contains(r#""buildpacks":"built in""#) && log.contains(&unpacked.display().to_string()),
        "the resolved paths are logged absolute:\n{log}"
    );
    paasd.create_app("rooted").await;
    let repo = fixture_repo("procfile-shell");
    let out = paasd.push(repo.path(), "rooted", "main");
    assert!(out.status.success(), "push failed:\n{}", stderr(&out));
    assert!(
        stderr(&out).contains("Procfile"),
        "detected by the built-in procfile buildpack:\n{}",
        stderr(&out)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = paasd.get_via_router("rooted").await;
        if status == 200 {
            assert!(body.contains("hello from shell"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "not served: {status} {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
