//! Documents marked as uploading while a push round is in flight, unmarked however the
//! round ends: with an answer, a failure, or the sync's future dropped (an app cancelled
//! the coroutine, a WorkManager worker was stopped). Without this, a cancelled sync left
//! its documents showing "uploading" until the store was opened again.
//!
//! The guard exists before the mark is written: the mark runs on a blocking thread, and a
//! future dropped while it waits for that thread (the mark already committed, the future
//! not yet resumed) must still unmark. The phase, behind one lock, decides who writes:
//! a mark that finds the guard already dropped writes nothing.

use std::sync::{Arc, Mutex, PoisonError};

use crate::ids::DocId;
use crate::store::LocalStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The mark is not written yet.
    Waiting,
    /// The documents show "uploading".
    Marked,
    /// The round ended or was dropped: nothing more is written.
    Over,
}

pub(super) struct InFlight {
    store: Arc<LocalStore>,
    ids: Arc<Vec<DocId>>,
    phase: Arc<Mutex<Phase>>,
}

impl InFlight {
    /// Marks `ids` as uploading (on a blocking thread) and returns the guard that unmarks.
    pub(super) async fn mark(
        store: &Arc<LocalStore>,
        ids: Vec<DocId>,
    ) -> crate::error::Result<InFlight> {
        let guard = InFlight {
            store: store.clone(),
            ids: Arc::new(ids),
            phase: Arc::new(Mutex::new(Phase::Waiting)),
        };
        let (store, ids, phase) = (guard.store.clone(), guard.ids.clone(), guard.phase.clone());
        tokio::task::spawn_blocking(move || -> crate::error::Result<()> {
            let mut phase = phase.lock().unwrap_or_else(PoisonError::into_inner);
            if *phase != Phase::Waiting {
                return Ok(());
            }
            store.mark_uploading(&ids, true)?;
            *phase = Phase::Marked;
            Ok(())
        })
        .await
        .map_err(|e| crate::error::Error::invalid("sync", e.to_string()))??;
        Ok(guard)
    }

    /// Unmarks now, waiting for it: the round ended.
    pub(super) async fn end(self) -> crate::error::Result<()> {
        let (store, ids, phase) = (self.store.clone(), self.ids.clone(), self.phase.clone());
        tokio::task::spawn_blocking(move || unmark(&store, &ids, &phase))
            .await
            .map_err(|e| crate::error::Error::invalid("sync", e.to_string()))?
    }
}

/// Unmarks if marked, and ends the round either way.
fn unmark(store: &LocalStore, ids: &[DocId], phase: &Mutex<Phase>) -> crate::error::Result<()> {
    let mut phase = phase.lock().unwrap_or_else(PoisonError::into_inner);
    let was = std::mem::replace(&mut *phase, Phase::Over);
    if was == Phase::Marked {
        store.mark_uploading(ids, false)?;
    }
    Ok(())
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // Dropped mid-round (or after `end`, which left nothing to do): unmark before the
        // drop returns, so that whoever dropped the sync reads the truth next (this waits
        // for the store, briefly, if a merge holds it, or for a mark being written).
        let _ = unmark(&self.store, &self.ids, &self.phase);
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Waker};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::Receipt;
    use crate::fixtures::{at, device, sample_store};

    fn phone_with_pending_doc() -> (tempfile::TempDir, Arc<LocalStore>, DocId) {
        let dir = tempfile::tempdir().expect("dir");
        let (store, _) = device(
            dir.path().join("phone.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )
        .expect("phone");
        let id = store.create_store(sample_store("am-li", 1)).expect("store");
        (dir, Arc::new(store), id)
    }

    fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    }

    #[test]
    fn a_round_dropped_after_its_mark_committed_but_before_it_resumed_still_unmarks() {
        let (_dir, store, id) = phone_with_pending_doc();
        let runtime = current_thread();
        let _entered = runtime.enter();
        {
            let mut marking = pin!(InFlight::mark(&store, vec![id.clone()]));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(marking.as_mut().poll(&mut cx).is_pending());
            // The blocking thread writes the mark; the future is never polled again, as
            // when a coroutine is cancelled while the mark's thread is finishing.
            let until = Instant::now() + Duration::from_secs(10);
            while store.receipt(&id).expect("receipt") != Receipt::Uploading {
                assert!(Instant::now() < until, "the mark was never written");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        assert_eq!(store.receipt(&id).expect("receipt"), Receipt::SavedOnPhone);
    }

    #[test]
    fn a_round_dropped_before_its_mark_ran_never_shows_uploading() {
        let (_dir, store, id) = phone_with_pending_doc();
        let runtime = current_thread();
        let _entered = runtime.enter();
        {
            // Dropped right after its first poll: the blocking mark has most likely not
            // run yet, and when it runs it must find the round over and write nothing.
            let mut marking = pin!(InFlight::mark(&store, vec![id.clone()]));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(marking.as_mut().poll(&mut cx).is_pending());
        }
        // Whenever the blocking mark ran (before or after the drop), nothing shows uploading.
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            assert_eq!(store.receipt(&id).expect("receipt"), Receipt::SavedOnPhone);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
