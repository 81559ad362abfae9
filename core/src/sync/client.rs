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

mod enroll;
mod fetch;
mod http;
mod in_flight;
mod photo_fetch;
mod photos;

pub use enroll::enroll;
pub use fetch::Fetched;
pub use photos::{PhotoReport, PhotoSettings, PhotoUploadProgress};

use std::sync::Arc;
use std::time::Duration;

use serde_bytes::ByteBuf;

use super::config::{SyncConfig, add_pem_roots, backoff};
use super::report::{SyncFailure, SyncPhase, SyncProgress, SyncReport, note_damage};
use crate::error::{Error, Result};
use crate::ids::DocId;
use crate::store::LocalStore;
use crate::store::outbox::OutgoingDocument;
use crate::sync::protocol::{
    self, DeviceReport, DocChanges, PROTOCOL_VERSION, SyncRequest, SyncResponse,
};
use http::{Outcome, compress};
use in_flight::InFlight;

/// One device's connection to its sync server.
#[derive(Clone, Debug)]
pub struct SyncClient {
    http: reqwest::Client,
    config: SyncConfig,
    store: Arc<LocalStore>,
    /// The token requests carry: the config's, or the one a sync rotated it to.
    token: Arc<std::sync::Mutex<String>>,
}

/// Upper bound of round trips in one call, so no loop runs forever.
const MAX_ROUNDS: u32 = 100_000;

