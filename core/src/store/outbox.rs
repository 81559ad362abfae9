//! The outbox: what the server has not confirmed of each document, what it refused, and
//! the changes of the next push (read straight from the stored chunks where they can be).
//!
//! The sync client drives these; apps read [`LocalStore::receipt`] and
//! [`LocalStore::pending_documents`] to show the user where each record stands.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::store::{LocalStore, heads_blob};
use crate::time::Timestamp;

/// The next documents to push, oldest edit first (through the `outbox_pending` index).
const PENDING_BATCH: &str =
    "SELECT o.doc_id, d.kind, o.local_edits, o.server_heads, o.first_chunk, d.heads
     FROM outbox o JOIN documents d ON d.id = o.doc_id
     WHERE o.local_edits > o.confirmed_edits AND o.rejected IS NULL
     ORDER BY o.first_edit_at, o.doc_id LIMIT ?1";

/// A document with local edits the server has not confirmed.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingDocument {
    pub id: DocId,
    pub kind: DocKind,
    /// Local commits made to it on this device.
    pub local_edits: i64,
    /// How many of those the server has confirmed holding.
    pub confirmed_edits: i64,
    pub first_edit_at: Timestamp,
    /// The server's reason, when it refused this document's changes.
    pub rejected: Option<String>,
}

/// A document's changes on their way to the server.
#[derive(Clone, Debug, PartialEq)]
pub struct OutgoingDocument {
    pub id: DocId,
    /// Encoded Automerge changes the server has not confirmed.
    pub changes: Vec<Vec<u8>>,
    /// The local edit count these changes cover (hand it back to `confirm_pushed`).
    pub local_edits: i64,
    /// The document's heads these changes lead to (hand them back to `confirm_pushed`).
    pub heads: Vec<String>,
}

/// Where a document stands, as an app shows it next to a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// Saved on this phone; the server has not confirmed it yet.
    SavedOnPhone,
    /// On its way: a sync is sending it now.
    Uploading,
    /// The server holds every local edit; of the photos taken for it on this phone,
    /// `uploaded` of `total` are on the server too ("uploading 2 of 5 photos").
    UploadingPhotos { uploaded: u64, total: u64 },
    /// The server durably holds every local edit (and every photo taken for it here).
    OnServer,
    /// The server refused it; the edits stay on the phone. The reason names the rule.
    Rejected(String),
}

/// How much waits in the outbox, for the device report a sync sends (docs/protocol.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Local edits the server has not confirmed, those of rejected documents and of
    /// documents being uploaded right now excluded: what will still wait once the push in
    /// flight is stored.
    pub pending_edits: u64,
    /// Documents with such edits.
    pub pending_documents: u64,
    /// Documents the server refused, whose edits stay here.
    pub rejected_documents: u64,
}

impl LocalStore {
    /// What waits in the outbox: pending edits and documents beyond those uploading now,
    /// and refused documents.
    pub fn outbox_counts(&self) -> Result<OutboxCounts> {
        self.read(|conn| {
            let (edits, docs, rejected): (i64, i64, i64) = conn
                .prepare_cached(
                    "SELECT
                       COALESCE(SUM(CASE WHEN rejected IS NULL AND uploading = 0
                                         THEN local_edits - confirmed_edits END), 0),
                       COUNT(*) FILTER (WHERE rejected IS NULL AND uploading = 0),
                       COUNT(*) FILTER (WHERE rejected IS NOT NULL)
                     FROM outbox WHERE local_edits > confirmed_edits",
                )?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            Ok(OutboxCounts {
                pending_edits: n(edits),
                pending_documents: n(docs),
                rejected_documents: n(rejected),
            })
        })
    }

