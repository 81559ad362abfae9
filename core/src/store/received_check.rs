//! The background check of documents stored from the server's rows (docs/adr/0036).
//!
//! A first sync may store a visit, count or display as its changes came, with the index
//! rows the server derived (ADR 0035, `feed_merge/write.rs`), marked `rows_unchecked`
//! (migration 13). Until the phone builds such a document, its rule answers and lists rest
//! on the judging server's word. [`LocalStore::check_received`] takes a bounded batch of
//! them and, for each: builds it as any read would (every change's checksum, the kind's
//! definition, the readers), derives its rows and conflicts itself and writes them over
//! the server's, folds its chunks into a snapshot (the received changes take about three
//! times a snapshot's bytes), and clears the mark; the batch commits once.
//! Documents whose rows differed from the server's are named in the answer: a server that
//! sends rows its documents do not say is misbehaving. A document that does not build or read as its
//! kind is kept aside as damaged (`damaged.rs`) with the changes it came with, and leaves
//! the lists, unless the device holds its own edits of it, which stay where they are.
//!
//! An app runs it when idle, batch after batch until `remaining` is 0 (the Android
//! library's `FieldsyncStore.checkReceived`); each batch holds the store for one batch.

use rusqlite::{Connection, OptionalExtension, params};

use super::damaged::{Damage, check_readable, record_damage};
use super::{Inner, LocalStore};
use crate::doc::{Doc, split_changes};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};

/// What one batch of [`LocalStore::check_received`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceivedCheck {
    /// Documents built, their rows derived here and their chunks compacted.
    pub checked: usize,
    /// Of those, the documents whose stored rows, conflicts or heads differed from what the
    /// document says (now replaced by what it says): worth reporting, the server that sent
    /// them is misbehaving.
    pub corrected: Vec<DocId>,
    /// Documents that did not build or read as their kind: kept aside as damaged (listed by
    /// [`LocalStore::damaged_documents`] with the reason).
    pub damaged: Vec<DocId>,
    /// Documents still waiting for the check after this batch.
    pub remaining: usize,
}

