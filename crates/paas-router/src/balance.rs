//! Choosing a dyno: power of two choices on outstanding requests, skipping dynos that
//! refused a connection in the last few seconds (unless nothing else is left).
//!
//! The state of a dyno ([`BackendState`]: its in-flight count and when it was last seen
//! down) lives in the router's snapshot and is carried over from one snapshot to the next
//! while the dyno stays in the table, so a table swap neither resets the counts nor
//! forgets a dyno that is down. Everything here is atomics: no lock on the request path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper::http::uri::Authority;
use paas_core::routes::Backend;
use rand::Rng;

/// How long a dyno that refused a connection is left out (Heroku quarantines for 5 s).
pub const DOWN_FOR: Duration = Duration::from_secs(5);

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_ms() -> u64 {
    u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// One dyno as the router sees it.
#[derive(Debug)]
pub struct BackendState {
    pub backend: Backend,
    /// `ip:port`, ready for request URIs.
    pub authority: Authority,
    outstanding: AtomicUsize,
    /// Milliseconds since [`EPOCH`] until which the dyno is left out; 0 = up.
    down_until: AtomicU64,
}

/// Counts a request as outstanding on a dyno until dropped (the response body's end).
#[derive(Debug)]
pub struct Outstanding(Arc<BackendState>);

impl Drop for Outstanding {
    fn drop(&mut self) {
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

impl BackendState {
    pub fn new(backend: Backend) -> Self {
        let authority = Authority::try_from(backend.addr.to_string())
            .expect("a socket address is a valid URI authority");
        Self {
            backend,
            authority,
            outstanding: AtomicUsize::new(0),
            down_until: AtomicU64::new(0),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.backend.addr
    }

    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    pub fn start(self: &Arc<Self>) -> Outstanding {
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        Outstanding(self.clone())
    }

    pub fn mark_down(&self) {
        let until = now_ms().saturating_add(u64::try_from(DOWN_FOR.as_millis()).unwrap_or(0));
        self.down_until.store(until, Ordering::Relaxed);
    }

    pub fn is_down(&self) -> bool {
        let until = self.down_until.load(Ordering::Relaxed);
        until != 0 && now_ms() < until
    }
}

/// Two random candidates among the dynos not yet `tried` (and not recently down), the
/// one with fewer requests in flight wins. Dynos that are down are chosen only when no
/// other untried dyno is left. `None` when every dyno was tried.
pub fn pick<'a>(
    backends: &'a [Arc<BackendState>],
    tried: &[SocketAddr],
) -> Option<&'a Arc<BackendState>> {
    let fresh = |b: &&Arc<BackendState>| !tried.contains(&b.addr());
    let up = |b: &&Arc<BackendState>| fresh(b) && !b.is_down();
    let n_up = backends.iter().filter(up).count();
    if n_up > 0 {
        choose(backends, up, n_up)
    } else {
        let n_fresh = backends.iter().filter(fresh).count();
        choose(backends, fresh, n_fresh)
    }
}

fn choose(
    backends: &[Arc<BackendState>],
    eligible: impl Fn(&&Arc<BackendState>) -> bool + Copy,
    n: usize,
) -> Option<&Arc<BackendState>> {
    let nth = |k: usize| backends.iter().filter(eligible).nth(k);
    match n {
        0 => None,
        1 => nth(0),
        n => {
            let mut rng = rand::rng();
            let a = rng.random_range(0..n);
            let mut b = rng.random_range(0..n - 1);
            if b >= a {
                b += 1;
            }
            let (a, b) = (nth(a)?, nth(b)?);
            Some(if b.outstanding() < a.outstanding() {
                b
            } else {
                a
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn backends(n: u16) -> Vec<Arc<BackendState>> {
        (1..=n)
            .map(|i| {
                Arc::new(BackendState::new(Backend {
                    dyno: format!("web.{i}"),
                    addr: SocketAddr::from(([127, 0, 0, 1], 9000 + i)),
                    version: 1,
                }))
            })
            .collect()
    }

    fn dyno(b: Option<&Arc<BackendState>>) -> &str {
        b.map_or("none", |b| b.backend.dyno.as_str())
    }

    #[test]
    fn busy_dynos_are_avoided() {
        let all = backends(2);
        let busy: Vec<_> = (0..5).map(|_| all[0].start()).collect();
        for _ in 0..50 {
            assert_eq!(dyno(pick(&all, &[])), "web.2");
        }
        drop(busy);
        assert_eq!(all[0].outstanding(), 0, "guards give their request back");
    }

    #[test]
    fn down_dynos_are_chosen_only_when_nothing_else_is_left() {
        let all = backends(3);
        all[1].mark_down();
        all[2].mark_down();
        for _ in 0..50 {
            assert_eq!(dyno(pick(&all, &[])), "web.1");
        }
        let tried = [all[0].addr()];
        let next = dyno(pick(&all, &tried));
        assert!(next == "web.2" || next == "web.3", "{next}");
        let every = [all[0].addr(), all[1].addr(), all[2].addr()];
        assert!(pick(&all, &every).is_none());
        assert!(pick(&[], &[]).is_none());
    }

    #[test]
    fn idle_dynos_share_the_load_evenly() {
        let all = backends(3);
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for _ in 0..3000 {
            *counts.entry(dyno(pick(&all, &[]))).or_default() += 1;
        }
        assert!(counts.values().all(|c| *c > 800), "{counts:?}");
    }

    #[test]
    fn held_requests_steer_new_ones_to_the_least_loaded() {
        // Requests that are never finished: p2c keeps the counts within a small spread.
        let all = backends(4);
        let mut held = Vec::new();
        for _ in 0..400 {
            held.push(pick(&all, &[]).map(|b| b.start()));
        }
        let counts: Vec<usize> = all.iter().map(|b| b.outstanding()).collect();
        let (min, max) = (counts.iter().min(), counts.iter().max());
        assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 10), "{counts:?}");
    }
}
