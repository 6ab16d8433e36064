//! Issuance: a custom domain's certificate from the CA, served by SNI and reused after a
//! restart, and the default hosts of a public `PAAS_DOMAIN`, one certificate per host.

use super::*;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_custom_domain_gets_an_acme_certificate_served_by_sni_and_a_restart_reuses_it(
    pool: PgPool,
) {
    let store = Store::from_pool(pool);
    let app_id = app_with_domain(&store, "shop", "www.shop-example.com").await;
    let (shop, other) = (dyno("shop").await, dyno("other").await);
    let plain = listeners().await;
    let (http_port, tls_port) = ports(&plain);
    let pebble = Pebble::start(http_port, tls_port, Some(90 * 24 * 3600)).await;
    let hosts = [
        ("shop.localhost", "shop", shop),
        ("www.shop-example.com", "shop", shop),
        ("other.localhost", "other", other),
    ];
    let mut s = setup(store.clone(), plain, &hosts, &pebble, |_| {}).await;
    let before = store.app_domain_certs(app_id).await.unwrap();
    assert_eq!(before[0].status, "pending");

    s.manager.pass().await.unwrap();
    let after = store.app_domain_certs(app_id).await.unwrap();
    assert_eq!(after[0].status, "issued", "{:?}", after[0].reason);
    let sealed = after[0].key_sealed.clone().unwrap();
    assert!(
        !String::from_utf8_lossy(&sealed).contains("PRIVATE KEY"),
        "sealed at rest"
    );
    let events = s.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Issued certificate for www.shop-example.com")),
        "{events:?}"
    );

    // Served by SNI with the CA's chain, beside the local CA's names.
    let acme_root = pebble.issuing_root().await;
    let client = s.client(&acme_root);
    let page = client
        .get(s.url("www.shop-example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.text().await.unwrap(), "hello from shop");
    let local_root = std::fs::read_to_string(s._keep.1.path().join("ca/root.pem")).unwrap();
    let local = s.client(&local_root);
    for (host, body) in [
        ("shop.localhost", "hello from shop"),
        ("other.localhost", "hello from other"),
    ] {
        let page = local.get(s.url(host)).send().await.unwrap();
        assert_eq!(page.text().await.unwrap(), body);
    }
    assert!(
        client.get(s.url("other.localhost")).send().await.is_err(),
        "not the ACME CA's"
    );

    // A restart: a new manager and table on the same database serve the stored
    // certificate and order nothing.
    let served = s.served("www.shop-example.com").await;
    let certs = Arc::new(CertTable::new());
    let restarted = CertManager::new(
        store.clone(),
        certs.clone(),
        s.sealer.clone(),
        s.settings.clone(),
        |_: &str, _| {},
    );
    restarted.pass().await.unwrap();
    assert_eq!(
        restarted.orders(),
        0,
        "a valid stored certificate is not ordered again"
    );
    let key = certs
        .get("www.shop-example.com")
        .expect("loaded from the store");
    assert_eq!(key.cert[0].to_vec(), served);
    let again = store.app_domain_certs(app_id).await.unwrap();
    assert_eq!(again[0].issued_at, after[0].issued_at);

    // An uploaded certificate wins over the ACME one for the names it covers; one
    // uploaded by another app for this app's hostname is not served.
    let other_app = store
        .create_app(&AppName::parse("intruder").unwrap())
        .await
        .unwrap()
        .app_id;
    let intruder = LocalCa::load_or_create(&s._keep.1.path().join("intruder-ca")).unwrap();
    let (chain, key) = intruder
        .issue_pem(&["www.shop-example.com".into()])
        .unwrap();
    let sealed = s
        .sealer
        .seal(paas_tls::acme::KEY_PURPOSE, key.as_bytes())
        .unwrap();
    store
        .add_sni_endpoint(other_app, "intruder-1", &chain, &sealed)
        .await
        .unwrap();
    s.manager.pass().await.unwrap();
    assert_eq!(
        s.served("www.shop-example.com").await,
        served,
        "not another app's upload"
    );
    let owner = LocalCa::load_or_create(&s._keep.1.path().join("owner-ca")).unwrap();
    let (chain, key) = owner.issue_pem(&["*.shop-example.com".into()]).unwrap();
    let sealed = s
        .sealer
        .seal(paas_tls::acme::KEY_PURPOSE, key.as_bytes())
        .unwrap();
    store
        .add_sni_endpoint(app_id, "shop-1", &chain, &sealed)
        .await
        .unwrap();
    let orders = s.manager.orders();
    s.manager.pass().await.unwrap();
    let uploaded = s.client(owner.root_pem());
    let page = uploaded
        .get(s.url("www.shop-example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.text().await.unwrap(),
        "hello from shop",
        "the upload wins"
    );
    assert_eq!(s.manager.orders(), orders);
    let _ = s.certs.clone();
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn default_hosts_of_a_public_paas_domain_get_acme_certificates_per_host(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app_id = store
        .create_app(&AppName::parse("shop").unwrap())
        .await
        .unwrap()
        .app_id;
    let shop = dyno("shop").await;
    let listeners = listeners().await;
    let (http_port, tls_port) = ports(&listeners);
    let pebble = Pebble::start(http_port, tls_port, Some(90 * 24 * 3600)).await;
    let hosts = [
        ("shop.apps-example.com", "shop", shop),
        ("shop.paas-example.net", "shop", shop),
    ];
    let mut s = setup(store.clone(), listeners, &hosts, &pebble, |a| {
        a.default_domain = Some("apps-example.com".into());
    })
    .await;
    s.manager.pass().await.unwrap();
    let hosts_now = store.default_host_certs("apps-example.com").await.unwrap();
    assert_eq!(hosts_now.len(), 1);
    assert_eq!(hosts_now[0].hostname, "shop.apps-example.com");
    assert_eq!(hosts_now[0].status, "issued", "{:?}", hosts_now[0].reason);
    let client = s.client(&pebble.issuing_root().await);
    let page = client
        .get(s.url("shop.apps-example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.text().await.unwrap(), "hello from shop");
    assert!(
        s.events()
            .await
            .iter()
            .any(|e| e.starts_with("Issued certificate for shop.apps-example.com")),
        "a platform event in the app's log"
    );

    // ACM off: the default host is `disabled` too, and its certificate is not served.
    store.set_acm(app_id, false).await.unwrap();
    s.manager.pass().await.unwrap();
    let off = store.default_host_certs("apps-example.com").await.unwrap();
    assert_eq!(off[0].status, "disabled");
    assert!(s.certs.get("shop.apps-example.com").is_none());
    store.set_acm(app_id, true).await.unwrap();

    // PAAS_DOMAIN changes: a restarted paasd (a new manager on the router's table,
    // answering TLS-ALPN-01 there) orders the new host and drops the old one (neither
    // served nor renewed).
    let certs = s.certs.clone();
    let mut settings = s.settings.clone();
    settings.default_domain = Some("paas-example.net".into());
    settings.challenges = vec![paas_tls::acme::Challenge::TlsAlpn01];
    let moved = CertManager::new(
        store.clone(),
        certs.clone(),
        s.sealer.clone(),
        settings,
        |_: &str, _| {},
    );
    moved.pass().await.unwrap();
    assert_eq!(moved.orders(), 1);
    let new_hosts = store.default_host_certs("paas-example.net").await.unwrap();
    assert_eq!(new_hosts[0].status, "issued", "{:?}", new_hosts[0].reason);
    assert!(certs.get("shop.paas-example.net").is_some());
    assert!(certs.get("shop.apps-example.com").is_none());
    assert_eq!(
        store.default_host_certs("apps-example.com").await.unwrap()[0].status,
        "pending",
        "the old host's certificate row is gone"
    );
    moved.pass().await.unwrap();
    assert_eq!(
        moved.orders(),
        1,
        "a valid certificate is not ordered again"
    );
}
