//! Automatic HTTPS through paasd: a custom domain gets its certificate from a real ACME
//! CA (Debian's `pebble`, DNS from `pebble-challtestsrv` answering 127.0.0.1 for every
//! name, so it validates HTTP-01 against paasd's router on loopback), the router serves
//! it by SNI, `GET /metrics` and the app's log show it, a restarted paasd serves the
//! stored certificate without ordering again, and a removed domain's certificate is no
//! longer served. No app image is built: the router answers the challenge before any
//! app routing, and the handshake is what is checked.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::support::{Paasd, binary, free_port};

/// pebble and pebble-challtestsrv, killed on drop.
struct Pebble {
    children: Vec<Child>,
    directory: String,
    management: u16,
    /// The root of pebble's own HTTPS (for paasd's ACME client: `PAAS_ACME_CA_ROOT`).
    https_root: PathBuf,
    https_root_pem: String,
    _dir: tempfile::TempDir,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

impl Pebble {
    fn start(http_port: u16) -> Pebble {
        let dir = tempfile::tempdir().unwrap();
        let ca = paas_tls::LocalCa::load_or_create(&dir.path().join("ca")).unwrap();
        let (chain, key) = ca
            .issue_pem(&["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        std::fs::write(dir.path().join("cert.pem"), chain).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        let (listen, management, dns, dns_management) =
            (free_port(), free_port(), free_port(), free_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        std::fs::write(dir.path().join("pebble.json"), config.to_string()).unwrap();
        let dns_server = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv (scripts/lib.sh ensure_packages installs pebble)");
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(dir.path().join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble (scripts/lib.sh ensure_packages installs it)");
        let pebble = Pebble {
            children: vec![pebble, dns_server],
            directory: format!("https://127.0.0.1:{listen}/dir"),
            management,
            https_root: dir.path().join("ca/root.pem"),
            https_root_pem: ca.root_pem().to_owned(),
            _dir: dir,
        };
        wait_for_port(dns_management, "pebble-challtestsrv");
        wait_for_port(listen, "pebble");
        pebble
    }

    /// The root pebble signs issued certificates under.
    async fn issuing_root(&self) -> String {
        reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only([
                reqwest::Certificate::from_pem(self.https_root_pem.as_bytes()).unwrap(),
            ])
            .build()
            .unwrap()
            .get(format!("https://127.0.0.1:{}/roots/0", self.management))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

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
    let pebble = Pebble::start(plain);
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
