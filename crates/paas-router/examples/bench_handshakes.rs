//! New TLS connections per second (bench/https): CONCURRENCY loops, each connecting,
//! making a full TLS handshake (session resumption off, so no handshake is abbreviated),
//! sending one `Connection: close` request and reading the answer, for SECONDS.
//! Prints `handshakes/s`, p50 and p99 of one connection (connect to last byte) and the
//! failures. The server's certificate is not verified (the same load for every server).
//! The key exchange is X25519 only, which every server here offers (rustls would prefer
//! the costlier X25519MLKEM768 that nginx's OpenSSL 3.0 lacks); `BENCH_KX=default` offers
//! rustls's default groups instead.
//! Usage: bench_handshakes ADDR HOST [CONCURRENCY=64] [SECONDS=10]

use std::sync::Arc;
use std::time::{Duration, Instant};

use paas_testkit::tls::AnyCert;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: std::net::SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:19012".into())
        .parse()?;
    let host = args.next().unwrap_or_else(|| "bench.localhost".into());
    let concurrency: usize = args.next().map_or(Ok(64), |c| c.parse())?;
    let seconds: u64 = args.next().map_or(Ok(10), |s| s.parse())?;
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if std::env::var("BENCH_KX").as_deref() != Ok("default") {
        provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert))
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(host.clone())?;
    let request: Arc<[u8]> = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        .into_bytes()
        .into();
    let runtime = tokio::runtime::Runtime::new()?;
    let (latencies, failures) = runtime.block_on(async move {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut loops = Vec::new();
        for _ in 0..concurrency {
            let (connector, name, request) = (connector.clone(), name.clone(), request.clone());
            loops.push(tokio::spawn(async move {
                let (mut took, mut failures) = (Vec::new(), 0u64);
                while Instant::now() < deadline {
                    let started = Instant::now();
                    match once(&connector, addr, name.clone(), &request).await {
                        Ok(()) => took.push(started.elapsed()),
                        Err(_) => failures += 1,
                    }
                }
                (took, failures)
            }));
        }
        let (mut all, mut failures) = (Vec::new(), 0);
        for l in loops {
            if let Ok((took, failed)) = l.await {
                all.extend(took);
                failures += failed;
            }
        }
        (all, failures)
    });
    let mut latencies = latencies;
    latencies.sort();
    let at = |percent: usize| {
        latencies
            .get((latencies.len() * percent / 100).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "handshakes/s {:.0} p50 {:.3} ms p99 {:.3} ms failures {failures}",
        latencies.len() as f64 / seconds as f64,
        at(50),
        at(99)
    );
    Ok(())
}

/// One connection: TCP connect, full handshake, one request, the whole answer.
async fn once(
    connector: &tokio_rustls::TlsConnector,
    addr: std::net::SocketAddr,
    name: ServerName<'static>,
    request: &[u8],
) -> std::io::Result<()> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let mut tls = connector.connect(name, tcp).await?;
    tls.write_all(request).await?;
    let mut answer = Vec::with_capacity(512);
    // A server may close without close_notify after `Connection: close`: what was read
    // is what counts.
    let _ = tls.read_to_end(&mut answer).await;
    if answer.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(std::io::Error::other("no 200 answer"))
    }
}
