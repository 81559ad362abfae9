//! Documents marked as uploading while a push round is in flight, unmarked however the
//! round ends: with an answer, a failure, or the sync's future dropped (an app cancelled
//! the coroutine, a WorkManager worker was stopped). Without this, a cancelled sync left
//! its documents showing "uploading" until the store was opened again.

use std::sync::Arc;

use crate::ids::DocId;
use crate::store::LocalStore;

pub(super) struct InFlight {
    store: Arc<LocalStore>,
    ids: Vec<DocId>,
}

impl InFlight {
    /// Marks `ids` as uploading (on a blocking thread) and returns the guard that unmarks.
    pub(super) async fn mark(
        store: &Arc<LocalStore>,
        ids: Vec<DocId>,
    ) -> crate::error::Result<InFlight> {
        let marking = (store.clone(), ids.clone());
        tokio::task::spawn_blocking(move || marking.0.mark_uploading(&marking.1, true))
            .await
            .map_err(|e| crate::error::Error::invalid("sync", e.to_string()))??;
        Ok(InFlight {
            store: store.clone(),
            ids,
        })
    }

    /// Unmarks now, waiting for it: the round ended.
    pub(super) async fn end(mut self) -> crate::error::Result<()> {
        let (store, ids) = (self.store.clone(), std::mem::take(&mut self.ids));
        tokio::task::spawn_blocking(move || store.mark_uploading(&ids, false))
            .await
            .map_err(|e| crate::error::Error::invalid("sync", e.to_string()))?
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.ids.is_empty() {
            return;
        }
        // Dropped mid-round: unmark before the drop returns, so that whoever dropped the
        // sync reads the truth next (this waits for the store, briefly, if a merge holds it).
        let _ = self.store.mark_uploading(&self.ids, false);
    }
}
