//! What changed in the store, by topic, for screens that show live lists.
//!
//! SQLite tells the store about every row written (its update hook, per table) and every
//! commit (its write-ahead-log hook, called once the transaction is in the log and visible
//! to every reader). The topics a transaction touched are gathered while it runs and
//! published when it commits, never before: a screen that reads on hearing of a change
//! reads what was committed. A rolled-back transaction publishes nothing.
//!
//! Nothing is queued per listener, so nothing can overflow and be dropped: each topic has
//! a version (the store-wide count of committed transactions when it last changed), and a
//! listener hears "these topics changed, now at version N". A listener that is slow only
//! sees fewer, later versions; a reader that remembers the version it read at can always
//! ask [`LocalStore::change_version`] whether it is behind. Some notifications are for
//! nothing a reader shows (a row rewritten with the same values, a savepoint rolled back
//! inside a transaction that commits): readers compare what they read, so the price of a
//! spare notification is one query.
//!
//! Listeners are called on the writing thread while it still holds the store: they must
//! hand the news on (the Kotlin layer sends it into a conflated channel) and return, never
//! call the store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use rusqlite::Connection;

use crate::error::Result;
use crate::store::LocalStore;
use crate::store::wal_checkpoint::CommitHook;

/// A set of topics: what a list shows, or what a transaction changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct Topics(u32);

impl Topics {
    pub const NONE: Topics = Topics(0);
    /// Retail stores (their index rows: names, classification, territory).
    pub const STORES: Topics = Topics(1 << 0);
    pub const VISITS: Topics = Topics(1 << 1);
    pub const SHELF_DISPLAYS: Topics = Topics(1 << 2);
    pub const INVENTORY_COUNTS: Topics = Topics(1 << 3);
    pub const TASKS: Topics = Topics(1 << 4);
    pub const COMPLAINTS: Topics = Topics(1 << 5);
    pub const SCORECARDS: Topics = Topics(1 << 6);
    /// The outbox: what is saved on the phone, uploading, on the server or refused.
    pub const UPLOADS: Topics = Topics(1 << 7);
    /// Documents received unreadable.
    pub const DAMAGED: Topics = Topics(1 << 8);
    /// The sync's own state: cursor, last synced.
    pub const SYNC_STATE: Topics = Topics(1 << 9);
    /// Any document's stored state (every edit and every merge touches it).
    pub const DOCUMENTS: Topics = Topics(1 << 10);
    pub const ALL: Topics = Topics((1 << 11) - 1);

    const COUNT: usize = 11;

    pub const fn union(self, other: Topics) -> Topics {
        Topics(self.0 | other.0)
    }

    pub const fn intersects(self, other: Topics) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The topic a table's rows belong to; tables no screen reads have none.
    fn of_table(table: &str) -> Topics {
        match table {
            "store_index" => Topics::STORES,
            "visit_index" => Topics::VISITS,
            "display_index" => Topics::SHELF_DISPLAYS,
            "count_index" => Topics::INVENTORY_COUNTS,
            "task_index" => Topics::TASKS,
            "complaint_index" => Topics::COMPLAINTS,
            "scorecard_index" => Topics::SCORECARDS,
            "outbox" => Topics::UPLOADS,
            "damaged" => Topics::DAMAGED,
            "meta" => Topics::SYNC_STATE,
            // `display_check_index` and `chunks` are WITHOUT ROWID tables, which the hook
            // does not report: a display check always rewrites its document's row too.
            "documents" | "leaving" | "conflict_index" => Topics::DOCUMENTS,
            _ => Topics::NONE,
        }
    }

    fn bits(self) -> impl Iterator<Item = usize> {
        (0..Topics::COUNT).filter(move |i| self.0 & (1 << i) != 0)
    }
}

impl std::ops::BitOr for Topics {
    type Output = Topics;
    fn bitor(self, other: Topics) -> Topics {
        self.union(other)
    }
}

/// Called with the topics a committed transaction changed and the version it made.
pub type ChangeListener = Arc<dyn Fn(Topics, u64) + Send + Sync>;

/// The store's record of changes; shared with SQLite's hooks.
#[derive(Default)]
pub(crate) struct ChangeLog {
    /// Topics written by the transaction in progress.
    pending: AtomicU32,
    /// Committed transactions that changed a topic.
    version: AtomicU64,
    /// For each topic, the version of its last change.
    topics: [AtomicU64; Topics::COUNT],
    next_listener: AtomicU64,
    listeners: Mutex<BTreeMap<u64, (Topics, ChangeListener)>>,
}

