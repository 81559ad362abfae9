//! The console's replica of the district: a core `LocalStore` in the data folder
//! (`console-replica.db`, device `server-console` of the admin user) that pulls every
//! change through the same feed as the admin tools before each page, so pages are computed
//! by core's rule queries over the server's documents: the code the phones run.
//!
//! One request at a time uses it (a mutex); the pull after the first is incremental, from
//! the replica's cursor, a page of the feed at a time stored as a phone's sync stores it
//! (one pass with the cursor, commits that do not wait for the disk). It is separate from the admin device's store, so `admin report`
//! and the other admin commands run while the server serves the console.
//!
//! Each pull notes whose figures its documents count for ([`Versions`]), so the overview
//! computes again only the account managers something new counts for.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fieldsync_core::{DeviceIdentity, LocalStore, Role, StoreOptions};

use crate::admin::{ADMIN_USER, pull_around};
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
    local: Mutex<Option<(LocalStore, Versions)>>,
}

/// Where each account manager's figures stand: a number that moves whenever a pull merges
/// a document counting for the manager (core's `LocalStore::territories_of`, asked before
/// and after the merge, so a store moved between territories moves both), and one that
/// moves for everyone: the first pull, and a document the index cannot place. Figures
/// computed when [`Versions::of`] answered the same are still right for what was pulled.
#[derive(Debug, Default)]
pub struct Versions {
    everyone: u64,
    of: HashMap<String, u64>,
    next: u64,
}

impl Versions {
    /// The version of `manager`'s figures (equal answers: nothing new counts for them).
    pub fn of(&self, manager: &str) -> (u64, u64) {
        (self.everyone, self.of.get(manager).copied().unwrap_or(0))
    }

    fn bump(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Stores a page of the feed with `merge`, noting whom each of its documents `ids`
    /// counts for, before the merge and after.
    fn note(
        &mut self,
        local: &LocalStore,
        ids: &[fieldsync_core::DocId],
        merge: crate::admin::Merge<'_>,
    ) -> AppResult<()> {
        let before = ids
            .iter()
            .map(|id| local.territories_of(id))
            .collect::<Result<Vec<_>, _>>()?;
        let merged = merge();
        let version = self.bump();
        for (id, mut named) in ids.iter().zip(before) {
            match local.territories_of(id) {
                Ok(after) => named.extend(after),
                Err(_) => named.clear(),
            }
            // A merge that failed may have stored part of what it brought: anyone's.
            if named.is_empty() || merged.is_err() {
                self.everyone = version;
            }
            for name in named {
                self.of.insert(name, version);
            }
        }
        merged
    }
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
        self.with_versions(storage, |local, _| f(local))
    }

    /// As [`Replica::with`], with where each account manager's figures stand.
    pub fn with_versions<T>(
        &self,
        storage: &dyn SyncStorage,
        f: impl FnOnce(&LocalStore, &Versions) -> AppResult<T>,
    ) -> AppResult<T> {
        // A poisoned lock means a page panicked mid-read; the store itself is consistent,
        // and a pull that stopped midway noted what it merged before each merge ended.
        let mut guard = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some((self.open(storage)?, Versions::default()));
        }
        let (local, versions) = guard
            .as_mut()
            .ok_or_else(|| AppError::Internal("the console replica did not open".into()))?;
        if local.sync_cursor()?.is_none() {
            // The first pull brings the whole district.
            versions.everyone = versions.bump();
        }
        pull_around(local, storage, &Self::device(), &mut |ids, merge| {
            versions.note(local, ids, merge)
        })?;
        f(local, versions)
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
