//! The offline local store: one SQLite file per device holding every document it has.
//!
//! A document lives as an optional compacted snapshot plus the incremental chunks saved
//! after it (`documents`, `chunks`). Each local edit commits, in one SQLite transaction, the
//! document's new chunk, its refreshed index rows and its outbox entry (what the server has
//! not confirmed yet), so a crash leaves either all of them or none. Opening the store
//! reads nothing but the schema version and the device's actor id: documents are loaded on
//! first use and kept in a small cache, and the rule queries read only index tables.
//!
//! One `LocalStore` per file (an OS lock on `<file>-lock` says so), because two writers
//! sharing the device's Automerge actor would corrupt its change sequence. It writes on one
//! connection behind a lock; lists and receipts read on a small pool of read-only
//! connections (`readers.rs`), which WAL lets read while a sync merges. What committed
//! transactions changed is told by topic (`changes.rs`), for live lists (`lists.rs`).
//!
//! This layer builds on the documents (`crate::doc`) and their kinds (`crate::kinds`); the
//! rule queries and sync build on it. Its files: `documents.rs`, the generic operations
//! every typed API builds on; one file per kind for its typed API and the SQL of its index
//! rows (`retail_stores.rs`, `visits.rs`, `shelf_displays.rs`, `inventory_counts.rs`,
//! `scorecards.rs`, `tasks.rs`, `complaints.rs`, with `visit_whole.rs` for a visit recorded
//! at once) with `index.rs` dispatching to them;
//! `outbox.rs` (what to push) and `feed.rs` with `feed_merge/` (what arrives);
//! `damaged.rs`, `transaction.rs`, `cache.rs`, `maintenance.rs`, `received_check.rs` (ADR
//! 0036) and `migrate.rs`.

mod cache;
pub(crate) mod changes;
pub(crate) mod complaints;
pub(crate) mod conflicts;
pub(crate) mod damaged;
mod documents;
mod enrollment;
pub(crate) mod feed;
mod feed_merge;
pub(crate) mod index;
pub(crate) mod inventory_counts;
pub(crate) mod lists;
mod maintenance;
pub(crate) mod migrate;
pub(crate) mod outbox;
pub(crate) mod photo_blocked;
pub(crate) mod photos;
mod readers;
mod received_check;
pub(crate) mod retail_stores;
pub(crate) mod scorecards;
pub(crate) mod shelf_displays;
pub mod sqlite_plans;
pub(crate) mod tasks;
mod territories;
mod token;
mod transaction;
mod visit_whole;
pub(crate) mod visits;
pub mod wal_checkpoint;
mod working_set;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

use automerge::ActorId;
use rusqlite::Connection;

use crate::doc::Stamp;
use crate::error::{Error, Result};
use crate::ids::DeviceIdentity;
use crate::time::{FieldCalendar, Timestamp};

use cache::DocCache;

pub use changes::{ChangeListener, ChangeSubscription, Topics};
pub use damaged::DamagedDocument;
pub(crate) use documents::heads_blob;
pub(crate) use feed_merge::default_workers;
pub use migrate::LATEST as STORE_SCHEMA_VERSION;
pub use received_check::ReceivedCheck;
pub use working_set::FetchedStored;

/// Where edits take their time from. The default is the device's clock.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Settings of a local store; `Default` is what a phone uses.
#[derive(Clone)]
pub struct StoreOptions {
    pub calendar: FieldCalendar,
    /// Documents kept loaded in memory.
    pub cache_capacity: usize,
    pub clock: Clock,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            calendar: FieldCalendar::default(),
            cache_capacity: 64,
            clock: Arc::new(Timestamp::now),
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("calendar", &self.calendar)
            .field("cache_capacity", &self.cache_capacity)
            .finish_non_exhaustive()
    }
}

