//! Schema migrations of the local store: append-only numbered SQL files, all pending ones
//! applied in one transaction together with the index rows they derive again and the
//! `user_version` they bring the database to.

use automerge::ActorId;
use rusqlite::Connection;

use crate::doc::Doc;
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};

/// `(version, sql)`, in order. Never edit a released file: add the next one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/001_init.sql")),
    (2, include_str!("../../migrations/002_sync.sql")),
    (3, include_str!("../../migrations/003_outbox_chunks.sql")),
    (4, include_str!("../../migrations/004_outbox_pending.sql")),
    (5, include_str!("../../migrations/005_damaged.sql")),
    (6, include_str!("../../migrations/006_rule_fields.sql")),
    (7, include_str!("../../migrations/007_live_lists.sql")),
    (8, include_str!("../../migrations/008_photos.sql")),
    (9, include_str!("../../migrations/009_fetched.sql")),
    (10, include_str!("../../migrations/010_store_assigned.sql")),
    (11, include_str!("../../migrations/011_store_periods.sql")),
    (
        12,
        include_str!("../../migrations/012_store_period_rules.sql"),
    ),
    (13, include_str!("../../migrations/013_rows_unchecked.sql")),
    (
        14,
        include_str!("../../migrations/014_store_period_cleared_rating.sql"),
    ),
    (15, include_str!("../../migrations/015_photo_docs.sql")),
];

/// The schema version this build writes.
pub const LATEST: i64 = 15;

/// The kinds whose index rows a migration's new columns are derived for from the
/// documents, in that migration's transaction: SQL cannot read an Automerge document.
const REINDEX: &[(i64, &[DocKind])] = &[
    (6, &[DocKind::InventoryCount, DocKind::Store]),
    // The conflicts of every document (`conflict_index`).
    (7, &DocKind::ALL),
    // Since when each store has been its manager's (`store_index.assigned_at`).
    (10, &[DocKind::Store]),
    // Every territory each store has been in (`store_period`).
    (11, &[DocKind::Store]),
    // Each period's functional flag and rating; the error rates of finished counts with a
    // line left uncounted (`count_index`).
    (12, &[DocKind::Store, DocKind::InventoryCount]),
    // The periods of a store whose rating was cleared keep its earlier ratings.
    (14, &[DocKind::Store]),
];

/// Brings the database to [`LATEST`]; refuses a database written by a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(Error::SchemaTooNew {
            what: "the local store".into(),
            found: current,
            supported: LATEST,
        });
    }
    if current == LATEST {
        return Ok(());
    }
    // Every pending migration in one transaction, then the index rows they need derived
    // again: this build's index code writes the latest schema's columns, so it runs once
    // every column exists (a store of schema 5 reindexed its stores at schema 6 before
    // `assigned_at` came in schema 10).
    let tx = conn.transaction()?;
    let mut kinds: Vec<DocKind> = Vec::new();
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql)?;
        for (_, more) in REINDEX.iter().filter(|(v, _)| v == version) {
            kinds.extend(
                more.iter()
                    .filter(|k| !kinds.contains(k))
                    .collect::<Vec<_>>(),
            );
        }
    }
    reindex(&tx, &kinds)?;
    // PRAGMA takes no parameters; the version is a constant of this build.
    tx.execute_batch(&format!("PRAGMA user_version = {LATEST}"))?;
    tx.commit()?;
    Ok(())
}

/// Derives the index rows of every stored document of `kinds` again. A document that does
/// not load or read keeps the row it had: it is reported damaged when it is read.
fn reindex(tx: &Connection, kinds: &[DocKind]) -> Result<()> {
    let actor = ActorId::random(); // read only: no change is made with it
    let mut docs = tx.prepare("SELECT id, snapshot FROM documents WHERE kind = ?1")?;
    let mut chunks = tx.prepare("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq")?;
    for kind in kinds {
        let rows = docs
            .query_map([kind.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for (id, snapshot) in rows {
            let bytes = chunks
                .query_map([id.as_str()], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let loaded = DocId::parse("id", &id).and_then(|id| {
                Doc::load(
                    &id,
                    *kind,
                    &actor,
                    snapshot.as_deref(),
                    bytes.iter().map(Vec::as_slice),
                )
            });
            let indexed = loaded.and_then(|mut doc| {
                super::conflicts::write(tx, &doc.id, &doc.conflicted_fields())?;
                super::index::reindex(tx, &mut doc)
            });
            match indexed {
                Ok(()) => {}
                Err(Error::Sqlite(e)) => return Err(Error::Sqlite(e)),
                Err(_) => {} // damaged: left for the reader to report
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_without_gaps_up_to_latest() {
        for (i, (version, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version, i as i64 + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.0), Some(LATEST));
    }

    #[test]
    fn migrating_twice_changes_nothing_the_second_time() -> Result<()> {
        let mut conn = Connection::open_in_memory()?;
        migrate(&mut conn)?;
        migrate(&mut conn)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert_eq!(version, LATEST);
        Ok(())
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused() -> Result<()> {
        let mut conn = Connection::open_in_memory()?;
        conn.execute_batch("PRAGMA user_version = 99")?;
        let err = migrate(&mut conn).expect_err("must refuse");
        assert!(
            matches!(err, Error::SchemaTooNew { found: 99, .. }),
            "{err}"
        );
        Ok(())
    }
}
