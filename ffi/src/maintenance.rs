//! Keeping the local store checked and small, for an app's idle time (a WorkManager job
//! on Android): the check of documents a first sync stored from the server's rows
//! (docs/adr/0036), and compaction of documents' saved chunks into snapshots.

use crate::error::FieldError;
use crate::store::FieldStore;

/// What one batch of `check_received` did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceivedCheckRecord {
    /// Documents built, their rows derived on the phone and their chunks compacted.
    pub checked: u32,
    /// Documents whose rows from the server differed from what they say, now replaced:
    /// worth reporting to support (the server that sent them misbehaved).
    pub corrected: Vec<String>,
    /// Documents that did not read as their kind: now listed by `damaged_documents`.
    pub damaged: Vec<String>,
    /// Documents still waiting for the check: call again until 0.
    pub remaining: u32,
}

#[uniffi::export]
impl FieldStore {
    /// Checks up to `max_docs` of the documents a first sync stored from the server's rows
    /// without building them: builds each, writes the rows it derives over the server's,
    /// compacts it. Holds the store for the batch: 100 documents take tens of milliseconds
    /// on a phone. Listeners hear of the documents whose rows changed.
    pub fn check_received(&self, max_docs: u32) -> Result<ReceivedCheckRecord, FieldError> {
        let report = self.core.check_received(max_docs as usize)?;
        let changed: Vec<String> = report
            .corrected
            .iter()
            .chain(&report.damaged)
            .map(ToString::to_string)
            .collect();
        if !changed.is_empty() {
            let ids: Vec<&str> = changed.iter().map(String::as_str).collect();
            self.listeners.changed(&ids);
        }
        Ok(ReceivedCheckRecord {
            checked: report.checked as u32,
            corrected: report.corrected.iter().map(ToString::to_string).collect(),
            damaged: report.damaged.iter().map(ToString::to_string).collect(),
            remaining: report.remaining as u32,
        })
    }

    /// Folds the saved chunks of up to `max_docs` documents that have at least
    /// `min_chunks` of them into a snapshot; returns how many were compacted. Reads and
    /// edits see no difference; the file stops growing with every edit.
    pub fn compact(&self, min_chunks: u32, max_docs: u32) -> Result<u32, FieldError> {
        Ok(self.core.compact(min_chunks as usize, max_docs as usize)? as u32)
    }
}