/// The device's local database of field documents.
pub struct LocalStore {
    path: PathBuf,
    identity: DeviceIdentity,
    calendar: FieldCalendar,
    /// Read-only connections, for reads that must not wait for the writer (`readers.rs`).
    /// Declared before `inner` so that they close first: the writer's connection, closing
    /// last, checkpoints the WAL into the database file (a read-only one cannot), and a
    /// closed store is then one file.
    readers: readers::Readers,
    /// Copies the write-ahead log into the database file off the writer's path
    /// (`wal_checkpoint.rs`); closes before the writer, for the same reason as `readers`.
    checkpointer: wal_checkpoint::Checkpointer,
    inner: Mutex<Inner>,
    /// Held while the store is open: the one opening of the file (see `open`).
    _opening: std::fs::File,
    /// What committed transactions changed, for live lists (`changes.rs`).
    changes: Arc<changes::ChangeLog>,
    /// Signalled when a transaction of [`LocalStore::in_one_transaction`] ends.
    transaction_ended: Condvar,
    /// Calls waiting for the store's lock (an app's edit); a merge gives way to them.
    waiting: AtomicUsize,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("path", &self.path)
            .field("identity", &self.identity)
            .finish()
    }
}

/// Longest a merge that gave way waits for the calls it gave way to to take the lock.
const GIVE_WAY: std::time::Duration = std::time::Duration::from_millis(50);

pub(crate) struct Inner {
    pub(crate) conn: Connection,
    actor: ActorId,
    clock: Clock,
    pub(crate) cache: DocCache,
    /// The thread inside [`LocalStore::in_one_transaction`], while one is.
    transaction_owner: Option<ThreadId>,
    /// Index rows the server sent with the sync response being stored, by document:
    /// taken by the merge of a document this device does not hold (`feed_merge.rs`).
    pub(crate) feed_index:
        std::collections::HashMap<crate::DocId, crate::kinds::feed_index::FeedIndex>,
}

