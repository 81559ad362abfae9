//! What a connection may cost the server (docs/adr/0013): the header and idle timeouts,
//! the connection cap, the limit on requests in flight and the budget of body bytes in
//! flight, each on a real socket on 127.0.0.1 with raw TCP clients.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use fieldsync_server::{AppState, Limits, SqliteStorage, serve};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// Longest any step may wait; a hang fails instead of blocking the run.
const PATIENCE: Duration = Duration::from_secs(20);

fn recorder() -> Fallible<PrometheusHandle> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(Into::into)
}

/// A server with `limits` on 127.0.0.1, stopped when the returned sender is dropped.
async fn start(
    limits: Limits,
) -> Fallible<(
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tempfile::TempDir,
)> {
    let dir = tempfile::tempdir()?;
    let storage = Arc::new(SqliteStorage::open(&dir.path().join("fieldsync.db"))?);
    let state = AppState {
        storage,
        limits,
        metrics: Some(recorder()?),
    };
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        state,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        move |addr| {
            let _ = bound_tx.send(addr);
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let addr = tokio::time::timeout(PATIENCE, bound_rx).await??;
    Ok((addr, stop, dir))
}

/// Reads until the server closes the connection (or `PATIENCE` passes): what it sent.
async fn until_closed(stream: &mut TcpStream) -> Fallible<Vec<u8>> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return Err("the server kept the connection open".into()),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(seen),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// `GET /healthz` over a new connection: the status line.
async fn healthz(addr: SocketAddr) -> Fallible<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    let answer = until_closed(&mut stream).await?;
    Ok(String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned())
}

#[tokio::test]
async fn a_client_that_sends_nothing_is_disconnected_after_the_idle_timeout() -> TestResult {
    let (addr, _stop, _dir) = start(Limits {
        idle_timeout_secs: 1,
        ..Limits::default()
    })
    .await?;
    let mut silent = TcpStream::connect(addr).await?;
    let opened = Instant::now();
    until_closed(&mut silent).await?;
    let took = opened.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "not before the timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "soon after it: {took:?}");
    Ok(())
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_disconnected_after_the_header_timeout() -> TestResult
{
    let (addr, _stop, _dir) = start(Limits {
        header_timeout_secs: 1,
        idle_timeout_secs: 60,
        ..Limits::default()
    })
    .await?;
    let mut slow = TcpStream::connect(addr).await?;
    let opened = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await?;
    // A header line a byte at a time, never finished: every byte resets an idle timer,
    // but not the header timer. Bounded: at most 100 bytes.
    let mut closed_after = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if slow.write_all(b"X").await.is_err() {
            closed_after = Some(opened.elapsed());
            break;
        }
        let mut buf = [0u8; 256];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), slow.read(&mut buf)).await
        {
            closed_after = Some(opened.elapsed());
            break;
        }
    }
    let took = closed_after.ok_or("the server kept reading headers for 10 s")?;
    assert!(took < Duration::from_secs(4), "{took:?}");
    Ok(())
}

#[tokio::test]
async fn at_the_cap_a_new_connection_displaces_the_oldest_silent_one_and_is_answered() -> TestResult
{
    let (addr, _stop, _dir) = start(Limits {
        max_connections: Some(3),
        ..Limits::default()
    })
    .await?;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await?);
        // Accepted in this order, and quiet for longer than a request takes to arrive.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let started = Instant::now();
    let status = healthz(addr).await?;
    assert!(status.contains("200"), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The oldest silent one was closed for it; the other two are still open.
    until_closed(&mut held[0]).await?;
    for stream in &mut held[1..] {
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
        assert!(read.is_err(), "a younger silent connection was closed too");
    }
    Ok(())
}

