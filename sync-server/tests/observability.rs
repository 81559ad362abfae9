//! What an operator sees: probes that tell live from ready (503 once draining), metrics
//! with histograms, HELP text and the build, on an address of their own if asked, JSON or
//! plain-text logs with a line per sync and per failed sign-in, and `--version`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use fieldsync_core::protocol::{self, SyncRequest};
use fieldsync_server::admin::enrollment_code;
use fieldsync_server::auth::hash_secret;
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{AppState, Limits, ServeOptions, SqliteStorage, serve_with};
use metrics_exporter_prometheus::PrometheusHandle;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const PATIENCE: Duration = Duration::from_secs(20);

fn recorder() -> Fallible<PrometheusHandle> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(fieldsync_server::probes::install_recorder)
        .clone()
        .map_err(Into::into)
}

fn storage(dir: &std::path::Path) -> Fallible<Arc<SqliteStorage>> {
    let storage = Arc::new(SqliteStorage::open(&dir.join("fieldsync.db"))?);
    storage.add_user(
        &User {
            id: "am-li".into(),
            role: fieldsync_core::Role::AccountManager,
            name: "Li Wei".into(),
        },
        0,
    )?;
    Ok(storage)
}

/// A free port on 127.0.0.1 (bound and let go: another process could take it meanwhile,
/// which would fail the test, not pass it).
fn free_port() -> Fallible<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

async fn get(addr: SocketAddr, path: &str) -> Fallible<(u16, String)> {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .timeout(PATIENCE)
        .send()
        .await?;
    Ok((response.status().as_u16(), response.text().await?))
}

