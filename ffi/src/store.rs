//! [`FieldStore`]: the device's local store, opened at a path with the device's identity.
//!
//! The document operations and rule queries are methods of this object, one file per kind of
//! document (`visit.rs`, `shelf_display.rs`, ...). They are blocking calls for a background
//! thread. Every write goes through [`FieldStore::write`], which tells the listeners.

use std::sync::Arc;

use fieldsync_core::{DeviceIdentity, LocalStore, StoreOptions};

use crate::changes::{DocumentsListener, Listeners, Subscription};
use crate::error::FieldError;

/// The device's local database of field documents. Close it (Kotlin `close()`, `use {}`)
/// before opening the same path again: one opening per file.
#[derive(Debug, uniffi::Object)]
pub struct FieldStore {
    pub(crate) core: Arc<LocalStore>,
    pub(crate) listeners: Arc<Listeners>,
}

#[uniffi::export]
impl FieldStore {
    /// Opens (creating if needed) the store at `path` for `user_id` on `device_id` (both from
    /// enrollment). Every edit made through it is stamped with `user_id`.
    #[uniffi::constructor]
    pub fn open(path: String, user_id: String, device_id: String) -> Result<Arc<Self>, FieldError> {
        let core = LocalStore::open(
            path,
            DeviceIdentity::new(user_id, device_id),
            StoreOptions::default(),
        )?;
        Ok(Arc::new(FieldStore {
            core: Arc::new(core),
            listeners: Arc::new(Listeners::default()),
        }))
    }

    /// The user every edit is stamped with.
    pub fn user_id(&self) -> String {
        self.core.identity().user_id.clone()
    }

    /// Today on the district's calendar, `YYYY-MM-DD`.
    pub fn today(&self) -> Result<String, FieldError> {
        let now = self.core.now()?;
        Ok(self
            .core
            .calendar()
            .date(now)
            .format("%Y-%m-%d")
            .to_string())
    }

    /// Calls `listener` after every change to documents until the returned subscription is
    /// dropped or cancelled.
    pub fn subscribe(&self, listener: Box<dyn DocumentsListener>) -> Arc<Subscription> {
        Arc::new(self.listeners.add(listener))
    }
}

impl FieldStore {
    /// Runs a write and, when it succeeded, tells the listeners which documents it touched.
    pub(crate) fn write<T>(
        &self,
        ids: &[&str],
        edit: impl FnOnce(&LocalStore) -> fieldsync_core::Result<T>,
    ) -> Result<T, FieldError> {
        let out = edit(&self.core)?;
        self.listeners.changed(ids);
        Ok(out)
    }

    /// Like [`FieldStore::write`] for a write that creates a document and returns its id.
    pub(crate) fn create(
        &self,
        edit: impl FnOnce(&LocalStore) -> fieldsync_core::Result<fieldsync_core::DocId>,
    ) -> Result<String, FieldError> {
        let id = edit(&self.core)?.to_string();
        self.listeners.changed(&[&id]);
        Ok(id)
    }
}