impl LocalStore {
    /// Opens (creating if needed) the store at `path` for the user of this device.
    pub fn open(
        path: impl AsRef<Path>,
        identity: DeviceIdentity,
        options: StoreOptions,
    ) -> Result<LocalStore> {
        let path = path.as_ref().to_path_buf();
        if identity.user_id.trim().is_empty() {
            return Err(Error::invalid("identity.user_id", "must not be empty"));
        }
        let locked = |e: rusqlite::Error| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
                Error::Locked {
                    path: path.display().to_string(),
                }
            }
            other => Error::Sqlite(other),
        };
        let relock = |e: Error| match e {
            Error::Sqlite(inner) => locked(inner),
            other => other,
        };
        // One opening per file, held by an OS lock on a file beside it (released when the
        // store is dropped or the process dies), so that read-only connections may share the
        // database in WAL mode while one writer owns it.
        let opening = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(format!("{}-lock", path.display()))?;
        if let Err(e) = opening.try_lock() {
            return Err(match e {
                std::fs::TryLockError::WouldBlock => Error::Locked {
                    path: path.display().to_string(),
                },
                std::fs::TryLockError::Error(e) => Error::from(e),
            });
        }
        let mut conn = Connection::open(&path).map_err(locked)?;
        conn.busy_timeout(std::time::Duration::from_millis(0))
            .map_err(locked)?;
        for (pragma, value) in [
            ("journal_mode", "WAL"),
            ("synchronous", "FULL"),
            ("foreign_keys", "ON"),
            // The savepoint each edit opens inside a longer transaction keeps its undo
            // pages in a sub-journal: a temporary file by default, written on every
            // page the edit touches. Durability does not depend on it (a crash rolls the
            // whole transaction back through the write-ahead log), so memory will do, as
            // Android's own SQLite is built to do.
            ("temp_store", "MEMORY"),
        ] {
            conn.pragma_update(None, pragma, value).map_err(locked)?;
        }
        // Every statement of an edit or a merge is prepared once and kept: rusqlite keeps 16
        // by default, fewer than the statements of the index tables together, so a sync
        // merging documents of every kind re-prepared some for each document.
        conn.set_prepared_statement_cache_capacity(64);
        crate::store::sqlite_plans::stable_query_plans(&conn).map_err(locked)?;
        // Take the exclusive lock now, so a second opener fails here and not mid-edit.
        conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")
            .map_err(locked)?;
        migrate::migrate(&mut conn).map_err(relock)?;
        enrollment::check_owner(&conn, &identity)?;
        // Nothing is in flight at opening: a sync killed mid-push left its documents marked
        // as uploading, and they are only saved on the phone.
        conn.execute("UPDATE outbox SET uploading = 0 WHERE uploading != 0", [])
            .map_err(locked)?;
        // Errors of a background checkpoint have no one to tell on a phone: the writer's
        // own checkpoint takes over past `WRITER_PAGES`.
        let checkpointer =
            wal_checkpoint::Checkpointer::start(&path, Box::new(|_| {})).map_err(locked)?;
        let changes = Arc::new(changes::ChangeLog::default());
        changes
            .install(&mut conn, checkpointer.hook())
            .map_err(relock)?;
        // A fresh actor for every opening: a device restored from an old backup, or reopened
        // after a crash that lost an uncommitted change, must never reuse a sequence number.
        let actor = ActorId::random();
        let store = LocalStore {
            readers: readers::Readers::new(path.clone()),
            _opening: opening,
            checkpointer,
            path,
            identity,
            calendar: options.calendar,
            changes,
            inner: Mutex::new(Inner {
                conn,
                actor,
                clock: options.clock,
                cache: DocCache::new(options.cache_capacity.max(1)),
                transaction_owner: None,
                feed_index: std::collections::HashMap::new(),
            }),
            transaction_ended: Condvar::new(),
            waiting: AtomicUsize::new(0),
        };
        // A crash between a photo's file and its document left the file alone: nothing
        // else writes the folder while the store is being opened (the opening is held). A
        // sweep that fails (a file it may not remove) must not keep the records closed.
        let _ = store.remove_orphan_photos();
        Ok(store)
    }

    pub fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }

    pub fn calendar(&self) -> &FieldCalendar {
        &self.calendar
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write-ahead-log checkpoints run off the writer's path so far (`wal_checkpoint.rs`).
    pub fn background_checkpoints(&self) -> u64 {
        self.checkpointer.checkpoints()
    }

    /// The device's Automerge actor id, hex.
    pub fn actor_id(&self) -> Result<String> {
        Ok(self.lock()?.actor.to_hex_string())
    }

    /// Replaces the clock edits are stamped with (tests and replays use a fixed clock).
    pub fn set_clock(&self, clock: Clock) -> Result<()> {
        self.lock()?.clock = clock;
        Ok(())
    }

    /// The instant the next edit would be stamped with.
    pub fn now(&self) -> Result<Timestamp> {
        Ok((self.lock()?.clock)())
    }

    /// The store, for this thread. While another thread is inside
    /// [`in_one_transaction`](Self::in_one_transaction) it waits for that transaction to
    /// end: an edit made meanwhile would land inside it, be reported saved, and vanish if it
    /// rolled back. The wait ends when the transaction does (its guard ends it however the
    /// closure ends, panics included).
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Inner>> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let locked = self.lock_for_merge();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        locked
    }

    /// [`lock`](Self::lock) for a merge from the server, which does not count as waiting:
    /// it gives way to the calls that do ([`others_waiting`](Self::others_waiting)).
    pub(crate) fn lock_for_merge(&self) -> Result<MutexGuard<'_, Inner>> {
        let me = std::thread::current().id();
        let mut guard = self.recover(self.inner.lock());
        while guard.transaction_owner.is_some_and(|owner| owner != me) {
            guard = self.recover(self.transaction_ended.wait(guard));
        }
        Ok(guard)
    }

    /// Whether a call waits for the store's lock.
    pub(crate) fn others_waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// After a merge let go of the lock: waits (at most [`GIVE_WAY`]) until the calls that
    /// were waiting for it have taken it, so that the merge does not take it straight back.
    pub(crate) fn let_others_in(&self) {
        let until = std::time::Instant::now() + GIVE_WAY;
        // Bounded by `GIVE_WAY`.
        while self.others_waiting() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }

    /// A panic while holding the lock cannot leave SQLite half-written (the transaction
    /// rolls back on drop); the cache is dropped so no half-edited document survives.
    fn recover<'a>(
        &self,
        locked: std::result::Result<MutexGuard<'a, Inner>, PoisonError<MutexGuard<'a, Inner>>>,
    ) -> MutexGuard<'a, Inner> {
        match locked {
            Ok(guard) => guard,
            Err(poisoned) => {
                let mut guard = poisoned.into_inner();
                guard.cache.clear();
                self.inner.clear_poison();
                guard
            }
        }
    }

    fn stamp(&self, inner: &Inner) -> Stamp {
        Stamp {
            by: self.identity.user_id.clone(),
            at: (inner.clock)(),
        }
    }
}
