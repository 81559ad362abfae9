//! The sync client: one call, [`SyncClient::sync`], pushes what the server has not
//! confirmed and pulls what changed in the device's scope, in as few round trips as the
//! protocol allows (one, for a day's work), in bounded batches that resume after an
//! interruption without redoing what was confirmed.
//!
//! Nothing counts as on the server until a response says it is stored. Transient failures
//! (no network, a server that is down or overloaded, a response cut short) are retried with
//! exponential backoff and jitter; the state lives in the local store, so a later call (or
//! the app's scheduler) always picks up whatever is pending. A document the server refuses
//! is marked rejected with its reason and stays on the phone; the others go on.

use std::sync::Arc;
use std::time::Duration;

use serde_bytes::ByteBuf;

use crate::error::{Error, Result};
use crate::ids::DocId;
use crate::store::LocalStore;
use crate::store::outbox::OutgoingDocument;
use crate::sync::protocol::{
    self, DocChanges, ErrorBody, PROTOCOL_VERSION, SyncRequest, SyncResponse,
};

/// How a device reaches its server.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// `https://sync.example.org` (plain `http://` is for loopback tests).
    pub server_url: String,
    /// The device token from enrollment.
    pub token: String,
    /// Most changes in one push (the server's default limit is 20,000).
    pub max_changes_per_push: usize,
    /// Most bytes of changes the device wants in one response.
    pub max_response_bytes: u64,
    /// Attempts per round trip before a transient failure is given up for this call.
    pub max_attempts: u32,
    /// First backoff; it doubles per attempt, up to `max_backoff`, with full jitter.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Time allowed for one round trip.
    pub request_timeout: Duration,
    /// PEM text of root certificates trusted in addition to the bundled Mozilla roots (a
    /// district's private CA); `None` trusts the bundled roots only.
    pub extra_root_pem: Option<String>,
}

impl SyncConfig {
    pub fn new(server_url: impl Into<String>, token: impl Into<String>) -> Self {
        SyncConfig {
            server_url: server_url.into(),
            token: token.into(),
            max_changes_per_push: 5_000,
            max_response_bytes: 4 * 1024 * 1024,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            request_timeout: Duration::from_secs(120),
            extra_root_pem: None,
        }
    }
}

/// Where a sync stands, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPhase {
    /// Sending the device's changes (and receiving what the same round trip brings back).
    Pushing,
    /// Receiving the rest of a catch-up.
    Pulling,
    Done,
}

/// A progress event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncProgress {
    pub phase: SyncPhase,
    /// Documents pushed so far, of those pending when the sync started.
    pub docs_pushed: usize,
    pub docs_to_push: usize,
    /// Documents received so far.
    pub docs_pulled: usize,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// What one [`SyncClient::sync`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub round_trips: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub docs_pushed: usize,
    pub docs_pulled: usize,
    pub docs_removed: usize,
    /// Documents the server refused in this sync: id, rule, message.
    pub rejected: Vec<(DocId, String, String)>,
    /// Documents received in this sync that cannot be read as their kind: kept aside
    /// (`LocalStore::damaged_documents` says why), while the sync and every other document
    /// went on.
    pub damaged: Vec<DocId>,
    /// Damaged documents that this sync's changes repaired: they read again.
    pub repaired: Vec<DocId>,
    /// Failed attempts that were retried.
    pub retries: u32,
}

/// Why a sync did not finish.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyncFailure {
    /// The server could not be reached (no network, DNS, refused connection).
    #[error("offline: {0}")]
    Offline(String),
    /// The server answered 5xx, timed out, or cut a response short.
    #[error("server unavailable: {0}")]
    ServerUnavailable(String),
    /// The token is unknown or the device was revoked: enroll again.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The server refused the request as malformed: a bug on one side, not retried.
    #[error("refused by the server: {0}")]
    Refused(String),
    /// The local store failed.
    #[error("local store: {0}")]
    Local(String),
}

impl SyncFailure {
    /// Whether waiting and trying again may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncFailure::Offline(_) | SyncFailure::ServerUnavailable(_)
        )
    }
}

impl From<Error> for SyncFailure {
    fn from(e: Error) -> Self {
        SyncFailure::Local(e.to_string())
    }
}

