//! Heroku's rendezvous protocol, which `heroku run` speaks to an attached one-off dyno.
//!
//! `POST /apps/{app}/dynos` with `attach: true` answers an `attach_url` of the form
//! `rendezvous://<host>:<tls port>/<secret>`. The heroku CLI opens a TLS connection to
//! that host and port (verifying the certificate: it must trust paasd's, e.g. through
//! `NODE_EXTRA_CA_CERTS`), writes `<secret>\r\n`, discards the first chunk it receives
//! (we send `rendezvous\r\n`) and prints everything after it until the connection
//! closes. The exit status is not part of the protocol: `heroku run -x` appends an
//! `echo` of `$?` with a marker to the command and reads it from the output.
//!
//! Secrets are single-use and kept in memory only: a paasd restart forgets them, and the
//! supervisor removes one-offs whose follower never came.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
};

use futures::StreamExt;

use crate::AppState;

/// How long an `attach_url` stays valid after the dyno was created.
const SECRET_TTL: Duration = Duration::from_secs(300);

/// The longest first line a client may send (the secret plus `\r\n`).
const MAX_LINE: u64 = 256;

#[derive(Debug)]
struct Pending {
    app: String,
    dyno: String,
    created: Instant,
}

/// Secrets of attached one-off dynos nobody has connected to yet.
#[derive(Debug, Clone, Default)]
pub struct RendezvousTable {
    pending: Arc<Mutex<HashMap<String, Pending>>>,
}

impl RendezvousTable {
    /// A new single-use secret for one-off dyno `dyno` of `app`.
    pub(crate) fn register(&self, app: &str, dyno: &str) -> String {
        let secret = hex::encode(rand::rng().random::<[u8; 24]>());
        let mut pending = self.pending.lock().expect("rendezvous table poisoned");
        pending.retain(|_, p| p.created.elapsed() < SECRET_TTL);
        pending.insert(
            secret.clone(),
            Pending {
                app: app.to_owned(),
                dyno: dyno.to_owned(),
                created: Instant::now(),
            },
        );
        secret
    }

    /// The app and dyno a secret was issued for; the secret is used up.
    fn claim(&self, secret: &str) -> Option<(String, String)> {
        let mut pending = self.pending.lock().expect("rendezvous table poisoned");
        pending
            .remove(secret)
            .filter(|p| p.created.elapsed() < SECRET_TTL)
            .map(|p| (p.app, p.dyno))
    }
}

/// Serves one rendezvous connection whose first line has not been read yet: attaches to
/// the dyno, which starts it, and joins the client to it (see [`pump`]) until it exits.
pub(crate) async fn serve<S>(state: AppState, mut stream: S)
where
    S: AsyncBufRead + AsyncRead + AsyncWrite + Unpin,
{
    let mut line = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        (&mut stream).take(MAX_LINE).read_line(&mut line),
    )
    .await;
    if !matches!(read, Ok(Ok(n)) if n > 0) {
        return;
    }
    let Some((app, dyno)) = state.rendezvous.claim(line.trim()) else {
        tracing::info!("rendezvous with an unknown or expired secret");
        let _ = stream.shutdown().await;
        return;
    };
    let Ok(dyno) = paas_core::DynoName::parse(&dyno) else {
        let _ = stream.shutdown().await;
        return;
    };
    let docker = state.docker.clone();
    let id = match docker
        .find_one_off(&state.settings.instance, &app, &dyno)
        .await
    {
        Ok(Some(id)) => id,
        Ok(None) => {
            tracing::info!(app = %app, dyno = %dyno, "rendezvous for a one-off that is gone");
            let _ = stream.shutdown().await;
            return;
        }
        Err(e) => {
            tracing::warn!(app = %app, dyno = %dyno, error = %e, "rendezvous: Docker unavailable");
            let _ = stream.shutdown().await;
            return;
        }
    };
    tracing::info!(app = %app, dyno = %dyno, "rendezvous attached");
    // The CLI drops the first chunk it reads: it must be this line alone.
    if stream.write_all(b"rendezvous\r\n").await.is_err() || stream.flush().await.is_err() {
        return;
    }
    let attached = match docker.attach_one_off(&id).await {
        Ok(attached) => attached,
        Err(e) => {
            tracing::warn!(app = %app, dyno = %dyno, error = %e, "rendezvous: attaching failed");
            let _ = stream.shutdown().await;
            return;
        }
    };
    let client_gone = pump(stream, attached).await;
    if client_gone {
        // As on Heroku, a one-off whose client went away is stopped.
        tracing::info!(app = %app, dyno = %dyno, "rendezvous client gone: stopping the one-off");
        if let Err(e) = docker.remove_container_now(&id).await {
            tracing::warn!(app = %app, dyno = %dyno, error = %e, "stopping a one-off failed");
        }
        return;
    }
    match docker.wait_and_remove(&id).await {
        Ok(code) => tracing::info!(app = %app, dyno = %dyno, code, "one-off dyno exited"),
        Err(e) => {
            tracing::warn!(app = %app, dyno = %dyno, error = %e, "waiting for a one-off failed")
        }
    }
}

/// Copies the client's bytes to the dyno's stdin and the dyno's output to the client,
/// byte for byte (prompts have no newline), until the output ends; then closes the
/// connection. Returns whether the client went away first: the heroku CLI never
/// half-closes (at the end of its input it sends ^D), so the end of what it sends means
/// it is gone, as does a failed write to it. Both directions at once, so a dyno that is
/// not reading its input never stops its output, nor the other way round.
async fn pump<S>(stream: S, attached: paas_docker::AttachedOneOff) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let paas_docker::AttachedOneOff {
        mut output,
        mut input,
    } = attached;
    let (mut from_client, mut to_client) = tokio::io::split(stream);
    let client_gone = async {
        let mut buf = vec![0u8; 8192];
        let mut stdin_open = true;
        loop {
            match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                // A dyno that closed its stdin: what the client still sends is dropped.
                Ok(n) if stdin_open => {
                    stdin_open =
                        input.write_all(&buf[..n]).await.is_ok() && input.flush().await.is_ok();
                }
                Ok(_) => {}
            }
        }
    };
    let output_done = async {
        while let Some(chunk) = output.next().await {
            let Ok(bytes) = chunk else { break };
            if to_client.write_all(&bytes).await.is_err() || to_client.flush().await.is_err() {
                return true;
            }
        }
        let _ = to_client.shutdown().await;
        false
    };
    tokio::select! {
        gone = output_done => gone,
        () = client_gone => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_single_use() {
        let table = RendezvousTable::default();
        let secret = table.register("app", "run.1");
        assert_eq!(secret.len(), 48);
        assert_ne!(secret, table.register("app", "run.2"));
        assert_eq!(table.claim(&secret), Some(("app".into(), "run.1".into())));
        assert_eq!(table.claim(&secret), None);
        assert_eq!(table.claim("guess"), None);
    }
}
