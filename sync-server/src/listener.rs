//! The server's accept loop: what a connection may cost before it has sent a request.
//!
//! `axum::serve` accepts every connection and keeps it as long as the client likes, so
//! idle sockets could use up the process's file descriptors and a client trickling its
//! headers could hold a task forever. This loop, over hyper's own connection builder,
//! holds connections to three bounds (docs/adr/0013):
//!
//! - **a cap**: at most `max_connections` at once; one over it displaces the oldest quiet
//!   connection without a request in flight ([`evict`]), or is closed as soon as it is
//!   accepted when every connection is busy, so the listener never runs out of descriptors
//!   and keeps accepting;
//! - **a header timeout**: an HTTP/1 request's headers must arrive within
//!   `header_timeout_secs` of the connection waiting for it (hyper's
//!   `header_read_timeout`, which also closes an idle HTTP/1 keep-alive connection then);
//! - **an idle timeout**: a connection with no request in flight that moves no byte for
//!   `idle_timeout_secs` is closed (this covers a client that connects and sends nothing,
//!   over either HTTP version, and keep-alive connections nobody uses).
//!
//! Each request carries the peer's address as `ConnectInfo`, for per-source throttles.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use evict::{Conn, Registry};

mod evict;

/// Longest a connection that displaced another waits for the displaced one's slot (it is
/// served meanwhile; the one it displaced closes at once unless a request just came in).
const DISPLACED_SLOT_WAIT: Duration = Duration::from_secs(2);
use tower::ServiceExt;

/// How a connection is bounded.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// Longest the requests in flight are waited for at shutdown.
    pub drain_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` completes, then closes idle connections,
/// lets the requests in flight finish (at most `drain_timeout`) and returns.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let registry = Registry::new(max);
    let waiting = Arc::new(AtomicUsize::new(0));
    let (closing, closed) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors (another part of the process holds them) or a
                // connection reset before it was taken: wait a moment instead of spinning.
                tracing::warn!(error = %e, "accept error");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => Some(slot),
            // Over the cap: a quiet idle connection gives way, or this one is refused.
            // Connections served ahead of their slot are bounded by the descriptors'
            // headroom.
            Err(_)
                if waiting.load(Ordering::Relaxed) < DESCRIPTOR_HEADROOM / 2
                    && registry.evict_one() =>
            {
                metrics::counter!("fieldsync_connections_displaced_total").increment(1);
                waiting.fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(_) => {
                metrics::counter!("fieldsync_connections_refused_total").increment(1);
                drop(stream);
                continue;
            }
        };
        let (router, closed, slots) = (router.clone(), closed.clone(), slots.clone());
        let (conn, waiting) = (registry.register(), waiting.clone());
        tokio::spawn(async move {
            metrics::gauge!("fieldsync_connections").increment(1.0);
            let serve = serve_connection(stream, peer, router, limits, closed, conn);
            match slot {
                Some(slot) => {
                    serve.await;
                    drop(slot);
                }
                None => {
                    // Served at once (a phone must not queue behind attackers), while the
                    // displaced connection's slot is taken over as it closes.
                    let take_over = async {
                        let slot =
                            tokio::time::timeout(DISPLACED_SLOT_WAIT, slots.acquire_owned()).await;
                        waiting.fetch_sub(1, Ordering::Relaxed);
                        slot.ok().and_then(Result::ok)
                    };
                    let ((), slot) = tokio::join!(serve, take_over);
                    drop(slot);
                }
            }
            metrics::gauge!("fieldsync_connections").decrement(1.0);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = closing.send(true);
    // Every connection gives its slot back when it is done.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limits.drain_timeout, slots.acquire_many(all)).await;
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut closed: watch::Receiver<bool>,
    conn: Arc<Conn>,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(Activity {
        inner: stream,
        conn: conn.clone(),
    });
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let router = router.clone();
            let guard = InFlight::enter(&conn);
            async move {
                let mut request = request.map(axum::body::Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                let response = router.oneshot(request).await;
                drop(guard);
                response
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let connection = builder.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let check = (limits.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    let mut closing = false;
    // Bounded: every pass either ends the connection or waits `check`; an idle one ends
    // within `idle_timeout + check`, a busy one when its client or the shutdown ends it.
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            changed = closed.changed(), if !closing => {
                if changed.is_err() || *closed.borrow() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            () = conn.evict.notified(), if !closing => {
                metrics::counter!("fieldsync_connections_evicted_total").increment(1);
                if conn.idle() {
                    return;
                }
                // A request arrived since it was picked: answer it, then close.
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(check) => {
                if conn.idle() && conn.quiet() >= limits.idle_timeout {
                    metrics::counter!("fieldsync_connections_idle_closed_total").increment(1);
                    // Nothing in flight: dropping the connection closes the socket.
                    return;
                }
            }
        }
    }
}

/// Counts a connection's requests in flight while alive.
struct InFlight(Arc<Conn>);

impl InFlight {
    fn enter(conn: &Arc<Conn>) -> InFlight {
        conn.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(conn.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that notes when it last moved a byte.
struct Activity {
    inner: TcpStream,
    conn: Arc<Conn>,
}

impl Activity {
    fn touch(&self) {
        self.conn.touch();
    }
}

impl AsyncRead for Activity {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Activity {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Raises the soft limit of open files to the hard limit (a service manager often starts
/// a process at 1,024) and returns the soft limit then in force, if it can be read.
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(error = %e, "cannot raise the open-files limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// Descriptors kept for everything but client connections: the database and its WAL,
/// PostgreSQL connections, log files, the metrics listener.
pub const DESCRIPTOR_HEADROOM: usize = 256;

/// The connection cap when none is configured: the open-files limit less the headroom
/// (at least 16), or 10,000 when the limit is unknown or unlimited.
pub fn default_max_connections(open_files: Option<u64>) -> usize {
    match open_files {
        Some(n) if n < 1 << 24 => (n as usize).saturating_sub(DESCRIPTOR_HEADROOM).max(16),
        _ => 10_000,
    }
}
