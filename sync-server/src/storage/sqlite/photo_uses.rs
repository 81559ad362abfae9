//! The photos each visit uses ([`crate::storage::photo_uses`]) on SQLite: kept by a push,
//! read by the admin reports, filled in for visits stored before schema 12.

use std::collections::BTreeMap;

use rusqlite::{Connection, TransactionBehavior, params};

use crate::error::AppResult;
use crate::storage::photo_uses::{self, BACKFILL_BATCH, PhotoUse, VisitPhotos};

/// Replaces the rows of `visit` with `photos`, inside the push's transaction.
pub(super) fn set(
    tx: &Connection,
    visit: &str,
    store: &str,
    photos: &VisitPhotos,
) -> AppResult<()> {
    tx.prepare_cached("DELETE FROM photo_uses WHERE visit = ?1")?
        .execute([visit])?;
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO photo_uses (visit, hash, store, day) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (hash, day) in photos {
        insert.execute(params![visit, hash, store, day])?;
    }
    Ok(())
}

/// Every use of each reused photo, grouped by hash.
pub(super) fn reused(conn: &Connection) -> AppResult<BTreeMap<String, Vec<PhotoUse>>> {
    let rows = conn
        .prepare_cached(photo_uses::REUSED_QUERY)?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                PhotoUse {
                    visit: r.get(1)?,
                    store: r.get(2)?,
                    day: r.get(3)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(photo_uses::grouped(rows))
}

/// Fills in the photos of the visits stored before schema 12, a batch per transaction, until
/// none is left (bounded: each pass takes its batch off the list). It runs when the database
/// opens, under SQLite's one writer: a push of a pending visit lands before or after a batch,
/// whose rows come from every change stored by then, so pushes need not touch the list.
pub(super) fn backfill(conn: &mut Connection) -> AppResult<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let visits: Vec<String> = tx
            .prepare_cached("SELECT visit FROM photo_uses_pending ORDER BY visit LIMIT ?1")?
            .query_map([BACKFILL_BATCH as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if visits.is_empty() {
            return Ok(());
        }
        for visit in &visits {
            let changes = tx
                .prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?
                .query_map([visit], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let (store, photos) = photo_uses::of_stored(visit, &changes)?;
            set(&tx, visit, &store, &photos)?;
            tx.prepare_cached("DELETE FROM photo_uses_pending WHERE visit = ?1")?
                .execute([visit])?;
        }
        tx.commit()?;
    }
}
