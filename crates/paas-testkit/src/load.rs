//! Steady HTTP load through the router, counting every failed request.

use std::time::Duration;

/// A separate client putting a steady load on an app through the router: four workers,
/// each sending GET / after the other, until [`SteadyLoad::finish`].
pub struct SteadyLoad {
    stop: tokio_util::sync::CancellationToken,
    workers: Vec<tokio::task::JoinHandle<(u32, Vec<String>)>>,
}

impl SteadyLoad {
    pub fn start(router_port: u16, app: &str) -> Self {
        let stop = tokio_util::sync::CancellationToken::new();
        let url = format!("http://127.0.0.1:{router_port}/");
        let host = format!("{app}.localhost");
        let workers = (0..4)
            .map(|_| {
                let (stop, url, host) = (stop.clone(), url.clone(), host.clone());
                tokio::spawn(async move {
                    let client = reqwest::Client::builder()
                        .timeout(Duration::from_secs(30))
                        .build()
                        .expect("client");
                    let (mut ok, mut failed) = (0u32, Vec::new());
                    while !stop.is_cancelled() {
                        match client.get(&url).header("host", &host).send().await {
                            Ok(r) if r.status() == 200 => ok += 1,
                            Ok(r) => failed.push(r.status().to_string()),
                            Err(e) => failed.push(e.to_string()),
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        Self { stop, workers }
    }

    /// Stops the load and checks that it ran (`min_ok` answers) and nothing failed.
    pub async fn finish(self, what: &str, min_ok: u32) {
        self.stop.cancel();
        let (mut ok, mut failed) = (0, Vec::new());
        for worker in self.workers {
            let (o, f) = worker.await.expect("load worker");
            ok += o;
            failed.extend(f);
        }
        assert!(ok >= min_ok, "{what}: the load ran only {ok} requests");
        assert!(
            failed.is_empty(),
            "{what}: {} of {} requests failed: {:?}",
            failed.len(),
            ok as usize + failed.len(),
            &failed[..failed.len().min(5)]
        );
    }
}
