//! Merging documents that came from a peer or the server, many at a time: each document is
//! prepared (its changes parsed and hashed, applied, its new bytes encoded, its costly index
//! rows derived) on worker threads, and the thread holding the store writes them in the
//! order given.
//!
//! A new phone downloads tens of thousands of documents, and nearly all of the work of
//! merging one needs no database. So [`LocalStore::merge_many_from_server`] runs that work
//! on up to [`MAX_WORKERS`] threads, never more than [`WINDOW`] documents ahead of the
//! writer (what memory holds at once is bounded by the window, not by the response), while
//! the writer keeps SQLite, which has one connection, to itself. The result is what merging
//! the documents one by one gives: the same rows, the same cache, the same errors.
//!
//! The writer holds the store's lock from the first document to the last, inside one
//! savepoint ([`Inner::all_or_nothing`]): when one document fails (a change that does not
//! parse, a missing dependency, changes of another document), nothing of the batch is
//! written; and no other operation (an edit the app makes meanwhile) runs inside that
//! savepoint, where a rollback would take it along after it was reported saved. A document
//! being prepared is out of the cache; nothing else can ask for it until the batch ends.
//!
//! A document that cannot be read as its kind once the changes are applied is not a
//! failure of the batch: it is kept aside as damaged ([`super::damaged`]) and the batch
//! goes on; what the store held of it stays as it was.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::mpsc;

use automerge::{ActorId, ChangeHash};
use rusqlite::{Connection, OptionalExtension, params};

use super::damaged::{self, Damage};
use super::index::Derived;
use super::{Inner, LocalStore, heads_blob, index};
use crate::doc::Doc;
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};

/// Most worker threads preparing documents (fewer on a machine with fewer cores).
pub(crate) const MAX_WORKERS: usize = 4;
/// Most documents prepared ahead of the one being written.
pub(crate) const WINDOW: usize = 32;
/// Fewer documents than this are merged on the calling thread alone: starting workers
/// costs more than they would save (a day's sync brings a few documents).
const PARALLEL_FROM: usize = 16;

/// One document's changes, as a peer sent them.
type IncomingDocument = (DocId, Vec<Vec<u8>>);

/// What the store held of a document when it was handed to a worker.
enum Stored {
    New,
    Cached(Box<Doc>),
    Saved {
        kind: DocKind,
        snapshot: Option<Vec<u8>>,
        chunks: Vec<Vec<u8>>,
    },
}

/// A document to prepare: its changes and what the store holds of it.
struct Job {
    index: usize,
    id: DocId,
    changes: Vec<Vec<u8>>,
    stored: Stored,
    /// The changes kept aside for it when it is damaged, to merge again with these.
    held: Option<Vec<Vec<u8>>>,
    /// Whether the document goes to the cache once written: only the last documents of a
    /// batch would stay there, so the others are dropped by the worker that built them,
    /// off the writer's thread.
    cache: bool,
}

/// A document prepared for writing.
enum Prepared {
    /// The changes were all known already: the document (unless it is not cached) and its
    /// heads.
    Unchanged(Option<Doc>, Vec<ChangeHash>),
    /// A document this device did not have, with its snapshot.
    New(Ready, Vec<u8>),
    /// A document that grew, with the chunk of its new changes.
    Grown(Ready, Vec<u8>),
    /// A document that cannot be read with these changes: they are kept aside, and what
    /// the store holds of it is left as it is.
    Damaged(Damage),
}

/// What the writer needs of a document that changed: all of it read on the worker.
struct Ready {
    kind: DocKind,
    heads: Vec<ChangeHash>,
    /// The retail store it is about (`documents.store_id`).
    store: Option<String>,
    /// The document, to index (unless `rows` are given) and to cache; `None` when it is not
    /// cached and its index rows are ready.
    doc: Option<Doc>,
    /// Its index rows, when the kind derives them on the worker.
    rows: Option<Derived>,
    /// It was damaged, and reads now: its damage is cleared.
    repaired: bool,
}