/// One device's connection to its sync server.
#[derive(Clone, Debug)]
pub struct SyncClient {
    http: reqwest::Client,
    config: SyncConfig,
    store: Arc<LocalStore>,
}

/// Adds every `CERTIFICATE` block of `pem` to `roots`; refuses text with none, a block
/// that is not base64, and a certificate that is not a usable trust anchor.
fn add_pem_roots(roots: &mut rustls::RootCertStore, pem: &str) -> Result<()> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let field = "extra_root_pem";
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| Error::invalid(field, format!("is not valid PEM: {e}")))?;
        roots.add(cert).map_err(|e| {
            Error::invalid(
                field,
                format!("holds a certificate that cannot be a root: {e}"),
            )
        })?;
        added += 1;
    }
    if added == 0 {
        return Err(Error::invalid(field, "holds no `CERTIFICATE` block"));
    }
    Ok(())
}

/// Upper bound of round trips in one call, so no loop runs forever.
const MAX_ROUNDS: u32 = 100_000;

impl SyncClient {
    /// A client for `store`. HTTPS verifies the server against the Mozilla roots bundled in
    /// the library (webpki-roots), with rustls and ring: no platform verifier to initialise,
    /// nothing for the NDK to cross-compile but ring's C (see `docs/android.md`).
    /// `config.extra_root_pem` adds a private CA; a malformed one is refused here.
    pub fn new(config: SyncConfig, store: Arc<LocalStore>) -> Result<SyncClient> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(pem) = &config.extra_root_pem {
            add_pem_roots(&mut roots, pem)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::invalid("tls", e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(config.request_timeout)
            .connect_timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| {
                Error::invalid("server_url", format!("cannot build an HTTP client: {e}"))
            })?;
        if !(config.server_url.starts_with("https://") || config.server_url.starts_with("http://"))
        {
            return Err(Error::invalid(
                "server_url",
                format!("`{}` is not an http(s) URL", config.server_url),
            ));
        }
        Ok(SyncClient {
            http,
            config,
            store,
        })
    }

    pub fn store(&self) -> &Arc<LocalStore> {
        &self.store
    }

    /// Pushes everything pending and pulls everything new, retrying transient failures.
    pub async fn sync(
        &self,
        progress: &(dyn Fn(SyncProgress) + Send + Sync),
    ) -> Result<SyncReport, SyncFailure> {
        let mut report = SyncReport::default();
        let docs_to_push = self
            .blocking(|s| {
                Ok(s.pending_documents()?
                    .iter()
                    .filter(|p| p.rejected.is_none())
                    .count())
            })
            .await?;
        let mut pushed_total = 0usize;
        let mut pulled_total = 0usize;
        let mut phase = SyncPhase::Pushing;
        let mut push_limit = self.config.max_changes_per_push.max(1);
        // The next page of a long feed, asked for while the previous one was being stored.
        let mut prefetched: Option<Result<Outcome, SyncFailure>> = None;
        for _ in 0..MAX_ROUNDS {
            let (batch, outcome) = match prefetched.take() {
                Some(outcome) => (Vec::new(), outcome),
                None => {
                    let batch = self.next_batch(push_limit).await?;
                    let outcome = self.push_round(&batch, &mut report).await?;
                    (batch, outcome)
                }
            };
            if batch.is_empty() && phase == SyncPhase::Pushing {
                phase = SyncPhase::Pulling;
            }
            match outcome? {
                Outcome::Stored(response) => {
                    let more = response.more;
                    let (applied, next) = if more && batch.is_empty() {
                        // A page of a longer feed with nothing pushed: the next page is
                        // asked for (with this page's cursor) while this one is stored,
                        // so the server's work and the transfer overlap the phone's. The
                        // stored cursor still moves only with this page; if storing it
                        // fails, the next page is dropped unread.
                        let cursor = Some(response.cursor.clone());
                        let mut side = SyncReport::default();
                        let (applied, next) = tokio::join!(
                            self.apply(&batch, response),
                            self.round_trip_with_retries(&[], cursor, &mut side)
                        );
                        report.round_trips += side.round_trips;
                        report.retries += side.retries;
                        report.bytes_sent += side.bytes_sent;
                        report.bytes_received += side.bytes_received;
                        (applied, Some(next))
                    } else {
                        (self.apply(&batch, response).await, None)
                    };
                    let applied = applied?;
                    let (pulled, removed) = (applied.pulled, applied.removed);
                    note_damage(&mut report, applied.damaged, applied.repaired);
                    pushed_total += batch.len();
                    pulled_total += pulled;
                    report.docs_pushed += batch.len();
                    report.docs_pulled += pulled;
                    report.docs_removed += removed;
                    progress(SyncProgress {
                        phase,
                        docs_pushed: pushed_total,
                        docs_to_push,
                        docs_pulled: pulled_total,
                        bytes_sent: report.bytes_sent,
                        bytes_received: report.bytes_received,
                    });
                    match next {
                        Some(next) => prefetched = Some(next),
                        None => {
                            let pending = self.next_batch(1).await?;
                            if pending.is_empty() && !more {
                                break;
                            }
                        }
                    }
                }
                Outcome::Rejected(rejected) => {
                    for r in rejected {
                        let id = DocId::parse("doc", &r.doc).map_err(SyncFailure::from)?;
                        let reason = format!("{}: {}", r.rule, r.message);
                        self.blocking({
                            let id = id.clone();
                            move |s| s.mark_rejected(&id, &reason)
                        })
                        .await?;
                        report.rejected.push((id, r.rule, r.message));
                    }
                }
                Outcome::CursorAhead => {
                    self.blocking(|s| s.reset_sync_cursor()).await?;
                }
                Outcome::TooLarge(message) => {
                    if push_limit == 1 {
                        return Err(SyncFailure::Refused(message));
                    }
                    push_limit = (push_limit / 2).max(1);
                }
            }
        }
        progress(SyncProgress {
            phase: SyncPhase::Done,
            docs_pushed: pushed_total,
            docs_to_push,
            docs_pulled: pulled_total,
            bytes_sent: report.bytes_sent,
            bytes_received: report.bytes_received,
        });
        Ok(report)
    }

