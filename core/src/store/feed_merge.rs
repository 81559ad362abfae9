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

#[cfg(test)]
mod conflict_tests;
mod prepare;
#[cfg(test)]
mod tests;
mod write;

use prepare::prepare;

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use automerge::{ActorId, ChangeHash};

use super::damaged::Damage;
use super::index::Derived;
use super::{Inner, LocalStore};
use crate::doc::Doc;
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::feed_index::FeedIndex;

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
    /// The index rows the server sent for it, for a document this device does not hold.
    sent_rows: Option<FeedIndex>,
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
    /// A document this device did not have, stored as its changes came (one chunk, no
    /// snapshot) with the index rows the server sent: built the first time it is read.
    Unbuilt(Unbuilt, Vec<u8>),
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
    /// Its fields in conflict, read on the worker with the check.
    conflicts: Vec<String>,
    /// It was damaged, and reads now: its damage is cleared.
    repaired: bool,
}

/// What the writer needs of a document stored unbuilt.
struct Unbuilt {
    kind: DocKind,
    heads: Vec<ChangeHash>,
    rows: crate::kinds::feed_index::SentRows,
    conflicts: Vec<String>,
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
    /// `None`: not prepared, the merge stopped before the worker took it up.
    prepared: Option<Result<Prepared>>,
    /// The job's changes, handed back for a merge that stops before writing them.
    changes: Vec<Vec<u8>>,
}