/// What a batch merged: how many documents, and which of them were found damaged or
/// read again after being damaged.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    pub(crate) count: usize,
    pub(crate) damaged: Vec<DocId>,
    pub(crate) repaired: Vec<DocId>,
}

struct Done {
    index: usize,
    id: DocId,
    prepared: Result<Prepared>,
}

impl LocalStore {
    /// Merges the changes of many documents from the server, in order, as
    /// [`merge_from_server`](Self::merge_from_server) on each would, preparing them on
    /// worker threads (see the module's comment): all of them are stored, or none when one
    /// fails. Returns how many documents were given.
    pub fn merge_many_from_server(&self, docs: Vec<(DocId, Vec<Vec<u8>>)>) -> Result<usize> {
        let mut inner = self.lock()?;
        inner.all_or_nothing(|inner| Ok(inner.merge_many(docs, true, default_workers())?.count))
    }

    /// Merges one document on this thread.
    pub(crate) fn merge_one(
        &self,
        id: DocId,
        changes: Vec<Vec<u8>>,
        from_server: bool,
    ) -> Result<()> {
        let mut inner = self.lock()?;
        inner.all_or_nothing(|inner| {
            let mut merged = Merged::default();
            inner.merge_doc(id, changes, from_server, &mut merged)
        })
    }
}

/// Worker threads for this machine: one per core, up to [`MAX_WORKERS`].
pub(crate) fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(MAX_WORKERS)
}

impl Inner {
    /// Runs `body` inside a savepoint (a transaction of its own when none is open): what it
    /// wrote commits with it, or is rolled back, with the cached documents forgotten, when
    /// it fails or panics. The caller holds the store's lock throughout, so no other
    /// operation's writes can land inside it and be rolled back with it.
    pub(crate) fn all_or_nothing<T>(
        &mut self,
        body: impl FnOnce(&mut Inner) -> Result<T>,
    ) -> Result<T> {
        self.conn.execute_batch("SAVEPOINT all_or_nothing")?;
        let outcome = catch_unwind(AssertUnwindSafe(|| body(self)));
        match outcome {
            Ok(Ok(value)) => {
                if let Err(e) = self.conn.execute_batch("RELEASE all_or_nothing") {
                    self.roll_back_to_savepoint();
                    return Err(e.into());
                }
                Ok(value)
            }
            Ok(Err(e)) => {
                self.roll_back_to_savepoint();
                Err(e)
            }
            Err(panic) => {
                self.roll_back_to_savepoint();
                std::panic::resume_unwind(panic)
            }
        }
    }

    fn roll_back_to_savepoint(&mut self) {
        let _ = self
            .conn
            .execute_batch("ROLLBACK TO all_or_nothing; RELEASE all_or_nothing");
        // Documents merged before the failure would otherwise outlive the rollback.
        self.cache.clear();
    }

