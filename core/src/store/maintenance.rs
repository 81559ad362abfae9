//! Keeping the database small and sound: compaction of a document's chunks into a
//! snapshot (for idle time, never the edit path), giving the file's free pages back to
//! the phone, what is stored, and SQLite's own check.

use rusqlite::params;

use super::LocalStore;
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};

/// What [`LocalStore::reclaim_space`] found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reclaimed {
    /// Bytes of free pages in the file when it was called.
    pub free_bytes: u64,
    /// The database's size before and after (equal: nothing was rewritten).
    pub bytes_before: u64,
    pub bytes_after: u64,
}

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

    /// Gives the pages compaction and the idle check freed back to the phone's storage,
    /// when they come to at least `min_free_bytes`: SQLite rewrites the file without them
    /// (`VACUUM`), then the write-ahead log is emptied into it. Until then the file keeps
    /// its size (later writes reuse the pages). Holds the store for the rewrite (about a
    /// second per 50 MB on a phone) and needs free storage of about the file's size while
    /// it runs; if the phone lacks it, SQLite refuses and nothing changes.
    pub fn reclaim_space(&self, min_free_bytes: u64) -> Result<Reclaimed> {
        let inner = self.lock()?;
        let bytes = |pragma: &str| -> Result<u64> {
            let pages: i64 = inner.conn.query_row(pragma, [], |r| r.get(0))?;
            let size: i64 = inner.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            Ok(u64::try_from(pages.saturating_mul(size)).unwrap_or(0))
        };
        let free_bytes = bytes("PRAGMA freelist_count")?;
        let before = bytes("PRAGMA page_count")?;
        if free_bytes == 0 || free_bytes < min_free_bytes {
            return Ok(Reclaimed {
                free_bytes,
                bytes_before: before,
                bytes_after: before,
            });
        }
        inner.conn.execute_batch("VACUUM")?;
        // The rewritten pages are in the log: copied into the file, which shrinks, and the
        // log emptied. A reader in the middle of a read can hold part of the log back; the
        // next checkpoint finishes the copy.
        let _: (i64, i64, i64) =
            inner
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        Ok(Reclaimed {
            free_bytes,
            bytes_before: before,
            bytes_after: bytes("PRAGMA page_count")?,
        })
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
