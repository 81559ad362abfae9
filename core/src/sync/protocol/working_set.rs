//! The working set: the part of its scope a device holds (every store, shelf display,
//! scorecard, task and complaint, and the visits and counts of the last weeks), and the
//! on-demand fetch of what lies outside it (docs/protocol.md, "The working set").

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// The weeks of visits and counts a working set holds unless the app says otherwise.
pub const DEFAULT_WORKING_WEEKS: u32 = 5;
/// The most weeks a working set may ask for (ten years: more is the whole scope).
pub const MAX_WORKING_WEEKS: u32 = 520;
/// The most documents one fetch may name.
pub const MAX_FETCH_IDS: usize = 100;

/// What a device asks to hold of its scope, in a [`SyncRequest`](super::SyncRequest).
/// A request without one asks for the whole scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingSet {
    /// Visits and counts that happened in the last `weeks` weeks by the server's clock
    /// (1 to [`MAX_WORKING_WEEKS`]).
    pub weeks: u32,
    /// The `working_since` of the last response the device stored: from that instant on
    /// it holds every visit and count of its scope. Absent: it holds all of them, or none
    /// yet (a first sync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
}

/// `POST /v1/fetch`: documents of the device's scope outside its working set, whole.
///
/// Either `ids` (1 to [`MAX_FETCH_IDS`] documents), or `store` with the visits and counts
/// of that store that happened in `[from, before)` (either bound may be left out), in id
/// order after `after`; as many as `max_response_bytes` allows (at least one document).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    pub protocol: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    /// The `next` of the previous response, to go on with a store's history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_bytes: Option<u64>,
}

/// The answer to a [`FetchRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchResponse {
    /// Each document whole: every change the server holds of it.
    pub documents: Vec<FetchedDoc>,
    /// Ids asked for that are not documents of the device's scope (unknown, or someone
    /// else's: the answer does not say which).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Ids asked for that are documents of the scope but did not fit in this response
    /// (`max_response_bytes`): fetch them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsent: Vec<String>,
    /// A store's history goes on after `next`: fetch again with `after: next`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One document of a [`FetchResponse`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedDoc {
    pub doc: String,
    pub changes: Vec<ByteBuf>,
    /// When the visit checked in or the count began, as the server recorded it (ms since
    /// the epoch); absent for other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub happened_at: Option<i64>,
}
