//! Keeping the database small and sound: compaction of a document's chunks into a
//! snapshot (for idle time, never the edit path), what is stored, and SQLite's own check.

use rusqlite::params;

use super::LocalStore;
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};

impl LocalStore {
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
                Err(Error::Corrupt { .. } | Error::SchemaTooNew { .. }) => continue,
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
