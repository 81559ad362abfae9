//! Which connection gives way when the cap is reached (docs/adr/0013).
//!
//! Closing every connection over the cap lets a client that opens thousands of silent
//! sockets lock phones out until its sockets time out. Instead, a connection over the cap
//! displaces the oldest connection that has no request in flight and has been quiet for
//! [`QUIET_BEFORE_EVICTION`] (a silent socket, or a keep-alive connection nobody uses),
//! and is served once that one's slot is free. Only when every connection is busy is the
//! new one closed at once. An attacker's silent sockets then displace one another, and a
//! phone's connection, which sends its request at once, gets in.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// A connection that moved a byte more recently than this is never displaced: its
/// request may be arriving.
pub const QUIET_BEFORE_EVICTION: Duration = Duration::from_secs(1);

/// Most connections looked at to find one to displace (busy ones go to the back).
const SCAN: usize = 64;

/// One connection as the cap sees it.
pub struct Conn {
    started: Instant,
    /// Milliseconds after `started` of the last byte moved either way.
    last_byte: AtomicU64,
    /// Requests of this connection being answered.
    pub in_flight: AtomicUsize,
    evicted: AtomicBool,
    /// Woken once when this connection must give way.
    pub evict: Notify,
}

impl Conn {
    fn new(started: Instant) -> Conn {
        Conn {
            started,
            last_byte: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    /// Notes that a byte moved now.
    pub fn touch(&self) {
        self.last_byte
            .store(self.millis(self.started.elapsed()), Ordering::Relaxed);
    }

    /// How long no byte has moved.
    pub fn quiet(&self) -> Duration {
        let now = self.millis(self.started.elapsed());
        Duration::from_millis(now.saturating_sub(self.last_byte.load(Ordering::Relaxed)))
    }

    pub fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }

    fn millis(&self, d: Duration) -> u64 {
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }
}

/// The live connections in the order they were accepted.
pub struct Registry {
    queue: Mutex<VecDeque<Weak<Conn>>>,
    /// Past this many entries, finished connections are swept out.
    sweep_at: usize,
}

impl Registry {
    pub fn new(max_connections: usize) -> Registry {
        Registry {
            queue: Mutex::new(VecDeque::new()),
            sweep_at: max_connections.saturating_mul(2).max(64),
        }
    }

    /// A new connection, last in line to be displaced.
    pub fn register(&self) -> Arc<Conn> {
        self.push(Conn::new(Instant::now()))
    }

    fn push(&self, conn: Conn) -> Arc<Conn> {
        let conn = Arc::new(conn);
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        while queue.front().is_some_and(|w| w.strong_count() == 0) {
            queue.pop_front();
        }
        if queue.len() >= self.sweep_at {
            queue.retain(|w| w.strong_count() > 0);
        }
        queue.push_back(Arc::downgrade(&conn));
        conn
    }

    /// Asks the oldest idle, quiet connection to close; `false` when there is none among
    /// the first [`SCAN`] live ones.
    pub fn evict_one(&self) -> bool {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let mut looked = 0;
        while looked < SCAN {
            let Some(weak) = queue.pop_front() else {
                return false;
            };
            let Some(conn) = weak.upgrade() else {
                continue;
            };
            looked += 1;
            if conn.evicted.load(Ordering::Relaxed) {
                // Already asked to close: gone soon, nothing to keep.
                continue;
            }
            if conn.idle() && conn.quiet() >= QUIET_BEFORE_EVICTION {
                conn.evicted.store(true, Ordering::Relaxed);
                conn.evict.notify_one();
                return true;
            }
            queue.push_back(weak);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection accepted `secs` ago that has moved no byte since.
    fn silent_for(registry: &Registry, secs: u64) -> Arc<Conn> {
        let started = Instant::now()
            .checked_sub(Duration::from_secs(secs))
            .expect("a clock past its start");
        registry.push(Conn::new(started))
    }

    fn asked_to_close(conn: &Conn) -> bool {
        conn.evicted.load(Ordering::Relaxed)
    }

    #[test]
    fn the_oldest_quiet_connection_without_a_request_gives_way_first() {
        let registry = Registry::new(8);
        let busy = silent_for(&registry, 30);
        busy.in_flight.store(1, Ordering::Relaxed);
        let oldest_idle = silent_for(&registry, 20);
        let next = silent_for(&registry, 10);
        assert!(registry.evict_one());
        assert!(asked_to_close(&oldest_idle));
        assert!(!asked_to_close(&busy), "a request in flight is never cut");
        assert!(!asked_to_close(&next));
        assert!(registry.evict_one());
        assert!(asked_to_close(&next));
        assert!(!registry.evict_one(), "only the busy one is left");
        assert!(!asked_to_close(&busy));
    }

    #[test]
    fn a_connection_that_just_moved_a_byte_or_just_arrived_is_not_displaced() {
        let registry = Registry::new(8);
        let talking = silent_for(&registry, 30);
        talking.touch();
        let fresh = registry.register();
        assert!(!registry.evict_one());
        assert!(!asked_to_close(&talking) && !asked_to_close(&fresh));
    }

    #[test]
    fn finished_connections_are_skipped_and_swept_so_the_line_stays_bounded() {
        let registry = Registry::new(4);
        for _ in 0..1_000 {
            drop(silent_for(&registry, 5));
        }
        let len = registry.queue.lock().expect("lock").len();
        assert!(len <= 8, "{len} entries kept for 0 live connections");
        let live = silent_for(&registry, 5);
        assert!(registry.evict_one());
        assert!(asked_to_close(&live));
    }
}
