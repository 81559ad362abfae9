//! What the server admits at once: requests in flight, bytes of bodies in flight, and
//! each device's and each source's pace (docs/adr/0013).
//!
//! Every refusal here is a `429` with `Retry-After`, which the phone already treats as
//! "try again later"; nothing was read or stored, so the retry is safe.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Limits;
use crate::error::{AppError, AppResult};
use crate::throttle::{Buckets, retry_after_secs};

/// The shared counters, one set per router.
#[derive(Debug)]
pub struct Admission {
    requests: Arc<Semaphore>,
    body_bytes: Arc<Semaphore>,
    body_budget: usize,
    devices: Buckets<String>,
    enroll_sources: Buckets<IpAddr>,
    enroll_codes: Buckets<Vec<u8>>,
    enroll_all: Buckets<()>,
    /// When each device's `last_seen_at` was last written by this instance.
    seen: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// What each device's last written report said (a fingerprint) and when it was written.
    reports: std::sync::Mutex<std::collections::HashMap<String, (u64, i64)>>,
}

/// A device's report is written again after this long even when it says the same.
pub const REPORT_EVERY_MS: i64 = 60_000;

/// Seconds a phone is told to wait when the server is full (the requests in flight end
/// within a round trip, usually far less).
const BUSY_RETRY_SECS: u64 = 1;

impl Admission {
    pub fn new(limits: &Limits) -> Admission {
        let body_budget = limits.body_bytes_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        Admission {
            requests: Arc::new(Semaphore::new(
                limits
                    .max_requests_in_flight
                    .clamp(1, Semaphore::MAX_PERMITS),
            )),
            body_bytes: Arc::new(Semaphore::new(body_budget)),
            body_budget,
            devices: Buckets::per_minute(
                limits.device_requests_per_minute,
                limits.device_requests_per_minute,
            ),
            enroll_sources: Buckets::per_minute(limits.enroll_per_source_per_minute, 300),
            enroll_codes: Buckets::per_hour(ENROLL_PER_CODE_PER_HOUR, ENROLL_PER_CODE_PER_HOUR),
            enroll_all: Buckets::per_minute(ENROLL_PER_MINUTE, ENROLL_PER_MINUTE),
            seen: Default::default(),
            reports: Default::default(),
        }
    }

    /// Whether the device's `last_seen_at` is due to be written (at most once an hour per
    /// device and instance, so that syncs do not queue on the writer for it).
    pub fn seen_due(&self, device_id: &str, now: i64) -> bool {
        let every = crate::storage::audit::LAST_SEEN_EVERY_MS;
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= 100_000 {
            seen.clear();
        }
        match seen.get(device_id) {
            Some(&at) if now - at < every => false,
            _ => {
                seen.insert(device_id.to_owned(), now);
                true
            }
        }
    }

    /// Whether the device's report (`fingerprint` of what it says, the clock's drift to the
    /// second) is due to be written: when it says something new, or a minute after the
    /// last write, so that a phone syncing often does not queue on the writer for it.
    pub fn report_due(&self, device_id: &str, fingerprint: u64, now: i64) -> bool {
        let mut reports = self.reports.lock().unwrap_or_else(|p| p.into_inner());
        if reports.len() >= 100_000 {
            reports.clear();
        }
        match reports.get(device_id) {
            Some(&(said, at)) if said == fingerprint && now - at < REPORT_EVERY_MS => false,
            _ => {
                reports.insert(device_id.to_owned(), (fingerprint, now));
                true
            }
        }
    }

    /// Takes one of the device's requests, or refuses with how long to wait.
    pub fn device(&self, device_id: &str) -> AppResult<()> {
        self.devices.take(&device_id.to_owned()).map_err(|wait| {
            tracing::warn!(device = %device_id, "device over its request rate");
            busy(
                "rate_limited",
                "this device is syncing faster than the server allows: try again later",
                retry_after_secs(wait),
            )
        })
    }

