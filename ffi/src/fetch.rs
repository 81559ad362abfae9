//! The working set's on-demand fetch through the FFI (docs/protocol.md, "Fetching on
//! demand"): documents outside the phone's working set, whole, in one round trip.

use fieldsync_core as fc;

use crate::error::FieldError;
use crate::parse;
use crate::sync::FieldSync;

/// What a fetch brought.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FetchedRecord {
    /// Documents stored on the phone.
    pub merged: u64,
    /// Of those, documents from outside the working set, kept for `keepFetchedMs`.
    pub kept_as_fetched: u64,
    /// Ids asked for that are not documents of this device's scope.
    pub missing: Vec<String>,
    /// Ids of the scope that did not fit in one response: fetch them again.
    pub unsent: Vec<String>,
    /// A store's history goes on after this document: pass it as `after` to go on.
    pub next: Option<String>,
}

impl From<fc::Fetched> for FetchedRecord {
    fn from(f: fc::Fetched) -> Self {
        FetchedRecord {
            merged: f.stored.merged as u64,
            kept_as_fetched: f.stored.kept_as_fetched as u64,
            missing: f.missing,
            unsent: f.unsent,
            next: f.next,
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldSync {
    /// Fetches documents of this device's scope by id (1 to 100), whole, and stores them;
    /// ids that are not the device's are listed in `missing`. No network is `Offline`.
    pub async fn fetch_documents(&self, ids: Vec<String>) -> Result<FetchedRecord, FieldError> {
        let ids = ids
            .iter()
            .map(|id| parse::id("ids", id))
            .collect::<Result<Vec<_>, _>>()?;
        let fetched = self.client().fetch_documents(&ids).await?;
        self.notify_fetched(&fetched);
        Ok(fetched.into())
    }

    /// Fetches the visits and counts of `store_id` that happened in `[from_ms, before_ms)`
    /// (either may be null), as many as one response holds, and stores them; pass the
    /// answer's `next` as `after` to go on.
    pub async fn fetch_store_history(
        &self,
        store_id: String,
        from_ms: Option<i64>,
        before_ms: Option<i64>,
        after: Option<String>,
    ) -> Result<FetchedRecord, FieldError> {
        let store = parse::id("store_id", &store_id)?;
        let fetched = self
            .client()
            .fetch_store_history(&store, from_ms, before_ms, after)
            .await?;
        self.notify_fetched(&fetched);
        Ok(fetched.into())
    }
}

impl FieldSync {
    fn notify_fetched(&self, fetched: &fc::Fetched) {
        if fetched.stored.merged > 0 {
            self.notify_changed();
        }
    }
}
