//! A request a phone sent with its old token, answered `401` only after the phone took a
//! rotated token (the server retired the old one at the rotation's confirming pull), is
//! sent once more with the new token instead of failing as "enroll again". Against a
//! stand-in server on 127.0.0.1 that holds the first fetch until the sync has rotated.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use fieldsync_core::fixtures::{at, device};
use fieldsync_core::protocol::{self, FetchResponse, SyncResponse, TOKEN_HEADER};
use fieldsync_core::{DocId, LocalStore, SyncClient, SyncConfig, SyncFailure};
use tokio::sync::Notify;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const OLD: &str = "old-token";
const NEW: &str = "new-token";

/// What the stand-in saw and how the test steers it.
#[derive(Default)]
struct Stand {
    /// The bearer token of every request, in order, with its path.
    seen: Mutex<Seen>,
    /// A fetch with the old token has arrived.
    fetch_arrived: Notify,
    /// The sync has rotated: answer the held fetch.
    release: Notify,
}

/// The requests a stand-in saw: (path, bearer token), in order.
type Seen = Vec<(String, String)>;

impl Stand {
    /// Notes a request to `path` and returns its bearer token.
    fn note(&self, path: &str, headers: &HeaderMap) -> String {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_owned();
        self.seen
            .lock()
            .map(|mut s| s.push((path.into(), token.clone())))
            .ok();
        token
    }

    /// Every request seen (path, token), with the tokens of the fetches among them.
    fn seen(&self) -> Result<(Seen, Vec<String>), String> {
        let seen = self.seen.lock().map_err(|e| e.to_string())?.clone();
        let fetches = seen
            .iter()
            .filter(|(path, _)| path == "fetch")
            .map(|(_, token)| token.clone())
            .collect();
        Ok((seen, fetches))
    }
}

/// A phone's store for the stand-in's tests.
fn phone(dir: &tempfile::TempDir) -> Result<Arc<LocalStore>, Box<dyn std::error::Error>> {
    let (phone, _) = device(
        dir.path().join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    Ok(Arc::new(phone))
}

/// A server that rotates `OLD` to `NEW` on a sync, refuses `OLD` with `401` on a fetch
/// (after holding it until released), and answers a fetch with `NEW`.
async fn stand_in(stand: Arc<Stand>) -> Result<SocketAddr, Box<dyn std::error::Error>> {
    let (on_sync, on_fetch) = (stand.clone(), stand);
    let app = axum::Router::new()
        .route(
            "/v1/sync",
            axum::routing::post(move |headers: HeaderMap| {
                let stand = on_sync.clone();
                async move {
                    let token = stand.note("sync", &headers);
                    let body = protocol::encode(&SyncResponse {
                        cursor: "1".into(),
                        ..SyncResponse::default()
                    });
                    let mut response = (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, protocol::CONTENT_TYPE)],
                        body,
                    )
                        .into_response();
                    if token == OLD {
                        response
                            .headers_mut()
                            .insert(TOKEN_HEADER, NEW.parse().expect("a header value"));
                    }
                    response
                }
            }),
        )
        .route(
            "/v1/fetch",
            axum::routing::post(move |headers: HeaderMap| {
                let stand = on_fetch.clone();
                async move {
                    let token = stand.note("fetch", &headers);
                    if token != NEW {
                        stand.fetch_arrived.notify_one();
                        // Bounded: the test releases it, or the wait ends.
                        let _ =
                            tokio::time::timeout(Duration::from_secs(10), stand.release.notified())
                                .await;
                        return (
                            StatusCode::UNAUTHORIZED,
                            [(header::CONTENT_TYPE, "application/json")],
                            br#"{"error":"unauthorized","message":"this token was replaced"}"#
                                .to_vec(),
                        )
                            .into_response();
                    }
                    let body = protocol::encode(&FetchResponse::default());
                    (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, protocol::CONTENT_TYPE)],
                        body,
                    )
                        .into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_refused_because_a_rotation_replaced_its_token_meanwhile_is_sent_again_with_the_new_token()
-> TestResult {
    let stand = Arc::new(Stand::default());
    let addr = stand_in(stand.clone()).await?;
    let dir = tempfile::tempdir()?;
    let phone = phone(&dir)?;
    let client = Arc::new(SyncClient::new(
        SyncConfig::new(format!("http://{addr}"), OLD),
        phone,
    )?);

    let fetching = client.clone();
    let fetch = tokio::spawn(async move { fetching.fetch_documents(&[DocId::new()]).await });
    tokio::time::timeout(Duration::from_secs(10), stand.fetch_arrived.notified()).await?;
    let report = tokio::time::timeout(Duration::from_secs(10), client.sync(&|_| {})).await??;
    assert!(report.token_rotated);
    stand.release.notify_one();
    let fetched = tokio::time::timeout(Duration::from_secs(10), fetch).await??;
    assert!(fetched.is_ok(), "{fetched:?}");

    let (seen, fetches) = stand.seen()?;
    assert_eq!(fetches, [OLD, NEW], "{seen:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_refused_with_the_token_the_phone_still_holds_is_unauthorized_at_once() -> TestResult
{
    let stand = Arc::new(Stand::default());
    let addr = stand_in(stand.clone()).await?;
    let dir = tempfile::tempdir()?;
    let phone = phone(&dir)?;
    let client = SyncClient::new(SyncConfig::new(format!("http://{addr}"), OLD), phone)?;
    // Nothing rotates: the stand-in's refusal is the device's, and is not tried again.
    stand.release.notify_one();
    let fetched = tokio::time::timeout(
        Duration::from_secs(10),
        client.fetch_documents(&[DocId::new()]),
    )
    .await?;
    assert!(
        matches!(fetched, Err(SyncFailure::Unauthorized(_))),
        "{fetched:?}"
    );
    let (seen, _) = stand.seen()?;
    assert_eq!(seen.len(), 1, "one request: {seen:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_client_of_the_store_refused_after_the_first_rotated_takes_the_kept_token_and_sends_again()
-> TestResult {
    let stand = Arc::new(Stand::default());
    let addr = stand_in(stand.clone()).await?;
    let dir = tempfile::tempdir()?;
    let phone = phone(&dir)?;
    let config = SyncConfig::new(format!("http://{addr}"), OLD);
    // Both built before any rotation: both hold the old token in memory.
    let syncing = SyncClient::new(config.clone(), phone.clone())?;
    let fetching = SyncClient::new(config, phone)?;
    let report = tokio::time::timeout(Duration::from_secs(10), syncing.sync(&|_| {})).await??;
    assert!(report.token_rotated);

    stand.release.notify_one();
    let fetched = tokio::time::timeout(
        Duration::from_secs(10),
        fetching.fetch_documents(&[DocId::new()]),
    )
    .await?;
    assert!(fetched.is_ok(), "{fetched:?}");
    let (seen, fetches) = stand.seen()?;
    assert_eq!(fetches, [OLD, NEW], "{seen:?}");
    Ok(())
}
