//! fieldsync-server: the sync server that merges field edits when phones come back online.
//!
//! [`app`] builds the router from an [`AppState`] (tests call it without a socket);
//! [`serve`] binds it and runs until the shutdown future it is given completes (the binary
//! passes SIGTERM or Ctrl-C), finishing in-flight requests.
//! The protocol is `docs/protocol.md`; its message types live in `fieldsync_core::protocol`
//! so the client and this server share them.

pub mod admin;
pub mod admission;
pub mod auth;
pub mod blobs;
pub mod calendar;
pub mod config;
pub mod console;
mod content_type;
pub mod data_dir;
pub mod demo;
pub mod error;
pub mod forwarded;
pub mod listener;
pub mod priority;
pub mod probes;
pub mod push_parse;
mod refusal_close;
pub mod rotation;
pub mod storage;
pub mod sync;
pub mod text;
pub mod throttle;
pub mod working_set;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::DefaultBodyLimit;
use axum::http::{Extensions, HeaderMap, StatusCode, Version, header};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::TraceLayer;

pub use config::Limits;
pub use storage::SyncStorage;
pub use storage::postgres::{PostgresOptions, PostgresStorage};
pub use storage::sqlite::SqliteStorage;

/// How often the Prometheus recorder drains its histograms.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

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

/// The server's routes, `/metrics` among them.
pub fn app(state: AppState) -> Router {
    app_with(state, &AppOptions::default())
}

/// What the routes need beyond the state: whether `/metrics` is served with them (not when
/// it has an address of its own), and the flag `/readyz` reads.
#[derive(Clone, Debug)]
pub struct AppOptions {
    pub public_metrics: bool,
    pub draining: probes::Draining,
    /// Serve the supervision console under `/console` (docs/adr/0017).
    pub console: Option<console::ConsoleConfig>,
    /// Where photo blobs are kept; `None`: the blob routes answer `404`.
    pub blobs: Option<Arc<blobs::Blobs>>,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            public_metrics: true,
            draining: probes::Draining::default(),
            console: None,
            blobs: None,
        }
    }
}

/// The server's routes, as `options` say.
pub fn app_with(state: AppState, options: &AppOptions) -> Router {
    let timeout = std::time::Duration::from_secs(state.limits.request_timeout_secs);
    let admission = Arc::new(admission::Admission::new(&state.limits));
    let mut routes = Router::new()
        .route("/v1/sync", post(sync::sync))
        .route("/v1/enroll", post(sync::enroll))
        .route("/v1/fetch", post(working_set::fetch))
        .route("/healthz", get(probes::healthz))
        .route("/livez", get(probes::livez))
        .route("/readyz", get(probes::readyz));
    if options.public_metrics {
        routes = routes.route("/metrics", get(probes::metrics));
    }
    if let Some(config) = &options.console {
        routes = routes.merge(console::router(config.clone()));
    }
    routes
        .merge(blobs::routes())
        .layer(axum::Extension(options.blobs.clone()))
        // Bodies are limited by the handlers after decompression, with a JSON error.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::Extension(admission.clone()))
        .layer(axum::Extension(options.draining.clone()))
        // A request that is not done in time (a body trickling in, a client gone quiet)
        // gets a 408 instead of holding its connection and task forever. Storage work
        // already under way finishes on its own thread; pushes are idempotent, so the
        // device's retry is safe.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(RequestDecompressionLayer::new())
        // Outside the decompression layer, so its bodyless 415 gets a JSON body too.
        .layer(axum::middleware::from_fn(error::json_errors))
        // A response that offers byte ranges (a photo's download) keeps its length and
        // ranges: compressing it would drop `Content-Length` and `Accept-Ranges`.
        .layer(
            CompressionLayer::new().compress_when(DefaultPredicate::new().and(
                |_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions| {
                    !headers.contains_key(header::ACCEPT_RANGES)
                },
            )),
        )
        .layer(axum::middleware::from_fn_with_state(
            admission,
            admission::limit_in_flight,
        ))
        .layer(axum::middleware::from_fn(count_requests))
        .layer(TraceLayer::new_for_http())
        // Outside every layer but the panics' and the connection's: every layer and
        // handler sees the client's address.
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(state.limits.trusted_proxies.clone()),
            forwarded::resolve,
        ))
        // A panic in a handler is a bug; it becomes a logged 500, not a dropped connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        // Outside even the panics' layer: a panic's 500 ends its connection too.
        .layer(axum::middleware::from_fn(
            refusal_close::close_after_refusal,
        ))
        .with_state(state)
}

/// The metrics address's routes: `/metrics` and the probes, nothing of the protocol.
fn metrics_app(state: AppState, draining: probes::Draining) -> Router {
    Router::new()
        .route("/metrics", get(probes::metrics))
        .route("/livez", get(probes::livez))
        .route("/readyz", get(probes::readyz))
        .route("/healthz", get(probes::healthz))
        .layer(axum::Extension(draining))
        .with_state(state)
}

