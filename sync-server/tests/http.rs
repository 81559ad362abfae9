//! The server on a real socket (loopback, port 0): HTTP/1.1 and HTTP/2, compressed bodies
//! both ways, `/healthz`, `/metrics`, and a graceful shutdown that finishes the request in
//! flight.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fieldsync_core::fixtures::{self, at, device, sample_store};
use fieldsync_core::protocol::{self, DocChanges, EnrollResponse, SyncRequest, SyncResponse};
use fieldsync_core::{CheckPoint, DocId, LocalStore, NewVisit, VisitKind};
use fieldsync_server::admin::{AdminDevice, enrollment_code};
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{AppState, Limits, SqliteStorage, serve};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use reqwest::header;
use serde_bytes::ByteBuf;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// Longest any step of these tests may wait; a hang fails instead of blocking the run.
const PATIENCE: Duration = Duration::from_secs(20);

/// The process-wide Prometheus recorder: the `metrics` macros write to the global one, so
/// it is installed once for this test binary and every server shares it.
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

/// A server on 127.0.0.1 with a store of `am-li`, and `am-li`'s phone enrolled.
struct Running {
    _dir: tempfile::TempDir,
    storage: Arc<SqliteStorage>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    token: String,
    phone: LocalStore,
    store: DocId,
}

