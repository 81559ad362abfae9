//! The phone's sync client honours `Retry-After` on a `429`, within its own bound on a
//! wait (`SyncConfig::max_backoff`), against a stand-in server on 127.0.0.1 that is always
//! busy and notes when each attempt arrived.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use fieldsync_core::fixtures::{at, device};
use fieldsync_core::{SyncClient, SyncConfig, SyncFailure};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// A server that answers every sync `429` with `Retry-After: retry_after`; the instants
/// the attempts arrived.
async fn busy_server(retry_after: u64) -> Fallible<(SocketAddr, Arc<Mutex<Vec<Instant>>>)> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let noted = seen.clone();
    let app = axum::Router::new().route(
        "/v1/sync",
        axum::routing::post(move || {
            let noted = noted.clone();
            async move {
                noted.lock().map(|mut s| s.push(Instant::now())).ok();
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"error":"busy","message":"try again shortly"}"#,
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr, seen))
}

async fn attempts_against(retry_after_secs: u64, max_backoff: Duration) -> Fallible<Vec<Duration>> {
    let (addr, seen) = busy_server(retry_after_secs).await?;
    let dir = tempfile::tempdir()?;
    let (phone, _) = device(
        dir.path().join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let mut config = SyncConfig::new(format!("http://{addr}"), "token");
    config.max_attempts = 3;
    config.initial_backoff = Duration::from_millis(1);
    config.max_backoff = max_backoff;
    let client = SyncClient::new(config, Arc::new(phone))?;
    let failure = tokio::time::timeout(Duration::from_secs(30), client.sync(&|_| {}))
        .await?
        .expect_err("an always busy server");
    assert!(
        matches!(failure, SyncFailure::Busy { retry_after, .. } if retry_after == Duration::from_secs(retry_after_secs)),
        "{failure:?}"
    );
    let seen = seen.lock().map_err(|e| e.to_string())?.clone();
    assert_eq!(seen.len(), 3, "max_attempts");
    Ok(seen.windows(2).map(|w| w[1] - w[0]).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_waits_as_long_as_retry_after_says_before_trying_again() -> TestResult {
    // Without the header's word the client's own backoff here is at most 2 ms.
    for gap in attempts_against(1, Duration::from_secs(10)).await? {
        assert!(gap >= Duration::from_millis(950), "{gap:?}");
        assert!(gap < Duration::from_secs(5), "{gap:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_longer_than_the_clients_bound_is_cut_to_the_bound() -> TestResult {
    for gap in attempts_against(3_600, Duration::from_millis(300)).await? {
        assert!(gap >= Duration::from_millis(250), "{gap:?}");
        assert!(
            gap < Duration::from_secs(3),
            "not the hour asked for: {gap:?}"
        );
    }
    Ok(())
}
