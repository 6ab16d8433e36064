//! Challenges: a failing HTTP-01 challenge (reason shown, previous certificate kept) and
//! TLS-ALPN-01 answered by the TLS listener when HTTP-01 fails.

use super::*;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_failing_challenge_shows_failing_with_the_reason_and_keeps_the_previous_certificate(
    pool: PgPool,
) {
    let store = Store::from_pool(pool);
    let app_id = app_with_domain(&store, "blog", "blog-example.com").await;
    let blog = dyno("blog").await;
    let plain = listeners().await;
    let (http_port, tls_port) = ports(&plain);
    let pebble = Pebble::start(http_port, tls_port, Some(90 * 24 * 3600)).await;
    let mut s = setup(
        store.clone(),
        plain,
        &[("blog-example.com", "blog", blog)],
        &pebble,
        |a| {
            a.backoff_base = Duration::from_secs(300);
        },
    )
    .await;
    s.manager.pass().await.unwrap();
    let issued = s.served("blog-example.com").await;
    assert_eq!(
        store.app_domain_certs(app_id).await.unwrap()[0].status,
        "issued"
    );

    // The name now points where nothing answers: the CA cannot validate it.
    pebble.point("blog-example.com", "127.0.0.2").await;
    store.refresh_acm(app_id).await.unwrap();
    s.manager.pass().await.unwrap();
    let failing = store.app_domain_certs(app_id).await.unwrap().remove(0);
    assert_eq!(failing.status, "failing");
    let reason = failing.reason.unwrap();
    assert!(reason.contains("127.0.0.2"), "the CA's own words: {reason}");
    assert!(
        failing.next_attempt_at > chrono::Utc::now() + chrono::Duration::seconds(200),
        "backed off"
    );
    assert_eq!(
        s.served("blog-example.com").await,
        issued,
        "the old certificate keeps serving"
    );
    let events = s.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Certificate for blog-example.com failing: ")),
        "{events:?}"
    );
    // Backing off: another pass does not ask the CA again.
    let orders = s.manager.orders();
    s.manager.pass().await.unwrap();
    assert_eq!(s.manager.orders(), orders, "no hammering");
    let _ = s.plain;
}

/// Does a handshake offering only ALPN `acme-tls/1` for `host` succeed at the router?
async fn alpn_probe(tls: SocketAddr, host: &str) -> bool {
    let config = any_cert_config(vec![b"acme-tls/1".to_vec()]);
    let tcp = TcpStream::connect(tls).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(host.to_owned()).unwrap(), tcp)
        .await
        .is_ok()
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn tls_alpn_01_is_answered_by_the_tls_listener_when_http_01_fails(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app_id = app_with_domain(&store, "alpn", "alpn-example.com").await;
    let alpn = dyno("alpn").await;
    let listeners = listeners().await;
    let (_, tls_port) = ports(&listeners);
    // pebble checks HTTP-01 on a port where nothing listens: only the router's TLS
    // listener (TLS-ALPN-01) can prove the name.
    let dead = free_port();
    let pebble = Pebble::start(dead, tls_port, Some(90 * 24 * 3600)).await;
    let mut s = setup(
        store.clone(),
        listeners,
        &[("alpn-example.com", "alpn", alpn)],
        &pebble,
        |a| a.backoff_base = Duration::ZERO,
    )
    .await;
    assert!(
        !alpn_probe(s.tls, "alpn-example.com").await,
        "no challenge pending: an acme-tls/1 handshake gets no certificate at all"
    );

    s.manager.pass().await.unwrap();
    let failed = store.app_domain_certs(app_id).await.unwrap().remove(0);
    assert_eq!(
        failed.status, "failing",
        "HTTP-01 first, and it cannot pass"
    );
    assert!(
        failed
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains(&dead.to_string()),
        "{:?}",
        failed.reason
    );
    s.manager.pass().await.unwrap();
    let issued = store.app_domain_certs(app_id).await.unwrap().remove(0);
    assert_eq!(
        issued.status, "issued",
        "TLS-ALPN-01 after the failure: {:?}",
        issued.reason
    );
    let page = s
        .client(&pebble.issuing_root().await)
        .get(s.url("alpn-example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.text().await.unwrap(), "hello from alpn");
    assert!(
        !alpn_probe(s.tls, "alpn-example.com").await,
        "the challenge certificate is withdrawn once validated"
    );
    let events = s.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Certificate for alpn-example.com failing: "))
            && events
                .iter()
                .any(|e| e.starts_with("Issued certificate for alpn-example.com")),
        "{events:?}"
    );
}
