//! paas-router in front of fixed backends, as paasd runs it (the router of bench/router).
//! Usage: bench_router LISTEN_ADDR HOST BACKEND_ADDR...
//! `BENCH_ROUTER_SHARED=1` runs `Router::serve` on one multi-threaded runtime instead of
//! `Router::serve_per_core`, for comparison.

use std::sync::Arc;

use paas_core::routes::{AppRoutes, Backend, RouteTable};
use paas_router::{Router, RouterSettings};
use tokio_util::sync::CancellationToken;

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
    if std::env::var_os("BENCH_ROUTER_SHARED").is_some() {
        let runtime = tokio::runtime::Runtime::new()?;
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind(&listen).await?;
            Arc::new(router).serve(listener, shutdown).await;
            Ok::<_, std::io::Error>(())
        })?;
    } else {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind(&listen).await?;
            router.serve_per_core(listener, threads, shutdown).await
        })?;
    }
    Ok(())
}
