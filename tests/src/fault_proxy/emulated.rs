//! An emulated network path for the fault proxy: delay, bandwidth and loss, at the TCP
//! level, for any protocol (HTTP exchanges and websockets alike).
//!
//! Each direction has a reader that takes bytes as soon as they arrive and stamps them, and
//! a writer that delivers them once the path would have: the bytes queue for the bottleneck
//! (`bytes_per_second`), then travel `one_way_delay`, while the reader goes on taking the
//! bytes behind them, so a long transfer pays the delay once and not once per chunk. A
//! segment (1,460 bytes, a TCP segment on Ethernet) is lost with probability
//! `loss_per_million`; TCP recovers it by a retransmission, which here delays the segment,
//! and every byte behind it, by one round trip plus `retransmit_wait` (the receiver gets
//! a stream in order, so it stalls until the hole is filled). Losses are drawn from a seeded
//! generator: a run is repeatable.
//!
//! The queue between reader and writer holds at most `QUEUE` chunks; past that the reader
//! waits, and TCP's flow control pushes back on the sender, as a full router buffer would.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{BUFFER, Control, IDLE_TIMEOUT, MAX_EVENTS_PER_CONNECTION};

/// Bytes of one TCP segment: the unit that is lost or not.
const SEGMENT: usize = 1_460;
/// Chunks (of up to `BUFFER` bytes) in flight or queued per direction.
const QUEUE: usize = 64;

/// A network path between the devices and the server, the same both ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EmulatedLink {
    /// Half the round-trip time.
    pub one_way_delay: Duration,
    /// Bottleneck bandwidth each way (`None`: as fast as loopback goes).
    pub bytes_per_second: Option<u64>,
    /// Chance that a segment is lost, in millionths (10,000 = 1%).
    pub loss_per_million: u32,
    /// What a retransmission costs besides a round trip (detecting the loss).
    pub retransmit_wait: Duration,
    /// Seed of the loss draws; each connection and direction derives its own from it.
    pub seed: u64,
}

impl EmulatedLink {
    /// About 3G: 400 kbit/s, 150 ms round trip, no loss.
    pub fn three_g() -> EmulatedLink {
        EmulatedLink {
            one_way_delay: Duration::from_millis(75),
            bytes_per_second: Some(400_000 / 8),
            loss_per_million: 0,
            retransmit_wait: Duration::from_millis(200),
            seed: 3,
        }
    }

    /// About 2G: 50 kbit/s, 500 ms round trip, 1% of segments lost.
    pub fn two_g() -> EmulatedLink {
        EmulatedLink {
            one_way_delay: Duration::from_millis(250),
            bytes_per_second: Some(50_000 / 8),
            loss_per_million: 10_000,
            retransmit_wait: Duration::from_millis(200),
            seed: 2,
        }
    }

    /// When a segment of `len` bytes that reached the path at `arrived` is delivered, given
    /// that the bottleneck is free from `free_at`; returns (delivered at, free from).
    fn schedule(
        &self,
        len: usize,
        arrived: Instant,
        free_at: Instant,
        lost: bool,
    ) -> (Instant, Instant) {
        let start = free_at.max(arrived);
        let sending = match self.bytes_per_second {
            Some(rate) if rate > 0 => Duration::from_micros(len as u64 * 1_000_000 / rate),
            _ => Duration::ZERO,
        };
        let done = start + sending;
        let mut delivered = done + self.one_way_delay;
        if lost {
            delivered += 2 * self.one_way_delay + self.retransmit_wait;
        }
        (delivered, done)
    }
}

/// Who spoke last on a connection: counts turns as the HTTP path counts requests.
const NOBODY: u8 = 0;
const DEVICE: u8 = 1;
const SERVER: u8 = 2;