impl ChangeLog {
    fn listeners(&self) -> MutexGuard<'_, BTreeMap<u64, (Topics, ChangeListener)>> {
        // A listener that panicked must not silence the others for good.
        self.listeners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Installs the hooks on the store's writing connection. They replace SQLite's
    /// automatic checkpoint (which is a write-ahead-log hook itself), so the hook hands the
    /// log to `checkpoints` after each commit (see `wal_checkpoint.rs`).
    pub(crate) fn install(
        self: &Arc<Self>,
        conn: &mut Connection,
        checkpoints: CommitHook,
    ) -> Result<()> {
        let log = Arc::downgrade(self);
        conn.update_hook(Some(move |_, _: &str, table: &str, _| {
            if let Some(log) = log.upgrade() {
                log.pending
                    .fetch_or(Topics::of_table(table).0, Ordering::SeqCst);
            }
        }))?;
        let log = Arc::downgrade(self);
        conn.rollback_hook(Some(move || {
            if let Some(log) = log.upgrade() {
                log.pending.store(0, Ordering::SeqCst);
            }
        }))?;
        let log: Weak<ChangeLog> = Arc::downgrade(self);
        conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages| {
            if let Some(log) = log.upgrade() {
                log.committed();
            }
            checkpoints.committed(wal, pages);
            Ok(())
        }))?;
        Ok(())
    }

    fn committed(&self) {
        let changed = Topics(self.pending.swap(0, Ordering::SeqCst));
        if changed.is_empty() {
            return;
        }
        let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        for bit in changed.bits() {
            self.topics[bit].fetch_max(version, Ordering::SeqCst);
        }
        let listeners: Vec<ChangeListener> = self
            .listeners()
            .values()
            .filter(|(topics, _)| topics.intersects(changed))
            .map(|(_, listener)| listener.clone())
            .collect();
        for listener in listeners {
            listener(changed, version);
        }
    }

    /// The topics the transaction in progress has written so far.
    pub(crate) fn pending(&self) -> Topics {
        Topics(self.pending.load(Ordering::SeqCst))
    }

    /// Takes the topics the transaction in progress has written back to `earlier` (read
    /// with [`ChangeLog::pending`] on the same connection, under the same lock): what was
    /// written since then rewrote rows with the values they held, and no reader is told.
    pub(crate) fn quiet_since(&self, earlier: Topics) {
        self.pending.store(earlier.0, Ordering::SeqCst);
    }

    fn version_of(&self, topics: Topics) -> u64 {
        topics
            .bits()
            .map(|bit| self.topics[bit].load(Ordering::SeqCst))
            .max()
            .unwrap_or(0)
    }
}

/// A registered change listener; dropping it (or [`cancel`](Self::cancel)) unsubscribes.
pub struct ChangeSubscription {
    log: Weak<ChangeLog>,
    id: u64,
}

impl ChangeSubscription {
    pub fn cancel(&self) {
        if let Some(log) = self.log.upgrade() {
            log.listeners().remove(&self.id);
        }
    }
}

impl Drop for ChangeSubscription {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl std::fmt::Debug for ChangeSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeSubscription")
            .field("id", &self.id)
            .finish()
    }
}

impl LocalStore {
    /// The version of the latest committed change to any of `topics` (0: none since the
    /// store was opened). A reader that remembers it can tell whether it is behind.
    pub fn change_version(&self, topics: Topics) -> u64 {
        self.changes.version_of(topics)
    }

    /// Calls `listener` after every committed transaction that changed one of `topics`,
    /// with the topics it changed and its version, until the subscription is dropped.
    /// The listener runs on the writing thread and must not call the store.
    pub fn subscribe_changes(
        &self,
        topics: Topics,
        listener: impl Fn(Topics, u64) + Send + Sync + 'static,
    ) -> ChangeSubscription {
        let id = self.changes.next_listener.fetch_add(1, Ordering::SeqCst);
        self.changes
            .listeners()
            .insert(id, (topics, Arc::new(listener)));
        ChangeSubscription {
            log: Arc::downgrade(&self.changes),
            id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, device, sample_store};
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_committed_edit_is_heard_with_its_topics_and_a_rolled_back_one_is_not() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (db, _clock) = device(
            dir.path().join("a.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let heard = Arc::new(Mutex::new(Vec::new()));
        let _subscription = db.subscribe_changes(Topics::STORES | Topics::UPLOADS, {
            let heard = heard.clone();
            move |topics, version| heard.lock().expect("lock").push((topics, version))
        });
        let store = db.create_store(sample_store("am-li", 1))?;
        let after_create = db.change_version(Topics::STORES);
        assert!(after_create > 0);
        assert_eq!(db.change_version(Topics::TASKS), 0, "no task was written");
        let failed = db.in_one_transaction(|db| {
            db.update_store_contact(
                &store,
                crate::StoreContact {
                    phone: Some("13900000000".into()),
                    ..Default::default()
                },
            )?;
            Err::<(), _>(crate::Error::invalid("test", "roll back"))
        });
        assert!(failed.is_err());
        assert_eq!(db.change_version(Topics::ALL), after_create);
        let heard = heard.lock().expect("lock").clone();
        assert_eq!(heard.len(), 1, "{heard:?}");
        assert!(heard[0].0.intersects(Topics::STORES) && heard[0].0.intersects(Topics::UPLOADS));
        Ok(())
    }

    #[test]
    fn a_dropped_change_subscription_hears_nothing_more() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (db, _clock) = device(
            dir.path().join("a.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let heard = Arc::new(AtomicUsize::new(0));
        let subscription = db.subscribe_changes(Topics::ALL, {
            let heard = heard.clone();
            move |_, _| {
                heard.fetch_add(1, Ordering::SeqCst);
            }
        });
        db.create_store(sample_store("am-li", 1))?;
        drop(subscription);
        db.create_store(sample_store("am-li", 2))?;
        assert_eq!(heard.load(Ordering::SeqCst), 1);
        Ok(())
    }

    #[test]
    fn a_thousand_edits_without_a_reader_lose_no_change() -> Result<()> {
        // The old Kotlin buffer held 64 events and dropped the rest; versions cannot drop.
        let dir = tempfile::tempdir()?;
        let (db, _clock) = device(
            dir.path().join("a.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let before = db.change_version(Topics::STORES);
        let mut last = None;
        db.in_one_transaction(|db| {
            for n in 0..1_000 {
                last = Some(db.create_store(sample_store("am-li", n))?);
            }
            Ok(())
        })?;
        assert!(db.change_version(Topics::STORES) > before);
        let last = last.ok_or_else(|| crate::Error::invalid("test", "no store"))?;
        db.update_store_contact(
            &last,
            crate::StoreContact {
                phone: Some("13900000000".into()),
                ..Default::default()
            },
        )?;
        assert!(db.change_version(Topics::STORES) > before + 1);
        Ok(())
    }
}