    /// Merges `docs` in order with up to `workers` threads preparing them (none: all on
    /// this thread); `from_server` also records that the server holds what was merged.
    /// Run it inside [`all_or_nothing`](Self::all_or_nothing): a failure leaves the
    /// documents before it written.
    pub(crate) fn merge_many(
        &mut self,
        docs: Vec<IncomingDocument>,
        from_server: bool,
        workers: usize,
    ) -> Result<Merged> {
        let mut merged = Merged {
            count: docs.len(),
            ..Merged::default()
        };
        if workers == 0 || merged.count < PARALLEL_FROM {
            for (id, changes) in docs {
                self.merge_doc(id, changes, from_server, &mut merged)?;
            }
            return Ok(merged);
        }
        let actor = self.actor.clone();
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let job_rx = Mutex::new(job_rx);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let (job_rx, done_tx, actor) = (&job_rx, done_tx.clone(), &actor);
                scope.spawn(move || work(job_rx, &done_tx, actor));
            }
            drop(done_tx);
            // Returning (on success or error) drops `job_tx`: the workers finish the job in
            // hand and stop, and the scope waits for them.
            self.write_in_order(docs, from_server, job_tx, &done_rx, &mut merged)
        })?;
        Ok(merged)
    }

    /// The writer: hands documents to the workers up to `WINDOW` ahead, and writes each
    /// as it comes back, in the order given.
    fn write_in_order(
        &mut self,
        docs: Vec<IncomingDocument>,
        from_server: bool,
        jobs: mpsc::Sender<Job>,
        done: &mpsc::Receiver<Done>,
        merged: &mut Merged,
    ) -> Result<()> {
        let count = docs.len();
        let cached_from = count.saturating_sub(self.cache.capacity());
        let mut pending = docs.into_iter().enumerate().peekable();
        let mut early: HashMap<usize, Done> = HashMap::new();
        // Hands every document before position `upto` to the workers.
        let mut dispatch = |inner: &mut Inner, upto: usize| -> Result<()> {
            // Bounded by `upto`: each pass takes one document from the list.
            while let Some((index, (id, changes))) = pending.next_if(|(i, _)| *i < upto) {
                let stored = inner.stored_for_merge(&id)?;
                let held = inner.held_changes(&id)?;
                if jobs
                    .send(Job {
                        index,
                        id,
                        changes,
                        stored,
                        held,
                        cache: index >= cached_from,
                    })
                    .is_err()
                {
                    return Err(workers_gone());
                }
            }
            Ok(())
        };
        dispatch(self, WINDOW)?;
        for next in 0..count {
            // Bounded: at most `WINDOW` documents are in flight, and each arrives once.
            let finished = loop {
                if let Some(d) = early.remove(&next) {
                    break d;
                }
                let d = done.recv().map_err(|_| workers_gone())?;
                early.insert(d.index, d);
            };
            self.write_prepared(&finished.id, finished.prepared?, from_server, merged)?;
            dispatch(self, next + 1 + WINDOW)?;
        }
        Ok(())
    }

    /// Merges one document on this thread.
    fn merge_doc(
        &mut self,
        id: DocId,
        changes: Vec<Vec<u8>>,
        from_server: bool,
        merged: &mut Merged,
    ) -> Result<()> {
        let stored = self.stored_for_merge(&id)?;
        let held = self.held_changes(&id)?;
        let prepared = prepare(&id, &changes, stored, held, &self.actor, true)?;
        self.write_prepared(&id, prepared, from_server, merged)
    }
}

fn workers_gone() -> Error {
    Error::invalid("changes", "the threads merging them stopped")
}

/// A worker: prepares jobs until there are none.
fn work(jobs: &Mutex<mpsc::Receiver<Job>>, done: &mpsc::Sender<Done>, actor: &ActorId) {
    // Bounded by the jobs sent: `recv` fails once the writer dropped its sender.
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let Job {
            index,
            id,
            changes,
            stored,
            held,
            cache,
        } = job;
        // A panic inside Automerge must come back as this document's error: a worker that
        // died silently would leave the writer waiting for its document.
        let prepared = catch_unwind(AssertUnwindSafe(|| {
            prepare(&id, &changes, stored, held, actor, cache)
        }))
        .unwrap_or_else(|_| {
            Err(Error::invalid(
                "changes",
                format!("merging the changes of `{id}` failed unexpectedly"),
            ))
        });
        let sent = done.send(Done {
            index,
            id,
            prepared,
        });
        if sent.is_err() {
            return;
        }
    }
}