    /// Takes an enrollment attempt from `source` (if known) with the code hashed as
    /// `code_hash`, or refuses with how long to wait.
    pub fn enrollment(&self, source: Option<IpAddr>, code_hash: &[u8]) -> AppResult<()> {
        let refused = |wait| {
            busy(
                "rate_limited",
                "too many enrollment attempts: try again later",
                retry_after_secs(wait),
            )
        };
        if let Some(ip) = source {
            self.enroll_sources.take(&ip).map_err(|wait| {
                tracing::warn!(source = %ip, "enrollment attempts over the per-source rate");
                refused(wait)
            })?;
        }
        self.enroll_codes
            .take(&code_hash.to_vec())
            .map_err(|wait| {
                tracing::warn!("enrollment attempts over the per-code rate");
                refused(wait)
            })?;
        self.enroll_all.take(&()).map_err(|wait| {
            tracing::warn!("enrollment attempts over the server's rate");
            refused(wait)
        })
    }

    /// Reads a (decompressed) body of at most `limit` bytes, holding its bytes against the
    /// server's budget of bodies in flight until the returned permit is dropped.
    pub async fn read_body(
        &self,
        body: Body,
        limit: usize,
    ) -> AppResult<(Bytes, Option<OwnedSemaphorePermit>)> {
        let mut body = std::pin::pin!(http_body_util::Limited::new(body, limit));
        let mut held: Option<OwnedSemaphorePermit> = None;
        let mut bytes = Vec::new();
        // Bounded: every frame adds bytes, and past `limit` the body errs.
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| body_error(e, limit))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if data.is_empty() {
                continue;
            }
            let n = u32::try_from(data.len())
                .ok()
                .filter(|&n| n as usize <= self.body_budget);
            let permit = n.and_then(|n| self.body_bytes.clone().try_acquire_many_owned(n).ok());
            let Some(permit) = permit else {
                metrics::counter!("fieldsync_busy_total", "reason" => "body_bytes").increment(1);
                return Err(busy(
                    "busy",
                    "the server is receiving too much at once: try again shortly",
                    BUSY_RETRY_SECS,
                ));
            };
            match held.as_mut() {
                Some(h) => h.merge(permit),
                None => held = Some(permit),
            }
            bytes.extend_from_slice(&data);
        }
        Ok((Bytes::from(bytes), held))
    }
}

/// Enrollment attempts one code may see an hour (a phone retrying over a poor link needs
/// a few; a code is typed once).
const ENROLL_PER_CODE_PER_HOUR: u32 = 10;
/// Enrollment attempts the whole server takes a minute: a district's rollout day is a few
/// hundred phones, while guessing at this pace over 2^60 codes is hopeless.
const ENROLL_PER_MINUTE: u32 = 600;

fn body_error(e: axum::BoxError, limit: usize) -> AppError {
    if e.is::<http_body_util::LengthLimitError>() {
        AppError::TooLarge(format!(
            "the body is larger than the limit of {limit} bytes"
        ))
    } else {
        AppError::BadRequest(format!("could not read the body: {e}"))
    }
}

fn busy(code: &'static str, message: &str, retry_after: u64) -> AppError {
    AppError::Busy {
        code,
        message: message.to_owned(),
        retry_after,
    }
}

/// Refuses a request to the protocol's routes when `max_requests_in_flight` are already
/// being answered; probes and metrics are not counted, so they answer under load.
pub async fn limit_in_flight(
    axum::extract::State(admission): axum::extract::State<Arc<Admission>>,
    request: Request,
    next: Next,
) -> Response {
    if !request.uri().path().starts_with("/v1/") {
        return next.run(request).await;
    }
    match admission.requests.clone().try_acquire_owned() {
        Ok(permit) => {
            let response = next.run(request).await;
            drop(permit);
            response
        }
        Err(_) => {
            metrics::counter!("fieldsync_busy_total", "reason" => "requests").increment(1);
            busy(
                "busy",
                "the server is answering too many requests: try again shortly",
                BUSY_RETRY_SECS,
            )
            .into_response()
        }
    }
}

/// The peer's address, when the request came through the server's own listener.
pub fn source(info: Option<&ConnectInfo<SocketAddr>>) -> Option<IpAddr> {
    info.map(|ConnectInfo(addr)| addr.ip())
}
