//! A real ACME CA, offline: Debian's `pebble`, its DNS pointed at `pebble-challtestsrv`,
//! which answers 127.0.0.1 for every name, so pebble validates HTTP-01 and TLS-ALPN-01
//! against a router on loopback and nothing leaves the machine. `scripts/lib.sh`
//! `ensure_packages` installs both.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// pebble + pebble-challtestsrv, killed on drop.
pub struct Pebble {
    children: Vec<Child>,
    /// The ACME directory URL.
    pub directory: String,
    management: u16,
    dns_management: u16,
    /// The root pebble's own HTTPS is served under (for the ACME client:
    /// `PAAS_ACME_CA_ROOT`, `AcmeSettings::ca_root`).
    pub https_root: PathBuf,
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

async fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

impl Pebble {
    /// Validates HTTP-01 on `http_port` and TLS-ALPN-01 on `tls_port`; issues
    /// certificates valid `validity_secs` (pebble's default when `None`).
    pub async fn start(http_port: u16, tls_port: u16, validity_secs: Option<u64>) -> Pebble {
        let dir = tempfile::tempdir().unwrap();
        // pebble reads its HTTPS certificate from files: a pair a CA of its own signs.
        let ca = paas_tls::LocalCa::load_or_create(&dir.path().join("ca")).unwrap();
        let (chain, key) = ca
            .issue_pem(&["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        std::fs::write(dir.path().join("cert.pem"), chain).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        let (listen, management, dns, dns_management) =
            (free_port(), free_port(), free_port(), free_port());
        let mut config = serde_json::json!({
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        });
        if let Some(secs) = validity_secs {
            config["certificateValidityPeriod"] = secs.into();
        }
        let config_path = dir.path().join("pebble.json");
        std::fs::write(
            &config_path,
            serde_json::json!({"pebble": config}).to_string(),
        )
        .unwrap();
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
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble (scripts/lib.sh ensure_packages installs it)");
        let pebble = Pebble {
            children: vec![pebble, dns_server],
            directory: format!("https://127.0.0.1:{listen}/dir"),
            management,
            dns_management,
            https_root: dir.path().join("ca").join("root.pem"),
            https_root_pem: ca.root_pem().to_owned(),
            _dir: dir,
        };
        wait_for_port(dns_management, "pebble-challtestsrv").await;
        wait_for_port(listen, "pebble").await;
        pebble
    }

    /// The root pebble signs issued certificates under.
    pub async fn issuing_root(&self) -> String {
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

    /// Makes challtestsrv answer `ip` for `host` (127.0.0.2: nobody listens there).
    pub async fn point(&self, host: &str, ip: &str) {
        let response = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("http://127.0.0.1:{}/add-a", self.dns_management))
            .json(&serde_json::json!({"host": host, "addresses": [ip]}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
}