/// Parses `changes`, applies them (with the changes `held` aside for it, when it is
/// damaged) to what the store held of document `id`, checks that the result reads as its
/// kind, and encodes and derives what must be written. Every change must parse and every
/// dependency must be present, or nothing is prepared; a document that does not read is
/// prepared as damaged. Unless `cache`, a document whose index rows are derived here is
/// dropped here.
fn prepare(
    id: &DocId,
    changes: &[Vec<u8>],
    stored: Stored,
    held: Option<Vec<Vec<u8>>>,
    actor: &ActorId,
    cache: bool,
) -> Result<Prepared> {
    let parse = |i: usize, bytes: &[u8], what: &str| {
        automerge::Change::try_from(bytes).map_err(|e| {
            Error::invalid(
                "changes",
                format!("{what} {i} of `{id}` is not an automerge change: {e}"),
            )
        })
    };
    let repairing = held.is_some();
    let held = held.unwrap_or_default();
    let mut parsed = held
        .iter()
        .enumerate()
        .map(|(i, bytes)| parse(i, bytes, "kept-aside change"))
        .collect::<Result<Vec<_>>>()?;
    for (i, bytes) in changes.iter().enumerate() {
        parsed.push(parse(i, bytes, "change")?);
    }
    let (mut doc, before, new) = match stored {
        Stored::New => match damaged::new_document(id, parsed, actor)? {
            Ok(doc) => (doc, Vec::new(), true),
            Err(damage) => return Ok(Prepared::Damaged(damage)),
        },
        Stored::Cached(doc) => grow(*doc, parsed)?,
        Stored::Saved {
            kind,
            snapshot,
            chunks,
        } => {
            let loaded = Doc::load(
                id,
                kind,
                actor,
                snapshot.as_deref(),
                chunks.iter().map(Vec::as_slice),
            );
            match loaded {
                Ok(doc) => grow(doc, parsed)?,
                Err(e) => {
                    return Ok(Prepared::Damaged(Damage::unloadable(
                        kind, &e, &held, changes,
                    )));
                }
            }
        }
    };
    doc.check_identity()?;
    if let Some(hash) = doc.am.get_missing_deps(&[]).first() {
        return Err(Error::invalid(
            "changes",
            format!("they depend on change `{hash}` of `{id}`, which this device does not have"),
        ));
    }
    let heads = doc.heads();
    if heads == before && !repairing {
        return Ok(Prepared::Unchanged(cache.then_some(doc), heads));
    }
    match damaged::check_readable(&doc) {
        Ok(Some(rows)) => doc.set_derived(rows),
        Ok(None) => {}
        Err(e) => return Ok(Prepared::Damaged(Damage::of(&mut doc, &e, &before))),
    }
    let bytes = if new {
        doc.save_full_uncompressed()
    } else {
        doc.save_new_changes()
    };
    let mut ready = Ready {
        kind: doc.kind,
        heads,
        store: crate::kinds::store_of(&doc),
        doc: None,
        rows: None,
        repaired: repairing,
    };
    if cache {
        ready.doc = Some(doc);
    } else {
        ready.rows = doc.take_derived::<Derived>();
        if ready.rows.is_none() {
            ready.doc = Some(doc);
        }
    }
    Ok(if new {
        Prepared::New(ready, bytes)
    } else {
        Prepared::Grown(ready, bytes)
    })
}

/// Applies changes to a document the store has; returns it with its heads before.
fn grow(mut doc: Doc, parsed: Vec<automerge::Change>) -> Result<(Doc, Vec<ChangeHash>, bool)> {
    let before = doc.heads();
    doc.am.apply_changes(parsed)?;
    Ok((doc, before, false))
}

impl Inner {
    /// What the store holds of `id` for a merge: the document taken out of the cache, or
    /// its bytes (the caller puts the document back, or drops it on failure).
    fn stored_for_merge(&mut self, id: &DocId) -> Result<Stored> {
        let kind: Option<String> = self
            .conn
            .prepare_cached("SELECT kind FROM documents WHERE id = ?1")?
            .query_row([id.as_str()], |r| r.get(0))
            .optional()?;
        let Some(kind) = kind else {
            return Ok(Stored::New);
        };
        let kind = DocKind::parse(&kind)?;
        // A cached document not of the kind disk says is read again from disk.
        if let Some(doc) = self.cache.take(id)
            && doc.kind == kind
        {
            return Ok(Stored::Cached(Box::new(doc)));
        }
        let snapshot: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT snapshot FROM documents WHERE id = ?1")?
            .query_row([id.as_str()], |r| r.get(0))?;
        let chunks = self
            .conn
            .prepare_cached("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq")?
            .query_map([id.as_str()], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Stored::Saved {
            kind,
            snapshot,
            chunks,
        })
    }