    /// One round trip pushing `batch` (marked as uploading meanwhile) from the stored
    /// cursor.
    async fn push_round(
        &self,
        batch: &[OutgoingDocument],
        report: &mut SyncReport,
    ) -> Result<Result<Outcome, SyncFailure>, SyncFailure> {
        let ids: Vec<DocId> = batch.iter().map(|d| d.id.clone()).collect();
        self.blocking({
            let ids = ids.clone();
            move |s| s.mark_uploading(&ids, true)
        })
        .await?;
        let cursor = self.blocking(|s| s.sync_cursor()).await;
        let outcome = match cursor {
            Ok(cursor) => self.round_trip_with_retries(batch, cursor, report).await,
            Err(e) => Err(e),
        };
        self.blocking(move |s| s.mark_uploading(&ids, false))
            .await?;
        Ok(outcome)
    }

    /// Pending documents whose changes fit in `limit` changes (at least one document).
    async fn next_batch(&self, limit: usize) -> Result<Vec<OutgoingDocument>, SyncFailure> {
        self.blocking(move |s| {
            let mut batch = Vec::new();
            let mut changes = 0;
            for doc in s.outbox_batch(500)? {
                if !batch.is_empty() && changes + doc.changes.len() > limit {
                    break;
                }
                changes += doc.changes.len();
                batch.push(doc);
            }
            Ok(batch)
        })
        .await
    }

