//! Routing: by host and custom domain, 404 and 503 pages, maintenance mode, load
//! spread over dynos, and the headers a dyno sees.

use super::*;

#[tokio::test]
async fn requests_are_routed_by_host_and_custom_domain_with_404_and_503_pages() {
    let a = dyno("a").await;
    let b = dyno("b").await;
    let mut h = router(
        table(&[
            ("one.localhost", "one", &[("web.1", a.addr)]),
            ("www.example.com", "two", &[("web.1", b.addr)]),
            ("two.localhost", "two", &[("web.1", b.addr)]),
            ("empty.localhost", "empty", &[]),
        ]),
        RouterSettings::default(),
    )
    .await;
    let raw = h.get("ONE.localhost:8080", "/").await.text().await.unwrap();
    let one: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(one["dyno"], "a");
    assert_eq!(
        one["headers"]["host"], "ONE.localhost:8080",
        "the dyno sees the client's Host"
    );
    let two: serde_json::Value = h.get("www.example.com", "/").await.json().await.unwrap();
    assert_eq!(two["dyno"], "b");
    let two: serde_json::Value = h.get("two.localhost:80", "/").await.json().await.unwrap();
    assert_eq!(two["dyno"], "b");

    let missing = h.get("nope.localhost", "/").await;
    assert_eq!(missing.status(), 404);
    assert!(
        missing.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(missing.text().await.unwrap().contains("No such app"));
    let empty = h.get("empty.localhost", "/").await;
    assert_eq!(empty.status(), 503);
    assert!(empty.text().await.unwrap().contains("H14"));

    let lines = h.lines().await;
    let line = lines
        .iter()
        .find(|l| l.app == "one")
        .unwrap_or_else(|| panic!("no line for app one: {lines:?}"));
    let rest = line
        .line
        .strip_prefix("at=info method=GET path=\"/\" host=ONE.localhost:8080 request_id=")
        .unwrap_or_else(|| panic!("{}", line.line));
    let (request_id, rest) = rest.split_once(' ').unwrap();
    assert_eq!(request_id.len(), 36, "a generated UUID: {request_id}");
    assert!(
        rest.starts_with("fwd=\"127.0.0.1\" dyno=web.1 connect="),
        "{rest}"
    );
    assert!(rest.contains("ms service="), "{rest}");
    assert!(
        rest.ends_with(&format!("ms status=200 bytes={} protocol=http", raw.len())),
        "{rest}"
    );
    assert_eq!(line.status, 200);
    assert!(
        lines
            .iter()
            .any(|l| l.app == "two" && l.line.contains("host=www.example.com ")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.app == "empty"
            && l.line
                .starts_with("at=error code=H14 desc=\"No web processes running\" method=GET")
            && l.line.contains(" dyno= ")
            && l.line.contains("status=503 bytes=")),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| !l.line.contains("nope.localhost")),
        "no app, no app log line"
    );

    let metrics = h.router.metrics().render();
    assert!(
        metrics.contains("paas_router_requests_total{app=\"two\",status=\"2xx\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("paas_router_requests_total{app=\"empty\",status=\"5xx\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("paas_router_request_duration_seconds_count{app=\"one\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("paas_router_unmatched_requests_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_app_in_maintenance_mode_gets_the_maintenance_page_and_its_dynos_nothing() {
    let a = dyno("a").await;
    let mut down = table(&[("one.localhost", "one", &[("web.1", a.addr)])]);
    let mut routes = down.lookup("one.localhost").unwrap().clone();
    routes.maintenance = true;
    down.insert("one.localhost", routes);
    let mut h = router(down, RouterSettings::default()).await;

    let page = h.get("one.localhost", "/").await;
    assert_eq!(page.status(), 503);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Offline for maintenance")
    );
    assert_eq!(
        a.served.load(Ordering::Relaxed),
        0,
        "the dyno got a request"
    );
    let lines = h.lines().await;
    assert!(
        lines.iter().any(|l| l.app == "one"
            && l.line
                .starts_with("at=error code=H80 desc=\"Maintenance mode\" method=GET")),
        "{lines:?}"
    );

    // Off again: the next table forwards as before.
    h.publish(table(&[("one.localhost", "one", &[("web.1", a.addr)])]))
        .await;
    let served: serde_json::Value = h.get("one.localhost", "/").await.json().await.unwrap();
    assert_eq!(served["dyno"], "a");
}

#[tokio::test]
async fn load_spreads_evenly_over_three_dynos() {
    let dynos = [dyno("x").await, dyno("y").await, dyno("z").await];
    let h = router(
        table(&[(
            "spread.localhost",
            "spread",
            &[
                ("web.1", dynos[0].addr),
                ("web.2", dynos[1].addr),
                ("web.3", dynos[2].addr),
            ],
        )]),
        RouterSettings::default(),
    )
    .await;
    // Sequential requests: every dyno is idle at each pick, so the spread is random.
    for _ in 0..300 {
        assert_eq!(h.get("spread.localhost", "/").await.status(), 200);
    }
    let counts: Vec<usize> = dynos
        .iter()
        .map(|d| d.served.load(Ordering::Relaxed))
        .collect();
    assert!(
        counts.iter().all(|c| *c >= 60),
        "300 requests over 3 dynos: {counts:?}"
    );
    // Concurrent slow requests: least outstanding keeps the dynos equally busy.
    for d in &dynos {
        d.served.store(0, Ordering::Relaxed);
    }
    let requests = (0..30).map(|_| async {
        let r = h.get("spread.localhost", "/slow?ms=200").await;
        assert_eq!(r.status(), 200);
    });
    futures::future::join_all(requests).await;
    let counts: Vec<usize> = dynos
        .iter()
        .map(|d| d.served.load(Ordering::Relaxed))
        .collect();
    assert!(
        counts.iter().all(|c| (7..=13).contains(c)),
        "30 concurrent over 3: {counts:?}"
    );
}

#[tokio::test]
async fn the_app_sees_forwarding_headers_and_no_hop_by_hop_ones() {
    let a = dyno("a").await;
    let h = router(
        table(&[("hdr.localhost", "hdr", &[("web.1", a.addr)])]),
        RouterSettings {
            public_port: 8080,
            ..RouterSettings::default()
        },
    )
    .await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let response = h
        .client
        .get(h.url("/"))
        .header("host", "hdr.localhost")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-request-id", "client-chosen-id-0123456789")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "must not pass")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic eDp5")
        .header("via", "1.1 cdn")
        .send()
        .await
        .unwrap();
    assert!(
        response.headers().get("x-dyno-secret").is_none(),
        "named by the dyno's Connection"
    );
    assert!(response.headers().get("keep-alive").is_none());
    assert_eq!(response.headers()["via"], "1.1 paas");
    let seen: serde_json::Value = response.json().await.unwrap();
    let headers = &seen["headers"];
    assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-port"], "8080");
    assert_eq!(headers["x-request-id"], "client-chosen-id-0123456789");
    assert_eq!(headers["via"], "1.1 cdn, 1.1 paas");
    let start: u128 = headers["x-request-start"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        start >= before && start < before + 5_000,
        "ms since the epoch: {start}"
    );
    for hop in [
        "x-hop",
        "keep-alive",
        "te",
        "proxy-authorization",
        "transfer-encoding",
        "upgrade",
    ] {
        assert!(headers.get(hop).is_none(), "{hop} is hop-by-hop: {headers}");
    }

    // An id that is not sane (too short, or with characters outside the set) is replaced.
    for bad in ["short", "has spaces in it which is not allowed"] {
        let seen: serde_json::Value = h
            .client
            .get(h.url("/"))
            .header("host", "hdr.localhost")
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = seen["headers"]["x-request-id"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{bad} → {id}");
        assert_eq!(seen["headers"]["x-forwarded-for"], "127.0.0.1");
    }
}
