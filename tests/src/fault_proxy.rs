//! A TCP proxy on 127.0.0.1 between devices and the sync server, with faults switched on and
//! off while it runs.
//!
//! [`FaultProxy::start`] listens on a free loopback port and forwards every connection to
//! the server; a device syncs through [`FaultProxy::url`] instead of the server's URL. Two
//! kinds of fault:
//!
//! - the shape of the link ([`LinkShape`], [`FaultProxy::set_shape`]): a delay before every
//!   chunk forwarded, either way, and a bandwidth limit in bytes per second. They apply to
//!   every byte from the moment they are set;
//! - faults of whole requests ([`RequestFault`], [`FaultProxy::arm`]): the next `n` requests
//!   that start get one each. A connection reset in the middle of a request; a reset after
//!   the whole request was forwarded and the server's answer started (so the server has
//!   applied the push, and the device never hears it); an answer cut short; and, broken on
//!   purpose, a fake `200` that never reaches the server.
//!
//! The proxy does not parse HTTP beyond what it needs: a connection carries one HTTP/1.1
//! exchange at a time (the sync client sends plain `http://` without pipelining), so a new
//! request starts when the device sends bytes after the server's answer started, and the
//! answer starts with the server's first byte after a request. [`ProxyStats`] counts what
//! happened, so a test can check that the fault it arranged did fire.
//!
//! A third kind, for benchmarks rather than fault tests: an emulated link
//! ([`EmulatedLink`], [`FaultProxy::set_emulated_link`]) with a one-way delay that does not
//! hold back the bytes behind it (they travel in flight, as on a real path), a bottleneck
//! bandwidth, and segment loss paid as a retransmission stall. Connections opened while it
//! is set are forwarded by `fault_proxy/emulated.rs`, which knows nothing of HTTP: it works
//! for websockets as well, and request faults do not apply to those connections.
//!
//! Every loop is bounded: connections accepted, events per connection, and an idle timeout
//! on every wait. Dropping the proxy closes its listener and every connection.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fieldsync_core::protocol::{self, SyncResponse};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

mod emulated;
pub use emulated::EmulatedLink;

/// Most connections one proxy accepts over its life.
const MAX_CONNECTIONS: usize = 100_000;
/// Most reads one connection makes before the proxy closes it.
const MAX_EVENTS_PER_CONNECTION: usize = 1_000_000;
/// A connection with no traffic either way for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most bytes of one request the fake acknowledgement reads before it gives up.
const MAX_FAKED_REQUEST: usize = 64 << 20;
/// Bytes written at a time under a bandwidth limit, so the rate is smooth.
const SLICE: usize = 512;
const BUFFER: usize = 16 * 1024;

/// How the link behaves for every byte: a delay per chunk and a bandwidth limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkShape {
    /// Waited before each chunk read from one side is written to the other.
    pub latency_per_chunk: Duration,
    /// At most this many bytes per second each way (`None`: as fast as loopback goes).
    pub bytes_per_second: Option<u64>,
}

/// A fault given to one whole request (see [`FaultProxy::arm`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestFault {
    /// Forward the first `after_bytes` bytes of the request (head included), then reset
    /// both connections: the server never gets the whole request.
    ResetMidRequest { after_bytes: usize },
    /// Forward the whole request; when the server's answer starts (it has applied the push
    /// by then), reset the device's connection without forwarding a byte of it.
    ResetBeforeResponse,
    /// Forward the answer's head and the first `body_bytes` bytes of its body, then close
    /// the device's connection.
    TruncateResponse { body_bytes: usize },
    /// Broken on purpose: read the request, never forward it, and answer `200` with an
    /// empty sync response, as a server that acknowledged before storing would. Only for
    /// showing that a check catches a false acknowledgement.
    FakeAcknowledgement,
}

/// What the proxy did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    pub connections: u64,
    /// Requests that started (a device sent bytes).
    pub requests: u64,
    /// Answers that started (the server sent bytes after a request).
    pub responses: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub resets_mid_request: u64,
    pub resets_before_response: u64,
    pub truncated_responses: u64,
    pub fake_acknowledgements: u64,
    /// Connections that found the server unreachable.
    pub upstream_unreachable: u64,
}

#[derive(Debug, Default)]
struct ControlState {
    shape: LinkShape,
    emulated: Option<EmulatedLink>,
    armed: VecDeque<RequestFault>,
    stats: ProxyStats,
}

