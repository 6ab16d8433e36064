//! Choosing a dyno: power of two choices on outstanding requests, skipping dynos that
//! refused a connection in the last few seconds (unless nothing else is left).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use paas_core::routes::Backend;
use rand::Rng;

const DOWN_FOR: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub struct Balancer {
    /// Read-mostly: a dyno's counter is inserted once, then only read.
    outstanding: RwLock<HashMap<SocketAddr, Arc<AtomicUsize>>>,
    down: RwLock<HashMap<SocketAddr, Instant>>,
}

/// Counts a request as outstanding on a dyno until dropped.
#[derive(Debug)]
pub struct Outstanding(Arc<AtomicUsize>);

impl Drop for Outstanding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Balancer {
    fn counter(&self, addr: SocketAddr) -> Arc<AtomicUsize> {
        if let Some(counter) = self
            .outstanding
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&addr)
        {
            return counter.clone();
        }
        let mut map = self.outstanding.write().unwrap_or_else(|p| p.into_inner());
        map.entry(addr).or_default().clone()
    }

    pub fn start(&self, addr: SocketAddr) -> Outstanding {
        let counter = self.counter(addr);
        counter.fetch_add(1, Ordering::Relaxed);
        Outstanding(counter)
    }

    pub fn mark_down(&self, addr: SocketAddr) {
        let mut down = self.down.write().unwrap_or_else(|p| p.into_inner());
        down.insert(addr, Instant::now());
    }

    fn is_down(&self, addr: SocketAddr) -> bool {
        let down = self.down.read().unwrap_or_else(|p| p.into_inner());
        !down.is_empty() && down.get(&addr).is_some_and(|at| at.elapsed() < DOWN_FOR)
    }

    /// Two random candidates among the dynos not yet `tried` (and not recently down),
    /// the one with fewer requests in flight wins.
    pub fn pick<'a>(&self, backends: &'a [Backend], tried: &[SocketAddr]) -> Option<&'a Backend> {
        let fresh: Vec<&Backend> = backends
            .iter()
            .filter(|b| !tried.contains(&b.addr))
            .collect();
        let up: Vec<&Backend> = fresh
            .iter()
            .copied()
            .filter(|b| !self.is_down(b.addr))
            .collect();
        let pool = if up.is_empty() { fresh } else { up };
        match pool.len() {
            0 => None,
            1 => Some(pool[0]),
            n => {
                let mut rng = rand::rng();
                let a = rng.random_range(0..n);
                let mut b = rng.random_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                let load = |x: &Backend| self.counter(x.addr).load(Ordering::Relaxed);
                Some(if load(pool[b]) < load(pool[a]) {
                    pool[b]
                } else {
                    pool[a]
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backends(n: u16) -> Vec<Backend> {
        (1..=n)
            .map(|i| Backend {
                dyno: format!("web.{i}"),
                addr: SocketAddr::from(([127, 0, 0, 1], 9000 + i)),
                version: 1,
            })
            .collect()
    }

    #[test]
    fn busy_dynos_are_avoided_and_down_ones_skipped() {
        let balancer = Balancer::default();
        let all = backends(2);
        let _busy: Vec<_> = (0..5).map(|_| balancer.start(all[0].addr)).collect();
        for _ in 0..50 {
            assert_eq!(balancer.pick(&all, &[]).unwrap().dyno, "web.2");
        }
        balancer.mark_down(all[1].addr);
        assert_eq!(
            balancer.pick(&all, &[]).unwrap().dyno,
            "web.1",
            "down dynos only when nothing else is left"
        );
        assert!(balancer.pick(&all, &[all[0].addr, all[1].addr]).is_none());
    }

    #[test]
    fn idle_dynos_share_the_load() {
        let balancer = Balancer::default();
        let all = backends(3);
        let mut counts = HashMap::new();
        for _ in 0..3000 {
            *counts
                .entry(balancer.pick(&all, &[]).unwrap().dyno.clone())
                .or_insert(0) += 1;
        }
        assert!(counts.values().all(|c| *c > 800), "{counts:?}");
    }
}