impl LocalStore {
    /// Merges the changes of many documents from the server, in order, as
    /// [`merge_from_server`](Self::merge_from_server) on each would, preparing them on
    /// worker threads (see the module's comment): all of them are stored, or none when one
    /// fails. Returns how many documents were given.
    pub fn merge_many_from_server(&self, docs: Vec<(DocId, Vec<Vec<u8>>)>) -> Result<usize> {
        let mut inner = self.lock()?;
        inner.all_or_nothing(|inner| {
            Ok(inner
                .merge_many(docs, true, default_workers(), &|| false)?
                .0
                .count)
        })
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
    /// Merges `docs` in order with up to `workers` threads preparing them (none: all on
    /// this thread); `from_server` also records that the server holds what was merged.
    /// Run it inside [`all_or_nothing`](Self::all_or_nothing): a failure leaves the
    /// documents before it written.
    ///
    /// `stop` is asked after each document is written: once it says yes, no more documents
    /// are handed to the workers, the ones already prepared are written, and the documents
    /// not started are returned, in order, for a later call.
    pub(crate) fn merge_many(
        &mut self,
        docs: Vec<IncomingDocument>,
        from_server: bool,
        workers: usize,
        stop: &dyn Fn() -> bool,
    ) -> Result<(Merged, Vec<IncomingDocument>)> {
        let mut merged = Merged::default();
        if workers == 0 || docs.len() < PARALLEL_FROM {
            let mut docs = docs.into_iter();
            // Bounded by the documents given.
            for (id, changes) in docs.by_ref() {
                self.merge_doc(id, changes, from_server, &mut merged)?;
                merged.count += 1;
                if stop() {
                    break;
                }
            }
            return Ok((merged, docs.collect()));
        }
        let actor = self.actor.clone();
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let job_rx = Mutex::new(job_rx);
        let stopping = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let (job_rx, done_tx, actor, stopping) =
                    (&job_rx, done_tx.clone(), &actor, &stopping);
                scope.spawn(move || work(job_rx, &done_tx, actor, stopping));
            }
            drop(done_tx);
            // Returning (on success or error) drops `job_tx`: the workers finish the job in
            // hand and stop, and the scope waits for them.
            let stop_workers = || {
                let stop = stop();
                if stop {
                    // The workers hand the jobs they have not begun back unprepared.
                    stopping.store(true, Ordering::SeqCst);
                }
                stop
            };
            let written = self.write_in_order(
                docs,
                from_server,
                job_tx,
                &done_rx,
                &mut merged,
                &stop_workers,
            );
            stopping.store(true, Ordering::SeqCst);
            written
        })
        .map(|rest| (merged, rest))
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
        stop: &dyn Fn() -> bool,
    ) -> Result<Vec<IncomingDocument>> {
        let count = docs.len();
        let cached_from = count.saturating_sub(self.cache.capacity());
        let mut pending = docs.into_iter().enumerate().peekable();
        let mut early: HashMap<usize, Done> = HashMap::new();
        // Hands every document before position `upto` to the workers.
        // A document listed twice is handed out again only once its first entry is
        // written: the second must be prepared on what the first stored.
        let mut in_flight: HashSet<DocId> = HashSet::new();
        let dispatch = |inner: &mut Inner,
                        pending: &mut std::iter::Peekable<
            std::iter::Enumerate<std::vec::IntoIter<IncomingDocument>>,
        >,
                        in_flight: &mut HashSet<DocId>,
                        upto: usize|
         -> Result<()> {
            // Bounded by `upto`: each pass takes one document from the list.
            while let Some((index, (id, changes))) =
                pending.next_if(|(i, (id, _))| *i < upto && !in_flight.contains(id))
            {
                let stored = inner.stored_for_merge(&id)?;
                let held = inner.held_changes(&id)?;
                let sent_rows = inner.feed_index_for(&id, &stored, &held);
                in_flight.insert(id.clone());
                if jobs
                    .send(Job {
                        index,
                        id,
                        changes,
                        stored,
                        held,
                        sent_rows,
                        cache: index >= cached_from,
                    })
                    .is_err()
                {
                    return Err(workers_gone());
                }
            }
            Ok(())
        };
        dispatch(self, &mut pending, &mut in_flight, WINDOW)?;
        for next in 0..count {
            // Bounded: at most `WINDOW` documents are in flight, and each arrives once.
            let finished = loop {
                if let Some(d) = early.remove(&next) {
                    break d;
                }
                let d = done.recv().map_err(|_| workers_gone())?;
                early.insert(d.index, d);
            };
            in_flight.remove(&finished.id);
            let prepared = finished.prepared.ok_or_else(workers_gone)?;
            self.write_prepared(&finished.id, prepared?, from_server, merged)?;
            merged.count += 1;
            if stop() {
                // What is in flight goes back, unwritten, before the rest, in order: the
                // caller lets the waiting calls in after one document's write, and merges
                // these later (prepared again on what the store holds then).
                let mut back: Vec<(usize, IncomingDocument)> = early
                    .drain()
                    .map(|(index, d)| (index, (d.id, d.changes)))
                    .collect();
                // Bounded: each document handed out comes back once.
                while back.len() < in_flight.len() {
                    let d = done.recv().map_err(|_| workers_gone())?;
                    back.push((d.index, (d.id, d.changes)));
                }
                back.sort_by_key(|(index, _)| *index);
                let rest = back.into_iter().map(|(_, doc)| doc);
                return Ok(rest.chain(pending.map(|(_, doc)| doc)).collect());
            }
            dispatch(self, &mut pending, &mut in_flight, next + 1 + WINDOW)?;
        }
        Ok(pending.map(|(_, doc)| doc).collect())
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
        let sent_rows = self.feed_index_for(&id, &stored, &held);
        let prepared = prepare(&id, &changes, stored, held, sent_rows, &self.actor, true)?;
        self.write_prepared(&id, prepared, from_server, merged)
    }
}

fn workers_gone() -> Error {
    Error::invalid("changes", "the threads merging them stopped")
}

/// A worker: prepares jobs until there are none.
fn work(
    jobs: &Mutex<mpsc::Receiver<Job>>,
    done: &mpsc::Sender<Done>,
    actor: &ActorId,
    stopping: &AtomicBool,
) {
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
            sent_rows,
            cache,
        } = job;
        if stopping.load(Ordering::SeqCst) {
            let sent = done.send(Done {
                index,
                id,
                prepared: None,
                changes,
            });
            if sent.is_err() {
                return;
            }
            continue;
        }
        // A panic inside Automerge must come back as this document's error: a worker that
        // died silently would leave the writer waiting for its document.
        let prepared = catch_unwind(AssertUnwindSafe(|| {
            prepare(&id, &changes, stored, held, sent_rows, actor, cache)
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
            prepared: Some(prepared),
            changes,
        });
        if sent.is_err() {
            return;
        }
    }
}
