//! Bodies streamed both ways without being buffered whole, and WebSockets.

use super::*;

#[tokio::test]
async fn bodies_stream_both_ways_without_being_buffered_whole() {
    let a = dyno("a").await;
    let mut h = router(
        table(&[("big.localhost", "big", &[("web.1", a.addr)])]),
        RouterSettings::default(),
    )
    .await;
    // Ping-pong: each chunk is sent only after the previous one came back through the
    // router, which can only work if neither direction waits for the whole body.
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    let mut response = h
        .client
        .post(h.url("/echo"))
        .header("host", "big.localhost")
        .body(reqwest::Body::wrap_stream(body))
        .send();
    tx.send(Bytes::from(vec![0u8; 1000])).await.unwrap();
    let mut response = tokio::time::timeout(Duration::from_secs(5), &mut response)
        .await
        .expect("response head before the request body ended")
        .unwrap();
    for round in 0u8..20 {
        let mut got = 0;
        while got < 1000 {
            let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
                .await
                .expect("the echo of a chunk, before the next is sent")
                .unwrap()
                .unwrap();
            assert!(chunk.iter().all(|b| *b == round));
            got += chunk.len();
        }
        if round < 19 {
            tx.send(Bytes::from(vec![round + 1; 1000])).await.unwrap();
        }
    }
    drop(tx);
    assert!(response.chunk().await.unwrap().is_none());

    // 50 MB up and back again, checked as it streams.
    let size: usize = 50 << 20;
    let chunks = futures::stream::iter(
        (0..size / 65536)
            .map(|i| Ok::<_, std::io::Error>(Bytes::from(vec![(i % 251) as u8; 65536]))),
    );
    let response = h
        .client
        .post(h.url("/echo"))
        .header("host", "big.localhost")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut at = 0usize;
    while let Some(chunk) = stream.next().await {
        for byte in chunk.unwrap() {
            assert_eq!(byte, ((at / 65536) % 251) as u8, "byte {at}");
            at += 1;
        }
    }
    assert_eq!(at, size);
    // And 50 MB down.
    let response = h.get("big.localhost", &format!("/big?bytes={size}")).await;
    let mut stream = response.bytes_stream();
    let mut at = 0usize;
    while let Some(chunk) = stream.next().await {
        at += chunk.unwrap().len();
    }
    assert_eq!(at, size);
    let lines = h.lines().await;
    assert!(
        lines.iter().any(|l| l.line.starts_with("at=info ")
            && l.line.contains("path=\"/big?bytes=52428800\"")
            && l.line
                .ends_with(&format!("status=200 bytes={size} protocol=http"))),
        "bytes counts what was streamed: {lines:?}"
    );
}

#[tokio::test]
async fn websockets_echo_through_the_router() {
    let ws = websocket_dyno().await;
    let h = router(
        table(&[("ws.localhost", "ws", &[("web.1", ws)])]),
        RouterSettings::default(),
    )
    .await;
    let stream = TcpStream::connect(h.addr).await.unwrap();
    ws_echoes(stream, "ws://ws.localhost/chat", 10, "through the router").await;

    // A raw upgrade too (not WebSocket): the router splices whatever protocol follows.
    let a = dyno("raw").await;
    h.publish(table(&[("raw.localhost", "raw", &[("web.1", a.addr)])]))
        .await;
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    stream
        .write_all(b"GET /socket HTTP/1.1\r\nHost: raw.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"ping through the router").await.unwrap();
    let mut echoed = vec![0u8; 23];
    stream.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"ping through the router");
}
