//! "Documents changed" notifications, so an app can refresh its screens.
//!
//! A [`DocumentsListener`] registered with `FieldStore::subscribe` is called after every
//! write made through that `FieldStore` (with the ids written) and after every sync that
//! moved documents (with no ids: the core's sync report counts documents but does not name
//! them, so "refresh what is on screen"). The returned [`Subscription`] unsubscribes when it
//! is dropped: `close()` in Kotlin, `deinit` in Swift, or `cancel()` at any time.
//!
//! Listeners are called on the thread that made the change; they should hand the event on
//! (the Kotlin shim sends it into a `Flow`) and return.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DocumentsChanged {
    /// The ids written; empty after a sync (anything may have changed).
    pub ids: Vec<String>,
    /// Whether a sync (rather than a local write) made the change.
    pub from_sync: bool,
}

/// Implemented by the app to hear about changed documents.
#[uniffi::export(callback_interface)]
pub trait DocumentsListener: Send + Sync {
    fn on_documents_changed(&self, change: DocumentsChanged);
}

/// The listeners of one store.
#[derive(Default)]
pub(crate) struct Listeners {
    next: AtomicU64,
    by_id: Mutex<BTreeMap<u64, Arc<dyn DocumentsListener>>>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("count", &self.lock().len())
            .finish()
    }
}

impl Listeners {
    // A panicking listener must not silence the others for good: take the map back.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<dyn DocumentsListener>>> {
        self.by_id
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn add(self: &Arc<Self>, listener: Box<dyn DocumentsListener>) -> Subscription {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, Arc::from(listener));
        Subscription {
            listeners: Arc::downgrade(self),
            id,
        }
    }

    /// Calls every listener, outside the lock, so a listener may subscribe or unsubscribe.
    pub(crate) fn notify(&self, change: DocumentsChanged) {
        let listeners: Vec<_> = self.lock().values().cloned().collect();
        for listener in listeners {
            listener.on_documents_changed(change.clone());
        }
    }

    pub(crate) fn changed(&self, ids: &[&str]) {
        self.notify(DocumentsChanged {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            from_sync: false,
        });
    }
}

/// A registered listener; dropping (closing) it unsubscribes.
#[derive(Debug, uniffi::Object)]
pub struct Subscription {
    listeners: Weak<Listeners>,
    id: u64,
}

#[uniffi::export]
impl Subscription {
    /// Unsubscribes now; later calls do nothing.
    pub fn cancel(&self) {
        if let Some(listeners) = self.listeners.upgrade() {
            listeners.lock().remove(&self.id);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Counter(Arc<AtomicUsize>);
    impl DocumentsListener for Counter {
        fn on_documents_changed(&self, _: DocumentsChanged) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_dropped_subscription_hears_nothing_more() {
        let listeners = Arc::new(Listeners::default());
        let heard = Arc::new(AtomicUsize::new(0));
        let subscription = listeners.add(Box::new(Counter(heard.clone())));
        listeners.changed(&["a"]);
        drop(subscription);
        listeners.changed(&["b"]);
        assert_eq!(heard.load(Ordering::SeqCst), 1);
    }
}