/// Forwards one connection over the emulated path until either side closes, the proxy
/// stops, or it idles for `IDLE_TIMEOUT`.
pub(super) async fn forward(
    device: TcpStream,
    server: TcpStream,
    control: Arc<Control>,
    link: EmulatedLink,
    stop: watch::Receiver<bool>,
) {
    let (device_in, device_out) = device.into_split();
    let (server_in, server_out) = server.into_split();
    let last = Arc::new(AtomicU8::new(NOBODY));
    let connection = control.lock().stats.connections;
    let seed = link.seed ^ connection.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let up = pump(
        device_in,
        server_out,
        (link, seed),
        DEVICE,
        (control.clone(), last.clone()),
        stop.clone(),
    );
    let down = pump(
        server_in,
        device_out,
        (link, seed.rotate_left(17)),
        SERVER,
        (control, last),
        stop,
    );
    tokio::join!(up, down);
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    (link, seed): (EmulatedLink, u64),
    side: u8,
    (control, last): (Arc<Control>, Arc<AtomicU8>),
    mut stop: watch::Receiver<bool>,
) {
    let (queue, mut queued) = mpsc::channel::<(Instant, Vec<u8>)>(QUEUE);
    let reader = async move {
        let mut buf = vec![0u8; BUFFER];
        for _ in 0..MAX_EVENTS_PER_CONNECTION {
            let read = tokio::select! {
                read = tokio::time::timeout(IDLE_TIMEOUT, from.read(&mut buf)) => read,
                _ = stop.changed() => break,
            };
            let n = match read {
                Ok(Ok(n)) if n > 0 => n,
                _ => break,
            };
            let previous = last.swap(side, Ordering::Relaxed);
            control.count(|s| match side {
                DEVICE => {
                    s.bytes_up += n as u64;
                    if previous != DEVICE {
                        s.requests += 1;
                    }
                }
                _ => {
                    s.bytes_down += n as u64;
                    if previous == DEVICE {
                        s.responses += 1;
                    }
                }
            });
            let chunk = buf.get(..n).unwrap_or_default().to_vec();
            if queue.send((Instant::now(), chunk)).await.is_err() {
                break;
            }
        }
        // Dropping the queue's sender lets the writer finish what is in flight, then stop.
    };
    let writer = async move {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut free_at = Instant::now();
        let mut last_delivery = Instant::now();
        // Ends when the reader has stopped and the queue is empty.
        while let Some((arrived, chunk)) = queued.recv().await {
            for segment in chunk.chunks(SEGMENT) {
                let lost = link.loss_per_million > 0
                    && rng.random_range(0..1_000_000) < link.loss_per_million;
                let (delivered, free) = link.schedule(segment.len(), arrived, free_at, lost);
                free_at = free;
                // In order: nothing overtakes a segment waiting for its retransmission.
                last_delivery = last_delivery.max(delivered);
                tokio::time::sleep_until(last_delivery).await;
                if to.write_all(segment).await.is_err() {
                    return;
                }
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_transfer_pays_the_delay_once_and_the_bandwidth_for_every_byte() {
        let link = EmulatedLink {
            loss_per_million: 0,
            ..EmulatedLink::three_g()
        };
        let start = Instant::now();
        let (mut free, mut delivered) = (start, start);
        for _ in 0..100 {
            (delivered, free) = link.schedule(500, start, free, false);
        }
        // 50,000 bytes at 50,000 B/s, plus 75 ms on the way.
        assert_eq!(delivered - start, Duration::from_millis(1_075));
    }

    #[tokio::test]
    async fn bytes_through_the_proxy_pay_the_bandwidth_and_the_delay_each_way() {
        use crate::fault_proxy::FaultProxy;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let upstream = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = vec![0u8; 20_000];
            socket.read_exact(&mut request).await.expect("request");
            socket.write_all(b"ok").await.expect("answer");
        });
        let proxy = FaultProxy::start(upstream).await.expect("proxy");
        proxy.set_emulated_link(Some(EmulatedLink {
            one_way_delay: Duration::from_millis(50),
            bytes_per_second: Some(100_000),
            loss_per_million: 0,
            retransmit_wait: Duration::ZERO,
            seed: 1,
        }));
        let began = std::time::Instant::now();
        let mut client = TcpStream::connect(proxy.addr()).await.expect("connect");
        client.write_all(&[7u8; 20_000]).await.expect("send");
        let mut answer = [0u8; 2];
        client.read_exact(&mut answer).await.expect("answer");
        let took = began.elapsed();
        // 20,000 bytes at 100 kB/s, 50 ms on the way there and 50 ms back.
        assert!(took >= Duration::from_millis(300), "took {took:?}");
        assert!(took < Duration::from_millis(1_500), "took {took:?}");
        assert_eq!(&answer, b"ok");
        assert_eq!(proxy.stats().bytes_up, 20_000);
    }

    #[test]
    fn a_lost_segment_arrives_a_round_trip_and_a_wait_later() {
        let link = EmulatedLink::two_g();
        let start = Instant::now();
        let (kept, _) = link.schedule(625, start, start, false);
        let (lost, _) = link.schedule(625, start, start, true);
        assert_eq!(lost - kept, Duration::from_millis(700));
    }
}
