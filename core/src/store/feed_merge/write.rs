//! Writing one prepared document of a merge, on the thread that holds the store: its
//! snapshot or chunk, its index rows and, from the server, the heads the server holds.

use automerge::ChangeHash;
use rusqlite::{Connection, params};

use super::{Merged, Prepared, Unbuilt};
use crate::error::{Error, Result};
use crate::ids::DocId;
use crate::store::damaged;
use crate::store::{Inner, heads_blob, index};

impl Inner {
    /// Writes a prepared document with its index rows (and, from the server, its outbox
    /// entry's server heads), then caches it. On failure the document is dropped: memory
    /// must not hold what disk lacks (and the caller's savepoint rolls back what was
    /// written of it).
    pub(super) fn write_prepared(
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
            Prepared::Unbuilt(unbuilt, chunk) => {
                write_unbuilt(tx, id, &unbuilt, &chunk, now.0)?;
                if from_server {
                    record_server_heads(tx, id, &unbuilt.heads)?;
                }
                return Ok(());
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
                crate::store::conflicts::write(tx, id, &ready.conflicts)?;
                if from_server {
                    record_server_heads(tx, id, &heads)?;
                }
                self.cache.put(doc);
            }
            (None, Some(rows)) => {
                index::write_rows(tx, id, ready.kind, &rows)?;
                crate::store::conflicts::write(tx, id, &ready.conflicts)?;
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

/// Stores a document as its changes came, one chunk and no snapshot (what `Doc::load`
/// reads the first time something asks for it), with the index rows the server sent.
fn write_unbuilt(
    tx: &Connection,
    id: &DocId,
    unbuilt: &Unbuilt,
    chunk: &[u8],
    now: i64,
) -> Result<()> {
    use crate::kinds::feed_index::SentRows;
    tx.prepare_cached(
        "INSERT INTO documents (id, kind, store_id, snapshot, heads, updated_at, chunk_count, chunk_bytes, rows_unchecked)
         VALUES (?1, ?2, ?3, NULL, ?4, ?5, 1, ?6, 1)",
    )?
    .execute(params![
        id.as_str(),
        unbuilt.kind.as_str(),
        unbuilt.rows.store(),
        heads_blob(&unbuilt.heads),
        now,
        chunk.len() as i64
    ])?;
    tx.prepare_cached("INSERT INTO chunks (doc_id, seq, bytes) VALUES (?1, 1, ?2)")?
        .execute(params![id.as_str(), chunk])?;
    match &unbuilt.rows {
        SentRows::Visit { s, by, k, i, o, r } => {
            let row = crate::kinds::visit::VisitRow {
                store_id: s.clone(),
                visitor: by.clone(),
                kind: k.clone(),
                check_in_at: *i,
                check_out_at: *o,
                in_range: *r,
            };
            crate::store::visits::write_row(tx, id, &row)?;
        }
        SentRows::Count {
            s,
            a,
            f,
            n,
            c,
            b,
            d,
        } => crate::store::inventory_counts::write_index_row(
            tx,
            id,
            (s.clone(), *a, *f, *n, *c, *b, *d),
        )?,
        SentRows::Display { s, m, f, ch } => {
            crate::store::shelf_displays::write_index(tx, id, s, (*m, *f), ch)?;
        }
    }
    // A new document has no conflict rows to replace.
    if !unbuilt.conflicts.is_empty() {
        crate::store::conflicts::write(tx, id, &unbuilt.conflicts)?;
    }
    Ok(())
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
