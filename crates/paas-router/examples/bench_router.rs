//! paas-router in front of fixed backends, as paasd runs it (the router of bench/router).
//! Usage: bench_router LISTEN_ADDR HOST BACKEND_ADDR...
//! `BENCH_ROUTER_SHARED=1` runs `Router::serve` on one multi-threaded runtime instead of
//! `Router::serve_per_core`, for comparison. `BENCH_ROUTER_TLS=ADDR,CERT,KEY` also serves
//! HTTPS on ADDR with that PEM pair (the router of bench/https), through paas-tls's SNI
//! table as paasd does (the pair as the operator's certificate, also for clients that
//! send no SNI).

use std::sync::Arc;

use paas_core::routes::{AppRoutes, Backend, RouteTable};
use paas_router::{Listeners, Router, RouterSettings};
use tokio_util::sync::CancellationToken;

/// The allocator paasd uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:19002".into());
    let host = args.next().unwrap_or_else(|| "bench.localhost".into());
    let backends = args
        .enumerate()
        .map(|(i, addr)| {
            Ok(Backend {
                dyno: format!("web.{}", i + 1),
                addr: addr.parse()?,
                version: 1,
            })
        })
        .collect::<Result<Vec<_>, std::net::AddrParseError>>()?;
    let mut table = RouteTable::default();
    table.insert(
        &host,
        AppRoutes {
            maintenance: false,
            app: "bench".into(),
            backends,
        },
    );
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(table));
    let router = Router::new(rx, RouterSettings::default());
    let shutdown = CancellationToken::new();
    let tls = match std::env::var("BENCH_ROUTER_TLS") {
        Ok(spec) => Some(tls_table(&spec)?),
        Err(_) => None,
    };
    let bind = |tls: Option<(String, Arc<paas_tls::CertTable>)>| async move {
        let mut listeners = Listeners::from(tokio::net::TcpListener::bind(&listen).await?);
        if let Some((addr, table)) = tls {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            listeners = listeners.with_https(listener, table)?;
        }
        Ok::<_, Box<dyn std::error::Error>>(listeners)
    };
    if std::env::var_os("BENCH_ROUTER_SHARED").is_some() {
        let runtime = tokio::runtime::Runtime::new()?;
        runtime.block_on(async {
            Arc::new(router).serve(bind(tls).await?, shutdown).await;
            Ok::<_, Box<dyn std::error::Error>>(())
        })?;
    } else {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            router
                .serve_per_core(bind(tls).await?, threads, shutdown)
                .await?;
            Ok::<_, Box<dyn std::error::Error>>(())
        })?;
    }
    Ok(())
}

/// `ADDR,CERT,KEY` → the TLS address and an SNI table serving that pair.
fn tls_table(spec: &str) -> Result<(String, Arc<paas_tls::CertTable>), Box<dyn std::error::Error>> {
    let mut parts = spec.split(',');
    let (Some(addr), Some(cert), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("BENCH_ROUTER_TLS is ADDR,CERT,KEY".into());
    };
    let parsed = paas_tls::pem::parse(
        &std::fs::read_to_string(cert)?,
        &std::fs::read_to_string(key)?,
        chrono::Utc::now(),
    )?;
    let table = Arc::new(paas_tls::CertTable::new());
    table.set_operator(&parsed);
    Ok((addr.to_owned(), table))
}
