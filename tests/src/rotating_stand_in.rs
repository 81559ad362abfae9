//! A stand-in server on 127.0.0.1 whose device token the test rotates when it chooses, for
//! the client's retry of a request a rotation overtook (docs/protocol.md, "Token
//! rotation", rule 5).
//!
//! It plays the real server's rules in small: a sync made with [`OLD`] once the test called
//! [`StandIn::rotate`] answers with [`NEW`] in `Fieldsync-Token`; the first request made
//! with [`NEW`] retires [`OLD`], which is refused `401` from then on (as is any other
//! token). [`StandIn::hold`] keeps the first request of one route made with [`OLD`] waiting
//! until [`StandIn::release`], its answer decided only then: so a test can let a sync
//! rotate and retire the token while that request is in flight.
//!
//! What it serves: `/v1/sync` (every pushed document accepted, nothing sent back),
//! `/v1/fetch` (an empty answer), and the photo routes: `/v1/blobs/status`, `PATCH
//! /v1/blobs/{hash}` (chunks appended at the offset it holds) and `GET /v1/blobs/{hash}`
//! (the whole blob). It checks no scope and no hash: the tests are about the token.
//! [`StandIn::fail`] answers a route's next requests `503`, as a failing link would.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fieldsync_core::protocol::blobs::{
    BlobState, BlobStatus, BlobStatusRequest, BlobStatusResponse, BlobUploaded, LENGTH_HEADER,
    OFFSET_HEADER,
};
use fieldsync_core::protocol::{
    self, Accepted, FetchResponse, SyncRequest, SyncResponse, TOKEN_HEADER,
};
use tokio::sync::Notify;

use crate::server::{HarnessError, HarnessResult};

/// The token the device was enrolled with.
pub const OLD: &str = "old-token";
/// The token a rotation hands out.
pub const NEW: &str = "new-token";

/// A route of the stand-in, as [`StandIn::seen`] lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    Sync,
    Fetch,
    BlobStatus,
    BlobUpload,
    BlobDownload,
}

/// What the stand-in knows and what the test has told it.
#[derive(Default)]
struct Inner {
    /// Every request, in order: its route and bearer token.
    seen: Mutex<Vec<(Route, String)>>,
    /// A sync with [`OLD`] answers with [`NEW`].
    rotate: AtomicBool,
    /// [`OLD`] is refused.
    retired: AtomicBool,
    /// The route whose first request with [`OLD`] waits for the test.
    hold: Mutex<Option<Route>>,
    arrived: Notify,
    release: Notify,
    /// Requests to a route, made with a valid token, to answer `503` before serving it.
    failing: Mutex<HashMap<Route, u32>>,
    /// Blobs complete, by hash, and uploads under way.
    blobs: Mutex<HashMap<String, Vec<u8>>>,
    partial: Mutex<HashMap<String, Vec<u8>>>,
}

/// A running stand-in; it stops with the test's runtime.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct StandIn {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

fn bearer(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        br#"{"error":"unauthorized","message":"this token is not valid"}"#.to_vec(),
    )
        .into_response()
}

fn cbor(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, protocol::CONTENT_TYPE)],
        body,
    )
        .into_response()
}

fn json<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

impl Inner {
    /// Notes the request, holds it if the test asked, and says whether its token is
    /// valid now (a token used after the hold is judged after it).
    async fn admit(&self, route: Route, headers: &HeaderMap) -> Result<String, Response> {
        let token = bearer(headers);
        if let Ok(mut seen) = self.seen.lock() {
            seen.push((route, token.clone()));
        }
        let held = token == OLD
            && self
                .hold
                .lock()
                .map(|mut h| h.take_if(|r| *r == route).is_some())
                .unwrap_or(false);
        if held {
            self.arrived.notify_one();
            // Bounded: the test releases it, or the wait ends.
            let _ = tokio::time::timeout(Duration::from_secs(10), self.release.notified()).await;
        }
        if token == NEW {
            self.retired.store(true, Ordering::SeqCst);
        } else if token != OLD || self.retired.load(Ordering::SeqCst) {
            return Err(unauthorized());
        }
        let fail = self
            .failing
            .lock()
            .map(|mut f| {
                f.get_mut(&route)
                    .is_some_and(|n| n.checked_sub(1).map(|left| *n = left).is_some())
            })
            .unwrap_or(false);
        if fail {
            return Err((StatusCode::SERVICE_UNAVAILABLE, "try again").into_response());
        }
        Ok(token)
    }
}