#[tokio::test]
async fn at_the_cap_with_every_connection_busy_a_new_one_is_closed_at_once_and_service_returns()
-> TestResult {
    let (addr, _stop, _dir) = start(Limits {
        max_connections: Some(2),
        ..Limits::default()
    })
    .await?;
    // Two requests in flight (bodies announced, never finished): nothing may be cut.
    let busy = vec![
        stalled_enrollment(addr, 1_000, 10).await?,
        stalled_enrollment(addr, 1_000, 10).await?,
    ];
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut over = TcpStream::connect(addr).await?;
    let started = Instant::now();
    until_closed(&mut over).await?;
    assert!(started.elapsed() < Duration::from_secs(2), "closed at once");
    drop(busy);
    // Bounded: the freed slots come back as the server notices the closed sockets.
    let mut status = String::new();
    for _ in 0..50 {
        status = healthz(addr).await.unwrap_or_default();
        if status.contains("200") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(status.contains("200"), "{status}");
    Ok(())
}

/// Starts a request to `/v1/enroll` that announces `length` bytes and sends `sent` of them,
/// then stalls: a request in flight, holding `sent` body bytes.
async fn stalled_enrollment(addr: SocketAddr, length: usize, sent: usize) -> Fallible<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    let head = format!(
        "POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&vec![b' '; sent]).await?;
    stream.flush().await?;
    // Let the server read it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(stream)
}

/// Posts a small enrollment: the status code and the `Retry-After` header.
async fn small_enrollment(addr: SocketAddr) -> Fallible<(u16, Option<u64>)> {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/enroll"))
        .header("content-type", "application/json")
        .body(r#"{"code":"ABCD-EFGH-JKLM","device_name":"x"}"#)
        .timeout(PATIENCE)
        .send()
        .await?;
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    Ok((response.status().as_u16(), retry))
}

#[tokio::test]
async fn a_request_over_the_limit_in_flight_gets_429_busy_with_retry_after() -> TestResult {
    let (addr, _stop, _dir) = start(Limits {
        max_requests_in_flight: 1,
        ..Limits::default()
    })
    .await?;
    let stalled = stalled_enrollment(addr, 1_000, 10).await?;
    assert_eq!(small_enrollment(addr).await?, (429, Some(1)));
    assert!(
        healthz(addr).await?.contains("200"),
        "probes are not counted"
    );
    drop(stalled);
    // Bounded: the stalled request ends once its client is gone.
    let mut answer = (0, None);
    for _ in 0..50 {
        answer = small_enrollment(addr).await?;
        if answer.0 != 429 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answer.0, 401, "an unknown code, once there is room");
    Ok(())
}

#[tokio::test]
async fn a_body_over_the_budget_of_bytes_in_flight_gets_429_busy() -> TestResult {
    let (addr, _stop, _dir) = start(Limits {
        body_bytes_in_flight: 4_000,
        ..Limits::default()
    })
    .await?;
    let stalled = stalled_enrollment(addr, 12_000, 3_990).await?;
    assert_eq!(small_enrollment(addr).await?, (429, Some(1)));
    drop(stalled);
    let mut answer = (0, None);
    for _ in 0..50 {
        answer = small_enrollment(addr).await?;
        if answer.0 != 429 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answer.0, 401, "the bytes come back when the request ends");
    Ok(())
}

/// Sends `request` on `stream` and reads one answer (headers, and the body its length says).
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> Fallible<String> {
    stream.write_all(request).await?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Bounded: each pass reads something or the answer is whole; every read has a deadline.
    for _ in 0..1_000 {
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return Ok(text);
            }
        }
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await??;
        if n == 0 {
            return Ok(String::from_utf8_lossy(&got).to_string());
        }
        got.extend_from_slice(&buf[..n]);
    }
    Err("the answer never ended".into())
}

fn says_close(answer: &str) -> bool {
    answer
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "connection:close")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_of_a_request_with_a_body_says_it_closes_the_connection_and_a_bodiless_one_keeps_it()
-> TestResult {
    let (addr, _stop, _dir) = start(Limits::default()).await?;
    let mut stream = TcpStream::connect(addr).await?;
    let probe = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let answer = exchange(&mut stream, probe.as_bytes()).await?;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(!says_close(&answer), "{answer}");

    // A token the server does not know, refused before its body is read: the connection
    // ends, and the answer says so (hyper alone says it only when the body was not yet in
    // its buffer), so the client opens another.
    let body = vec![0xa0u8; 256 * 1024];
    let refused = format!(
        "POST /v1/sync HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer not-a-token\r\n\
         Content-Type: application/cbor\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut request = refused.into_bytes();
    request.extend_from_slice(&body);
    let answer = exchange(&mut stream, &request).await?;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        says_close(&answer),
        "the client is told not to send on: {answer}"
    );

    // A refusal of a request without a body leaves the connection open.
    let mut stream = TcpStream::connect(addr).await?;
    let bodiless = format!(
        "POST /v1/sync HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer not-a-token\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let answer = exchange(&mut stream, bodiless.as_bytes()).await?;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(!says_close(&answer), "{answer}");
    let answer = exchange(&mut stream, probe.as_bytes()).await?;
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the connection went on: {answer}"
    );
    Ok(())
}