/// Counts requests by path and status, and the bytes that crossed the wire each way (as sent,
/// before decompression and after compression): request bytes as the handler reads them, so
/// that a chunked or compressed body counts too; response bytes by their length, or as
/// they stream when the length is not known (a compressed response).
async fn count_requests(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path: &'static str = match request.uri().path() {
        "/v1/sync" => "/v1/sync",
        "/v1/enroll" => "/v1/enroll",
        "/v1/fetch" => "/v1/fetch",
        "/healthz" => "/healthz",
        "/livez" => "/livez",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        p if p.starts_with("/v1/blobs") => "/v1/blobs",
        _ => "other",
    };
    let bytes_in = metrics::counter!("fieldsync_request_bytes_total", "path" => path);
    let request = request.map(|body| count_frames(body, bytes_in));
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("fieldsync_requests_total", "path" => path, "status" => status).increment(1);
    let bytes_out = metrics::counter!("fieldsync_response_bytes_total", "path" => path);
    match response.body().size_hint().exact() {
        // Left as it is, so that it goes out with a `Content-Length`.
        Some(len) => {
            bytes_out.increment(len);
            response
        }
        None => response.map(|body| count_frames(body, bytes_out)),
    }
}

fn count_frames(body: Body, counter: metrics::Counter) -> Body {
    Body::new(body.map_frame(move |frame| {
        if let Some(data) = frame.data_ref() {
            counter.increment(data.len() as u64);
        }
        frame
    }))
}

/// How [`serve_with`] runs beside its routes.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// Serve `/metrics` (and the probes) on this address instead of the public one.
    pub metrics_listen: Option<SocketAddr>,
    /// After the shutdown signal, how long `/readyz` answers 503 while requests are still
    /// taken, before the listener closes (time for a load balancer to notice).
    pub shutdown_delay: Duration,
    /// Serve the supervision console with this configuration.
    pub console: Option<console::ConsoleConfig>,
    /// Where photo blobs are kept (`None`: the blob routes answer `404`).
    pub blobs: Option<Arc<blobs::Blobs>>,
}

/// Binds `listen` and serves until `shutdown` completes (`main` passes SIGTERM or Ctrl-C);
/// then it stops accepting connections and finishes the requests in flight.
pub async fn serve(
    state: AppState,
    listen: SocketAddr,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(state, listen, ServeOptions::default(), ready, shutdown).await
}

/// [`serve`] with a metrics address of its own and a delay between draining and closing.
pub async fn serve_with(
    state: AppState,
    listen: SocketAddr,
    options: ServeOptions,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    let metrics_listener = match options.metrics_listen {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await?),
        None => None,
    };
    // A recorder installed without its exporter's own task needs upkeep, or its histograms
    // grow without bound between scrapes.
    let upkeep = state.metrics.clone().map(|handle| {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(METRICS_UPKEEP);
            // Ends when `serve` returns and aborts it.
            loop {
                every.tick().await;
                handle.run_upkeep();
            }
        })
    });
    let draining = probes::Draining::default();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let signal = tokio::spawn({
        let draining = draining.clone();
        let delay = options.shutdown_delay;
        async move {
            shutdown.await;
            draining.start();
            tracing::info!(
                delay_ms = delay.as_millis() as u64,
                "draining: /readyz answers 503"
            );
            tokio::time::sleep(delay).await;
            let _ = stop.send(true);
        }
    });
    let stopped_future = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        // Ends when the flag is set or the sender is gone.
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let limits = &state.limits;
    let connections = listener::ConnectionLimits {
        max_connections: limits.max_connections.unwrap_or_else(|| {
            listener::default_max_connections(listener::raise_open_files_limit())
        }),
        header_timeout: Duration::from_secs(limits.header_timeout_secs.max(1)),
        idle_timeout: Duration::from_secs(limits.idle_timeout_secs.max(1)),
        drain_timeout: Duration::from_secs(limits.request_timeout_secs.saturating_add(5)),
    };
    let metrics_task = metrics_listener.map(|metrics_listener| {
        if let Ok(addr) = metrics_listener.local_addr() {
            tracing::info!(%addr, "metrics and probes listening");
        }
        let router = metrics_app(state.clone(), draining.clone());
        let small = listener::ConnectionLimits {
            max_connections: 64,
            ..connections
        };
        tokio::spawn(listener::run(
            metrics_listener,
            router,
            small,
            stopped_future(stopped.clone()),
        ))
    });
    let app_options = AppOptions {
        public_metrics: options.metrics_listen.is_none(),
        draining,
        console: options.console.clone(),
        blobs: options.blobs.clone(),
    };
    ready(bound);
    let served = listener::run(
        listener,
        app_with(state, &app_options),
        connections,
        stopped_future(stopped),
    )
    .await;
    signal.abort();
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    if let Some(upkeep) = upkeep {
        upkeep.abort();
    }
    served
}

fn panic_response(cause: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let cause = cause
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| cause.downcast_ref::<&str>().copied())
        .unwrap_or("a panic");
    axum::response::IntoResponse::into_response(error::AppError::Internal(format!(
        "handler panicked: {cause}"
    )))
}
