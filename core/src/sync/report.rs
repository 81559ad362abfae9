//! What a sync tells the app: its progress, what it did, and why it did not finish.

use crate::error::Error;
use crate::ids::DocId;

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
    /// In a first sync: the device now holds what it needs to be used (every store, shelf
    /// display, scorecard, task and complaint of its scope, and this week's visits and
    /// counts); the history may still be coming. Stays true for the rest of the sync, and
    /// is true throughout any sync after the first.
    pub first_use_ready: bool,
}

/// What one [`SyncClient::sync`](crate::SyncClient::sync) did.
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
    /// The server gave the device a new token in this sync; the client uses it and keeps
    /// it in the store (`LocalStore::rotated_token`), an app may keep it too.
    pub token_rotated: bool,
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
    /// The server is busy and said when to come back (`429` or `503` with `Retry-After`),
    /// still so after the sync's last attempt: try again no sooner than `retry_after`.
    #[error("server busy, try again in {} s: {message}", retry_after.as_secs().max(1))]
    Busy {
        retry_after: std::time::Duration,
        message: String,
    },
    /// The token is unknown or the device was revoked: enroll again.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The server refused the request as malformed: a bug on one side, not retried.
    #[error("refused by the server: {0}")]
    Refused(String),
    /// The local store failed.
    #[error("local store: {0}")]
    Local(String),
    /// The server speaks a newer protocol than this app: the app must be updated before
    /// it can sync again (its edits stay on the phone meanwhile).
    #[error("update the app: {0}")]
    UpdateRequired(String),
}

impl SyncFailure {
    /// Whether waiting and trying again may help.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncFailure::Offline(_) | SyncFailure::ServerUnavailable(_) | SyncFailure::Busy { .. }
        )
    }
}

impl From<Error> for SyncFailure {
    fn from(e: Error) -> Self {
        SyncFailure::Local(e.to_string())
    }
}

/// Adds a response's damaged and repaired documents to the report: a document damaged by
/// one page and repaired by a later one is reported repaired only, and the other way round.
pub(super) fn note_damage(report: &mut SyncReport, damaged: Vec<DocId>, repaired: Vec<DocId>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_network_and_server_failures_are_retried() {
        assert!(SyncFailure::Offline("x".into()).is_transient());
        assert!(SyncFailure::ServerUnavailable("x".into()).is_transient());
        assert!(!SyncFailure::Unauthorized("x".into()).is_transient());
        assert!(!SyncFailure::Refused("x".into()).is_transient());
        assert!(!SyncFailure::UpdateRequired("x".into()).is_transient());
    }
}
