//! Failures: refused connections retried, a dyno killed mid-load, table swaps under
//! load, and a dyno that answers too late (H12).

use super::*;

#[tokio::test]
async fn refused_connections_are_retried_on_another_dyno_even_with_a_body() {
    let alive = dyno("alive").await;
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap() // dropped: connections to it are refused
    };
    let mut h = router(
        table(&[(
            "flaky.localhost",
            "flaky",
            &[("web.1", dead), ("web.2", alive.addr)],
        )]),
        RouterSettings::default(),
    )
    .await;
    for i in 0..40 {
        let response = if i % 2 == 0 {
            h.get("flaky.localhost", "/").await
        } else {
            // Nothing of a body is read before the connection exists: safe to resend.
            h.client
                .post(h.url("/echo"))
                .header("host", "flaky.localhost")
                .body("payload")
                .send()
                .await
                .unwrap()
        };
        assert_eq!(response.status(), 200, "request {i}");
        let body = response.text().await.unwrap();
        assert!(body.contains("alive") || body == "payload", "{body}");
    }
    let lines = h.lines().await;
    assert_eq!(lines.len(), 40);
    assert!(
        lines
            .iter()
            .all(|l| l.line.contains("dyno=web.2") && l.status == 200),
        "{lines:?}"
    );
    // With every dyno refusing, the client gets a 503 naming the refusal.
    h.publish(table(&[("flaky.localhost", "flaky", &[("web.1", dead)])]))
        .await;
    let response = h.get("flaky.localhost", "/").await;
    assert_eq!(response.status(), 503);
    let lines = h.lines().await;
    assert!(
        lines[0]
            .line
            .starts_with("at=error code=H21 desc=\"Backend connection refused\""),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_dyno_killed_mid_load_fails_no_idempotent_request() {
    let dynos = [dyno("k1").await, dyno("k2").await, dyno("k3").await];
    let h = router(
        table(&[(
            "kill.localhost",
            "kill",
            &[
                ("web.1", dynos[0].addr),
                ("web.2", dynos[1].addr),
                ("web.3", dynos[2].addr),
            ],
        )]),
        RouterSettings::default(),
    )
    .await;
    let stop = CancellationToken::new();
    let load = steady_load(&h, "kill.localhost", "/slow?ms=5", 8, stop.clone());
    let killer = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        dynos[0].kill.cancel(); // in-flight requests on it are cut, its port refuses
        // (Requests that reached it just as it died may still be counted.)
        tokio::time::sleep(Duration::from_millis(50)).await;
        let served_at_kill = dynos[0].served.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        stop.cancel();
        served_at_kill
    };
    let ((ok, failed), served_at_kill) = tokio::join!(load, killer);
    assert!(
        failed.is_empty(),
        "{} failed of {}: {failed:?}",
        failed.len(),
        ok + failed.len()
    );
    assert!(ok > 100, "{ok}");
    assert!(
        served_at_kill > 10,
        "the killed dyno served before: {served_at_kill}"
    );
    assert_eq!(
        dynos[0].served.load(Ordering::Relaxed),
        served_at_kill,
        "and nothing after"
    );
}

#[tokio::test]
async fn table_swaps_under_steady_load_fail_no_request() {
    let dynos = [dyno("s1").await, dyno("s2").await, dyno("s3").await];
    let addr = |i: usize| dynos[i].addr;
    let sets: [Vec<(&str, SocketAddr)>; 4] = [
        vec![("web.1", addr(0)), ("web.2", addr(1))],
        vec![("web.2", addr(1))],
        vec![("web.2", addr(1)), ("web.3", addr(2))],
        vec![("web.3", addr(2)), ("web.1", addr(0))],
    ];
    let h = router(
        table(&[("swap.localhost", "swap", &sets[0])]),
        RouterSettings::default(),
    )
    .await;
    let stop = CancellationToken::new();
    // Requests last 20 ms, so swaps regularly retire a dyno with requests in flight: the
    // dyno stays up (as the supervisor drains it) and those requests finish there.
    let load = steady_load(&h, "swap.localhost", "/slow?ms=20", 8, stop.clone());
    let swapper = async {
        for i in 1..=30 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            h.table
                .send_replace(Arc::new(table(&[("swap.localhost", "swap", &sets[i % 4])])));
        }
        stop.cancel();
    };
    let ((ok, failed), ()) = tokio::join!(load, swapper);
    assert!(failed.is_empty(), "{failed:?}");
    assert!(ok > 100, "{ok}");
    let served: Vec<usize> = dynos
        .iter()
        .map(|d| d.served.load(Ordering::Relaxed))
        .collect();
    assert!(
        served.iter().all(|n| *n > 0),
        "every set was used: {served:?}"
    );
}

#[tokio::test]
async fn a_dyno_that_answers_too_late_gets_a_503_and_an_h12_line() {
    let a = dyno("slow").await;
    let mut h = router(
        table(&[("slow.localhost", "slow", &[("web.1", a.addr)])]),
        RouterSettings {
            first_byte_timeout: Duration::from_millis(300),
            ..RouterSettings::default()
        },
    )
    .await;
    let started = Instant::now();
    let response = h.get("slow.localhost", "/slow?ms=5000").await;
    assert_eq!(response.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(response.text().await.unwrap().contains("H12"));
    assert_eq!(h.get("slow.localhost", "/slow?ms=10").await.status(), 200);
    let lines = h.lines().await;
    assert!(
        lines[0].line.starts_with(
            "at=error code=H12 desc=\"Request timeout\" method=GET path=\"/slow?ms=5000\""
        ),
        "{lines:?}"
    );
    assert!(lines[0].line.contains("dyno=web.1") && lines[0].line.contains("status=503"));
}
