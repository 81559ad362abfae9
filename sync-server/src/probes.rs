//! What the operator's tools ask: `/livez` (the process answers), `/readyz` (it can serve:
//! the database is readable and it is not draining), `/healthz` (as before: the database
//! is readable), and `/metrics` (Prometheus text), with the build it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;
use crate::error::AppError;

/// The version and commit this binary was built from (`build.rs`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = env!("FIELDSYNC_COMMIT");
/// `--version`'s line: `0.1.0 (commit 1a2b3c4d5e6f)`.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FIELDSYNC_COMMIT"),
    ")"
);

/// Set once a shutdown has begun: `/readyz` answers 503 from then on, so that a load
/// balancer stops sending new work while the requests in flight finish.
#[derive(Clone, Debug, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// `GET /livez`: the process is up and its runtime answers. Restart it if this fails.
pub async fn livez() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when the database answers and the server is not draining, else 503.
pub async fn readyz(
    State(state): State<AppState>,
    axum::Extension(draining): axum::Extension<Draining>,
) -> Response {
    if draining.is_draining() {
        return unavailable("draining", "the server is shutting down");
    }
    match database_answers(&state).await {
        Ok(()) => "ok\n".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            unavailable("database", "the database does not answer")
        }
    }
}

/// A 503 with the JSON error body every refusal has.
fn unavailable(code: &str, message: &str) -> Response {
    let body = fieldsync_core::protocol::ErrorBody {
        error: code.to_owned(),
        message: message.to_owned(),
        ..Default::default()
    };
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
}

/// `GET /healthz`: `ok` when the database is readable (kept as it was before `/readyz`).
pub async fn healthz(State(state): State<AppState>) -> Result<&'static str, AppError> {
    database_answers(&state).await?;
    Ok("ok\n")
}

async fn database_answers(state: &AppState) -> Result<(), AppError> {
    let storage = state.storage.clone();
    tokio::task::spawn_blocking(move || storage.users().map(|_| ()))
        .await
        .map_err(AppError::internal)?
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> String {
    state
        .metrics
        .as_ref()
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

/// Seconds a sync may take, as histogram buckets: a sync is tens of milliseconds; a
/// first sync of a whole territory a few seconds.
const SYNC_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Installs the process's Prometheus recorder: `fieldsync_sync_seconds` as a histogram
/// (buckets add up across instances, quantiles of a summary do not), every metric
/// described, and `fieldsync_build_info{version, commit} 1`.
pub fn install_recorder() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("fieldsync_sync_seconds".into()),
            &SYNC_BUCKETS,
        )
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    describe();
    Ok(handle)
}

/// HELP text for every metric the server records, and the build-info gauge.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_histogram!(
        "fieldsync_sync_seconds",
        Unit::Seconds,
        "Duration of a successful sync, from its first byte read to its answer."
    );
    describe_counter!("fieldsync_requests_total", "Requests by route and status.");
    describe_counter!(
        "fieldsync_request_bytes_total",
        Unit::Bytes,
        "Request bytes read, as sent (before decompression)."
    );
    describe_counter!(
        "fieldsync_response_bytes_total",
        Unit::Bytes,
        "Response bytes written, as sent (after compression)."
    );
    describe_counter!("fieldsync_changes_applied_total", "Changes newly stored.");
    describe_gauge!("fieldsync_connections", "Connections open now.");
    describe_counter!(
        "fieldsync_connections_refused_total",
        "Connections closed on arrival because the connection cap was reached."
    );
    describe_counter!(
        "fieldsync_connections_idle_closed_total",
        "Connections closed after the idle timeout."
    );
    describe_counter!(
        "fieldsync_busy_total",
        "Requests refused with 429 busy, by reason (requests or body_bytes in flight)."
    );
    describe_gauge!(
        "fieldsync_build_info",
        "Always 1; the labels name the version and commit running."
    );
    metrics::gauge!("fieldsync_build_info", "version" => VERSION, "commit" => COMMIT).set(1.0);
}
