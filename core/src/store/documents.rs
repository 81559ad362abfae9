//! The generic document operations every kind's typed API builds on: create, edit and read
//! a document of a kind (the kind's definition checked before anything is written), its
//! history, and the exchange of changes with peers. An edit commits its chunk, its index
//! rows and its outbox entry in one SQLite transaction.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Inner, LocalStore, index};
use crate::doc::{Doc, HistoryEntry, HydrateValue, Stamp};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::time::Timestamp;

impl LocalStore {
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
        if let Some(rows) = check_and_derive(&doc, true)? {
            doc.set_derived(rows);
        }
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
        // Read before the edit opens; refused after it, so that what the record's own rules
        // say of the edit comes first.
        let clock = clock_not_behind(&mut doc, stamp.at);
        doc.begin_edit();
        let edited = edit(&mut doc, &stamp, &inner.conn)
            .and_then(|()| check_and_derive(&doc, !doc.edit_updated_rows()))
            .and_then(|rows| clock.map(|()| rows));
        let rows = match edited {
            Ok(rows) => rows,
            Err(e) => {
                doc.am.rollback();
                doc.end_edit(false);
                inner.cache.put(doc);
                return Err(e);
            }
        };
        let committed = doc.commit(&stamp, what).is_some();
        doc.end_edit(committed);
        if !committed {
            inner.cache.put(doc);
            return Ok(()); // nothing changed
        }
        if let Some(rows) = rows {
            doc.set_derived(rows);
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

    /// Ids of the documents of `kind` about the retail store `store_id` on this device.
    pub fn documents_of_store(&self, kind: DocKind, store_id: &DocId) -> Result<Vec<DocId>> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(
            "SELECT id FROM documents WHERE kind = ?1 AND store_id = ?2 ORDER BY id",
        )?;
        let ids = stmt
            .query_map([kind.as_str(), store_id.as_str()], |r| {
                r.get::<_, String>(0)
            })?
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
            // A local edit writes over every value it saw: it can resolve a conflict, never
            // make one, so only a document already in conflict is looked at again.
            crate::store::conflicts::refresh_if_listed(&tx, doc)?;
            record_local_edit(&tx, &doc.id, at, seq)?;
        } else {
            crate::store::conflicts::write(&tx, &doc.id, &doc.conflicted_fields())?;
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

/// Checks a document this device is about to write against its kind (the one definition
/// of it: the phone never writes what the server refuses) and, when `derive`, reads its
/// index rows in the same pass over it: the maps the checks read whole are not read again
/// (see [`Doc::reading`]). Asks Automerge for no heads, so the edit stays open.
fn check_and_derive(doc: &Doc, derive: bool) -> Result<Option<index::Derived>> {
    doc.reading(|doc| {
        crate::kinds::check(doc).map_err(refused)?;
        if derive { index::derive(doc) } else { Ok(None) }
    })
}

/// A local write the kind's definition refuses, as the typed API reports invalid input.
fn refused(v: crate::kinds::RuleViolation) -> Error {
    Error::invalid(v.field, v.message)
}

/// Refuses an edit stamped `at` when it is earlier than the latest change it would build on
/// by more than two clock drifts: the server refuses such a change (`kinds::clock`), and
/// every later edit of the document would build on it and be refused too. A phone whose
/// clock is that far behind must be set right before the edit, not after it.
fn clock_not_behind(doc: &mut Doc, at: Timestamp) -> Result<()> {
    let heads = doc.heads();
    let latest = heads
        .iter()
        // The change graph's metadata: rebuilding the change would read its operations.
        .filter_map(|h| doc.am.get_change_meta_by_hash(h).map(|m| m.timestamp))
        .max();
    let allowed = 2 * crate::kinds::MAX_CLOCK_DRIFT_MS;
    match latest {
        Some(latest) if at.0 < latest - allowed => Err(Error::invalid(
            "clock",
            format!(
                "this phone's clock reads `{}`, {} minutes before the latest change of `{}` \
                 (`{latest}`): set the phone's clock right, then edit again (the server \
                 refuses an edit more than {} minutes before what it builds on)",
                at.0,
                (latest - at.0) / 60_000,
                doc.id,
                allowed / 60_000
            ),
        )),
        _ => Ok(()),
    }
}
