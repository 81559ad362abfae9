//! One round trip of a sync: the request built from a batch of the outbox and the stored
//! cursor (with the device's report, made again for each attempt), sent and retried as the
//! server and the link allow, and the answer stored: the pushed documents confirmed, the
//! feed merged, what left the scope dropped, and only then the cursor.

use serde_bytes::ByteBuf;

use super::SyncClient;
use super::http::{Outcome, compress};
use crate::error::Result;
use crate::ids::DocId;
use crate::store::outbox::OutgoingDocument;
use crate::sync::config::backoff;
use crate::sync::protocol::{
    self, DeviceReport, DocChanges, PROTOCOL_VERSION, SyncRequest, SyncResponse,
};
use crate::sync::report::{SyncFailure, SyncReport};

impl SyncClient {
    pub(super) async fn round_trip_with_retries(
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
    pub(super) async fn apply(
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
}
