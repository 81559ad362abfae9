//! The console's replica of the district: a core `LocalStore` in the data folder
//! (`console-replica.db`, device `server-console` of the admin user) that pulls every
//! change through the same feed as the admin tools before each page, so pages are computed
//! by core's rule queries over the server's documents: the code the phones run.
//!
//! One request at a time uses it (a mutex); the pull after the first is incremental, from
//! the replica's cursor. It is separate from the admin device's store, so `admin report`
//! and the other admin commands run while the server serves the console.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fieldsync_core::{DeviceIdentity, LocalStore, Role, StoreOptions};

use crate::admin::{ADMIN_USER, pull_into};
use crate::auth::{hash_secret, new_token};
use crate::error::{AppError, AppResult};
use crate::storage::{DeviceInfo, SyncStorage, User};

/// The console replica's device id.
pub const CONSOLE_DEVICE: &str = "server-console";
/// The replica's file in the data folder.
pub const REPLICA_FILE: &str = "console-replica.db";
/// Documents the replica keeps loaded.
const REPLICA_CACHE_DOCS: usize = 5_000;

/// The console's replica, opened on first use.
#[derive(Debug)]
pub struct Replica {
    data_dir: PathBuf,
    local: Mutex<Option<LocalStore>>,
}

impl Replica {
    pub fn new(data_dir: &Path) -> Replica {
        Replica {
            data_dir: data_dir.to_path_buf(),
            local: Mutex::new(None),
        }
    }

    /// Opens the replica and pulls the whole district, so the first page is quick; for a
    /// thread of its own at start (pages wait for it). Returns the documents merged.
    pub fn warm(&self, storage: &dyn SyncStorage) -> AppResult<usize> {
        self.with(storage, |local| {
            Ok(local.document_ids(fieldsync_core::DocKind::Store)?.len())
        })
    }

    fn device() -> DeviceInfo {
        DeviceInfo {
            device_id: CONSOLE_DEVICE.into(),
            user_id: ADMIN_USER.into(),
            role: Role::Admin,
        }
    }

    /// Brings the replica up to date with `storage` and runs `f` on it (blocking: call it
    /// on the blocking pool).
    pub fn with<T>(
        &self,
        storage: &dyn SyncStorage,
        f: impl FnOnce(&LocalStore) -> AppResult<T>,
    ) -> AppResult<T> {
        // A poisoned lock means a page panicked mid-read; the store itself is consistent.
        let mut guard = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(self.open(storage)?);
        }
        let local = guard
            .as_ref()
            .ok_or_else(|| AppError::Internal("the console replica did not open".into()))?;
        pull_into(local, storage, &Self::device())?;
        f(local)
    }

    fn open(&self, storage: &dyn SyncStorage) -> AppResult<LocalStore> {
        let now = chrono::Utc::now().timestamp_millis();
        if storage.user(ADMIN_USER)?.is_none() {
            storage.add_user(
                &User {
                    id: ADMIN_USER.into(),
                    role: Role::Admin,
                    name: "District office".into(),
                },
                now,
            )?;
        }
        // The replica only reads: it never syncs over HTTP, so its token is thrown away.
        storage.add_device(
            &Self::device(),
            "supervision console (read-only replica)",
            &hash_secret(&new_token()),
            now,
        )?;
        let path = self.data_dir.join(REPLICA_FILE);
        LocalStore::open(
            &path,
            DeviceIdentity::new(ADMIN_USER, CONSOLE_DEVICE),
            StoreOptions {
                cache_capacity: REPLICA_CACHE_DOCS,
                clock: std::sync::Arc::new(fieldsync_core::Timestamp::now),
                calendar: crate::calendar::load(&self.data_dir)?,
            },
        )
        .map_err(|e| match e {
            fieldsync_core::Error::Locked { .. } => AppError::Conflict(format!(
                "another server is using the console replica `{}`: give each server its own \
                 data folder",
                path.display()
            )),
            other => other.into(),
        })
    }
}
