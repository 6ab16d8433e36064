//! Certificates through the API: uploads (`/apps/{app}/sni-endpoints`) are checked
//! before anything is stored, ACM switches (`/apps/{app}/acm`), and the certificate
//! state on domains (`acm_status`, `acm_status_reason`, `sni_endpoint`).

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::TestApi;

/// A self-signed pair for `names`, valid `(from, to)` days from now.
fn pair(names: &[&str], days: (i64, i64)) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap();
    let now = std::time::SystemTime::now();
    let day = std::time::Duration::from_secs(86400);
    let at = |d: i64| {
        if d >= 0 {
            now + day * u32::try_from(d).unwrap()
        } else {
            now - day * u32::try_from(-d).unwrap()
        }
    };
    params.not_before = at(days.0).into();
    params.not_after = at(days.1).into();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn uploads_are_checked_and_cover_the_domains_they_name(pool: PgPool) {
    let api = TestApi::new(pool).await;
    assert_eq!(
        api.call(Method::POST, "/apps", Some(json!({"name": "shop"})))
            .await
            .status,
        StatusCode::CREATED
    );
    let add = api
        .call(
            Method::POST,
            "/apps/shop/domains",
            Some(json!({"hostname": "www.shop.example"})),
        )
        .await;
    assert_eq!(add.status, StatusCode::CREATED);
    assert_eq!(add.json["acm_status"], serde_json::Value::Null);

    let (cert, key) = pair(&["www.shop.example"], (-1, 90));
    let (_, other_key) = pair(&["x.example"], (-1, 90));
    let (expired, expired_key) = pair(&["www.shop.example"], (-30, -1));
    for (chain, private_key, why) in [
        ("garbage".to_owned(), key.clone(), "No certificate"),
        (cert.clone(), "garbage".to_owned(), "private key"),
        (cert.clone(), other_key, "does not match"),
        (expired, expired_key, "expired"),
    ] {
        let reply = api
            .call(
                Method::POST,
                "/apps/shop/sni-endpoints",
                Some(json!({"certificate_chain": chain, "private_key": private_key})),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {:?}",
            reply.json
        );
        assert!(
            reply.json["message"].as_str().unwrap().contains(why),
            "{:?}",
            reply.json
        );
    }
    let none = api
        .call(Method::GET, "/apps/shop/sni-endpoints", None)
        .await;
    assert_eq!(none.json, json!([]), "nothing stored");

    let made = api
        .call(
            Method::POST,
            "/apps/shop/sni-endpoints",
            Some(json!({"certificate_chain": cert, "private_key": key})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.json);
    let name = made.json["name"].as_str().unwrap().to_owned();
    assert_eq!(
        made.json["ssl_cert"]["cert_domains"],
        json!(["www.shop.example"])
    );
    assert_eq!(made.json["ssl_cert"]["self_signed?"], true);
    assert_eq!(made.json["ssl_cert"]["acm"], false);
    assert_eq!(made.json["domains"].as_array().unwrap().len(), 1);
    let domains = api.call(Method::GET, "/apps/shop/domains", None).await;
    let custom = &domains.json[1];
    assert_eq!(custom["hostname"], "www.shop.example");
    assert_eq!(custom["sni_endpoint"]["name"], name.as_str());
    assert_eq!(custom["acm_status"], "pending");
    let stored = api
        .store
        .sni_endpoints(api.store.app("shop").await.unwrap().app_id)
        .await
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&stored[0].key_sealed).contains("PRIVATE KEY"),
        "sealed"
    );

    let info = api
        .call(
            Method::GET,
            &format!("/apps/shop/sni-endpoints/{name}"),
            None,
        )
        .await;
    assert_eq!(info.json["id"], made.json["id"]);
    let gone = api
        .call(
            Method::DELETE,
            &format!("/apps/shop/sni-endpoints/{name}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK);
    let missing = api
        .call(
            Method::GET,
            &format!("/apps/shop/sni-endpoints/{name}"),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn acm_is_on_by_default_and_switches_per_app(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "blog"})))
        .await;
    api.call(
        Method::POST,
        "/apps/blog/domains",
        Some(json!({"hostname": "blog.example"})),
    )
    .await;
    assert_eq!(
        api.call(Method::GET, "/apps/blog", None).await.json["acm"],
        true
    );
    let off = api.call(Method::DELETE, "/apps/blog/acm", None).await;
    assert_eq!(off.status, StatusCode::OK);
    assert_eq!(off.json["acm"], false);
    let refused = api
        .call(
            Method::PATCH,
            "/apps/blog/acm",
            Some(json!({"acm_refresh": true})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let on = api
        .call(Method::POST, "/apps/blog/acm", Some(json!({})))
        .await;
    assert_eq!(on.json["acm"], true);
    let refreshed = api
        .call(
            Method::PATCH,
            "/apps/blog/acm",
            Some(json!({"acm_refresh": true})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    assert_eq!(
        api.call(Method::GET, "/apps/blog", None).await.json["acm"],
        true
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn the_default_host_shows_its_acme_state_once_the_manager_recorded_one(pool: PgPool) {
    let api = TestApi::new(pool).await;
    api.call(Method::POST, "/apps", Some(json!({"name": "shop"})))
        .await;
    let heroku = |reply: &crate::Reply| {
        reply
            .json
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "heroku")
            .cloned()
            .unwrap()
    };
    let before = heroku(&api.call(Method::GET, "/apps/shop/domains", None).await);
    assert_eq!(before["hostname"], "shop.localhost");
    assert!(before["acm_status"].is_null(), "{before}");
    // What the ACME manager records for a default host under a public PAAS_DOMAIN (here
    // the test API's domain).
    let host = api
        .store
        .default_host_certs("localhost")
        .await
        .unwrap()
        .remove(0);
    api.store
        .record_failure(
            &host,
            "DNS problem: NXDOMAIN looking up A for shop.localhost",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let after = heroku(&api.call(Method::GET, "/apps/shop/domains", None).await);
    assert_eq!(after["acm_status"], "failing", "{after}");
    assert_eq!(
        after["acm_status_reason"],
        "DNS problem: NXDOMAIN looking up A for shop.localhost"
    );
}