async fn sync(State(s): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let token = match s.admit(Route::Sync, &headers).await {
        Ok(token) => token,
        Err(refused) => return refused,
    };
    let mut plain = Vec::new();
    let gzipped = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let read = if gzipped {
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .map(drop)
    } else {
        plain.extend_from_slice(&body);
        Ok(())
    };
    let request: SyncRequest = match read
        .map_err(|e| e.to_string())
        .and_then(|()| protocol::decode("sync request", &plain).map_err(|e| e.to_string()))
    {
        Ok(request) => request,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    let answer = SyncResponse {
        accepted: request
            .push
            .iter()
            .map(|d| Accepted {
                doc: d.doc.clone(),
                heads: Vec::new(),
            })
            .collect(),
        cursor: "1".into(),
        ..SyncResponse::default()
    };
    let mut response = cbor(protocol::encode(&answer));
    if token == OLD && s.rotate.load(Ordering::SeqCst) {
        response
            .headers_mut()
            .insert(TOKEN_HEADER, header::HeaderValue::from_static(NEW));
    }
    response
}

async fn fetch(State(s): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    match s.admit(Route::Fetch, &headers).await {
        Ok(_) => cbor(protocol::encode(&FetchResponse::default())),
        Err(refused) => refused,
    }
}

async fn blob_status(State(s): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = s.admit(Route::BlobStatus, &headers).await {
        return refused;
    }
    let Ok(request) = serde_json::from_slice::<BlobStatusRequest>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a status request").into_response();
    };
    let (Ok(blobs), Ok(partial)) = (s.blobs.lock(), s.partial.lock()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let status = |hash: &str| match (blobs.get(hash), partial.get(hash)) {
        (Some(b), _) => (BlobState::Complete, b.len() as u64),
        (None, Some(p)) => (BlobState::Partial, p.len() as u64),
        (None, None) => (BlobState::Missing, 0),
    };
    json(&BlobStatusResponse {
        blobs: request
            .blobs
            .iter()
            .map(|b| {
                let (state, committed) = status(&b.hash);
                BlobStatus {
                    hash: b.hash.clone(),
                    state,
                    committed,
                }
            })
            .collect(),
    })
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}

async fn upload(
    State(s): State<Arc<Inner>>,
    Path(hash): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = s.admit(Route::BlobUpload, &headers).await {
        return refused;
    }
    let (Some(offset), Some(length)) = (
        header_u64(&headers, OFFSET_HEADER),
        header_u64(&headers, LENGTH_HEADER),
    ) else {
        return (StatusCode::BAD_REQUEST, "offset and length required").into_response();
    };
    let (Ok(mut blobs), Ok(mut partial)) = (s.blobs.lock(), s.partial.lock()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let held = partial.entry(hash.clone()).or_default();
    if held.len() as u64 != offset {
        return (
            StatusCode::CONFLICT,
            [(OFFSET_HEADER, held.len().to_string())],
        )
            .into_response();
    }
    held.extend_from_slice(&body);
    let committed = held.len() as u64;
    let complete = committed >= length;
    if complete && let Some(whole) = partial.remove(&hash) {
        blobs.insert(hash.clone(), whole);
    }
    json(&BlobUploaded {
        hash,
        committed,
        complete,
    })
}

async fn download(
    State(s): State<Arc<Inner>>,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = s.admit(Route::BlobDownload, &headers).await {
        return refused;
    }
    match s.blobs.lock().ok().and_then(|b| b.get(&hash).cloned()) {
        Some(bytes) => (StatusCode::OK, bytes).into_response(),
        None => (StatusCode::NOT_FOUND, "no such blob").into_response(),
    }
}

impl StandIn {
    /// Starts a stand-in on 127.0.0.1 on the current runtime.
    pub async fn start() -> HarnessResult<StandIn> {
        let inner = Arc::new(Inner::default());
        let app = axum::Router::new()
            .route("/v1/sync", post(sync))
            .route("/v1/fetch", post(fetch))
            .route("/v1/blobs/status", post(blob_status))
            .route("/v1/blobs/{hash}", get(download).patch(upload))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(StandIn { addr, inner })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on a sync with [`OLD`] answers with [`NEW`].
    pub fn rotate(&self) {
        self.inner.rotate.store(true, Ordering::SeqCst);
    }

    /// [`OLD`] is refused from now on, with no rotation: the device's own token is no
    /// longer valid.
    pub fn retire(&self) {
        self.inner.retired.store(true, Ordering::SeqCst);
    }

    /// The first request to `route` made with [`OLD`] waits for [`StandIn::release`].
    pub fn hold(&self, route: Route) -> HarnessResult<()> {
        *self
            .inner
            .hold
            .lock()
            .map_err(|e| HarnessError(e.to_string()))? = Some(route);
        Ok(())
    }

    /// Waits (at most ten seconds) until the held request has arrived.
    pub async fn held(&self) -> HarnessResult<()> {
        tokio::time::timeout(Duration::from_secs(10), self.inner.arrived.notified())
            .await
            .map_err(|_| HarnessError("the held request never arrived".into()))
    }

    /// Lets the held request go on.
    pub fn release(&self) {
        self.inner.release.notify_one();
    }

    /// The next `times` requests to `route` made with a valid token are answered `503`.
    pub fn fail(&self, route: Route, times: u32) -> HarnessResult<()> {
        self.inner
            .failing
            .lock()
            .map_err(|e| HarnessError(e.to_string()))?
            .insert(route, times);
        Ok(())
    }

    /// Puts a complete blob on the stand-in, for a download.
    pub fn put_blob(&self, hash: &str, bytes: Vec<u8>) -> HarnessResult<()> {
        self.inner
            .blobs
            .lock()
            .map_err(|e| HarnessError(e.to_string()))?
            .insert(hash.to_owned(), bytes);
        Ok(())
    }

    /// A blob the stand-in holds complete.
    pub fn blob(&self, hash: &str) -> Option<Vec<u8>> {
        self.inner.blobs.lock().ok()?.get(hash).cloned()
    }

    /// Every request so far: its route and bearer token.
    pub fn seen(&self) -> Vec<(Route, String)> {
        self.inner
            .seen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// The tokens of the requests to `route`, in order.
    pub fn tokens_of(&self, route: Route) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter(|(r, _)| *r == route)
            .map(|(_, t)| t)
            .collect()
    }
}