    /// Writes a prepared document with its index rows (and, from the server, its outbox
    /// entry's server heads), then caches it. On failure the document is dropped: memory
    /// must not hold what disk lacks (and the caller's savepoint rolls back what was
    /// written of it).
    fn write_prepared(
        &mut self,
        id: &DocId,
        prepared: Prepared,
        from_server: bool,
        merged: &mut Merged,
    ) -> Result<()> {
        let now = (self.clock)();
        let tx = &self.conn;
        let (ready, heads) = match prepared {
            Prepared::Damaged(damage) => {
                // The server's heads are not recorded: `documents` does not hold them.
                damaged::record_damage(tx, id, &damage, now)?;
                merged.damaged.push(id.clone());
                return Ok(());
            }
            Prepared::Unchanged(doc, heads) => {
                if from_server {
                    record_server_heads(tx, id, &heads)?;
                }
                if let Some(doc) = doc {
                    self.cache.put(doc);
                }
                return Ok(());
            }
            Prepared::New(ready, snapshot) => {
                tx.prepare_cached(
                    "INSERT INTO documents (id, kind, store_id, snapshot, heads, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    id.as_str(),
                    ready.kind.as_str(),
                    ready.store,
                    snapshot,
                    heads_blob(&ready.heads),
                    now.0
                ])?;
                let heads = ready.heads.clone();
                (ready, heads)
            }
            Prepared::Grown(ready, chunk) => {
                // As `persist` does for a local edit (see the numbering there), without an
                // outbox entry: merged changes are not local edits.
                let seq: i64 = tx
                    .prepare_cached(
                        "UPDATE documents SET chunk_count = chunk_count + 1, chunk_bytes = chunk_bytes + ?2, heads = ?3,
                         updated_at = ?4, store_id = ?5 WHERE id = ?1 RETURNING chunk_count",
                    )?
                    .query_row(
                        params![id.as_str(), chunk.len() as i64, heads_blob(&ready.heads), now.0, ready.store],
                        |r| r.get(0),
                    )?;
                tx.prepare_cached("INSERT INTO chunks (doc_id, seq, bytes) VALUES (?1, ?2, ?3)")?
                    .execute(params![id.as_str(), seq, chunk])?;
                let heads = ready.heads.clone();
                (ready, heads)
            }
        };
        if ready.repaired {
            damaged::clear_damage(tx, id)?;
            merged.repaired.push(id.clone());
        }
        match (ready.doc, ready.rows) {
            (Some(mut doc), _) => {
                index::reindex(tx, &mut doc)?;
                if from_server {
                    record_server_heads(tx, id, &heads)?;
                }
                self.cache.put(doc);
            }
            (None, Some(rows)) => {
                write_rows(tx, id, ready.kind, &rows)?;
                if from_server {
                    record_server_heads(tx, id, &heads)?;
                }
            }
            (None, None) => {
                return Err(Error::invalid(
                    "changes",
                    format!("`{id}` was prepared without its document or its index rows"),
                ));
            }
        }
        Ok(())
    }
}

/// Writes index rows derived on a worker, for a document that is not at hand.
fn write_rows(tx: &Connection, id: &DocId, kind: DocKind, rows: &Derived) -> Result<()> {
    match (kind, rows) {
        (DocKind::Visit, Derived::Visit(row)) => crate::store::visits::write_row(tx, id, row),
        (DocKind::InventoryCount, Derived::Count(rows)) => {
            crate::store::inventory_counts::write_rows(tx, id, rows)
        }
        (DocKind::ShelfDisplay, Derived::Display(rows)) => {
            crate::store::shelf_displays::write_rows(tx, id, rows)
        }
        _ => Err(Error::invalid(
            "changes",
            format!("index rows of another kind were derived for {kind} `{id}`"),
        )),
    }
}