impl SyncClient {
    /// A client for `store`. HTTPS verifies the server against the Mozilla roots bundled in
    /// the library (webpki-roots), with rustls and ring: no platform verifier to initialise,
    /// nothing for the NDK to cross-compile but ring's C (see `docs/android.md`).
    /// `config.extra_root_pem` adds a private CA; a malformed one is refused here.
    pub fn new(config: SyncConfig, store: Arc<LocalStore>) -> Result<SyncClient> {
        let http = http_client(&config)?;
        // One the server would refuse would fail every sync: refused here, once.
        if let Some(version) = &config.app_version {
            DeviceReport::check_app_version(version)?;
        }
        // A token a sync received in place of the app's, kept in the store (protocol.md,
        // "Token rotation").
        let token = store
            .rotated_token(&config.token)?
            .unwrap_or_else(|| config.token.clone());
        Ok(SyncClient {
            http,
            config,
            store,
            token: Arc::new(std::sync::Mutex::new(token)),
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
        // Only a first sync (from no cursor, or one inside the part first use needs) waits
        // for the server's word.
        let cursor = self.blocking(|s| s.sync_cursor()).await?;
        let mut first_use_ready = !matches!(
            protocol::FeedCursor::parse(cursor.as_deref()),
            Ok(protocol::FeedCursor::Log(0)
                | protocol::FeedCursor::Documents { .. }
                | protocol::FeedCursor::Ordered {
                    part: protocol::Part::FirstUse,
                    ..
                })
        );
        let mut push_limit = self.config.max_changes_per_push.max(1);
        // The next page of a long feed, asked for while the previous one was being stored.
        let mut prefetched: Option<Result<Outcome, SyncFailure>> = None;
        for _ in 0..MAX_ROUNDS {
            // The pushed documents stay "uploading" until their answer is stored.
            let (batch, outcome, mut in_flight) = match prefetched.take() {
                Some(outcome) => (Vec::new(), outcome, None),
                None => {
                    let batch = self.next_batch(push_limit).await?;
                    let (outcome, in_flight) = self.push_round(&batch, &mut report).await?;
                    (batch, outcome, Some(in_flight))
                }
            };
            if batch.is_empty() && phase == SyncPhase::Pushing {
                phase = SyncPhase::Pulling;
            }
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(failure) => {
                    if let Some(in_flight) = in_flight.take() {
                        in_flight.end().await?;
                    }
                    return Err(failure);
                }
            };
            match outcome {
                Outcome::Stored(response) => {
                    let more = response.more;
                    let first_use = response.first_use;
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
                        report.token_rotated |= side.token_rotated;
                        (applied, Some(next))
                    } else {
                        (self.apply(&batch, response).await, None)
                    };
                    if let Some(in_flight) = in_flight.take() {
                        in_flight.end().await?;
                    }
                    let applied = applied?;
                    let (pulled, removed) = (applied.pulled, applied.removed);
                    note_damage(&mut report, applied.damaged, applied.repaired);
                    pushed_total += batch.len();
                    pulled_total += pulled;
                    report.docs_pushed += batch.len();
                    report.docs_pulled += pulled;
                    report.docs_removed += removed;
                    first_use_ready |= first_use || !more;
                    progress(SyncProgress {
                        phase,
                        docs_pushed: pushed_total,
                        docs_to_push,
                        docs_pulled: pulled_total,
                        bytes_sent: report.bytes_sent,
                        bytes_received: report.bytes_received,
                        first_use_ready,
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
                    // The server is behind this device: restored from a backup. It may have
                    // lost changes it confirmed, so everything this device wrote goes again.
                    self.blocking(|s| {
                        s.reset_sync_cursor()?;
                        s.resend_everything()
                    })
                    .await?;
                }
                Outcome::RetryAfter(_, message) => {
                    // Only made by a round trip, which retries it itself.
                    return Err(SyncFailure::ServerUnavailable(message));
                }
                Outcome::TooLarge(message) => {
                    if push_limit == 1 {
                        return Err(SyncFailure::Refused(message));
                    }
                    push_limit = (push_limit / 2).max(1);
                }
            }
            if let Some(in_flight) = in_flight.take() {
                in_flight.end().await?;
            }
        }
        self.blocking(|s| s.note_synced()).await?;
        if report.token_rotated {
            self.confirm_token(&mut report).await;
        }
        let keep = self.config.keep_fetched;
        self.blocking(move |s| {
            let before = s.now()?.0.saturating_sub(keep.as_millis() as i64);
            s.let_go_fetched(crate::time::Timestamp(before))
        })
        .await?;
        progress(SyncProgress {
            phase: SyncPhase::Done,
            docs_pushed: pushed_total,
            docs_to_push,
            docs_pulled: pulled_total,
            bytes_sent: report.bytes_sent,
            bytes_received: report.bytes_received,
            first_use_ready: true,
        });
        Ok(report)
    }

    /// One round trip pushing `batch` from the stored cursor, with the guard that keeps
    /// the batch marked as uploading until the caller has stored the answer.
    async fn push_round(
        &self,
        batch: &[OutgoingDocument],
        report: &mut SyncReport,
    ) -> Result<(Result<Outcome, SyncFailure>, InFlight), SyncFailure> {
        let ids: Vec<DocId> = batch.iter().map(|d| d.id.clone()).collect();
        let in_flight = InFlight::mark(&self.store, ids).await?;
        let cursor = self.blocking(|s| s.sync_cursor()).await;
        let outcome = match cursor {
            Ok(cursor) => self.round_trip_with_retries(batch, cursor, report).await,
            Err(e) => Err(e),
        };
        Ok((outcome, in_flight))
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
        let mut request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor,
            push: batch
                .iter()
                .map(|d| DocChanges {
                    doc: d.id.to_string(),
                    changes: d.changes.iter().cloned().map(ByteBuf::from).collect(),
                    index: None,
                })
                .collect(),
            max_response_bytes: Some(self.config.max_response_bytes),
            device: None,
            working_set: self.working_set().await?,
            index_version: self
                .config
                .server_index_rows
                .then_some(crate::kinds::feed_index::FEED_INDEX_VERSION),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Built again for each attempt, so that `device_time` is when it was sent.
            request.device = Some(self.device_report().await?);
            let body = compress(protocol::encode(&request));
            report.round_trips += 1;
            report.bytes_sent += body.bytes.len() as u64;
            match self.round_trip(body, report).await {
                Ok(Outcome::RetryAfter(wait, message)) => {
                    if attempt >= self.config.max_attempts {
                        // The server's word goes to the caller's scheduler.
                        return Err(SyncFailure::Busy {
                            retry_after: wait,
                            message,
                        });
                    }
                    report.retries += 1;
                    // The server's word, within the client's own bound on a wait; never
                    // less than the backoff, so that many phones told `1` spread out.
                    let wait = wait
                        .min(self.config.max_backoff)
                        .max(backoff(&self.config, attempt));
                    tokio::time::sleep(wait).await;
                }
                Ok(outcome) => return Ok(outcome),
                Err(failure) if failure.is_transient() && attempt < self.config.max_attempts => {
                    report.retries += 1;
                    tokio::time::sleep(backoff(&self.config, attempt)).await;
                }
                Err(failure) => return Err(failure),
            }
        }
    }

    /// What this device tells the server about itself (docs/protocol.md, "The device
    /// report"): the outbox's counts, the app's version, and the store's clock, the one
    /// its edits are stamped with.
    async fn device_report(&self) -> Result<DeviceReport, SyncFailure> {
        let app_version = self.config.app_version.clone();
        self.blocking(move |s| {
            let counts = s.outbox_counts()?;
            Ok(DeviceReport {
                app_version,
                pending_edits: Some(counts.pending_edits),
                pending_documents: Some(counts.pending_documents),
                rejected_documents: Some(counts.rejected_documents),
                device_time: Some(s.now()?.0.clamp(0, protocol::MAX_DEVICE_TIME)),
            })
        })
        .await
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
            let mut index = Vec::new();
            let docs = response
                .changes
                .into_iter()
                .map(|doc| {
                    let id = DocId::parse("doc", &doc.doc)?;
                    if let Some(rows) = doc.index {
                        index.push((id.clone(), rows.into_vec()));
                    }
                    Ok((id, doc.changes.into_iter().map(ByteBuf::into_vec).collect()))
                })
                .collect::<Result<Vec<_>>>()?;
            // Documents that left the working set leave the phone as those that left the
            // scope do: once nothing of theirs is pending.
            let removed = response
                .removed
                .iter()
                .map(|r| DocId::parse("removed", r))
                .chain(response.let_go.iter().map(|r| DocId::parse("let_go", r)))
                .collect::<Result<Vec<_>>>()?;
            store.apply_sync_response(
                &confirmed,
                docs,
                index,
                &removed,
                response.working_since,
                &response.cursor,
            )
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

/// The HTTP client of every request to the server (syncs and enrollment): rustls with the
/// bundled Mozilla roots plus `config.extra_root_pem`, the round trip's timeout; a
/// malformed root or URL is refused here.
pub(super) fn http_client(config: &SyncConfig) -> Result<reqwest::Client> {
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
        .map_err(|e| Error::invalid("server_url", format!("cannot build an HTTP client: {e}")))?;
    if !(config.server_url.starts_with("https://") || config.server_url.starts_with("http://")) {
        return Err(Error::invalid(
            "server_url",
            format!("`{}` is not an http(s) URL", config.server_url),
        ));
    }
    Ok(http)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_client_with_an_app_version_the_server_would_refuse_is_not_built() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let store = Arc::new(LocalStore::open(
            dir.path().join("phone.db"),
            crate::ids::DeviceIdentity::new("am-li", "phone-7"),
            crate::store::StoreOptions::default(),
        )?);
        let mut config = SyncConfig::new("https://127.0.0.1:1", "t");
        config.app_version = Some("2.4.1\n".into());
        let err = SyncClient::new(config.clone(), store.clone()).expect_err("refused");
        assert!(
            err.to_string().starts_with("invalid `device.app_version`"),
            "{err}"
        );
        config.app_version = Some("2.4.1 (381)".into());
        assert!(SyncClient::new(config, store).is_ok());
        Ok(())
    }
}