    async fn round_trip_with_retries(
        &self,
        batch: &[OutgoingDocument],
        cursor: Option<String>,
        report: &mut SyncReport,
    ) -> Result<Outcome, SyncFailure> {
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor,
            push: batch
                .iter()
                .map(|d| DocChanges {
                    doc: d.id.to_string(),
                    changes: d.changes.iter().cloned().map(ByteBuf::from).collect(),
                })
                .collect(),
            max_response_bytes: Some(self.config.max_response_bytes),
        };
        let body = compress(protocol::encode(&request));
        let mut attempt = 0;
        loop {
            attempt += 1;
            report.round_trips += 1;
            report.bytes_sent += body.bytes.len() as u64;
            match self.round_trip(body.clone(), report).await {
                Ok(outcome) => return Ok(outcome),
                Err(failure) if failure.is_transient() && attempt < self.config.max_attempts => {
                    report.retries += 1;
                    tokio::time::sleep(backoff(&self.config, attempt)).await;
                }
                Err(failure) => return Err(failure),
            }
        }
    }

    async fn round_trip(
        &self,
        body: Body,
        report: &mut SyncReport,
    ) -> Result<Outcome, SyncFailure> {
        let url = format!("{}/v1/sync", self.config.server_url.trim_end_matches('/'));
        let mut request = self
            .http
            .post(url)
            .bearer_auth(&self.config.token)
            .header(reqwest::header::CONTENT_TYPE, protocol::CONTENT_TYPE);
        if body.compressed {
            request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        let response = request.body(body.bytes).send().await.map_err(classify)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(classify)?;
        report.bytes_received += bytes.len() as u64;
        if status.is_success() {
            let decoded: SyncResponse = protocol::decode("sync response", &bytes).map_err(|e| {
                SyncFailure::ServerUnavailable(format!(
                    "the response was cut short or garbled: {e}"
                ))
            })?;
            return Ok(Outcome::Stored(decoded));
        }
        let error: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorBody {
            error: status.as_str().to_owned(),
            message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            rejected: Vec::new(),
        });
        match status.as_u16() {
            401 => Err(SyncFailure::Unauthorized(error.message)),
            403 if error.error == "write_rule" && !error.rejected.is_empty() => {
                Ok(Outcome::Rejected(error.rejected))
            }
            409 => Ok(Outcome::CursorAhead),
            413 => Ok(Outcome::TooLarge(error.message)),
            408 | 429 | 500..=599 => Err(SyncFailure::ServerUnavailable(format!(
                "{status}: {}",
                error.message
            ))),
            _ => Err(SyncFailure::Refused(format!("{status}: {}", error.message))),
        }
    }

    /// Confirms the pushed documents, merges the feed, drops what left the scope, and only
    /// then stores the cursor (a crash in between repeats the feed, which merges twice
    /// harmlessly, rather than skipping it).
    async fn apply(
        &self,
        batch: &[OutgoingDocument],
        response: SyncResponse,
    ) -> Result<crate::store::feed::AppliedResponse, SyncFailure> {
        // The server answers a push all or nothing; an answer that does not list a pushed
        // document is not trusted to have stored it: nothing is confirmed, and the next
        // sync sends it again (pushes are idempotent).
        let accepted: std::collections::HashSet<&str> =
            response.accepted.iter().map(|a| a.doc.as_str()).collect();
        if let Some(missing) = batch.iter().find(|d| !accepted.contains(d.id.as_str())) {
            return Err(SyncFailure::ServerUnavailable(format!(
                "the server's answer does not confirm `{}`: it stays pending",
                missing.id
            )));
        }
        let confirmed: Vec<(DocId, i64, Vec<String>)> = batch
            .iter()
            .map(|d| (d.id.clone(), d.local_edits, d.heads.clone()))
            .collect();
        // One transaction: one wait for the disk per response, not one per document.
        self.blocking(move |store| {
            let docs = response
                .changes
                .into_iter()
                .map(|doc| {
                    let id = DocId::parse("doc", &doc.doc)?;
                    Ok((id, doc.changes.into_iter().map(ByteBuf::into_vec).collect()))
                })
                .collect::<Result<Vec<_>>>()?;
            let removed = response
                .removed
                .iter()
                .map(|r| DocId::parse("removed", r))
                .collect::<Result<Vec<_>>>()?;
            store.apply_sync_response(&confirmed, docs, &removed, &response.cursor)
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&LocalStore) -> Result<T> + Send + 'static,
    ) -> Result<T, SyncFailure> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| SyncFailure::Local(e.to_string()))?
            .map_err(SyncFailure::from)
    }
}

/// Adds a response's damaged and repaired documents to the report: a document damaged by
/// one page and repaired by a later one is reported repaired only, and the other way round.
fn note_damage(report: &mut SyncReport, damaged: Vec<DocId>, repaired: Vec<DocId>) {
    for id in repaired {
        report.damaged.retain(|d| d != &id);
        if !report.repaired.contains(&id) {
            report.repaired.push(id);
        }
    }
    for id in damaged {
        report.repaired.retain(|r| r != &id);
        if !report.damaged.contains(&id) {
            report.damaged.push(id);
        }
    }
}

/// A request body, gzip-compressed when that makes it smaller.
#[derive(Clone)]
struct Body {
    bytes: Vec<u8>,
    compressed: bool,
}