impl LocalStore {
    /// Checks up to `max_docs` documents stored from the server's index rows: builds each,
    /// writes its own rows over the server's, compacts it (see the module's notes).
    pub fn check_received(&self, max_docs: usize) -> Result<ReceivedCheck> {
        let mut inner = self.lock()?;
        let now = (inner.clock)();
        let batch: Vec<(String, String)> = inner
            .conn
            .prepare_cached(
                "SELECT id, kind FROM documents WHERE rows_unchecked = 1 ORDER BY id LIMIT ?1",
            )?
            .query_map([max_docs as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // One transaction for the batch (each document in its own savepoint inside it): a
        // commit per document spent most of the check writing the same pages to the log.
        let mut report = inner.all_or_nothing(|inner| {
            let mut report = ReceivedCheck::default();
            for (id, kind) in batch {
                let id = DocId::parse("id", &id)?;
                let kind = DocKind::parse(&kind)?;
                let quiet = self.changes.pending();
                match check_one(inner, &id, kind, now)? {
                    Outcome::Same => {
                        // Its rows were rewritten as they were: live lists are not told.
                        self.changes.quiet_since(quiet);
                        report.checked += 1;
                    }
                    Outcome::Corrected => {
                        report.checked += 1;
                        report.corrected.push(id);
                    }
                    Outcome::Damaged => report.damaged.push(id),
                }
            }
            Ok(report)
        })?;
        report.remaining = inner
            .conn
            .prepare_cached("SELECT COUNT(*) FROM documents WHERE rows_unchecked = 1")?
            .query_row([], |r| r.get::<_, i64>(0))? as usize;
        Ok(report)
    }
}

enum Outcome {
    Same,
    Corrected,
    Damaged,
}

fn check_one(
    inner: &mut Inner,
    id: &DocId,
    stored_kind: DocKind,
    now: crate::time::Timestamp,
) -> Result<Outcome> {
    // A cached copy was built from the same bytes; the check builds from what is stored.
    inner.forget(id);
    let mut kind = stored_kind;
    let mut built = inner.take_doc(id, kind);
    if let Err(Error::Corrupt { .. }) = &built
        && let Some(named) = kind_it_names(inner, id)?
        && named != kind
    {
        // Rows of another kind were sent for it (a server's bug or lie): it is stored as
        // the kind it names, and checked as that; its rows of the other kind go below.
        inner
            .conn
            .prepare_cached("UPDATE documents SET kind = ?2 WHERE id = ?1")?
            .execute(params![id.as_str(), named.as_str()])?;
        kind = named;
        built = inner.take_doc(id, kind);
    }
    let mut doc = match built {
        Ok(doc) => doc,
        // The store's own failure is not the document's: the batch stops and is retried.
        Err(e @ Error::Sqlite(_)) => return Err(e),
        // Anything else (damage, a schema newer than this build, another kind) is the
        // document's: set aside, so that one document never stalls every batch.
        Err(error) => {
            set_aside(inner, id, kind, &error, now)?;
            return Ok(Outcome::Damaged);
        }
    };
    // The kind's definition and readers, as the merge judges a document it builds.
    if let Err(error) = readable(&doc) {
        set_aside(inner, id, kind, &error, now)?;
        return Ok(Outcome::Damaged);
    }
    // Changes the merge kept aside because the mislabelled version did not load: merged
    // now that it does; kept aside under the kind it is when they do not read.
    let mut repaired = false;
    if kind != stored_kind
        && let Ok(Some(held)) = inner.held_changes(id)
    {
        let before = doc.heads();
        let parsed: Option<Vec<automerge::Change>> = held
            .iter()
            .map(|c| automerge::Change::try_from(c.as_slice()).ok())
            .collect();
        let merged = parsed.is_some_and(|parsed| {
            doc.am.apply_changes(parsed).is_ok() && doc.am.get_missing_deps(&[]).is_empty()
        });
        if merged {
            match readable(&doc) {
                Ok(()) => repaired = true,
                Err(e) => record_damage(&inner.conn, id, &Damage::of(&mut doc, &e, &before), now)?,
            }
        }
        if !repaired {
            // Back to what is stored: the document without the changes kept aside.
            doc = inner.take_doc(id, kind)?;
        }
    }
    let snapshot = doc.save_full();
    let tx = inner.conn.savepoint()?;
    if repaired {
        super::damaged::clear_damage(&tx, id)?;
    }
    let before = stored_rows(&tx, id, stored_kind)?;
    tx.prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")?
        .execute([id.as_str()])?;
    tx.prepare_cached(
        "UPDATE documents SET snapshot = ?2, chunk_count = 0, chunk_bytes = 0, heads = ?3,
             store_id = ?4, rows_unchecked = 0 WHERE id = ?1",
    )?
    .execute(params![
        id.as_str(),
        snapshot,
        super::heads_blob(&doc.heads()),
        crate::kinds::store_of(&doc)
    ])?;
    // Edits of its own the device made after building it are in the snapshot now: the next
    // push loads the document (as after `compact`).
    tx.prepare_cached("UPDATE outbox SET first_chunk = NULL WHERE doc_id = ?1")?
        .execute([id.as_str()])?;
    // Rows of any kind the server's record named go; the document's own are written.
    for sql in DROP_SENT_ROWS {
        tx.prepare_cached(sql)?.execute([id.as_str()])?;
    }
    super::index::reindex(&tx, &mut doc)?;
    super::conflicts::write(&tx, id, &doc.conflicted_fields())?;
    let after = stored_rows(&tx, id, kind)?;
    tx.commit()?;
    inner.cache.put(doc);
    Ok(if before == after {
        Outcome::Same
    } else {
        Outcome::Corrected
    })
}

/// Whether `doc` is the document it is stored as (its own id at its root: records carry
/// no id, so a server could send one document's changes under another's id) and reads
/// as its kind, as the merge judges a document it builds.
fn readable(doc: &Doc) -> Result<()> {
    doc.check_identity()?;
    check_readable(doc).map(|_| ())
}

/// The index tables a server's record fills (ADR 0035), for one document.
const DROP_SENT_ROWS: [&str; 4] = [
    "DELETE FROM visit_index WHERE id = ?1",
    "DELETE FROM count_index WHERE id = ?1",
    "DELETE FROM display_index WHERE id = ?1",
    "DELETE FROM display_check_index WHERE display_id = ?1",
];

/// The kind `id`'s stored bytes name at their root, when they load and name one.
fn kind_it_names(inner: &Inner, id: &DocId) -> Result<Option<DocKind>> {
    Ok(named_at_root(&inner.conn, id, "kind")?.and_then(|k| DocKind::parse(&k).ok()))
}

/// The text `id`'s stored bytes hold at `key` of their root, when they load and hold one:
/// what the document itself says, not what a record said of it.
fn named_at_root(conn: &Connection, id: &DocId, key: &str) -> Result<Option<String>> {
    use automerge::ReadDoc;
    let Some(bytes) = stored_bytes(conn, id)? else {
        return Ok(None);
    };
    let Ok(am) = automerge::AutoCommit::load(&bytes) else {
        return Ok(None);
    };
    Ok(match am.get(automerge::ROOT, key) {
        Ok(Some((automerge::Value::Scalar(s), _))) => s.as_str().map(str::to_owned),
        _ => None,
    })
}

/// `id`'s snapshot (if any) and chunks one after the other, as Automerge loads them.
fn stored_bytes(conn: &Connection, id: &DocId) -> Result<Option<Vec<u8>>> {
    let snapshot: Option<Option<Vec<u8>>> = conn
        .prepare_cached("SELECT snapshot FROM documents WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?;
    let Some(snapshot) = snapshot else {
        return Ok(None);
    };
    let mut bytes = snapshot.unwrap_or_default();
    let mut stmt =
        conn.prepare_cached("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq")?;
    let chunks = stmt.query_map([id.as_str()], |r| r.get::<_, Vec<u8>>(0))?;
    for chunk in chunks {
        bytes.extend(chunk?);
    }
    Ok(Some(bytes))
}

/// Keeps a document that does not build or read aside as damaged, with the changes the
/// merge already kept aside for it. Without edits of this device's own waiting, and with
/// stored bytes that give back its changes, it leaves `documents` (its index rows go with
/// it: rule queries then name it among those they cannot judge) and its changes are kept
/// in `damaged`, for the repair a later sync brings to merge with. Otherwise it stays as
/// it is (unmarked) and is only listed: nothing of it is dropped.
fn set_aside(
    inner: &mut Inner,
    id: &DocId,
    kind: DocKind,
    error: &Error,
    now: crate::time::Timestamp,
) -> Result<()> {
    let own_edits: bool = inner
        .conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE doc_id = ?1 AND local_edits > confirmed_edits)",
        )?
        .query_row([id.as_str()], |r| r.get(0))?;
    let held = inner.held_changes(id)?.unwrap_or_default();
    let stored = if own_edits {
        None
    } else {
        received_changes(&inner.conn, id)?
    };
    let leaves = stored.is_some();
    let mut damage = Damage::unloadable(kind, error, &held, &stored.unwrap_or_default());
    let tx = inner.conn.savepoint()?;
    // The store the document names (documents.store_id of an unchecked document is the
    // server's record's word).
    damage.store = named_at_root(&tx, id, "store_id")?;
    record_damage(&tx, id, &damage, now)?;
    if leaves {
        tx.execute("DELETE FROM documents WHERE id = ?1", [id.as_str()])?;
    } else {
        tx.execute(
            "UPDATE documents SET rows_unchecked = 0 WHERE id = ?1",
            [id.as_str()],
        )?;
    }
    tx.commit()?;
    inner.forget(id);
    Ok(())
}

/// The changes stored for `id`, one by one, as a later merge reads them back from
/// `damaged` (`held_changes`): its snapshot's changes (when it was compacted before the
/// check) and its chunks'. `None` when the stored bytes do not give them back.
fn received_changes(conn: &Connection, id: &DocId) -> Result<Option<Vec<Vec<u8>>>> {
    let mut out = Vec::new();
    let snapshot: Option<Vec<u8>> = conn
        .prepare_cached("SELECT snapshot FROM documents WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))?;
    if let Some(snapshot) = snapshot {
        let Ok(mut am) = automerge::AutoCommit::load(&snapshot) else {
            return Ok(None);
        };
        out.extend(
            am.get_changes(&[])
                .into_iter()
                .map(|c| c.raw_bytes().to_vec()),
        );
    }
    let mut stmt =
        conn.prepare_cached("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq")?;
    let chunks = stmt
        .query_map([id.as_str()], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for chunk in chunks {
        let Some(parts) = split_changes(&chunk) else {
            return Ok(None);
        };
        out.extend(parts.into_iter().map(<[u8]>::to_vec));
    }
    Ok(Some(out))
}

/// Every index row the phone keeps for `id`, with its heads and store, as text: what the
/// rule queries and lists read of it.
fn stored_rows(tx: &Connection, id: &DocId, kind: DocKind) -> Result<Vec<String>> {
    let mut rows = vec![kind.to_string()];
    const QUERIES: &[&str] = &[
        "SELECT store_id, heads FROM documents WHERE id = ?1",
        "SELECT * FROM visit_index WHERE id = ?1",
        "SELECT * FROM count_index WHERE id = ?1",
        "SELECT * FROM display_index WHERE id = ?1",
        "SELECT * FROM display_check_index WHERE display_id = ?1 ORDER BY checker",
        "SELECT field FROM conflict_index WHERE doc_id = ?1 ORDER BY field",
    ];
    for sql in QUERIES {
        let mut stmt = tx.prepare_cached(sql)?;
        let mut query = stmt.query([id.as_str()])?;
        while let Some(row) = query.next()? {
            let cells = (0..row.as_ref().column_count())
                .map(|i| row.get_ref(i).map(|v| format!("{v:?}")))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.push(format!("{sql}: {}", cells.join("|")));
        }
    }
    Ok(rows)
}
