//! An app older than its server is told to update, as a typed failure of its own: a
//! stand-in server on 127.0.0.1 refuses the app's protocol as docs/protocol.md says
//! (`400 unsupported_protocol`, the version it speaks in `Fieldsync-Protocol`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use fieldsync_core::fixtures::{at, device};
use fieldsync_core::protocol::PROTOCOL_HEADER;
use fieldsync_core::{SyncClient, SyncConfig, SyncFailure};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// A server that speaks protocol `speaks` (and refuses every other), or says nothing of
/// its version when `None`.
async fn server_speaking(speaks: Option<u32>) -> Fallible<SocketAddr> {
    let app = axum::Router::new().route(
        "/v1/sync",
        axum::routing::post(move || async move {
            let mut response = (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"error":"unsupported_protocol","message":"protocol `1` is not spoken here; this server speaks `2`"}"#,
            )
                .into_response();
            if let Some(v) = speaks {
                response
                    .headers_mut()
                    .insert(PROTOCOL_HEADER, HeaderValue::from(v));
            }
            response
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

async fn sync_against(speaks: Option<u32>) -> Fallible<SyncFailure> {
    let addr = server_speaking(speaks).await?;
    let dir = tempfile::tempdir()?;
    let (phone, _) = device(
        dir.path().join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let client = SyncClient::new(
        SyncConfig::new(format!("http://{addr}"), "t"),
        Arc::new(phone),
    )?;
    Ok(client.sync(&|_| {}).await.expect_err("refused"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_a_newer_protocol_makes_the_sync_fail_with_update_required() -> TestResult {
    let failure = sync_against(Some(2)).await?;
    assert!(
        matches!(failure, SyncFailure::UpdateRequired(_)),
        "{failure:?}"
    );
    assert!(
        !failure.is_transient(),
        "not retried: waiting does not help"
    );
    assert!(
        failure.to_string().starts_with("update the app"),
        "{failure}"
    );
    // A server that does not say which version it speaks is taken to be newer.
    let failure = sync_against(None).await?;
    assert!(
        matches!(failure, SyncFailure::UpdateRequired(_)),
        "{failure:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_an_older_protocol_is_a_refusal_not_an_update_of_the_app() -> TestResult {
    let failure = sync_against(Some(0)).await?;
    assert!(matches!(failure, SyncFailure::Refused(_)), "{failure:?}");
    assert!(
        failure.to_string().contains("older than this app"),
        "{failure}"
    );
    Ok(())
}
