//! What arrives from the server: documents merged from the feed, the feed cursor, and
//! documents leaving the device's scope; a sync response stored whole.

use rusqlite::{Connection, OptionalExtension};

use super::outbox::{confirm_pushed, parse_heads};
use super::{Inner, LocalStore};
use crate::error::Result;
use crate::ids::DocId;
use crate::time::Timestamp;

impl LocalStore {
    /// Merges changes that came from the server. When none of the document's local edits
    /// waits, the server holds everything this device has of it, which is remembered so a
    /// later local edit sends only itself.
    pub fn merge_from_server(&self, id: &DocId, changes: &[Vec<u8>]) -> Result<()> {
        self.merge_one(id.clone(), changes.to_vec(), true)
    }

    /// Forgets the feed cursor: the next sync receives the whole scope again (after the
    /// server said the cursor is ahead of it, say after a server restore).
    pub fn reset_sync_cursor(&self) -> Result<()> {
        let inner = self.lock()?;
        inner
            .conn
            .execute("DELETE FROM meta WHERE key = 'cursor'", [])?;
        super::working_set::set_working_since(&inner.conn, None)?;
        Ok(())
    }

    /// Forgets what the server confirmed holding: every document this device ever edited
    /// is pushed again, whole (the server keeps what it has and stores what it lacks).
    /// For a server restored from a backup older than this device's last push, which no
    /// longer holds changes it once confirmed; later edits would otherwise depend on them.
    pub fn resend_everything(&self) -> Result<usize> {
        let inner = self.lock()?;
        Ok(inner.conn.execute(
            "UPDATE outbox SET confirmed_edits = 0, server_heads = x'', first_chunk = NULL
             WHERE local_edits > 0 AND rejected IS NULL",
            [],
        )?)
    }

