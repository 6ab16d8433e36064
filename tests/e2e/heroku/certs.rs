//! HTTPS: a pushed app served by the router's TLS listener, and `certs:*` uploading and
//! removing its certificate.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{Heroku, assert_contains};
use crate::support::{Paasd, fixture_repo, free_port, stderr, stdout};

/// A self-signed certificate and key for `host`, written to `dir` (cert.pem, key.pem).
fn write_certificate(dir: &Path, host: &str) -> String {
    let made = rcgen::generate_simple_self_signed(vec![host.to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
    made.cert.pem()
}

/// A client that trusts `root` only and reaches every name at loopback (the URL's port).
fn https_client(root: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .tls_certs_only([reqwest::Certificate::from_pem(root.as_bytes()).unwrap()])
        .resolve("hk-certs.localhost", ([127, 0, 0, 1], 0).into())
        .resolve("www.hk-certs.example", ([127, 0, 0, 1], 0).into())
        .build()
        .unwrap()
}

/// HTTPS in the router end to end: a pushed app answers at
/// `https://<app>.localhost:<router TLS port>/` with a certificate from paasd's local CA
/// (trusted the way the README says), and the heroku CLI's `certs:*` commands upload,
/// show and remove a certificate the router then serves for a custom domain by SNI.
#[tokio::test]
async fn a_pushed_app_answers_over_https_and_the_heroku_cli_manages_its_certificates() {
    crate::support::require_stack_image();
    let (tls_port, router_tls) = (free_port(), free_port());
    let paasd = Paasd::start_with(&[
        ("PAAS_TLS_ADDR", &format!("127.0.0.1:{tls_port}")),
        ("PAAS_ROUTER_TLS_ADDR", &format!("127.0.0.1:{router_tls}")),
    ])
    .await;
    let heroku = Heroku::new(&paasd, tls_port);
    let repo = fixture_repo("procfile-shell");
    let dir = repo.path();
    let app = "hk-certs";
    heroku.ok(dir, &["apps:create", app]);
    let pushed = heroku.push(dir, "heroku");
    assert!(pushed.status.success(), "push: {}", stderr(&pushed));
    paasd
        .wait_dynos(app, 120, |d| {
            d.iter().any(|d| d["name"] == "web.1" && d["state"] == "up")
        })
        .await;

    // The default hostname over HTTPS, trusting the local CA's root only.
    let local_root =
        std::fs::read_to_string(paasd.data.path().join("tls/ca/root.pem")).expect("the local CA");
    let page = https_client(&local_root)
        .get(format!("https://{app}.localhost:{router_tls}/"))
        .send()
        .await
        .expect("HTTPS through the router");
    assert_eq!(page.status(), 200);

    // An uploaded certificate for a custom domain (added after the upload: the CLI
    // would otherwise offer an interactive choice of domains).
    let files = tempfile::tempdir().unwrap();
    let host = "www.hk-certs.example";
    let uploaded = write_certificate(files.path(), host);
    let (cert, key) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    let (out, err) = heroku.ok(
        dir,
        &[
            "certs:add",
            cert.to_str().unwrap(),
            key.to_str().unwrap(),
            "-a",
            app,
        ],
    );
    assert_contains(&err, "Adding SSL certificate to");
    assert_contains(&out, host);
    let (out, _) = heroku.ok(dir, &["certs", "-a", app]);
    assert_contains(&out, host);
    assert_contains(&out, "hk-certs-");
    let (out, _) = heroku.ok(dir, &["certs:info", "-a", app]);
    assert_contains(&out, "Certificate details:");
    assert_contains(&out, host);
    // A key that does not belong to the certificate is refused and stores nothing.
    let other = tempfile::tempdir().unwrap();
    write_certificate(other.path(), host);
    let refused = heroku.run(
        dir,
        &[
            "certs:add",
            cert.to_str().unwrap(),
            other.path().join("key.pem").to_str().unwrap(),
            "-a",
            app,
        ],
    );
    assert!(!refused.status.success());
    assert_contains(&stderr(&refused), "does not match");

    heroku.ok(dir, &["domains:add", host, "-a", app]);
    let mut served = None;
    for _ in 0..50 {
        match https_client(&uploaded)
            .get(format!("https://{host}:{router_tls}/"))
            .send()
            .await
        {
            Ok(r) => {
                served = Some(r.status().as_u16());
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(
        served,
        Some(200),
        "the uploaded certificate is served for {host}"
    );
    let paas = |args: &[&str]| {
        Command::new(crate::support::binary("paas"))
            .args(args)
            .env("PAAS_API_URL", paasd.url())
            .env("PAAS_API_TOKEN", &paasd.token)
            .output()
            .expect("paas")
    };
    let listed = paas(&["domains", "-a", app]);
    assert_contains(&stdout(&listed), host);
    assert_contains(&stdout(&listed), "uploaded (hk-certs-");
    assert_contains(&stdout(&paas(&["certs", "-a", app])), host);

    // Automatic certificate management: on by default, switched off and on again.
    let (out, _) = heroku.ok(dir, &["certs:auto", "-a", app]);
    assert_contains(&out, "Automatic Certificate Management is enabled");
    heroku.ok(dir, &["certs:auto:disable", "-a", app, "--confirm", app]);
    let (out, _) = heroku.ok(dir, &["certs:auto", "-a", app]);
    assert_contains(&out, "Automatic Certificate Management is disabled");
    let (_, err) = heroku.ok(dir, &["certs:auto:enable", "-a", app]);
    assert_contains(&err, "Enabling Automatic Certificate Management");
    heroku.ok(dir, &["certs:auto:refresh", "-a", app]);

    heroku.ok(dir, &["certs:remove", "-a", app, "--confirm", app]);
    let (out, _) = heroku.ok(dir, &["certs", "-a", app]);
    assert_contains(&out, "has no SSL certificates");
    let mut still_served = true;
    for _ in 0..50 {
        if https_client(&uploaded)
            .get(format!("https://{host}:{router_tls}/"))
            .send()
            .await
            .is_err()
        {
            still_served = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!still_served, "a removed certificate is no longer served");
}
