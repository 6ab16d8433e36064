//! Renewal: a short-lived certificate swapped for a new one with no failed request.

use super::*;

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_short_lived_certificate_is_renewed_with_no_failed_request_during_the_swap(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app_id = app_with_domain(&store, "api", "api-example.com").await;
    let api = dyno("api").await;
    let plain = listeners().await;
    let (http_port, tls_port) = ports(&plain);
    // Certificates live 40 s; renewal starts 35 s before expiry, so 5 s after issue.
    let pebble = Pebble::start(http_port, tls_port, Some(40)).await;
    let mut s = setup(
        store.clone(),
        plain,
        &[("api-example.com", "api", api)],
        &pebble,
        |a| {
            a.renew_before = chrono::Duration::seconds(35);
        },
    )
    .await;
    s.manager.pass().await.unwrap();
    let first = store.app_domain_certs(app_id).await.unwrap().remove(0);
    assert_eq!(first.status, "issued");
    let first_served = s.served("api-example.com").await;

    let client = s.client(&pebble.issuing_root().await);
    let stop = CancellationToken::new();
    let load = {
        let (client, url, stop) = (client.clone(), s.url("api-example.com"), stop.clone());
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0, Vec::new());
            while !stop.is_cancelled() {
                match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => ok += 1,
                    Ok(r) => failed.push(r.status().to_string()),
                    Err(e) => failed.push(format!("{e:?}")),
                }
            }
            (ok, failed)
        })
    };
    let mut renewed = None;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        s.manager.pass().await.unwrap();
        let now = store.app_domain_certs(app_id).await.unwrap().remove(0);
        if now.issued_at != first.issued_at {
            renewed = Some(now);
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    let (ok, failed) = load.await.unwrap();
    let renewed = renewed.expect("renewed within 30 s");
    assert_eq!(renewed.status, "issued");
    assert!(renewed.not_after > first.not_after);
    assert_ne!(
        s.served("api-example.com").await,
        first_served,
        "the new one is served"
    );
    assert!(failed.is_empty(), "{failed:?}");
    assert!(ok > 10, "{ok} requests");
    let events = s.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Renewed certificate for api-example.com")),
        "{events:?}"
    );
}
