//! Pushes in flight: the git hook proves it belongs to one with a per-push secret.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use paas_core::AppName;
use rand::RngCore;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct PushTicket {
    /// The push's registration (see [`Pushes::hold`]).
    pub id: Uuid,
    pub app_id: Uuid,
    pub app: AppName,
    secret: String,
}

#[derive(Debug, Clone, Default)]
pub struct Pushes {
    inner: Arc<Mutex<HashMap<Uuid, Registered>>>,
}

#[derive(Debug)]
struct Registered {
    ticket: PushTicket,
    /// The app's build lock, once this push's build took it: held until git is done
    /// with the push (its ref updated or refused), so the next push of the app sees
    /// where the branch ended up.
    held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// Keeps a push registered while git runs; dropping it (the response ended) forgets it.
#[derive(Debug)]
pub struct PushGuard {
    pub id: Uuid,
    pub secret: String,
    pushes: Pushes,
}

impl Drop for PushGuard {
    fn drop(&mut self) {
        if let Ok(mut map) = self.pushes.inner.lock() {
            map.remove(&self.id);
        }
    }
}

impl Pushes {
    pub fn open(&self, app_id: Uuid, app: AppName) -> PushGuard {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = hex::encode(bytes);
        let id = Uuid::new_v4();
        if let Ok(mut map) = self.inner.lock() {
            map.insert(
                id,
                Registered {
                    ticket: PushTicket {
                        id,
                        app_id,
                        app,
                        secret: secret.clone(),
                    },
                    held: None,
                },
            );
        }
        PushGuard {
            id,
            secret,
            pushes: self.clone(),
        }
    }

    /// The push `id` if `secret` is its secret.
    pub fn check(&self, id: Uuid, secret: &str) -> Option<PushTicket> {
        let map = self.inner.lock().ok()?;
        let ticket = &map.get(&id)?.ticket;
        constant_time_eq(ticket.secret.as_bytes(), secret.as_bytes()).then(|| ticket.clone())
    }

    /// Keeps `guard` until push `id` is forgotten (its git request ended).
    pub fn hold(&self, id: Uuid, guard: tokio::sync::OwnedMutexGuard<()>) {
        if let Ok(mut map) = self.inner.lock()
            && let Some(registered) = map.get_mut(&id)
        {
            registered.held = Some(guard);
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_is_known_only_with_its_secret_and_only_while_open() {
        let pushes = Pushes::default();
        let app = AppName::parse("demo").unwrap();
        let guard = pushes.open(Uuid::nil(), app);
        assert!(pushes.check(guard.id, &guard.secret).is_some());
        assert!(pushes.check(guard.id, "wrong").is_none());
        assert!(pushes.check(Uuid::new_v4(), &guard.secret).is_none());
        let (id, secret) = (guard.id, guard.secret.clone());
        drop(guard);
        assert!(pushes.check(id, &secret).is_none());
    }
}