/// Small bodies go as they are; larger ones are gzip-compressed (pure Rust, so nothing to
/// cross-compile), which the server accepts as `Content-Encoding: gzip`.
fn compress(plain: Vec<u8>) -> Body {
    use std::io::Write;
    if plain.len() < 1024 {
        return Body {
            bytes: plain,
            compressed: false,
        };
    }
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(plain.len() / 2),
        flate2::Compression::fast(),
    );
    match encoder.write_all(&plain).and_then(|()| encoder.finish()) {
        Ok(zipped) if zipped.len() < plain.len() => Body {
            bytes: zipped,
            compressed: true,
        },
        _ => Body {
            bytes: plain,
            compressed: false,
        },
    }
}

enum Outcome {
    Stored(SyncResponse),
    Rejected(Vec<protocol::Rejection>),
    CursorAhead,
    TooLarge(String),
}

fn classify(e: reqwest::Error) -> SyncFailure {
    if e.is_connect() {
        SyncFailure::Offline(e.to_string())
    } else {
        // Timeouts, resets and bodies cut short: the server may or may not have stored the
        // push; retrying is safe because pushes are idempotent.
        SyncFailure::ServerUnavailable(e.to_string())
    }
}

/// Exponential backoff with full jitter: a random wait up to `initial · 2^(attempt-1)`,
/// capped at `max_backoff`.
pub fn backoff(config: &SyncConfig, attempt: u32) -> Duration {
    let exp = config
        .initial_backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let cap = exp.min(config.max_backoff);
    let millis = cap.as_millis().min(u128::from(u64::MAX)) as u64;
    Duration::from_millis(rand::random_range(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_its_cap() {
        let mut config = SyncConfig::new("http://127.0.0.1:1", "t");
        config.initial_backoff = Duration::from_millis(100);
        config.max_backoff = Duration::from_secs(2);
        for attempt in 1..40 {
            let wait = backoff(&config, attempt);
            let bound = Duration::from_millis(100 * (1u64 << (attempt - 1).min(20)))
                .min(config.max_backoff);
            assert!(wait <= bound, "attempt {attempt}: {wait:?} > {bound:?}");
        }
    }

    #[test]
    fn only_network_and_server_failures_are_retried() {
        assert!(SyncFailure::Offline("x".into()).is_transient());
        assert!(SyncFailure::ServerUnavailable("x".into()).is_transient());
        assert!(!SyncFailure::Unauthorized("x".into()).is_transient());
        assert!(!SyncFailure::Refused("x".into()).is_transient());
    }

    fn refusal(pem: &str) -> (String, String) {
        let mut roots = rustls::RootCertStore::empty();
        match add_pem_roots(&mut roots, pem) {
            Err(Error::InvalidField { field, reason }) => (field, reason),
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn a_private_ca_without_a_certificate_block_is_refused_naming_the_field() {
        let (field, reason) = refusal("not a certificate at all");
        assert_eq!(field, "extra_root_pem");
        assert!(reason.contains("no `CERTIFICATE` block"), "{reason}");
    }

    #[test]
    fn a_private_ca_whose_block_is_not_base64_is_refused_as_bad_pem() {
        let (field, reason) =
            refusal("-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n");
        assert_eq!(field, "extra_root_pem");
        assert!(reason.contains("not valid PEM"), "{reason}");
    }

    #[test]
    fn a_private_ca_block_that_is_not_a_certificate_is_refused_as_no_root() {
        // Valid base64 of bytes that are no DER certificate.
        let (field, reason) =
            refusal("-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n");
        assert_eq!(field, "extra_root_pem");
        assert!(reason.contains("cannot be a root"), "{reason}");
    }

    #[test]
    fn a_client_with_a_bad_private_ca_is_not_built() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let store = LocalStore::open(
            dir.path().join("phone.db"),
            crate::ids::DeviceIdentity::new("am-li", "phone-7"),
            crate::store::StoreOptions::default(),
        )?;
        let mut config = SyncConfig::new("https://127.0.0.1:1", "t");
        config.extra_root_pem = Some("garbage".into());
        let err = SyncClient::new(config, Arc::new(store)).expect_err("a bad root is refused");
        assert!(
            err.to_string().starts_with("invalid `extra_root_pem`"),
            "{err}"
        );
        Ok(())
    }
}
