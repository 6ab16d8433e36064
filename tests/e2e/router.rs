//! The router in front of real dynos of a pushed app (`tests/fixtures/apps/router-probe`,
//! a Python stdlib server): spread over three dynos, the headers the app sees, a 50 MB
//! streamed body both ways, a WebSocket echo, a dyno killed mid-load and scaling under
//! load with no failed request.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use crate::support::{self, Paasd, SteadyLoad, fixture_repo};

fn web_up(dynos: &[Value]) -> usize {
    dynos
        .iter()
        .filter(|d| d["type"] == "web" && d["state"] == "up")
        .count()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn scale(paasd: &Paasd, n: u32) {
    paasd
        .api(
            Method::PATCH,
            "/apps/probe/formation/web",
            Some(json!({"quantity": n})),
        )
        .await;
}

#[tokio::test]
async fn the_router_balances_forwards_streams_and_survives_kills_and_scaling_of_real_dynos() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("probe").await;
    let repo = fixture_repo("router-probe");
    let out = paasd.push(repo.path(), "probe", "main");
    assert!(out.status.success(), "{}", support::stderr(&out));
    scale(&paasd, 3).await;
    paasd.wait_dynos("probe", 90, |d| web_up(d) == 3).await;
    let base = format!("http://127.0.0.1:{}", paasd.router_port);

    // Spread: 300 requests over three dynos.
    let client = client();
    let mut per_dyno: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..300 {
        let seen: Value = client
            .get(format!("{base}/"))
            .header("host", "probe.localhost")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        *per_dyno
            .entry(seen["dyno"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_dyno.len(), 3, "{per_dyno:?}");
    assert!(
        per_dyno.values().all(|n| (60..=140).contains(n)),
        "uneven: {per_dyno:?}"
    );

    // What the app sees.
    let seen: Value = client
        .get(format!("{base}/?q=1"))
        .header("host", format!("probe.localhost:{}", paasd.router_port))
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-request-id", "my-request-id-0123456789")
        .header("connection", "keep-alive, x-secret-hop")
        .header("x-secret-hop", "must not pass")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let headers = &seen["headers"];
    assert_eq!(
        headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1",
        "{headers}"
    );
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-port"], paasd.router_port.to_string());
    assert_eq!(headers["x-request-id"], "my-request-id-0123456789");
    assert!(
        headers["via"].as_str().unwrap().contains("paas"),
        "{headers}"
    );
    assert!(
        headers.get("x-secret-hop").is_none(),
        "hop-by-hop header leaked: {headers}"
    );
    let generated: Value = client
        .get(format!("{base}/"))
        .header("host", "probe.localhost")
        .header("x-request-id", "bad id with spaces and more than twenty")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = generated["headers"]["x-request-id"].as_str().unwrap();
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "a new id replaces an insane one: {id}"
    );

    // 50 MB down and up, streamed.
    const BIG: usize = 50 << 20;
    let mut response = client
        .get(format!("{base}/bytes?n={BIG}"))
        .header("host", "probe.localhost")
        .send()
        .await
        .unwrap();
    let mut received = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        received += chunk.len();
    }
    assert_eq!(received, BIG);
    let echoed = client
        .post(format!("{base}/echo"))
        .header("host", "probe.localhost")
        .body(vec![b'y'; BIG])
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(echoed.len(), BIG);

    // A WebSocket echo, through the router to the dyno and back.
    let mut ws = tokio::net::TcpStream::connect(("127.0.0.1", paasd.router_port))
        .await
        .unwrap();
    ws.write_all(
        b"GET /ws HTTP/1.1\r\nHost: probe.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut ws = tokio::io::BufReader::new(ws);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        ws.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    for message in ["hello", "through the router"] {
        // A masked text frame, as a client must send.
        let mask = [1u8, 2, 3, 4];
        let mut frame = vec![0x81, 0x80 | message.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(message.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        ws.get_mut().write_all(&frame).await.unwrap();
        let mut reply = [0u8; 2];
        ws.read_exact(&mut reply).await.unwrap();
        assert_eq!(reply[0], 0x81);
        let mut text = vec![0; usize::from(reply[1])];
        ws.read_exact(&mut text).await.unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), message);
    }

    // A dyno killed mid-load: the others take its requests.
    let load = SteadyLoad::start(paasd.router_port, "probe");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let victim = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label=paas.instance={}", paasd.instance),
            "--filter",
            "label=paas.app_name=probe",
            "--filter",
            "label=paas.index=2",
        ])
        .output()
        .unwrap();
    let victim = String::from_utf8_lossy(&victim.stdout).trim().to_owned();
    assert!(!victim.is_empty());
    assert!(
        Command::new("docker")
            .args(["kill", &victim])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.finish("a dyno killed mid-load", 50).await;
    paasd.wait_dynos("probe", 90, |d| web_up(d) == 3).await;

    // Scaling down and up under load.
    let load = SteadyLoad::start(paasd.router_port, "probe");
    scale(&paasd, 1).await;
    paasd
        .wait_dynos("probe", 90, |d| web_up(d) == 1 && d.len() == 1)
        .await;
    scale(&paasd, 3).await;
    paasd.wait_dynos("probe", 90, |d| web_up(d) == 3).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    load.finish("scaling 3 → 1 → 3", 50).await;

    // No web dyno up: 503 and Heroku's H14 in the app's log stream.
    scale(&paasd, 0).await;
    paasd.wait_dynos("probe", 90, |d| d.is_empty()).await;
    let response = client
        .get(format!("{base}/"))
        .header("host", "probe.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("No web processes running")
    );
    let logs = support::ok(paasd.paas(
        repo.path(),
        &["logs", "-a", "probe", "-d", "router", "-n", "1"],
    ));
    assert!(
        logs.contains("at=error code=H14 desc=\"No web processes running\""),
        "{logs}"
    );
}
