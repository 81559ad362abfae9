//! The offline local store: one SQLite file per device holding every document it has.
//!
//! A document lives as an optional compacted snapshot plus the incremental chunks saved
//! after it (`documents`, `chunks`). Each local edit commits, in one SQLite transaction, the
//! document's new chunk, its refreshed index rows and its outbox entry (what the server has
//! not confirmed yet), so a crash leaves either all of them or none. Opening the store
//! reads nothing but the schema version and the device's actor id: documents are loaded on
//! first use and kept in a small cache, and the rule queries read only index tables.
//!
//! The database is opened in exclusive locking mode: one `LocalStore` per file, because
//! two writers sharing the device's Automerge actor would corrupt its change sequence.

pub(crate) mod complaints;
pub(crate) mod damaged;
mod feed_merge;
pub(crate) mod inventory_counts;
pub(crate) mod migrate;
pub(crate) mod outbox;
pub(crate) mod retail_stores;
pub(crate) mod scorecards;
pub(crate) mod shelf_displays;
pub mod sqlite_plans;
pub(crate) mod tasks;
pub(crate) mod visits;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

use automerge::ActorId;
use rusqlite::{Connection, OptionalExtension, params};

use crate::doc::{Doc, HistoryEntry, HydrateValue, Stamp};
use crate::error::{Error, Result};
use crate::ids::{DeviceIdentity, DocId, DocKind};
use crate::time::{FieldCalendar, Timestamp};

pub use damaged::DamagedDocument;
pub(crate) use feed_merge::default_workers;
pub use migrate::LATEST as STORE_SCHEMA_VERSION;

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
    inner: Mutex<Inner>,
    /// Signalled when a transaction of [`LocalStore::in_one_transaction`] ends.
    transaction_ended: Condvar,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("path", &self.path)
            .field("identity", &self.identity)
            .finish()
    }
}

