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

mod connection;
mod enroll;
mod fetch;
mod http;
mod in_flight;
mod photo_fetch;
mod photo_upload;
mod photos;
mod round;

pub use enroll::enroll;
pub use fetch::Fetched;
pub use photos::{PhotoReport, PhotoSettings, PhotoUploadProgress};

use std::sync::Arc;

use super::config::SyncConfig;
use super::report::{SyncFailure, SyncPhase, SyncProgress, SyncReport, note_damage};
use crate::error::Result;
use crate::ids::DocId;
use crate::store::LocalStore;
use crate::store::outbox::OutgoingDocument;
use crate::sync::protocol::{self, DeviceReport};
use connection::http_client;
use http::Outcome;
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