impl Running {
    async fn start() -> Fallible<Running> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().to_path_buf();
        let storage = Arc::new(SqliteStorage::open(&path.join("fieldsync.db"))?);
        storage.add_user(
            &User {
                id: "am-li".into(),
                role: fieldsync_core::Role::AccountManager,
                name: "Li Wei".into(),
            },
            0,
        )?;
        let admin = AdminDevice::open_with_clock(
            &path,
            storage.as_ref(),
            fieldsync_core::fixtures::office_clock(),
        )?;
        let store = admin.local.create_store(sample_store("am-li", 1))?;
        admin.push()?;
        let state = AppState {
            storage: storage.clone(),
            limits: Limits::default(),
            metrics: Some(recorder()?),
        };
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(serve(
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
        let code = enrollment_code(
            storage.as_ref(),
            "am-li",
            chrono::Utc::now().timestamp_millis(),
        )?;
        let enrolled = reqwest::Client::new()
            .post(format!("http://{addr}/v1/enroll"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(serde_json::json!({"code": code, "device_name": "Li's phone"}).to_string())
            .timeout(PATIENCE)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        let enrolled: EnrollResponse = serde_json::from_slice(&enrolled)?;
        let (phone, _) = device(path.join("li.db"), "am-li", at("2026-11-23T09:00:00+08:00"))?;
        // The phone knows the store (so it can visit it), but its cursor is still at the
        // start, so the first sync brings the store down again.
        fixtures::exchange(&admin.local, &phone)?;
        drop(admin);
        Ok(Running {
            _dir: dir,
            storage,
            addr,
            stop: Some(stop),
            served,
            token: enrolled.token,
            phone,
            store,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A new visit on the phone, and a sync request that pushes it from the phone's cursor.
    fn push_a_visit(&self) -> Fallible<(DocId, SyncRequest)> {
        let v = self.phone.create_visit(NewVisit {
            store_id: self.store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: at("2026-11-23T09:05:00+08:00"),
                gps: None,
            },
            complaint_id: None,
        })?;
        let request = SyncRequest {
            protocol: protocol::PROTOCOL_VERSION,
            cursor: self.phone.sync_cursor()?,
            push: vec![DocChanges {
                doc: v.to_string(),
                changes: self
                    .phone
                    .export_changes(&v, &[])?
                    .into_iter()
                    .map(ByteBuf::from)
                    .collect(),
                index: None,
            }],
            max_response_bytes: None,
            device: None,
            working_set: None,
            index_version: None,
        };
        Ok((v, request))
    }

    fn sync_post(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        client
            .post(self.url("/v1/sync"))
            .bearer_auth(&self.token)
            .header(header::CONTENT_TYPE, protocol::CONTENT_TYPE)
            .timeout(PATIENCE)
    }

    /// Triggers the shutdown and waits for `serve` to return.
    async fn stop(mut self) -> TestResult {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.served).await???;
        Ok(())
    }
}

fn gzip(bytes: &[u8]) -> Fallible<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

fn gunzip(bytes: &[u8]) -> Fallible<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// A client that neither asks for nor undoes compression by itself.
fn raw_client() -> Fallible<reqwest::Client> {
    Ok(reqwest::Client::builder().no_gzip().no_zstd().build()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_works_over_http_1_1() -> TestResult {
    let server = Running::start().await?;
    let client = reqwest::Client::builder().http1_only().build()?;
    let (v, request) = server.push_a_visit()?;
    let response = server
        .sync_post(&client)
        .body(protocol::encode(&request))
        .send()
        .await?;
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let body: SyncResponse = protocol::decode("sync response", &response.bytes().await?)?;
    assert_eq!(body.accepted[0].doc, v.as_str());
    assert_eq!(
        body.changes[0].doc,
        server.store.as_str(),
        "the store comes down"
    );
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_works_over_http_2_with_prior_knowledge() -> TestResult {
    let server = Running::start().await?;
    let client = reqwest::Client::builder().http2_prior_knowledge().build()?;
    let (v, request) = server.push_a_visit()?;
    let response = server
        .sync_post(&client)
        .body(protocol::encode(&request))
        .send()
        .await?;
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let body: SyncResponse = protocol::decode("sync response", &response.bytes().await?)?;
    assert_eq!(body.accepted[0].doc, v.as_str());
    // An error over HTTP/2 is JSON too.
    let refused = client
        .post(server.url("/v1/sync"))
        .bearer_auth("not-a-token")
        .timeout(PATIENCE)
        .send()
        .await?;
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let error: protocol::ErrorBody = serde_json::from_slice(&refused.bytes().await?)?;
    assert_eq!(error.error, "unauthorized");
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_is_compressed_with_what_the_client_accepts() -> TestResult {
    let server = Running::start().await?;
    let client = raw_client()?;
    let request = protocol::encode(&SyncRequest {
        protocol: 1,
        ..Default::default()
    });
    let plain = server
        .sync_post(&client)
        .body(request.clone())
        .send()
        .await?;
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let plain = plain.bytes().await?.to_vec();

    let gzipped = server
        .sync_post(&client)
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(request.clone())
        .send()
        .await?;
    assert_eq!(
        gzipped.headers().get(header::CONTENT_ENCODING),
        Some(&header::HeaderValue::from_static("gzip"))
    );
    let gzipped = gunzip(&gzipped.bytes().await?)?;
    let zstded = server
        .sync_post(&client)
        .header(header::ACCEPT_ENCODING, "zstd")
        .body(request)
        .send()
        .await?;
    assert_eq!(
        zstded.headers().get(header::CONTENT_ENCODING),
        Some(&header::HeaderValue::from_static("zstd"))
    );
    let zstded = zstd::decode_all(zstded.bytes().await?.as_ref())?;
    // The same feed each time (the cursor was not stored), however it travelled.
    let decoded: SyncResponse = protocol::decode("sync response", &plain)?;
    assert_eq!(decoded.changes[0].doc, server.store.as_str());
    assert_eq!(gzipped, plain);
    assert_eq!(zstded, plain);

    // reqwest's own negotiation (gzip and zstd features) gets the same bytes back.
    let negotiated = server
        .sync_post(&reqwest::Client::new())
        .body(protocol::encode(&SyncRequest {
            protocol: 1,
            ..Default::default()
        }))
        .send()
        .await?
        .bytes()
        .await?;
    assert_eq!(negotiated.to_vec(), plain);
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_compressed_request_body_is_accepted() -> TestResult {
    let server = Running::start().await?;
    let (v, request) = server.push_a_visit()?;
    let plain = protocol::encode(&request);
    let body = gzip(&plain)?;
    let response = server
        .sync_post(&raw_client()?)
        .header(header::CONTENT_ENCODING, "gzip")
        .body(body)
        .send()
        .await?;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let body: SyncResponse = protocol::decode("sync response", &response.bytes().await?)?;
    assert_eq!(body.accepted[0].doc, v.as_str());
    assert!(!server.storage.document_changes(v.as_str())?.is_empty());
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_says_ok() -> TestResult {
    let server = Running::start().await?;
    let response = reqwest::get(server.url("/healthz")).await?;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(response.text().await?, "ok\n");
    server.stop().await
}

/// The value of the sample `name` (with its labels, exactly as rendered), or 0.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .filter_map(|l| l.strip_prefix(name))
        .filter_map(|rest| rest.strip_prefix(' '))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_bytes_changes_applied_and_sync_latency() -> TestResult {
    let server = Running::start().await?;
    let client = reqwest::Client::new();
    let scrape = || async {
        client
            .get(server.url("/metrics"))
            .timeout(PATIENCE)
            .send()
            .await?
            .text()
            .await
    };
    let before = scrape().await?;
    let (_, request) = server.push_a_visit()?;
    let changes = request.push[0].changes.len();
    let response = server
        .sync_post(&client)
        .body(protocol::encode(&request))
        .send()
        .await?;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let _ = response.bytes().await?;
    let after = scrape().await?;

    let grew = |name: &str| sample(&after, name) - sample(&before, name);
    // Other tests in this binary share the recorder: at least, not exactly.
    assert!(
        grew(r#"fieldsync_requests_total{path="/v1/sync",status="200"}"#) >= 1.0,
        "{after}"
    );
    assert!(
        grew(r#"fieldsync_request_bytes_total{path="/v1/sync"}"#) >= 100.0,
        "the pushed visit's bytes are counted: {after}"
    );
    assert!(
        grew(r#"fieldsync_response_bytes_total{path="/v1/sync"}"#) >= 100.0,
        "the store sent down is counted: {after}"
    );
    assert!(
        grew("fieldsync_changes_applied_total") >= changes as f64,
        "{after}"
    );
    assert!(grew("fieldsync_sync_seconds_count") >= 1.0, "{after}");
    assert!(
        after.contains("# TYPE fieldsync_sync_seconds summary"),
        "{after}"
    );
    server.stop().await
}

/// Writes `head` and the first half of `body` on a fresh connection; the caller sends the
/// rest later.
fn half_sent(addr: SocketAddr, head: &str, body: &[u8]) -> Fallible<std::net::TcpStream> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.set_write_timeout(Some(PATIENCE))?;
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body[..body.len() / 2])?;
    stream.flush()?;
    Ok(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_finishes_the_request_in_flight() -> TestResult {
    let mut server = Running::start().await?;
    let (v, request) = server.push_a_visit()?;
    let body = protocol::encode(&request);
    let head = format!(
        "POST /v1/sync HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: {}\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        server.token,
        protocol::CONTENT_TYPE,
        body.len()
    );
    let addr = server.addr;
    let stream = tokio::task::spawn_blocking({
        let (head, body) = (head.clone(), body.clone());
        move || half_sent(addr, &head, &body).map_err(|e| e.to_string())
    })
    .await??;
    // Let the server read the head and start on the body before it is told to stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let Some(stop) = server.stop.take() {
        let _ = stop.send(());
    }
    // Bounded: the listener closes within a few tries once the shutdown has begun.
    let mut refused = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "a shutting-down server takes no new connections");
    assert!(
        !server.served.is_finished(),
        "serve waits for the request in flight"
    );

    let reply = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let mut stream = stream;
        stream
            .write_all(&body[body.len() / 2..])
            .map_err(|e| e.to_string())?;
        let mut reply = Vec::new();
        // The server closes the connection after the response, as it is shutting down.
        stream.read_to_end(&mut reply).map_err(|e| e.to_string())?;
        Ok(reply)
    })
    .await??;
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers in the reply")?;
    let head = String::from_utf8_lossy(&reply[..split]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase().contains("content-length:"),
        "a body of known length goes out with it: {head}"
    );
    let response: SyncResponse = protocol::decode("sync response", &reply[split + 4..])?;
    assert_eq!(response.accepted[0].doc, v.as_str());
    assert!(!server.storage.document_changes(v.as_str())?.is_empty());
    tokio::time::timeout(PATIENCE, &mut server.served).await???;
    Ok(())
}
