//! Connections: request-head limits, graceful shutdown, and per-core routers sharing
//! one table.

use super::*;

#[tokio::test]
async fn slow_and_oversized_request_heads_are_cut_off() {
    let a = dyno("a").await;
    let h = router(
        table(&[("limits.localhost", "limits", &[("web.1", a.addr)])]),
        RouterSettings {
            header_read_timeout: Duration::from_millis(300),
            max_head_bytes: 16 * 1024,
            ..RouterSettings::default()
        },
    )
    .await;
    // A client that never finishes its head is disconnected.
    let mut slow = TcpStream::connect(h.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: limits.localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut rest))
        .await
        .expect("the router hangs up on a slow client")
        .ok();
    assert!(started.elapsed() >= Duration::from_millis(250));
    // A head over the limit gets 431 and never reaches the dyno.
    let response = h
        .client
        .get(h.url("/"))
        .header("host", "limits.localhost")
        .header("x-big", "b".repeat(32 * 1024))
        .send()
        .await;
    match response {
        Ok(r) => assert_eq!(r.status(), 431),
        Err(e) => assert!(e.is_request() || e.is_connect(), "{e:?}"),
    }
    assert_eq!(a.served.load(Ordering::Relaxed), 0);
    assert_eq!(h.get("limits.localhost", "/").await.status(), 200);
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_stops_accepting_and_keeps_its_deadline() {
    let a = dyno("a").await;
    let mut h = router(
        table(&[("drain.localhost", "drain", &[("web.1", a.addr)])]),
        RouterSettings {
            drain_timeout: Duration::from_millis(1500),
            ..RouterSettings::default()
        },
    )
    .await;
    // An idle keep-alive connection, an upgraded one that never closes, and a request
    // in flight when the shutdown comes.
    assert_eq!(h.get("drain.localhost", "/").await.status(), 200);
    let mut upgraded = TcpStream::connect(h.addr).await.unwrap();
    upgraded
        .write_all(b"GET / HTTP/1.1\r\nHost: drain.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    assert!(read_head(&mut upgraded).await.starts_with("HTTP/1.1 101"));
    let in_flight = h.get("drain.localhost", "/slow?ms=500");
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let at = Instant::now();
        h.shutdown.cancel();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let refused = TcpStream::connect(h.addr).await.is_err();
        (at, refused)
    };
    let (response, (stopped_at, refused)) = tokio::join!(in_flight, stopper);
    assert_eq!(response.status(), 200, "the request in flight finishes");
    assert_eq!(response.text().await.unwrap(), "a");
    assert!(refused, "no new connections once shutting down");
    let served = h.served.take().unwrap();
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("serve returns")
        .unwrap();
    let took = stopped_at.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(3),
        "the upgraded connection held the drain until its deadline: {took:?}"
    );
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(1), upgraded.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "and was then closed");
}

#[tokio::test]
async fn per_core_routers_share_the_table_logs_and_metrics_and_drain_together() {
    let a = dyno("a").await;
    let b = dyno("b").await;
    let (tx, rx) = watch::channel(Arc::new(table(&[(
        "core.localhost",
        "core",
        &[("web.1", a.addr)],
    )])));
    let (log_tx, mut logs) = mpsc::unbounded_channel();
    let router = Router::new(rx, RouterSettings::default()).with_log_sink(move |log| {
        let _ = log_tx.send(log);
    });
    let metrics = router.metrics();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let served = tokio::spawn(router.serve_per_core(listener, 2, shutdown.clone()));
    // Separate connections, so both threads get some.
    let get = |path: &'static str| async move {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = client
            .get(format!("http://{addr}{path}"))
            .header("host", "core.localhost")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    };
    let bodies = futures::future::join_all((0..20).map(|_| get("/slow?ms=10"))).await;
    assert!(bodies.iter().all(|b| b == "a"), "{bodies:?}");
    tx.send_replace(Arc::new(table(&[(
        "core.localhost",
        "core",
        &[("web.2", b.addr)],
    )])));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let bodies = futures::future::join_all((0..20).map(|_| get("/slow?ms=10"))).await;
    assert!(bodies.iter().all(|b| b == "b"), "{bodies:?}");
    tokio::time::sleep(Duration::from_millis(50)).await; // lines are written as bodies end
    let text = metrics.render();
    assert!(
        text.contains("paas_router_requests_total{app=\"core\",status=\"2xx\"} 40"),
        "{text}"
    );
    let mut lines = 0;
    while logs.try_recv().is_ok() {
        lines += 1;
    }
    assert_eq!(lines, 40);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("every thread drains")
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}
