//! fieldsync-server: the sync server that merges field edits when phones come back online.
//!
//! [`app`] builds the router from an [`AppState`] (tests call it without a socket);
//! [`serve`] binds it and runs until SIGTERM or Ctrl-C, finishing in-flight requests.
//! The protocol is `docs/protocol.md`; its message types live in `fieldsync_core::protocol`
//! so the client and this server share them.

pub mod admin;
pub mod auth;
pub mod config;
pub mod error;
pub mod storage;
pub mod sync;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::TraceLayer;

pub use config::Limits;
pub use storage::SyncStorage;
pub use storage::sqlite::SqliteStorage;

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn SyncStorage>,
    pub limits: Limits,
    pub metrics: Option<PrometheusHandle>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The server's routes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/sync", post(sync::sync))
        .route("/v1/enroll", post(sync::enroll))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        // Bodies are limited by the handlers after decompression, with a JSON error.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestDecompressionLayer::new())
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn(count_requests))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Result<&'static str, error::AppError> {
    let storage = state.storage.clone();
    tokio::task::spawn_blocking(move || storage.users().map(|_| ()))
        .await
        .map_err(error::AppError::internal)??;
    Ok("ok\n")
}

async fn metrics(State(state): State<AppState>) -> String {
    state
        .metrics
        .as_ref()
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

async fn count_requests(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path: &'static str = match request.uri().path() {
        "/v1/sync" => "/v1/sync",
        "/v1/enroll" => "/v1/enroll",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
        _ => "other",
    };
    let bytes_in = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("fieldsync_requests_total", "path" => path, "status" => status).increment(1);
    metrics::counter!("fieldsync_request_bytes_total", "path" => path).increment(bytes_in);
    if let Some(out) = response
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
    {
        metrics::counter!("fieldsync_response_bytes_total", "path" => path)
            .increment(out.parse::<u64>().unwrap_or(0));
    }
    response
}

/// Binds `listen` and serves until SIGTERM or Ctrl-C; in-flight requests finish first.
pub async fn serve(
    state: AppState,
    listen: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    ready(bound);
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