/// When none of the document's local edits waits, the server holds everything this device
/// has of it: remembered so that a later local edit sends only itself.
fn record_server_heads(tx: &Connection, id: &DocId, heads: &[ChangeHash]) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO outbox (doc_id, local_edits, confirmed_edits, first_edit_at, server_heads)
         VALUES (?1, 0, 0, 0, ?2)
         ON CONFLICT (doc_id) DO UPDATE SET server_heads = excluded.server_heads
         WHERE confirmed_edits >= local_edits",
    )?
    .execute(params![id.as_str(), heads_blob(heads)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, device, sample_store};
    use crate::{
        CheckPoint, DisplayCheck, DisplayStandard, NewCountLine, NewInventoryCount, NewVisit,
        ProductOnDisplay, StandardCheck, Verdict, VisitKind,
    };

    const STORES: u32 = 6;

    fn check(round: usize) -> DisplayCheck {
        DisplayCheck {
            standards: DisplayStandard::ALL
                .iter()
                .enumerate()
                .map(|(j, &standard)| StandardCheck {
                    standard,
                    verdict: if (round + j).is_multiple_of(3) {
                        Verdict::Fail
                    } else {
                        Verdict::Pass
                    },
                    note: String::new(),
                    photos: Vec::new(),
                })
                .collect(),
            products: (0..4)
                .map(|i| ProductOnDisplay {
                    sku: format!("sku-{i}"),
                    name: format!("Brand {i}"),
                    price_tag: (round + i).is_multiple_of(2),
                })
                .collect(),
            ..DisplayCheck::default()
        }
    }

    /// A phone's rounds of work: each round a visit, a display check and a count in every
    /// store. Returns the phone.
    fn source(dir: &std::path::Path) -> Result<LocalStore> {
        let (phone, clock) = device(
            dir.join("source.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let mut stores = Vec::new();
        for n in 1..=STORES {
            let store = phone.create_store(sample_store("am-li", n))?;
            phone.create_shelf_display(&store)?;
            stores.push(store);
        }
        for round in 0..3 {
            for store in &stores {
                clock.advance_minutes(30);
                let now = phone.now()?;
                let visit = phone.create_visit(NewVisit {
                    store_id: store.clone(),
                    kind: VisitKind::Routine,
                    check_in: CheckPoint { at: now, gps: None },
                    complaint_id: None,
                })?;
                phone.record_display_check(&LocalStore::shelf_display_id(store), &check(round))?;
                let count = phone.create_inventory_count(NewInventoryCount {
                    store_id: store.clone(),
                    lines: (0..5)
                        .map(|i| NewCountLine {
                            sku: format!("sku-{i}"),
                            name: format!("Brand {i}"),
                            book: 10 + i,
                        })
                        .collect(),
                })?;
                let counted: Vec<(String, i64)> = (0..5)
                    .map(|i| (format!("sku-{i}"), 9 + i + round as i64))
                    .collect();
                phone.set_counted_many(&count, &counted)?;
                phone.finish_count(&count)?;
                phone.check_out_visit(&visit, CheckPoint { at: now, gps: None })?;
            }
        }
        Ok(phone)
    }

    /// Every document of `phone` with the changes made since `since` (per document id;
    /// documents with nothing new are left out).
    fn feed(
        phone: &LocalStore,
        since: &HashMap<DocId, Vec<String>>,
    ) -> Result<Vec<(DocId, Vec<Vec<u8>>)>> {
        let mut out = Vec::new();
        for kind in DocKind::ALL {
            for id in phone.document_ids(kind)? {
                let heads = since.get(&id).cloned().unwrap_or_default();
                let changes = phone.export_changes(&id, &heads)?;
                if !changes.is_empty() {
                    out.push((id, changes));
                }
            }
        }
        Ok(out)
    }

    fn heads_of(phone: &LocalStore) -> Result<HashMap<DocId, Vec<String>>> {
        let mut out = HashMap::new();
        for kind in DocKind::ALL {
            for id in phone.document_ids(kind)? {
                out.insert(id.clone(), phone.heads(&id)?);
            }
        }
        Ok(out)
    }

    /// Every row a merge writes, but the time it was written, in a fixed order.
    fn rows(phone: &LocalStore) -> Result<Vec<String>> {
        crate::store::tests::table_rows(
            phone,
            &[
                "SELECT id, kind, store_id, hex(snapshot), chunk_count, chunk_bytes, hex(heads) FROM documents ORDER BY id",
                "SELECT doc_id, seq, hex(bytes) FROM chunks ORDER BY doc_id, seq",
                "SELECT doc_id, local_edits, confirmed_edits, hex(server_heads) FROM outbox ORDER BY doc_id",
                "SELECT * FROM store_index ORDER BY id",
                "SELECT * FROM visit_index ORDER BY id",
                "SELECT * FROM display_index ORDER BY id",
                "SELECT * FROM display_check_index ORDER BY display_id, checker",
                "SELECT * FROM count_index ORDER BY id",
            ],
        )
    }

    fn new_phone(dir: &std::path::Path, name: &str) -> Result<LocalStore> {
        Ok(device(dir.join(name), "am-li", at("2026-11-30T09:00:00+08:00"))?.0)
    }

    #[test]
    fn merging_many_documents_on_worker_threads_stores_what_merging_them_one_by_one_stores()
    -> Result<()> {
        let dir = tempfile::tempdir()?;
        let source = source(dir.path())?;
        let first = feed(&source, &HashMap::new())?;
        assert!(first.len() >= PARALLEL_FROM, "{} documents", first.len());
        let one_by_one = new_phone(dir.path(), "one-by-one.db")?;
        for (id, changes) in &first {
            one_by_one.merge_from_server(id, changes)?;
        }
        let batched = new_phone(dir.path(), "batched.db")?;
        let merged = batched
            .lock()?
            .all_or_nothing(|inner| inner.merge_many(first.clone(), true, 3))?;
        assert_eq!(merged.count, first.len());
        assert_eq!(rows(&batched)?, rows(&one_by_one)?);

        // A second feed grows documents both phones have (the displays, checked again)
        // and brings new ones, as the later responses of a download do.
        let before = heads_of(&source)?;
        let store = source.document_ids(DocKind::Store)?;
        for (round, store) in store.iter().enumerate() {
            source.record_display_check(&LocalStore::shelf_display_id(store), &check(round + 7))?;
            let count = source.create_inventory_count(NewInventoryCount {
                store_id: store.clone(),
                lines: vec![NewCountLine {
                    sku: "sku-9".into(),
                    name: "Brand 9".into(),
                    book: 3,
                }],
            })?;
            source.set_counted(&count, "sku-9", 2)?;
        }
        let mut second = feed(&source, &before)?;
        // A document sent again whole, and one whose changes are all known, change nothing.
        second.extend(first.iter().take(PARALLEL_FROM).cloned());
        for (id, changes) in &second {
            one_by_one.merge_from_server(id, changes)?;
        }
        batched
            .lock()?
            .all_or_nothing(|inner| inner.merge_many(second.clone(), true, 2))?;
        assert_eq!(rows(&batched)?, rows(&one_by_one)?);
        // Reading every document back gives the source's heads.
        let reopened = heads_of(&batched)?;
        assert_eq!(reopened, heads_of(&source)?);
        Ok(())
    }

    #[test]
    fn a_damaged_change_in_a_batch_is_refused_naming_its_document_and_nothing_of_the_batch_is_stored()
    -> Result<()> {
        let dir = tempfile::tempdir()?;
        let source = source(dir.path())?;
        let mut docs = feed(&source, &HashMap::new())?;
        let phone = new_phone(dir.path(), "phone.db")?;
        let victim = docs.len() - 3;
        let damaged = docs[victim].0.clone();
        if let Some(bytes) = docs[victim].1.first_mut() {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x55;
        }
        let err = phone
            .merge_many_from_server(docs)
            .expect_err("a damaged change is refused");
        let message = err.to_string();
        assert!(
            message.contains(&format!(
                "change 0 of `{damaged}` is not an automerge change"
            )),
            "{message}"
        );
        assert_eq!(rows(&phone)?, Vec::<String>::new(), "nothing was written");
        Ok(())
    }

    #[test]
    fn a_batch_holding_a_change_whose_dependency_is_missing_is_refused_whole() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let source = source(dir.path())?;
        let mut docs = feed(&source, &HashMap::new())?;
        let phone = new_phone(dir.path(), "phone.db")?;
        // The last display without its first change (its creation, which the others
        // build on).
        let display = docs
            .iter()
            .rposition(|(id, _)| source.kind_of(id).ok() == Some(DocKind::ShelfDisplay))
            .expect("a display");
        let id = docs[display].0.clone();
        docs[display].1.remove(0);
        let err = phone
            .merge_many_from_server(docs)
            .expect_err("a missing dependency is refused");
        assert!(
            err.to_string().contains(&format!("of `{id}`")),
            "the error names the document: {err}"
        );
        assert_eq!(rows(&phone)?, Vec::<String>::new(), "nothing was written");
        Ok(())
    }

    #[test]
    fn changes_of_another_document_in_a_batch_are_refused() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let source = source(dir.path())?;
        let mut docs = feed(&source, &HashMap::new())?;
        let phone = new_phone(dir.path(), "phone.db")?;
        let last = docs.len() - 1;
        docs[last].1 = docs[0].1.clone();
        let err = phone
            .merge_many_from_server(docs)
            .expect_err("another document's changes are refused");
        assert!(err.to_string().contains("belong to"), "{err}");
        assert_eq!(rows(&phone)?, Vec::<String>::new(), "nothing was written");
        Ok(())
    }

    #[test]
    fn an_edit_made_while_a_failing_response_is_stored_is_kept() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let source = source(dir.path())?;
        let mut docs = feed(&source, &HashMap::new())?;
        // Enough documents that storing them takes a while, the last one damaged.
        let before = heads_of(&source)?;
        for round in 0..4 {
            for store in source.document_ids(DocKind::Store)? {
                source
                    .record_display_check(&LocalStore::shelf_display_id(&store), &check(round))?;
            }
        }
        docs.extend(feed(&source, &before)?);
        if let Some(bytes) = docs.last_mut().and_then(|(_, c)| c.last_mut()) {
            bytes.truncate(bytes.len() / 2);
        }
        let path = dir.path().join("phone.db");
        let phone = std::sync::Arc::new(new_phone(dir.path(), "phone.db")?);
        let store = phone.create_store(sample_store("am-li", 99))?;
        let visit = phone.create_visit(NewVisit {
            store_id: store,
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: phone.now()?,
                gps: None,
            },
            complaint_id: None,
        })?;
        let storing = {
            let phone = phone.clone();
            std::thread::spawn(move || phone.apply_sync_response(&[], docs, &[], "41"))
        };
        // The edit lands before, during or after storing the response: it must be kept
        // whichever it is (during, it waits for the response to be stored or refused).
        std::thread::sleep(std::time::Duration::from_millis(20));
        phone.append_visit_notes(&visit, "Owner asked for slim packs.")?;
        let stored = storing.join().expect("the storing thread does not panic");
        assert!(stored.is_err(), "the damaged response is refused");
        drop(phone);
        let reopened = device(&path, "am-li", at("2026-11-30T09:00:00+08:00"))?.0;
        assert!(
            reopened.visit(&visit)?.notes.contains("slim packs"),
            "the edit is on disk"
        );
        assert_eq!(reopened.sync_cursor()?, None, "the cursor did not move");
        Ok(())
    }
}
