//! A download whose server answers pieces that bring nothing ends after the retries a
//! failing link is allowed, instead of asking again up to the loop's bound (100,000
//! requests). Against a stand-in on 127.0.0.1 that answers every range `206` with an
//! empty body.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use fieldsync_core::fixtures::{at, device};
use fieldsync_core::{DocId, PhotoSettings, SyncClient, SyncConfig, SyncFailure};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_of_empty_pieces_fails_after_the_links_retries() -> TestResult {
    let asked = Arc::new(AtomicU32::new(0));
    let counted = asked.clone();
    let app = axum::Router::new().route(
        "/v1/blobs/{hash}",
        axum::routing::get(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                (
                    StatusCode::PARTIAL_CONTENT,
                    [(header::CONTENT_RANGE, "bytes 0-0/1000")],
                    Vec::<u8>::new(),
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir()?;
    let (phone, _) = device(
        dir.path().join("wang.db"),
        "sup-wang",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let mut config = SyncConfig::new(format!("http://{addr}"), "token");
    config.max_attempts = 3;
    config.max_backoff = Duration::from_millis(20);
    let client = SyncClient::new(config, Arc::new(phone))?;
    let hash = format!("sha256:{}", "ab".repeat(32));
    let fetched = tokio::time::timeout(
        Duration::from_secs(30),
        client.fetch_photo(&DocId::new(), &hash, false, &PhotoSettings::default()),
    )
    .await?;
    assert!(
        matches!(&fetched, Err(SyncFailure::ServerUnavailable(m)) if m.contains("brought no bytes")),
        "{fetched:?}"
    );
    assert_eq!(
        asked.load(Ordering::SeqCst),
        3,
        "one request per allowed attempt"
    );
    Ok(())
}