#[tokio::test]
async fn readyz_answers_503_once_draining_while_livez_and_healthz_still_answer() -> TestResult {
    let dir = tempfile::tempdir()?;
    let state = AppState {
        storage: storage(dir.path())?,
        limits: Limits::default(),
        metrics: None,
    };
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let options = ServeOptions {
        shutdown_delay: Duration::from_secs(3),
        ..ServeOptions::default()
    };
    let served = tokio::spawn(serve_with(
        state,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        options,
        move |addr| {
            let _ = bound_tx.send(addr);
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let addr = tokio::time::timeout(PATIENCE, bound_rx).await??;
    assert_eq!(get(addr, "/readyz").await?.0, 200);
    assert_eq!(get(addr, "/livez").await?.0, 200);
    stop.send(()).map_err(|()| "the server is gone")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = get(addr, "/readyz").await?;
    assert_eq!(status, 503);
    assert!(body.contains("\"error\":\"draining\""), "{body}");
    assert_eq!(get(addr, "/livez").await?.0, 200);
    assert_eq!(get(addr, "/healthz").await?.0, 200, "as before");
    tokio::time::timeout(PATIENCE, served).await???;
    Ok(())
}

#[tokio::test]
async fn metrics_have_a_sync_histogram_with_help_text_and_the_build_on_their_own_address()
-> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = storage(dir.path())?;
    let code = enrollment_code(
        storage.as_ref(),
        "am-li",
        chrono::Utc::now().timestamp_millis(),
    )?;
    storage.enroll(&hash_secret(&code), "phone", &hash_secret("t0k3n"), 1)?;
    let state = AppState {
        storage,
        limits: Limits::default(),
        metrics: Some(recorder()?),
    };
    let metrics_addr = free_port()?;
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let (_stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let options = ServeOptions {
        metrics_listen: Some(metrics_addr),
        ..ServeOptions::default()
    };
    tokio::spawn(serve_with(
        state,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        options,
        move |addr| {
            let _ = bound_tx.send(addr);
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let addr = tokio::time::timeout(PATIENCE, bound_rx).await??;
    let pull = SyncRequest {
        protocol: protocol::PROTOCOL_VERSION,
        cursor: None,
        push: vec![],
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    };
    let synced = reqwest::Client::new()
        .post(format!("http://{addr}/v1/sync"))
        .bearer_auth("t0k3n")
        .header("content-type", protocol::CONTENT_TYPE)
        .body(protocol::encode(&pull))
        .timeout(PATIENCE)
        .send()
        .await?;
    assert_eq!(synced.status().as_u16(), 200);

    assert_eq!(
        get(addr, "/metrics").await?.0,
        404,
        "not on the public address"
    );
    let (status, text) = get(metrics_addr, "/metrics").await?;
    assert_eq!(status, 200);
    for expected in [
        "# TYPE fieldsync_sync_seconds histogram",
        "# HELP fieldsync_sync_seconds Duration of a successful sync",
        "fieldsync_sync_seconds_bucket{le=\"0.005\"}",
        "fieldsync_sync_seconds_bucket{le=\"+Inf\"}",
        "# HELP fieldsync_requests_total",
        &format!("commit=\"{}\"", fieldsync_server::probes::COMMIT),
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from:\n{text}"
        );
    }
    assert!(text.contains("fieldsync_build_info{"), "{text}");
    assert_eq!(
        get(metrics_addr, "/readyz").await?.0,
        200,
        "probes there too"
    );
    Ok(())
}

#[test]
fn version_names_the_version_and_the_commit() -> TestResult {
    let out = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .arg("--version")
        .output()?;
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout)?;
    let expected = format!(
        "fieldsync-server {} (commit {})",
        env!("CARGO_PKG_VERSION"),
        fieldsync_server::probes::COMMIT
    );
    assert_eq!(text.trim(), expected);
    assert!(!fieldsync_server::probes::COMMIT.is_empty());
    Ok(())
}

/// Runs `serve` with `--log-format format` in `dir`, makes one sync and one failed sign-in,
/// stops it, and returns what it logged on standard error.
fn logs_of_a_sync(format: &str) -> Fallible<String> {
    let dir = tempfile::tempdir()?;
    let storage = storage(dir.path())?;
    let code = enrollment_code(
        storage.as_ref(),
        "am-li",
        chrono::Utc::now().timestamp_millis(),
    )?;
    let device = storage.enroll(&hash_secret(&code), "phone", &hash_secret("t0k3n"), 1)?;
    drop(storage);
    let mut server = Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args([
            "--log-format",
            format,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = server.stdout.take().ok_or("no stdout")?;
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first)?;
    let addr: SocketAddr = first
        .trim()
        .rsplit("http://")
        .next()
        .ok_or("no address")?
        .parse()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let pull = SyncRequest {
            protocol: protocol::PROTOCOL_VERSION,
            cursor: None,
            push: vec![],
            max_response_bytes: None,
            device: None,
            working_set: None,
            index_version: None,
        };
        let client = reqwest::Client::new();
        for token in ["t0k3n", "wrong"] {
            client
                .post(format!("http://{addr}/v1/sync"))
                .bearer_auth(token)
                .header("content-type", protocol::CONTENT_TYPE)
                .body(protocol::encode(&pull))
                .timeout(PATIENCE)
                .send()
                .await?;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    server.kill()?;
    let mut logs = String::new();
    server
        .stderr
        .take()
        .ok_or("no stderr")?
        .read_to_string(&mut logs)?;
    server.wait()?;
    assert!(
        logs.contains(&device.device_id),
        "the device is named:\n{logs}"
    );
    Ok(logs)
}

#[test]
fn json_logs_have_one_object_a_line_with_user_device_and_bytes_of_each_sync_and_each_failed_sign_in()
-> TestResult {
    let logs = logs_of_a_sync("json")?;
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let sync = lines
        .iter()
        .find(|l| l["message"] == "sync")
        .ok_or("a sync line")?;
    assert_eq!(sync["user"], "am-li");
    for field in [
        "device",
        "bytes_in",
        "bytes_out",
        "ms",
        "pulled_docs",
        "pushed_docs",
    ] {
        assert!(!sync[field].is_null(), "`{field}` in {sync}");
    }
    let failed = lines
        .iter()
        .find(|l| l["message"] == "sign-in failed")
        .ok_or("a failed sign-in line")?;
    assert_eq!(failed["reason"], "unknown or revoked token");
    Ok(())
}

#[test]
fn text_logs_written_to_a_pipe_have_no_colour_escapes() -> TestResult {
    let logs = logs_of_a_sync("text")?;
    assert!(!logs.contains('\u{1b}'), "{logs:?}");
    assert!(logs.contains("user=am-li"), "{logs}");
    assert!(logs.contains("sign-in failed"), "{logs}");
    Ok(())
}
