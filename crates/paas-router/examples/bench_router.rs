//! paas-router in front of fixed backends, as paasd runs it (the router of bench/router).
//! Usage: bench_router LISTEN_ADDR HOST BACKEND_ADDR...

use std::sync::Arc;

use paas_core::routes::{AppRoutes, Backend, RouteTable};
use paas_router::{Router, RouterSettings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
            app: "bench".into(),
            backends,
        },
    );
    let (_tx, rx) = tokio::sync::watch::channel(Arc::new(table));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let router = Arc::new(Router::new(rx, RouterSettings::default()));
    router
        .serve(listener, tokio_util::sync::CancellationToken::new())
        .await;
    Ok(())
}