pub(crate) struct Inner {
    pub(crate) conn: Connection,
    actor: ActorId,
    clock: Clock,
    pub(crate) cache: DocCache,
    /// The thread inside [`LocalStore::in_one_transaction`], while one is.
    transaction_owner: Option<ThreadId>,
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
        let mut conn = Connection::open(&path).map_err(locked)?;
        conn.busy_timeout(std::time::Duration::from_millis(0))
            .map_err(locked)?;
        for (pragma, value) in [
            ("locking_mode", "EXCLUSIVE"),
            ("journal_mode", "WAL"),
            ("synchronous", "FULL"),
            ("foreign_keys", "ON"),
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
        // A fresh actor for every opening: a device restored from an old backup, or reopened
        // after a crash that lost an uncommitted change, must never reuse a sequence number.
        let actor = ActorId::random();
        Ok(LocalStore {
            path,
            identity,
            calendar: options.calendar,
            inner: Mutex::new(Inner {
                conn,
                actor,
                clock: options.clock,
                cache: DocCache::new(options.cache_capacity.max(1)),
                transaction_owner: None,
            }),
            transaction_ended: Condvar::new(),
        })
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
        let me = std::thread::current().id();
        let mut guard = self.recover(self.inner.lock());
        while guard.transaction_owner.is_some_and(|owner| owner != me) {
            guard = self.recover(self.transaction_ended.wait(guard));
        }
        Ok(guard)
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

    /// Runs `edits` so that everything they write commits together, with one wait for the
    /// disk, or not at all: for a screen that saves several edits at once (a visit saved
    /// whole at check-out) and for imports. Reads inside see the edits made so far. Nested
    /// calls join the outer one. Other threads' calls wait until it ends, so that nothing
    /// they write is taken along by a rollback they never asked for.
    pub fn in_one_transaction<T>(&self, edits: impl FnOnce(&LocalStore) -> Result<T>) -> Result<T> {
        {
            let mut inner = self.lock()?;
            if !inner.conn.is_autocommit() {
                drop(inner);
                return edits(self);
            }
            inner.conn.execute_batch("BEGIN IMMEDIATE")?;
            inner.transaction_owner = Some(std::thread::current().id());
        }
        // Ends the transaction however `edits` ends: rolls back unless committed (a failure
        // or a panic), forgetting the cached documents whose changes would otherwise outlive
        // the rollback, and lets waiting threads in.
        struct End<'a>(&'a LocalStore, bool);
        impl Drop for End<'_> {
            fn drop(&mut self) {
                if let Ok(mut inner) = self.0.lock() {
                    if !self.1 {
                        let _ = inner.conn.execute_batch("ROLLBACK");
                        inner.cache.clear();
                    }
                    inner.transaction_owner = None;
                }
                self.0.transaction_ended.notify_all();
            }
        }
        let mut end = End(self, false);
        let value = edits(self)?;
        self.lock()?.conn.execute_batch("COMMIT")?;
        end.1 = true;
        Ok(value)
    }

    // ---- the generic document operations the typed modules build on ----------------------

    /// Creates a document: `build` validates the input (it may read the index through the
    /// connection) and returns the root fields. Nothing is written when it fails.
    pub(crate) fn create_doc(
        &self,
        kind: DocKind,
        build: impl FnOnce(&Connection, &Stamp) -> Result<HashMap<&'static str, HydrateValue>>,
    ) -> Result<DocId> {
        self.create_doc_with_id(kind, DocId::new(), build)
    }

    /// As [`create_doc`](Self::create_doc), with an id chosen by the caller (a derived id).
    pub(crate) fn create_doc_with_id(
        &self,
        kind: DocKind,
        id: DocId,
        build: impl FnOnce(&Connection, &Stamp) -> Result<HashMap<&'static str, HydrateValue>>,
    ) -> Result<DocId> {
        let mut inner = self.lock()?;
        let stamp = self.stamp(&inner);
        let fields = build(&inner.conn, &stamp)?;
        if inner.stored_kind(&id).is_ok() {
            return Err(Error::invalid(
                "id",
                format!("{kind} `{id}` exists already"),
            ));
        }
        let mut doc = Doc::create(id.clone(), kind, &inner.actor, fields, &stamp)?;
        // The one definition of the kind: the phone never writes what the server refuses.
        crate::kinds::check(&doc).map_err(refused)?;
        // The creating change is the first chunk: compressing a snapshot of a new document
        // costs more than it saves; compaction makes the snapshot later.
        let chunk = doc.save_new_changes();
        let heads = heads_blob(&doc.heads());
        let tx = inner.conn.savepoint()?;
        tx.prepare_cached(
            "INSERT INTO documents (id, kind, store_id, chunk_count, chunk_bytes, heads, updated_at)
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6)",
        )?
        .execute(params![id.as_str(), kind.as_str(), crate::kinds::store_of(&doc), chunk.len() as i64, heads, stamp.at.0])?;
        tx.prepare_cached("INSERT INTO chunks (doc_id, seq, bytes) VALUES (?1, 1, ?2)")?
            .execute(params![id.as_str(), chunk])?;
        index::reindex(&tx, &mut doc)?;
        record_local_edit(&tx, &id, stamp.at, 1)?;
        tx.commit()?;
        inner.cache.put(doc);
        Ok(id)
    }

    /// Edits a document of `kind` in one change described by `what`. When `edit` fails,
    /// its operations are rolled back and nothing is written.
    pub(crate) fn edit_doc(
        &self,
        id: &DocId,
        kind: DocKind,
        what: &str,
        edit: impl FnOnce(&mut Doc, &Stamp, &Connection) -> Result<()>,
    ) -> Result<()> {
        let mut inner = self.lock()?;
        let stamp = self.stamp(&inner);
        let mut doc = inner.take_doc(id, kind)?;
        doc.begin_edit();
        let edited = edit(&mut doc, &stamp, &inner.conn)
            .and_then(|()| crate::kinds::check(&doc).map_err(refused));
        if let Err(e) = edited {
            doc.am.rollback();
            doc.end_edit(false);
            inner.cache.put(doc);
            return Err(e);
        }
        let committed = doc.commit(&stamp, what).is_some();
        doc.end_edit(committed);
        if !committed {
            inner.cache.put(doc);
            return Ok(()); // nothing changed
        }
        // On failure `doc` is dropped, not cached: memory must not hold what disk lacks.
        inner.persist(&mut doc, stamp.at, true)?;
        inner.cache.put(doc);
        Ok(())
    }

    /// Reads a document of `kind`.
    pub(crate) fn read_doc<T>(
        &self,
        id: &DocId,
        kind: DocKind,
        read: impl FnOnce(&Doc) -> Result<T>,
    ) -> Result<T> {
        let mut inner = self.lock()?;
        let doc = inner.take_doc(id, kind)?;
        let result = read(&doc);
        inner.cache.put(doc);
        result
    }

    /// Reads a document as it was at the end of `at` (see [`Doc::as_of`]).
    pub(crate) fn read_doc_as_of<T>(
        &self,
        id: &DocId,
        kind: DocKind,
        at: Timestamp,
        read: impl FnOnce(&Doc) -> Result<T>,
    ) -> Result<T> {
        let mut inner = self.lock()?;
        let mut doc = inner.take_doc(id, kind)?;
        let past = doc.as_of(at);
        inner.cache.put(doc);
        read(&past?)
    }

    /// The kind of a stored document.
    pub fn kind_of(&self, id: &DocId) -> Result<DocKind> {
        self.lock()?.stored_kind(id)
    }

    /// Ids of every document of `kind` on this device.
    pub fn document_ids(&self, kind: DocKind) -> Result<Vec<DocId>> {
        let inner = self.lock()?;
        let mut stmt = inner
            .conn
            .prepare("SELECT id FROM documents WHERE kind = ?1 ORDER BY id")?;
        let ids = stmt
            .query_map([kind.as_str()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.into_iter().map(|s| DocId::parse("id", &s)).collect()
    }

    /// Who changed a document, what, and when, oldest first.
    pub fn history(&self, id: &DocId) -> Result<Vec<HistoryEntry>> {
        let mut inner = self.lock()?;
        let kind = inner.stored_kind(id)?;
        let mut doc = inner.take_doc(id, kind)?;
        let history = doc.history();
        inner.cache.put(doc);
        Ok(history)
    }

    // ---- exchange with peers (the sync client builds on these) ---------------------------

    /// The document's current heads, as hex change hashes.
    pub fn heads(&self, id: &DocId) -> Result<Vec<String>> {
        let mut inner = self.lock()?;
        let kind = inner.stored_kind(id)?;
        let mut doc = inner.take_doc(id, kind)?;
        let heads = doc.heads().iter().map(|h| h.to_string()).collect();
        inner.cache.put(doc);
        Ok(heads)
    }

    /// The changes of a document that are not reachable from `since` (hex heads; empty:
    /// the whole document), one encoded Automerge change each, oldest first.
    pub fn export_changes(&self, id: &DocId, since: &[String]) -> Result<Vec<Vec<u8>>> {
        let since = since
            .iter()
            .map(|h| {
                h.parse::<automerge::ChangeHash>()
                    .map_err(|_| Error::invalid("since", format!("`{h}` is not a change hash")))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut inner = self.lock()?;
        let kind = inner.stored_kind(id)?;
        let mut doc = inner.take_doc(id, kind)?;
        let changes = doc.changes_since(&since);
        inner.cache.put(doc);
        Ok(changes)
    }

    /// Merges changes made elsewhere (by [`export_changes`](Self::export_changes) on another
    /// device, or a server) into document `id`, creating it if this device does not have
    /// it yet. Every change must parse and every dependency must be present, or nothing is
    /// merged. Merged changes are not local edits: they add nothing to the outbox.
    pub fn merge_changes(&self, id: &DocId, changes: &[Vec<u8>]) -> Result<()> {
        self.merge_one(id.clone(), changes.to_vec(), false)
    }

    // ---- outbox and maintenance -----------------------------------------------------------

    /// Folds the incremental chunks of up to `max_docs` documents that have at least
    /// `min_chunks` of them into a fresh snapshot; returns how many were compacted. Run it
    /// when the app is idle: it is never done on the path of an edit. Documents that fail
    /// to load are skipped (reading them reports the damage).
    pub fn compact(&self, min_chunks: usize, max_docs: usize) -> Result<usize> {
        let mut inner = self.lock()?;
        let candidates: Vec<(String, String)> = {
            let mut stmt = inner.conn.prepare(
                "SELECT id, kind FROM documents WHERE chunk_count >= ?1 ORDER BY chunk_count DESC LIMIT ?2",
            )?;
            stmt.query_map(params![min_chunks.max(1) as i64, max_docs as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut done = 0;
        for (id, kind) in candidates {
            let id = DocId::parse("id", &id)?;
            let mut doc = match inner.take_doc(&id, DocKind::parse(&kind)?) {
                Ok(doc) => doc,
                // A damaged document is reported when it is read; it must not stop the
                // others from being compacted.
                Err(Error::Corrupt { .. }) => continue,
                Err(e) => return Err(e),
            };
            let snapshot = doc.save_full();
            let tx = inner.conn.savepoint()?;
            tx.execute("DELETE FROM chunks WHERE doc_id = ?1", [id.as_str()])?;
            tx.execute(
                "UPDATE documents SET snapshot = ?2, chunk_count = 0, chunk_bytes = 0 WHERE id = ?1",
                params![id.as_str(), snapshot],
            )?;
            // Pending changes are in the snapshot now: the next push loads the document.
            tx.execute(
                "UPDATE outbox SET first_chunk = NULL WHERE doc_id = ?1",
                [id.as_str()],
            )?;
            tx.commit()?;
            inner.cache.put(doc);
            done += 1;
        }
        Ok(done)
    }

    /// Bytes stored for documents of `kind` (snapshots plus chunks) and how many there are.
    pub fn stored_bytes(&self, kind: DocKind) -> Result<(i64, i64)> {
        let inner = self.lock()?;
        Ok(inner.conn.query_row(
            "SELECT COALESCE(SUM(LENGTH(snapshot)), 0) + COALESCE(SUM(chunk_bytes), 0), COUNT(*) FROM documents WHERE kind = ?1",
            [kind.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// SQLite's `PRAGMA integrity_check`: `"ok"` when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        let inner = self.lock()?;
        Ok(inner
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

impl Inner {
    /// Drops a document from the cache (it was deleted).
    pub(crate) fn forget(&mut self, id: &DocId) {
        self.cache.take(id);
    }

    fn stored_kind(&self, id: &DocId) -> Result<DocKind> {
        let kind: Option<String> = self
            .conn
            .prepare_cached("SELECT kind FROM documents WHERE id = ?1")?
            .query_row([id.as_str()], |r| r.get(0))
            .optional()?;
        match kind {
            Some(k) => DocKind::parse(&k),
            None => Err(self
                .damage_of(id)?
                .unwrap_or_else(|| Error::UnknownDocument { id: id.to_string() })),
        }
    }

    /// Takes the document out of the cache (or loads it); the caller puts it back.
    pub(crate) fn take_doc(&mut self, id: &DocId, kind: DocKind) -> Result<Doc> {
        if let Some(doc) = self.cache.take(id) {
            if doc.kind != kind {
                let actual = doc.kind;
                self.cache.put(doc);
                return Err(Error::WrongKind {
                    id: id.to_string(),
                    expected: kind,
                    actual,
                });
            }
            return Ok(doc);
        }
        let row: Option<(String, Option<Vec<u8>>)> = self
            .conn
            .prepare_cached("SELECT kind, snapshot FROM documents WHERE id = ?1")?
            .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((stored_kind, snapshot)) = row else {
            // A document received damaged, with no earlier readable state, says why.
            return Err(self
                .damage_of(id)?
                .unwrap_or_else(|| Error::not_found(kind, id.as_str())));
        };
        let actual = DocKind::parse(&stored_kind)?;
        if actual != kind {
            return Err(Error::WrongKind {
                id: id.to_string(),
                expected: kind,
                actual,
            });
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq")?;
        let chunks = stmt
            .query_map([id.as_str()], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        drop(stmt);
        Doc::load(
            id,
            kind,
            &self.actor,
            snapshot.as_deref(),
            chunks.iter().map(Vec::as_slice),
        )
    }

    /// Writes what changed in `doc` since its last save, with its index rows and (for a
    /// local edit) its outbox entry, in one transaction.
    fn persist(&mut self, doc: &mut Doc, at: Timestamp, local: bool) -> Result<()> {
        let chunk = doc.save_new_changes();
        let heads = heads_blob(&doc.heads());
        let tx = self.conn.savepoint()?;
        // The chunks since the snapshot are numbered 1..=chunk_count (creation writes
        // chunk 1, compaction deletes them all and sets 0, every save adds the next one), so
        // the count the update returns is the new chunk's number. Looking it up with
        // `MAX(seq)` instead made SQLite re-prepare that statement on every edit.
        let seq: i64 = tx
            .prepare_cached(
                "UPDATE documents SET chunk_count = chunk_count + 1, chunk_bytes = chunk_bytes + ?2, heads = ?3,
                 updated_at = ?4, store_id = ?5 WHERE id = ?1 RETURNING chunk_count",
            )?
            .query_row(
                params![doc.id.as_str(), chunk.len() as i64, heads, at.0, crate::kinds::store_of(doc)],
                |r| r.get(0),
            )?;
        tx.prepare_cached("INSERT INTO chunks (doc_id, seq, bytes) VALUES (?1, ?2, ?3)")?
            .execute(params![doc.id.as_str(), seq, chunk])?;
        index::reindex(&tx, doc)?;
        if local {
            record_local_edit(&tx, &doc.id, at, seq)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Counts a local edit stored in chunk `chunk`. When nothing else waited for the server,
/// the edit starts the document's pending run of chunks (see `outbox.first_chunk`).
fn record_local_edit(tx: &Connection, id: &DocId, at: Timestamp, chunk: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO outbox (doc_id, local_edits, first_edit_at, first_chunk) VALUES (?1, 1, ?2, ?3)
         ON CONFLICT (doc_id) DO UPDATE SET local_edits = local_edits + 1,
             first_edit_at = CASE WHEN confirmed_edits >= local_edits THEN excluded.first_edit_at ELSE first_edit_at END,
             first_chunk = CASE WHEN confirmed_edits >= local_edits THEN excluded.first_chunk ELSE first_chunk END",
    )?
    .execute(params![id.as_str(), at.0, chunk])?;
    Ok(())
}

pub(crate) fn heads_blob(heads: &[automerge::ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

/// A small cache of loaded documents, evicting the oldest inserted first.
pub(crate) struct DocCache {
    capacity: usize,
    docs: HashMap<DocId, Doc>,
    order: VecDeque<DocId>,
}

impl DocCache {
    fn new(capacity: usize) -> Self {
        DocCache {
            capacity,
            docs: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn take(&mut self, id: &DocId) -> Option<Doc> {
        self.docs.remove(id)
    }

    pub(crate) fn put(&mut self, doc: Doc) {
        let id = doc.id.clone();
        if self.docs.insert(id.clone(), doc).is_none() {
            self.order.retain(|o| o != &id);
            self.order.push_back(id);
        }
        // Bounded: each pass removes one entry or stops.
        while self.docs.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.docs.remove(&old);
                }
                None => break,
            }
        }
    }

    fn clear(&mut self) {
        self.docs.clear();
        self.order.clear();
    }
}

pub(crate) mod index {
    //! Dispatches a document to the module that derives its index rows.
    use rusqlite::Connection;

    use crate::doc::Doc;
    use crate::error::Result;
    use crate::ids::DocKind;

    pub(crate) fn reindex(tx: &Connection, doc: &mut Doc) -> Result<()> {
        match doc.kind {
            DocKind::Store => crate::store::retail_stores::index(tx, doc),
            DocKind::Visit => crate::store::visits::index(tx, doc),
            DocKind::ShelfDisplay => crate::store::shelf_displays::index(tx, doc),
            DocKind::InventoryCount => crate::store::inventory_counts::index(tx, doc),
            DocKind::Scorecard => crate::store::scorecards::index(tx, doc),
            DocKind::Task => crate::store::tasks::index(tx, doc),
            DocKind::Complaint => crate::store::complaints::index(tx, doc),
        }
    }

    /// What a kind derives from a document for the index tables, kept with the loaded
    /// document (see `crate::doc::derived`) so that a local edit updates the rows from what
    /// it wrote instead of reading the whole document again.
    #[derive(Debug, Clone)]
    pub(crate) enum Derived {
        Count(crate::kinds::inventory_count::CountRows),
        Display(crate::kinds::shelf_display::DisplayRows),
        Visit(crate::kinds::visit::VisitRow),
    }
}

/// A local write the kind's definition refuses, as the typed API reports invalid input.
fn refused(v: crate::kinds::RuleViolation) -> Error {
    Error::invalid(v.field, v.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, device, exchange, sample_store};
    use crate::{
        DisplayCheck, DisplayStandard, NewCountLine, NewInventoryCount, NewProductZone,
        ProductOnDisplay, StandardCheck, Verdict,
    };

    /// The rows `queries` return, each as one line (text as it is, other values as Debug).
    pub(crate) fn table_rows(db: &LocalStore, queries: &[&str]) -> Result<Vec<String>> {
        let inner = db.lock()?;
        let mut rows = Vec::new();
        for sql in queries {
            let mut stmt = inner.conn.prepare(sql)?;
            let mut query = stmt.query([])?;
            while let Some(row) = query.next()? {
                let cells = (0..row.as_ref().column_count())
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            rusqlite::types::ValueRef::Text(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                            other => format!("{other:?}"),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                rows.push(cells.join("|"));
            }
        }
        Ok(rows)
    }

    /// Every row of the index tables local edits update in place, in a fixed order.
    fn derived_rows(db: &LocalStore) -> Result<Vec<String>> {
        table_rows(
            db,
            &[
                "SELECT id, store_id, missing_tags, failed_standards, last_checked_at FROM display_index ORDER BY id",
                "SELECT display_id, checker, last_at FROM display_check_index ORDER BY display_id, checker",
                "SELECT id, store_id, started_at, finished_at, lines, book_total, abs_diff_total FROM count_index ORDER BY id",
            ],
        )
    }

    /// Derives every document's index rows again from the document read whole, as a
    /// freshly loaded document is indexed.
    fn reindex_from_documents(db: &LocalStore) -> Result<()> {
        let mut inner = db.lock()?;
        inner.cache.clear();
        let docs: Vec<(String, String)> = inner
            .conn
            .prepare("SELECT id, kind FROM documents")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut loaded = docs
            .iter()
            .map(|(id, kind)| inner.take_doc(&DocId::parse("id", id)?, DocKind::parse(kind)?))
            .collect::<Result<Vec<_>>>()?;
        let tx = inner.conn.unchecked_transaction()?;
        for doc in &mut loaded {
            index::reindex(&tx, doc)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn check(by_product: &[(&str, bool)], fail: &[DisplayStandard]) -> DisplayCheck {
        DisplayCheck {
            standards: DisplayStandard::ALL
                .iter()
                .map(|&standard| StandardCheck {
                    standard,
                    verdict: if fail.contains(&standard) {
                        Verdict::Fail
                    } else {
                        Verdict::Pass
                    },
                    note: String::new(),
                    photos: Vec::new(),
                })
                .collect(),
            products: by_product
                .iter()
                .map(|(sku, tag)| ProductOnDisplay {
                    sku: (*sku).to_owned(),
                    name: format!("{sku} 20s"),
                    price_tag: *tag,
                })
                .collect(),
            ..DisplayCheck::default()
        }
    }

    #[test]
    fn index_rows_a_local_edit_updates_in_place_equal_those_derived_from_the_whole_document()
    -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (a, clock_a) = device(
            dir.path().join("a.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let (b, clock_b) = device(
            dir.path().join("b.db"),
            "sup-wang",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let store = a.create_store(sample_store("am-li", 1))?;
        let display = a.create_shelf_display(&store)?;
        let line = |sku: &str, book: i64| NewCountLine {
            sku: sku.to_owned(),
            name: sku.to_owned(),
            book,
        };
        let count = a.create_inventory_count(NewInventoryCount {
            store_id: store.clone(),
            lines: vec![line("s1", 10), line("s2", 20), line("s3", 0)],
        })?;
        clock_a.advance_minutes(5);
        a.record_display_check(&display, &check(&[("p1", false), ("p2", false)], &[]))?;
        a.set_counted(&count, "s1", 9)?;
        exchange(&a, &b)?;
        // Concurrent edits on both phones, so that some entries hold two values.
        clock_a.advance_minutes(5);
        clock_b.advance_minutes(7);
        a.mark_display_standard(&display, DisplayStandard::PriceTags, Verdict::Fail, "faded")?;
        b.mark_display_standard(&display, DisplayStandard::PriceTags, Verdict::Pass, "")?;
        b.record_display_check(
            &display,
            &check(
                &[("p2", true), ("p3", false)],
                &[DisplayStandard::TidyCounter],
            ),
        )?;
        a.set_counted_many(&count, &[("s1".to_owned(), 12), ("s2".to_owned(), 15)])?;
        b.set_counted(&count, "s1", 7)?;
        exchange(&b, &a)?;
        // Products as they are: only the standards are written.
        clock_a.advance_minutes(5);
        a.record_display_check(&display, &check(&[("p2", true), ("p3", false)], &[]))?;
        // Products only, all as they are: the check leaves its checker's mark.
        clock_a.advance_minutes(5);
        a.record_display_check(
            &display,
            &DisplayCheck {
                products: check(&[("p3", false)], &[]).products,
                ..DisplayCheck::default()
            },
        )?;
        clock_a.advance_minutes(5);
        a.record_display_check(
            &display,
            &DisplayCheck {
                removed_products: vec!["p1".to_owned()],
                new_product_zone: Some(NewProductZone {
                    present: true,
                    skus: vec!["p9".to_owned()],
                    note: String::new(),
                }),
                ..DisplayCheck::default()
            },
        )?;
        assert!(
            a.set_counted(&count, "nope", 1).is_err(),
            "an unknown sku is refused"
        );
        a.add_count_line(&count, line("s4", 5))?;
        a.set_counted_many(&count, &[("s3".to_owned(), 1), ("s4".to_owned(), 5)])?;
        a.set_counted(&count, "s2", 21)?;
        a.finish_count(&count)?;
        {
            let mut inner = a.lock()?;
            let doc = inner.take_doc(&count, DocKind::InventoryCount)?;
            assert_eq!(
                crate::kinds::inventory_count::CountRows::read(&doc)?,
                crate::kinds::inventory_count::CountRows::of(&crate::kinds::inventory_count::read(
                    &doc
                )?),
                "the index reads a count as its reader does"
            );
            inner.cache.put(doc);
        }
        let in_place = derived_rows(&a)?;
        reindex_from_documents(&a)?;
        assert_eq!(in_place, derived_rows(&a)?);
        assert!(
            in_place.iter().any(|r| r.contains("sup-wang")),
            "the merged checks are in the index: {in_place:?}"
        );
        Ok(())
    }
}