#[derive(Debug)]
struct Control {
    upstream: SocketAddr,
    state: Mutex<ControlState>,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, ControlState> {
        // The state is plain counters and settings: a panic elsewhere leaves it usable.
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn shape(&self) -> LinkShape {
        self.lock().shape
    }

    fn count(&self, f: impl FnOnce(&mut ProxyStats)) {
        f(&mut self.lock().stats);
    }

    /// A request started: counts it and hands it the next armed fault, if any.
    fn claim(&self) -> Option<RequestFault> {
        let mut state = self.lock();
        state.stats.requests += 1;
        state.armed.pop_front()
    }
}

/// A running proxy. Dropping it stops it.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    control: Arc<Control>,
    stop: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (a free port) forwarding to `upstream`, which must be a
    /// loopback address. Call it inside a tokio runtime: connections are tokio tasks.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        if !upstream.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the fault proxy forwards to loopback only, not `{upstream}`"),
            ));
        }
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let control = Arc::new(Control {
            upstream,
            state: Mutex::new(ControlState::default()),
        });
        let (stop, stopped) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(listener, control.clone(), stopped));
        Ok(FaultProxy {
            addr,
            control,
            stop,
            accept,
        })
    }

    /// `http://127.0.0.1:PORT`: the URL devices sync through.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets the link's shape from now on (chunks already waiting keep the old one).
    pub fn set_shape(&self, shape: LinkShape) {
        self.control.lock().shape = shape;
    }

    /// Emulates `link` on every connection opened from now on (`None`: connections opened
    /// later are forwarded as before, with the [`LinkShape`] and the armed faults).
    pub fn set_emulated_link(&self, link: Option<EmulatedLink>) {
        self.control.lock().emulated = link;
    }

    /// Gives each of the next `times` requests that start the fault `fault` (after the
    /// faults armed before it).
    pub fn arm(&self, fault: RequestFault, times: usize) {
        let mut state = self.control.lock();
        state.armed.extend(std::iter::repeat_n(fault, times));
    }

    /// Faults armed and not yet given to a request.
    pub fn armed(&self) -> usize {
        self.control.lock().armed.len()
    }

    /// A plain link again: no shape, nothing armed.
    pub fn heal(&self) {
        let mut state = self.control.lock();
        state.shape = LinkShape::default();
        state.emulated = None;
        state.armed.clear();
    }

    pub fn stats(&self) -> ProxyStats {
        self.control.lock().stats
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, control: Arc<Control>, stop: watch::Receiver<bool>) {
    for _ in 0..MAX_CONNECTIONS {
        let mut watching = stop.clone();
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = watching.changed() => return,
        };
        match accepted {
            Ok((device, _)) => {
                control.count(|s| s.connections += 1);
                tokio::spawn(serve_connection(device, control.clone(), stop.clone()));
            }
            // Out of file descriptors, say: wait a little rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Where a connection stands in its current exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No request yet, or the last answer has started: device bytes start a new request.
    Between,
    Requesting,
    Responding,
}

/// What one connection knows of its current exchange.
struct Exchange {
    phase: Phase,
    fault: Option<RequestFault>,
    request_bytes: usize,
    /// The request, kept only for a fake acknowledgement.
    request: Vec<u8>,
    /// The last bytes of the answer's head seen so far, to find its end.
    head_tail: [u8; 4],
    /// Body bytes still to forward once the answer's head ended (truncation only).
    body_left: Option<usize>,
}

enum Event {
    Device(std::io::Result<()>),
    Server(std::io::Result<()>),
    Idle,
    Stop,
}

/// What to do with a connection after handling some bytes.
enum Next {
    Continue,
    /// Close both sides plainly.
    Close,
    /// Reset the device's side (and close the server's).
    Reset,
}

async fn serve_connection(
    mut device: TcpStream,
    control: Arc<Control>,
    mut stop: watch::Receiver<bool>,
) {
    let mut server =
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(control.upstream))
            .await
        {
            Ok(Ok(server)) => server,
            _ => {
                control.count(|s| s.upstream_unreachable += 1);
                reset(device);
                return;
            }
        };
    let _ = device.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let emulated = control.lock().emulated;
    if let Some(link) = emulated {
        emulated::forward(device, server, control, link, stop).await;
        return;
    }
    let mut exchange = Exchange {
        phase: Phase::Between,
        fault: None,
        request_bytes: 0,
        request: Vec::new(),
        head_tail: [0; 4],
        body_left: None,
    };
    let mut buf = vec![0u8; BUFFER];
    for _ in 0..MAX_EVENTS_PER_CONNECTION {
        let event = tokio::select! {
            ready = device.readable() => Event::Device(ready),
            ready = server.readable() => Event::Server(ready),
            () = tokio::time::sleep(IDLE_TIMEOUT) => Event::Idle,
            _ = stop.changed() => Event::Stop,
        };
        let next = match event {
            Event::Idle | Event::Stop => Next::Close,
            Event::Device(Err(_)) | Event::Server(Err(_)) => Next::Close,
            Event::Device(Ok(())) => match device.try_read(&mut buf) {
                Ok(0) => Next::Close,
                Ok(n) => {
                    let chunk = buf.get(..n).unwrap_or_default();
                    from_device(chunk, &mut exchange, &control, &mut device, &mut server).await
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Next::Continue,
                Err(_) => Next::Close,
            },
            Event::Server(Ok(())) => match server.try_read(&mut buf) {
                Ok(0) => Next::Close,
                Ok(n) => {
                    let chunk = buf.get(..n).unwrap_or_default();
                    from_server(chunk, &mut exchange, &control, &mut device).await
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Next::Continue,
                Err(_) => Next::Close,
            },
        };
        match next {
            Next::Continue => {}
            Next::Close => {
                let _ = device.shutdown().await;
                return;
            }
            Next::Reset => {
                reset(device);
                reset(server);
                return;
            }
        }
    }
}

/// Bytes the device sent: the start of a request, or more of one.
async fn from_device(
    chunk: &[u8],
    exchange: &mut Exchange,
    control: &Control,
    device: &mut TcpStream,
    server: &mut TcpStream,
) -> Next {
    if exchange.phase != Phase::Requesting {
        exchange.phase = Phase::Requesting;
        exchange.fault = control.claim();
        exchange.request_bytes = 0;
        exchange.request.clear();
        exchange.head_tail = [0; 4];
        exchange.body_left = None;
    }
    match exchange.fault {
        Some(RequestFault::FakeAcknowledgement) => {
            exchange.request.extend_from_slice(chunk);
            if exchange.request.len() > MAX_FAKED_REQUEST {
                return Next::Reset;
            }
            if !request_complete(&exchange.request) {
                return Next::Continue;
            }
            control.count(|s| s.fake_acknowledgements += 1);
            let _ = device
                .write_all(&fake_acknowledgement(&exchange.request))
                .await;
            Next::Close
        }
        Some(RequestFault::ResetMidRequest { after_bytes }) => {
            let allowed = after_bytes.saturating_sub(exchange.request_bytes);
            let cut = allowed.min(chunk.len());
            let forwarded = chunk.get(..cut).unwrap_or_default();
            if send(server, forwarded, control).await.is_err() {
                return Next::Close;
            }
            exchange.request_bytes += cut;
            control.count(|s| s.bytes_up += cut as u64);
            if cut < chunk.len() || exchange.request_bytes >= after_bytes {
                control.count(|s| s.resets_mid_request += 1);
                Next::Reset
            } else {
                Next::Continue
            }
        }
        _ => {
            if send(server, chunk, control).await.is_err() {
                return Next::Close;
            }
            exchange.request_bytes += chunk.len();
            control.count(|s| s.bytes_up += chunk.len() as u64);
            Next::Continue
        }
    }
}

/// Bytes the server sent: the start of an answer, or more of one.
async fn from_server(
    chunk: &[u8],
    exchange: &mut Exchange,
    control: &Control,
    device: &mut TcpStream,
) -> Next {
    if exchange.phase == Phase::Requesting {
        exchange.phase = Phase::Responding;
        control.count(|s| s.responses += 1);
        if exchange.fault == Some(RequestFault::ResetBeforeResponse) {
            control.count(|s| s.resets_before_response += 1);
            return Next::Reset;
        }
    }
    let mut cut = chunk.len();
    let mut truncated = false;
    if let Some(RequestFault::TruncateResponse { body_bytes }) = exchange.fault {
        cut = 0;
        for byte in chunk {
            match exchange.body_left {
                None => {
                    exchange.head_tail = [
                        exchange.head_tail[1],
                        exchange.head_tail[2],
                        exchange.head_tail[3],
                        *byte,
                    ];
                    cut += 1;
                    if &exchange.head_tail == b"\r\n\r\n" {
                        exchange.body_left = Some(body_bytes);
                    }
                }
                Some(0) => {
                    truncated = true;
                    break;
                }
                Some(left) => {
                    exchange.body_left = Some(left - 1);
                    cut += 1;
                }
            }
        }
        truncated |= exchange.body_left == Some(0);
    }
    let forwarded = chunk.get(..cut).unwrap_or_default();
    if send(device, forwarded, control).await.is_err() {
        return Next::Close;
    }
    control.count(|s| s.bytes_down += cut as u64);
    if truncated {
        control.count(|s| s.truncated_responses += 1);
        Next::Close
    } else {
        Next::Continue
    }
}

/// Writes `bytes` with the link's current shape.
async fn send(to: &mut TcpStream, bytes: &[u8], control: &Control) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let shape = control.shape();
    if !shape.latency_per_chunk.is_zero() {
        tokio::time::sleep(shape.latency_per_chunk).await;
    }
    match shape.bytes_per_second {
        Some(rate) if rate > 0 => {
            for slice in bytes.chunks(SLICE) {
                let micros = slice.len() as u64 * 1_000_000 / rate;
                tokio::time::sleep(Duration::from_micros(micros)).await;
                to.write_all(slice).await?;
            }
            Ok(())
        }
        _ => to.write_all(bytes).await,
    }
}

/// Closes a socket with a TCP reset rather than an orderly close.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Whether `request` holds a whole HTTP/1.1 request: its head and `Content-Length` bytes of
/// body (a chunked body ends with its empty last chunk).
fn request_complete(request: &[u8]) -> bool {
    let Some(head_end) = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
    else {
        return false;
    };
    let head = String::from_utf8_lossy(request.get(..head_end).unwrap_or_default()).to_lowercase();
    let length = head.lines().find_map(|line| {
        line.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    match length {
        Some(length) => request.len() >= head_end + length,
        None if head.contains("transfer-encoding: chunked") => request.ends_with(b"0\r\n\r\n"),
        None => true,
    }
}

/// A `200` whose sync response lists every document of `request`'s push as stored (with
/// no heads) and carries nothing, though nothing reached the server: a lie a device cannot
/// tell from the truth, so the end-state check must catch what it costs.
fn fake_acknowledgement(request: &[u8]) -> Vec<u8> {
    let accepted = pushed_documents(request)
        .into_iter()
        .map(|doc| fieldsync_core::protocol::Accepted {
            doc,
            heads: Vec::new(),
        })
        .collect();
    let body = protocol::encode(&SyncResponse {
        accepted,
        changes: Vec::new(),
        removed: Vec::new(),
        cursor: "0".into(),
        more: false,
        first_use: false,
        ..SyncResponse::default()
    });
    let mut response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        protocol::CONTENT_TYPE,
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    response
}

/// The documents a whole HTTP request pushes (none if its body is not a readable sync
/// request: chunked, or in an encoding other than gzip).
fn pushed_documents(request: &[u8]) -> Vec<String> {
    use std::io::Read;
    let Some(head_end) = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
    else {
        return Vec::new();
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_lowercase();
    let body = &request[head_end..];
    let body = if head.contains("content-encoding: gzip") {
        let mut plain = Vec::new();
        let limited = flate2::read::GzDecoder::new(body).take(MAX_FAKED_REQUEST as u64 * 64);
        if std::io::BufReader::new(limited)
            .read_to_end(&mut plain)
            .is_err()
        {
            return Vec::new();
        }
        plain
    } else {
        body.to_vec()
    };
    protocol::decode::<fieldsync_core::protocol::SyncRequest>("sync request", &body)
        .map(|r| r.push.into_iter().map(|d| d.doc).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_complete_once_its_content_length_has_arrived() {
        let head = b"POST /v1/sync HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
        let mut request = head.to_vec();
        assert!(!request_complete(&request[..10]));
        assert!(!request_complete(&request));
        request.extend_from_slice(b"ab");
        assert!(!request_complete(&request));
        request.push(b'c');
        assert!(request_complete(&request));
    }

    #[test]
    fn the_fake_acknowledgement_decodes_as_a_sync_response() {
        let push = fieldsync_core::protocol::SyncRequest {
            protocol: protocol::PROTOCOL_VERSION,
            cursor: None,
            push: vec![fieldsync_core::protocol::DocChanges {
                doc: "some-doc".into(),
                changes: Vec::new(),
                index: None,
            }],
            max_response_bytes: None,
            device: None,
            working_set: None,
            index_version: None,
        };
        let body = protocol::encode(&push);
        let mut request = format!(
            "POST /v1/sync HTTP/1.1\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        let response = fake_acknowledgement(&request);
        let head_end = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head")
            + 4;
        let decoded: SyncResponse =
            protocol::decode("sync response", &response[head_end..]).expect("decodes");
        let accepted: Vec<&str> = decoded.accepted.iter().map(|a| a.doc.as_str()).collect();
        assert_eq!(accepted, vec!["some-doc"]);
    }

    #[tokio::test]
    async fn the_proxy_refuses_to_forward_beyond_loopback() {
        let far = SocketAddr::from(([192, 0, 2, 1], 80));
        assert!(FaultProxy::start(far).await.is_err());
    }
}
