//! Automatic HTTPS through paasd: a custom domain gets its certificate from a real ACME
//! CA (Debian's `pebble`, DNS from `pebble-challtestsrv` answering 127.0.0.1 for every
//! name, so it validates HTTP-01 against paasd's router on loopback), the router serves
//! it by SNI, `GET /metrics` and the app's log show it, a restarted paasd serves the
//! stored certificate without ordering again, and a removed domain's certificate is no
//! longer served. No app image is built: the router answers the challenge before any
//! app routing, and the handshake is what is checked.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::support::pebble::Pebble;
use crate::support::{Paasd, binary, free_port};

/// Does a handshake for `host` at the router get a certificate `root` vouches for?
async fn served_by(root: &str, host: &str, port: u16) -> bool {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .tls_certs_only([reqwest::Certificate::from_pem(root.as_bytes()).unwrap()])
        .resolve(host, ([127, 0, 0, 1], 0).into())
        .build()
        .unwrap()
        .get(format!("https://{host}:{port}/"))
        .send()
        .await
        .is_ok()
}

async fn custom_domain(paasd: &Paasd, app: &str) -> serde_json::Value {
    let domains = paasd
        .api(Method::GET, &format!("/apps/{app}/domains"), None)
        .await;
    domains
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "custom")
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn a_custom_domain_gets_an_acme_certificate_that_survives_a_restart() {
    let (plain, tls) = (free_port(), free_port());
    let pebble = Pebble::start(plain, free_port(), None).await;
    let paasd = Paasd::start_with(&[
        ("PAAS_ROUTER_ADDR", &format!("127.0.0.1:{plain}")),
        ("PAAS_ROUTER_TLS_ADDR", &format!("127.0.0.1:{tls}")),
        ("PAAS_ACME_DIRECTORY", &pebble.directory),
        ("PAAS_ACME_CA_ROOT", pebble.https_root.to_str().unwrap()),
        ("PAAS_ACME_EMAIL", "ops@example.com"),
    ])
    .await;
    let mut paasd = paasd;
    let (app, host) = ("acme-e2e", "www.acme-e2e.example");
    paasd.create_app(app).await;
    let info = paasd.api(Method::GET, &format!("/apps/{app}"), None).await;
    assert_eq!(
        info["web_url"],
        format!("https://{app}.localhost:{tls}/"),
        "web_url is the router's HTTPS address, as Heroku's"
    );
    paasd
        .api(
            Method::POST,
            &format!("/apps/{app}/domains"),
            Some(serde_json::json!({"hostname": host})),
        )
        .await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let issued = loop {
        let domain = custom_domain(&paasd, app).await;
        if domain["acm_status"] == "cert issued" {
            break domain;
        }
        assert!(
            Instant::now() < deadline,
            "no certificate in 90 s: {domain}\n{}",
            paasd.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(issued["acm_expires_at"].is_string(), "{issued}");
    let root = pebble.issuing_root().await;
    assert!(
        served_by(&root, host, tls).await,
        "the ACME certificate is served by SNI"
    );

    let metrics = paasd.api(Method::GET, "/metrics", None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(
        metrics.contains(&format!(
            "paas_certificate_expiry_timestamp_seconds{{host=\"{host}\",source=\"acme\"}}"
        )),
        "{metrics}"
    );
    let logs = Command::new(binary("paas"))
        .args(["logs", "-n", "100", "-a", app])
        .env("PAAS_API_URL", paasd.url())
        .env("PAAS_API_TOKEN", &paasd.token)
        .output()
        .expect("paas logs");
    let logs = String::from_utf8_lossy(&logs.stdout).into_owned();
    assert!(
        logs.contains(&format!("app[api]: Issued certificate for {host}")),
        "{logs}"
    );
    let listed = Command::new(binary("paas"))
        .args(["domains", "-a", app])
        .env("PAAS_API_URL", paasd.url())
        .env("PAAS_API_TOKEN", &paasd.token)
        .output()
        .expect("paas domains");
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.contains("issued"), "{listed}");

    // A restart serves the stored certificate: same expiry, so no new order.
    paasd.sigkill_and_restart().await;
    assert!(
        served_by(&root, host, tls).await,
        "served again after the restart"
    );
    let again = custom_domain(&paasd, app).await;
    assert_eq!(again["acm_status"], "cert issued");
    assert_eq!(
        again["acm_expires_at"], issued["acm_expires_at"],
        "not ordered again"
    );

    // Removing the domain stops serving its certificate.
    paasd
        .api(Method::DELETE, &format!("/apps/{app}/domains/{host}"), None)
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_by(&root, host, tls).await {
        assert!(Instant::now() < deadline, "still served after removal");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
