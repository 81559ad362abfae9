//! The server's own admin device: a core `LocalStore` in the data folder (user `admin`,
//! device `server-admin`) that edits documents and pushes them through the same write
//! path, rules and feed as a phone, and pulls the whole district before it reads.
//!
//! Open it for one command and drop it: its database is opened exclusively, so two admin
//! commands at once are told to wait, and the server itself never holds it.

use std::collections::BTreeSet;
use std::path::Path;

use fieldsync_core::protocol::FeedCursor;
use fieldsync_core::{
    DeviceIdentity, DocId, DocKind, IncomingChange, LocalStore, Role, StoreOptions,
};

use super::{ADMIN_DEVICE, ADMIN_USER};
use crate::auth::{hash_secret, new_token};
use crate::error::{AppError, AppResult};
use crate::storage::{DeviceInfo, PushResult, SyncStorage, User};

/// The server's own admin device: a local store that edits documents and pushes them
/// through the normal write path.
pub struct AdminDevice<'a> {
    pub local: LocalStore,
    storage: &'a dyn SyncStorage,
    device: DeviceInfo,
}

impl std::fmt::Debug for AdminDevice<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminDevice")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// Documents the admin device keeps loaded: enough for a district's stores and displays,
/// so an import's push does not reload what it has just written.
const ADMIN_CACHE_DOCS: usize = 2_500;

impl<'a> AdminDevice<'a> {
    /// Opens the admin device in `data_dir`, registering the admin user and device on first
    /// use. It judges by the district's calendar of `calendar.txt` in `data_dir`, if any.
    pub fn open(data_dir: &Path, storage: &'a dyn SyncStorage) -> AppResult<AdminDevice<'a>> {
        Self::open_with_clock(
            data_dir,
            storage,
            std::sync::Arc::new(fieldsync_core::Timestamp::now),
        )
    }

    /// As [`open`](Self::open), with the clock the admin device stamps its edits with (tests
    /// set the district's time).
    pub fn open_with_clock(
        data_dir: &Path,
        storage: &'a dyn SyncStorage,
        clock: fieldsync_core::Clock,
    ) -> AppResult<AdminDevice<'a>> {
        let now = clock().0;
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
        let device = DeviceInfo {
            device_id: ADMIN_DEVICE.into(),
            user_id: ADMIN_USER.into(),
            role: Role::Admin,
        };
        // The admin device never authenticates over HTTP: its token is thrown away.
        storage.add_device(
            &device,
            "server admin tools",
            &hash_secret(&new_token()),
            now,
        )?;
        let local = LocalStore::open(
            data_dir.join("admin-device.db"),
            DeviceIdentity::new(ADMIN_USER, ADMIN_DEVICE),
            StoreOptions {
                cache_capacity: ADMIN_CACHE_DOCS,
                clock: clock.clone(),
                calendar: crate::calendar::load(data_dir)?,
            },
        )
        .map_err(|e| match e {
            fieldsync_core::Error::Locked { .. } => AppError::Conflict(format!(
                "another admin command is using `{}`: wait for it to finish",
                data_dir.join("admin-device.db").display()
            )),
            other => other.into(),
        })?;
        Ok(AdminDevice {
            local,
            storage,
            device,
        })
    }

    /// The storage the admin device pushes to.
    pub fn storage(&self) -> &'a dyn SyncStorage {
        self.storage
    }

    /// Merges everything new on the server into the admin device.
    ///
    /// The feed leaves out a device's own changes, which a phone keeps; the admin device's
    /// database may be new while the server holds what an earlier one wrote (it was
    /// deleted, or the data folder was restored without it). So a first pull copies every
    /// document's whole history from storage, up to a log position read before it, and the
    /// feed carries on from there.
    pub fn pull(&self) -> AppResult<usize> {
        pull_into(&self.local, self.storage, &self.device)
    }

    /// Pushes the admin device's pending edits; a refusal is an error naming the rule.
    pub fn push(&self) -> AppResult<usize> {
        // Received now, whatever the device's clock says (as from any device).
        push_from(&self.local, self.storage, &self.device, &|| {
            chrono::Utc::now().timestamp_millis()
        })
    }

    /// The ids of the account managers: the territories a store may be assigned to.
    pub fn territories(&self) -> AppResult<BTreeSet<String>> {
        Ok(self
            .storage
            .users()?
            .into_iter()
            .filter(|u| u.role == Role::AccountManager)
            .map(|u| u.id)
            .collect())
    }

    /// The store with this licence number or document id, after a pull.
    pub fn find_store(&self, licence_or_id: &str) -> AppResult<DocId> {
        let key = licence_or_id.trim();
        if let Ok(id) = DocId::parse("store", key) {
            match self.local.kind_of(&id) {
                Ok(DocKind::Store) => return Ok(id),
                // The store an older server stored unreadable: named, with why.
                Err(e @ fieldsync_core::Error::Damaged { .. }) => return Err(e.into()),
                _ => {}
            }
        }
        self.local
            .store_by_licence(key)?
            .ok_or_else(|| AppError::NotFound(format!("no store with licence or id `{key}`")))
    }

    /// Pulls, moves the store to `territory` (an account manager) and pushes; returns a
    /// sentence saying what happened.
    pub fn reassign(&self, licence_or_id: &str, territory: &str) -> AppResult<String> {
        self.pull()?;
        let territory = territory.trim();
        if !self.territories()?.contains(territory) {
            return Err(AppError::BadRequest(format!(
                "`{territory}` is not an account manager: add the user first (`admin add-user \
                 {territory} account_manager NAME`)"
            )));
        }
        let id = self.find_store(licence_or_id)?;
        let store = self.local.store(&id)?;
        if store.territory == territory {
            self.push()?;
            return Ok(format!(
                "store `{}` ({}, licence `{}`) is in `{territory}`'s territory already",
                id, store.name, store.licence
            ));
        }
        self.local.reassign_store(&id, territory)?;
        self.push()?;
        Ok(format!(
            "moved store `{}` ({}, licence `{}`) from `{}` to `{territory}`",
            id, store.name, store.licence, store.territory
        ))
    }
}