    /// Up to `max_docs` documents with unconfirmed local edits (oldest first), each with the
    /// changes the server has not confirmed and the edit count they cover. Rejected
    /// documents are left out: they wait for the user, not the network.
    pub fn outbox_batch(&self, max_docs: usize) -> Result<Vec<OutgoingDocument>> {
        let mut inner = self.lock()?;
        let rows: Vec<OutboxRow> = {
            let mut stmt = inner.conn.prepare_cached(PENDING_BATCH)?;
            stmt.query_map([max_docs as i64], |r| {
                Ok(OutboxRow {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    local_edits: r.get(2)?,
                    server_heads: r.get(3)?,
                    first_chunk: r.get(4)?,
                    heads: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id = DocId::parse("id", &row.id)?;
            let from_chunks = match row.first_chunk {
                Some(first) => pending_in_chunks(&inner.conn, &id, first)?,
                None => None,
            };
            let (changes, heads) = match from_chunks {
                Some(changes) => (changes, hex_heads(&row.heads)),
                None => {
                    let since: Vec<automerge::ChangeHash> = hashes(&row.server_heads);
                    let mut doc = inner.take_doc(&id, DocKind::parse(&row.kind)?)?;
                    let changes = doc.changes_since(&since);
                    let heads = doc.heads().iter().map(|h| h.to_string()).collect();
                    inner.cache.put(doc);
                    (changes, heads)
                }
            };
            out.push(OutgoingDocument {
                id,
                changes,
                local_edits: row.local_edits,
                heads,
            });
        }
        Ok(out)
    }

    /// Records that the server durably holds a document's changes up to `local_edits` local
    /// edits and `server_heads` (the [`OutgoingDocument::heads`] that were pushed); the
    /// document leaves the outbox when no newer local edit waits.
    pub fn confirm_pushed(
        &self,
        id: &DocId,
        local_edits: i64,
        server_heads: &[String],
    ) -> Result<()> {
        let heads = parse_heads(server_heads)?;
        confirm_pushed(&self.lock()?.conn, id, local_edits, &heads)
    }

    /// Marks a document's pending edits as refused by the server, with its reason; they stay
    /// on the device and are shown to the user.
    pub fn mark_rejected(&self, id: &DocId, reason: &str) -> Result<()> {
        let inner = self.lock()?;
        inner.conn.execute(
            "UPDATE outbox SET rejected = ?2, uploading = 0 WHERE doc_id = ?1",
            params![id.as_str(), reason],
        )?;
        Ok(())
    }

    /// Documents with local edits the server has not confirmed, oldest first.
    pub fn pending_documents(&self) -> Result<Vec<PendingDocument>> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare(
            "SELECT o.doc_id, d.kind, o.local_edits, o.confirmed_edits, o.first_edit_at, o.rejected
             FROM outbox o JOIN documents d ON d.id = o.doc_id
             WHERE o.local_edits > o.confirmed_edits ORDER BY o.first_edit_at, o.doc_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(
                |(id, kind, local_edits, confirmed_edits, first, rejected)| {
                    Ok(PendingDocument {
                        id: DocId::parse("id", &id)?,
                        kind: DocKind::parse(&kind)?,
                        local_edits,
                        confirmed_edits,
                        first_edit_at: Timestamp(first),
                        rejected,
                    })
                },
            )
            .collect()
    }

    /// Where a document stands (see [`Receipt`]).
    pub fn receipt(&self, id: &DocId) -> Result<Receipt> {
        let (row, exists) = self.read(|conn| {
            let row: Option<(i64, i64, i64, Option<String>)> = conn
                .prepare_cached("SELECT local_edits, confirmed_edits, uploading, rejected FROM outbox WHERE doc_id = ?1")?
                .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()?;
            let exists: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM documents WHERE id = ?1)")?
                .query_row([id.as_str()], |r| r.get(0))?;
            Ok((row, exists))
        })?;
        if !exists {
            return Err(Error::UnknownDocument { id: id.to_string() });
        }
        let on_server = || -> Result<Receipt> {
            let photos = self.photo_progress(Some(id))?;
            Ok(if photos.photos_uploaded < photos.photos_total {
                Receipt::UploadingPhotos {
                    uploaded: photos.photos_uploaded,
                    total: photos.photos_total,
                }
            } else {
                Receipt::OnServer
            })
        };
        Ok(match row {
            None => on_server()?,
            Some((local, confirmed, _, _)) if confirmed >= local => on_server()?,
            Some((_, _, _, Some(reason))) => Receipt::Rejected(reason),
            Some((_, _, uploading, None)) if uploading != 0 => Receipt::Uploading,
            Some(_) => Receipt::SavedOnPhone,
        })
    }

    /// Marks documents as being sent (`true`) or no longer in flight (`false`).
    pub fn mark_uploading(&self, ids: &[DocId], uploading: bool) -> Result<()> {
        let mut inner = self.lock()?;
        let tx = inner.conn.savepoint()?;
        {
            let mut stmt =
                tx.prepare_cached("UPDATE outbox SET uploading = ?2 WHERE doc_id = ?1")?;
            for id in ids {
                stmt.execute(params![id.as_str(), uploading])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Documents the server refused, with the reason, so an app can list them.
    pub fn rejected_documents(&self) -> Result<Vec<(DocId, String)>> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(
            "SELECT doc_id, rejected FROM outbox WHERE rejected IS NOT NULL ORDER BY doc_id",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, why)| Ok((DocId::parse("id", &id)?, why)))
            .collect()
    }

    /// Takes a refused document back into the queue (after the user fixed it, or when a
    /// rule changed): its next sync sends it again.
    pub fn retry_rejected(&self, id: &DocId) -> Result<()> {
        let inner = self.lock()?;
        inner.conn.execute(
            "UPDATE outbox SET rejected = NULL WHERE doc_id = ?1",
            [id.as_str()],
        )?;
        Ok(())
    }
}

pub(super) fn parse_heads(heads: &[String]) -> Result<Vec<automerge::ChangeHash>> {
    heads
        .iter()
        .map(|h| {
            h.parse::<automerge::ChangeHash>()
                .map_err(|_| Error::invalid("heads", format!("`{h}` is not a change hash")))
        })
        .collect()
}

pub(super) fn confirm_pushed(
    conn: &Connection,
    id: &DocId,
    local_edits: i64,
    heads: &[automerge::ChangeHash],
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET confirmed_edits = MAX(confirmed_edits, ?2), server_heads = ?3, rejected = NULL, uploading = 0
         WHERE doc_id = ?1",
    )?
    .execute(params![id.as_str(), local_edits, heads_blob(heads)])?;
    // The row stays: its `server_heads` make the next push send only what is new.
    Ok(())
}

/// An outbox row as [`LocalStore::outbox_batch`] reads it.
struct OutboxRow {
    id: String,
    kind: String,
    local_edits: i64,
    server_heads: Vec<u8>,
    first_chunk: Option<i64>,
    heads: Vec<u8>,
}

/// The changes stored in a document's chunks from `first` on (every local change the
/// server has not confirmed, and maybe some it has, which it ignores), without loading the
/// document; `None` when those chunks cannot say (one is not made of changes).
fn pending_in_chunks(conn: &Connection, id: &DocId, first: i64) -> Result<Option<Vec<Vec<u8>>>> {
    let mut stmt = conn
        .prepare_cached("SELECT bytes FROM chunks WHERE doc_id = ?1 AND seq >= ?2 ORDER BY seq")?;
    let mut rows = stmt.query(params![id.as_str(), first])?;
    let mut changes = Vec::new();
    // Bounded by the document's chunks.
    while let Some(row) = rows.next()? {
        let chunk = row.get_ref(0)?;
        let Ok(chunk) = chunk.as_blob() else {
            return Ok(None);
        };
        match crate::doc::split_changes(chunk) {
            Some(parts) => changes.extend(parts.into_iter().map(<[u8]>::to_vec)),
            None => return Ok(None),
        }
    }
    Ok((!changes.is_empty()).then_some(changes))
}

/// Change hashes stored as concatenated 32-byte blobs.
fn hashes(blob: &[u8]) -> Vec<automerge::ChangeHash> {
    blob.chunks_exact(32)
        .filter_map(|c| automerge::ChangeHash::try_from(c).ok())
        .collect()
}

fn hex_heads(blob: &[u8]) -> Vec<String> {
    hashes(blob).iter().map(ToString::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_push_finds_its_documents_through_the_pending_index_not_a_scan() -> Result<()> {
        let mut conn = Connection::open_in_memory()?;
        crate::store::migrate::migrate(&mut conn)?;
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {PENDING_BATCH}"))?
            .query_map([1], |r| r.get(3))?
            .collect::<rusqlite::Result<_>>()?;
        let outbox = plan
            .iter()
            .find(|step| step.contains(" o "))
            .ok_or_else(|| Error::invalid("plan", format!("no step reads the outbox: {plan:?}")))?;
        assert!(outbox.contains("USING INDEX outbox_pending"), "{plan:?}");
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "sorted by the index, not afterwards: {plan:?}"
        );
        Ok(())
    }

    #[test]
    fn outbox_counts_leave_out_what_is_uploading_and_count_refused_documents_apart() -> Result<()> {
        use crate::fixtures::{at, device, sample_store};
        let dir = tempfile::tempdir()?;
        let (db, _clock) = device(
            dir.path().join("a.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let first = db.create_store(sample_store("am-li", 1))?;
        let second = db.create_store(sample_store("am-li", 2))?;
        db.update_store_contact(
            &second,
            crate::StoreContact {
                phone: Some("13900000000".into()),
                ..Default::default()
            },
        )?;
        let counts = db.outbox_counts()?;
        assert_eq!(
            (counts.pending_documents, counts.rejected_documents),
            (2, 0)
        );
        assert!(counts.pending_edits >= 3, "{counts:?}");
        db.mark_uploading(std::slice::from_ref(&first), true)?;
        let uploading = db.outbox_counts()?;
        assert_eq!(uploading.pending_documents, 1, "{uploading:?}");
        db.mark_rejected(&second, "clock: ahead")?;
        assert_eq!(
            db.outbox_counts()?,
            OutboxCounts {
                pending_edits: 0,
                pending_documents: 0,
                rejected_documents: 1,
            }
        );
        Ok(())
    }
}