    /// The feed cursor the server last gave this device.
    pub fn sync_cursor(&self) -> Result<Option<String>> {
        let inner = self.lock()?;
        let value: Option<Vec<u8>> = inner
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'cursor'", [], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Stores the feed cursor, after the changes it covers were merged.
    pub fn set_sync_cursor(&self, cursor: &str) -> Result<()> {
        set_sync_cursor(&self.lock()?.conn, cursor)
    }

    /// When a sync last completed (pushed everything it could and pulled to the end of
    /// the feed), by the store's clock; `None` if none ever has on this device. Kept in the
    /// database, so it survives a restart.
    pub fn last_synced(&self) -> Result<Option<Timestamp>> {
        let value: Option<i64> = self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_synced'",
                    [],
                    |r| r.get(0),
                )
                .optional()?)
        })?;
        Ok(value.map(Timestamp))
    }

    /// Records that a sync completed now (the sync client calls it).
    pub(crate) fn note_synced(&self) -> Result<Timestamp> {
        let inner = self.lock()?;
        let now = (inner.clock)();
        inner.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('last_synced', CAST(?1 AS BLOB))
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [now.0.to_string()],
        )?;
        Ok(now)
    }

    /// Notes that documents left this device's scope; each is dropped as soon as none of
    /// its local edits, and none of its own photos, waits for the server (at once, for
    /// most). Returns how many were
    /// dropped now.
    pub fn documents_left_scope(&self, ids: &[DocId]) -> Result<usize> {
        let mut inner = self.lock()?;
        inner.all_or_nothing(|inner| {
            note_left_scope(&inner.conn, ids)?;
            drop_left_documents(inner)
        })
    }

    /// Drops documents that left the scope and have nothing pending: no edit, no own photo
    /// the server lacks (unless blocked). A document whose edits were refused stays: the
    /// user must see them.
    pub fn drop_left_documents(&self) -> Result<usize> {
        let mut inner = self.lock()?;
        inner.all_or_nothing(drop_left_documents)
    }

    /// Stores a page of the feed as a sync does: merges `docs` in order and then moves the
    /// cursor to `cursor`, giving way to the app's own edits between documents (see
    /// [`apply_sync_response`](Self::apply_sync_response)). Returns how many documents
    /// were merged.
    pub fn store_feed_page(&self, docs: Vec<(DocId, Vec<Vec<u8>>)>, cursor: &str) -> Result<usize> {
        Ok(self
            .apply_sync_response(&[], docs, Vec::new(), &[], None, cursor)?
            .pulled)
    }

    /// Stores a sync response: confirms the pushed documents (`confirmed`: id, local edits
    /// and heads, as [`OutgoingDocument`](crate::OutgoingDocument) gave them), merges the
    /// feed's documents (prepared on worker threads), notes and drops the documents that
    /// left the scope, and only then moves the cursor, so the cursor never passes a change
    /// that is not stored.
    ///
    /// It runs in savepoints under the store's lock, so no edit the app makes meanwhile
    /// lands inside one, where a rollback would take it along after it was reported saved.
    /// When an edit (or any other call) waits for the lock, the merge gives way after the
    /// document it is writing: what is merged so far commits, the edit runs, and the merge
    /// goes on in a new savepoint (documents the workers had prepared meanwhile are prepared
    /// again on what the store holds then). An edit thus waits for one document's write,
    /// never for a page. A failure rolls back the current savepoint only: what
    /// committed before stays (merging it again is harmless), and the cursor does not
    /// move. A document of the feed that cannot be read is kept aside as damaged and does
    /// not stop the others. Returns what was merged, damaged or repaired, and how many
    /// documents left the scope.
    ///
    /// Its commits do not wait for the disk (`synchronous = NORMAL` for them, FULL again
    /// before the lock is let go): everything they write is on the server, and the cursor
    /// commits with the documents it covers, so a power cut can only take the phone back to
    /// an older cursor, whose sync fetches the same again (an app or phone crash loses
    /// nothing: the WAL is written before each commit returns). An edit waiting for the lock
    /// then waits for a document's write, not for an fsync; its own commit is FULL, and
    /// makes what the merge wrote before it durable too.
    pub(crate) fn apply_sync_response(
        &self,
        confirmed: &[(DocId, i64, Vec<String>)],
        docs: Vec<(DocId, Vec<Vec<u8>>)>,
        index: Vec<(DocId, Vec<u8>)>,
        removed: &[DocId],
        working_since: Option<i64>,
        cursor: &str,
    ) -> Result<AppliedResponse> {
        let confirmed = confirmed
            .iter()
            .map(|(id, edits, heads)| Ok((id, *edits, parse_heads(heads)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut applied = AppliedResponse {
            removed: removed.len(),
            ..AppliedResponse::default()
        };
        // A document the feed sends is in the device's scope again (a store that left and
        // came back): one kept only for its edits stays.
        let arrived: Vec<DocId> = docs.iter().map(|(id, _)| id.clone()).collect();
        let mut rest = docs;
        let mut confirmed = Some(confirmed);
        let workers = crate::store::default_workers();
        let waiting = || self.others_waiting();
        // Rows that do not decode, or of another version, are left out: their documents are
        // built as any others.
        let index: std::collections::HashMap<DocId, crate::kinds::feed_index::FeedIndex> = index
            .into_iter()
            .filter_map(|(id, bytes)| Some((id, crate::kinds::feed_index::decode(&bytes)?)))
            .collect();
        let mut index = Some(index);
        let mut inner = self.lock_for_merge()?;
        // Bounded: every pass but the last merges at least one document of `rest`.
        loop {
            inner.conn.pragma_update(None, "synchronous", "NORMAL")?;
            let done = inner.all_or_nothing(|inner| {
                for (id, edits, heads) in confirmed.take().iter().flatten() {
                    confirm_pushed(&inner.conn, id, *edits, heads)?;
                }
                // Taken back below whatever the merge gives: rows a document did not take
                // belong to this response only.
                inner.feed_index = index.take().unwrap_or_default();
                let merging = inner.merge_many(std::mem::take(&mut rest), true, workers, &waiting);
                index = Some(std::mem::take(&mut inner.feed_index));
                let (merged, left) = merging?;
                applied.pulled += merged.count;
                applied.damaged.extend(merged.damaged);
                applied.repaired.extend(merged.repaired);
                if !left.is_empty() {
                    rest = left;
                    return Ok(false);
                }
                back_in_scope(&inner.conn, &arrived)?;
                note_left_scope(&inner.conn, removed)?;
                drop_left_documents(inner)?;
                if working_since.is_some() {
                    super::working_set::set_working_since(&inner.conn, working_since)?;
                }
                set_sync_cursor(&inner.conn, cursor)?;
                Ok(true)
            });
            // Before anything else: the next holder of the lock commits as the store does.
            inner.conn.pragma_update(None, "synchronous", "FULL")?;
            if done? {
                return Ok(applied);
            }
            drop(inner);
            self.let_others_in();
            inner = self.lock_for_merge()?;
        }
    }
}

/// What storing a sync response did.
#[derive(Debug, Default)]
pub(crate) struct AppliedResponse {
    pub(crate) pulled: usize,
    pub(crate) removed: usize,
    /// Documents of the feed that cannot be read, kept aside.
    pub(crate) damaged: Vec<DocId>,
    /// Damaged documents that read again with the feed's changes.
    pub(crate) repaired: Vec<DocId>,
}

fn set_sync_cursor(conn: &Connection, cursor: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('cursor', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [cursor.as_bytes()],
    )?;
    Ok(())
}

fn back_in_scope(conn: &Connection, ids: &[DocId]) -> Result<()> {
    // Almost always empty: a first sync's thousands of documents cost one read.
    let none_leaving: bool = conn
        .prepare_cached("SELECT NOT EXISTS (SELECT 1 FROM leaving)")?
        .query_row([], |r| r.get(0))?;
    if none_leaving {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached("DELETE FROM leaving WHERE doc_id = ?1")?;
    for id in ids {
        stmt.execute([id.as_str()])?;
    }
    Ok(())
}

fn note_left_scope(conn: &Connection, ids: &[DocId]) -> Result<()> {
    let mut stmt = conn.prepare_cached("INSERT OR IGNORE INTO leaving (doc_id) VALUES (?1)")?;
    for id in ids {
        stmt.execute([id.as_str()])?;
    }
    Ok(())
}

/// See [`LocalStore::drop_left_documents`]. A document that references an own photo or
/// thumbnail the server lacks stays too, as one whose edits wait does: the photo is the
/// user's evidence, and the upload names a document (it goes once each of its photos is
/// uploaded or blocked, `store/photo_blocked.rs`).
pub(super) fn drop_left_documents(inner: &mut Inner) -> Result<usize> {
    let ids: Vec<String> = inner
        .conn
        .prepare_cached(
            "SELECT l.doc_id FROM leaving l LEFT JOIN outbox o ON o.doc_id = l.doc_id
             WHERE (o.doc_id IS NULL OR o.confirmed_edits >= o.local_edits)
               AND NOT EXISTS (
                   SELECT 1 FROM photo_docs d JOIN photo_files f ON f.hash = d.hash
                   WHERE d.doc_id = l.doc_id AND f.own = 1 AND f.uploaded = 0
                     AND NOT EXISTS (SELECT 1 FROM photo_blocked b WHERE b.hash = f.hash))",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for id in &ids {
        inner
            .conn
            .execute("DELETE FROM documents WHERE id = ?1", [id])?;
        inner
            .conn
            .execute("DELETE FROM leaving WHERE doc_id = ?1", [id])?;
        inner
            .conn
            .execute("DELETE FROM damaged WHERE doc_id = ?1", [id])?;
        inner
            .conn
            .execute("DELETE FROM fetched WHERE doc_id = ?1", [id])?;
    }
    for id in &ids {
        if let Ok(id) = DocId::parse("id", id) {
            inner.forget(&id);
        }
    }
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use crate::error::Result;
    use crate::fixtures::{at, device};

    #[test]
    fn the_last_completed_sync_is_remembered_across_a_restart() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a.db");
        {
            let (db, _clock) = device(&path, "am-li", at("2026-11-23T09:00:00+08:00"))?;
            assert_eq!(db.last_synced()?, None);
            db.note_synced()?;
        }
        let (db, _clock) = device(&path, "am-li", at("2026-11-24T09:00:00+08:00"))?;
        assert_eq!(db.last_synced()?, Some(at("2026-11-23T09:00:00+08:00")));
        Ok(())
    }
}