/// Pushes the pending edits of `local`, the store of `device`, straight into `storage`,
/// each batch received at `received()`, confirming each batch the server stored; a refusal
/// is an error naming the rule. Returns how many documents were pushed.
pub fn push_from(
    local: &LocalStore,
    storage: &dyn SyncStorage,
    device: &DeviceInfo,
    received: &dyn Fn() -> i64,
) -> AppResult<usize> {
    push_through(local, &mut |docs| storage.push(device, docs, received()))
}

/// [`push_from`] with the server's part given as `push` (one batch of the outbox, parsed):
/// for a caller that times it, say.
pub fn push_through(
    local: &LocalStore,
    push: &mut dyn FnMut(Vec<(DocId, Vec<IncomingChange>)>) -> AppResult<PushResult>,
) -> AppResult<usize> {
    let mut pushed = 0;
    // Bounded: every round confirms the documents it sent.
    for _ in 0..100_000 {
        let batch = local.outbox_batch(500)?;
        if batch.is_empty() {
            break;
        }
        let docs = batch
            .iter()
            .map(|d| {
                let changes = d
                    .changes
                    .iter()
                    .map(|c| IncomingChange::parse(c))
                    .collect::<fieldsync_core::Result<Vec<_>>>()?;
                Ok((d.id.clone(), changes))
            })
            .collect::<AppResult<Vec<_>>>()?;
        match push(docs)? {
            Ok(_) => {
                local.in_one_transaction(|local| {
                    for d in &batch {
                        local.confirm_pushed(&d.id, d.local_edits, &d.heads)?;
                    }
                    Ok(())
                })?;
                pushed += batch.len();
            }
            Err(rejected) => return Err(AppError::Rejected(rejected)),
        }
    }
    Ok(pushed)
}

/// A merge of a page of the feed, run by the caller of [`pull_around`]'s `around`.
pub type Merge<'a> = &'a mut dyn FnMut() -> AppResult<()>;

/// As [`pull_into`], except that after the first pull (which brings the whole district
/// document by document) each page of the feed is stored as a phone's sync stores it (one
/// pass, the cursor with it, commits that do not wait for the disk: what they hold is on
/// the server), by `around(ids, merge)`, which must run `merge` once and may look at the
/// store before and after.
pub fn pull_around(
    local: &LocalStore,
    storage: &dyn SyncStorage,
    device: &DeviceInfo,
    around: &mut dyn FnMut(&[DocId], Merge<'_>) -> AppResult<()>,
) -> AppResult<usize> {
    let mut merged = 0;
    if local.sync_cursor()?.is_none() {
        merged += pull_into(local, storage, device)?;
    }
    // Bounded: each round advances the cursor; a district's log ends.
    for _ in 0..1_000_000 {
        // On the console's threads, each page waits for the syncs running (`priority.rs`).
        crate::priority::step_aside();
        let cursor = FeedCursor::parse(local.sync_cursor()?.as_deref())?;
        let feed = storage.feed(device, &cursor, 8 * 1024 * 1024, &Default::default())?;
        let mut ids = Vec::with_capacity(feed.changes.len());
        let mut docs = Vec::with_capacity(feed.changes.len());
        for doc in &feed.changes {
            let id = DocId::parse("doc", &doc.doc)?;
            ids.push(id.clone());
            docs.push((id, doc.changes.iter().map(|c| c.to_vec()).collect()));
        }
        let next = feed.cursor.to_string();
        let mut page = Some(docs);
        around(&ids, &mut || {
            if let Some(docs) = page.take() {
                merged += local.store_feed_page(docs, &next)?;
            }
            Ok(())
        })?;
        if !feed.more {
            break;
        }
    }
    Ok(merged)
}

/// Merges everything new on the server into `local`, the store of `device` (a device of
/// the admin user: the server's admin device), document by document. See
/// [`AdminDevice::pull`].
pub fn pull_into(
    local: &LocalStore,
    storage: &dyn SyncStorage,
    device: &DeviceInfo,
) -> AppResult<usize> {
    let mut merged = 0;
    if local.sync_cursor()?.is_none() {
        let position = storage.log_position()?;
        for (doc, _) in storage.documents()? {
            let id = DocId::parse("doc", &doc)?;
            local.merge_changes(&id, &storage.document_changes(&doc)?)?;
            merged += 1;
        }
        local.set_sync_cursor(&position.to_string())?;
    }
    // Bounded: each round advances the cursor; a district's log ends.
    for _ in 0..1_000_000 {
        let cursor = FeedCursor::parse(local.sync_cursor()?.as_deref())?;
        let feed = storage.feed(device, &cursor, 8 * 1024 * 1024, &Default::default())?;
        for doc in &feed.changes {
            let id = DocId::parse("doc", &doc.doc)?;
            let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
            local.merge_from_server(&id, &changes)?;
            merged += 1;
        }
        local.set_sync_cursor(&feed.cursor.to_string())?;
        if !feed.more {
            break;
        }
    }
    Ok(merged)
}
