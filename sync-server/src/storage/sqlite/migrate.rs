//! The schema: its migrations (`PRAGMA user_version` counts them), and the backfills of
//! what a migration added to rows an older server stored.

use fieldsync_core::HeldValue;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::error::{AppError, AppResult};
use crate::storage::push;

pub(super) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../../migrations/001_init.sql")),
    (
        2,
        include_str!("../../../migrations/002_changes_by_seq.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/003_handed_and_quotas.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/004_audit_and_last_seen.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/005_token_rotation.sql"),
    ),
    (6, include_str!("../../../migrations/006_blobs.sql")),
    (
        7,
        include_str!("../../../migrations/007_console_sessions.sql"),
    ),
    (8, include_str!("../../../migrations/008_store_held.sql")),
    (
        9,
        include_str!("../../../migrations/009_device_reports.sql"),
    ),
    (10, include_str!("../../../migrations/010_happened_at.sql")),
    (
        11,
        include_str!("../../../migrations/011_happened_index.sql"),
    ),
    (12, include_str!("../../../migrations/012_photo_uses.sql")),
    (13, include_str!("../../../migrations/013_photo_owners.sql")),
    (14, include_str!("../../../migrations/014_feed_index.sql")),
    (
        15,
        include_str!("../../../migrations/015_change_checksums.sql"),
    ),
    (
        16,
        include_str!("../../../migrations/016_photo_uses_local_days.sql"),
    ),
];

pub(super) fn add_store_held(tx: &Connection, store: &str, values: &[HeldValue]) -> AppResult<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO store_held (store, field, value) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    for (field, value) in values {
        insert.execute(params![store, field, value])?;
    }
    Ok(())
}

/// Fills in the values held by stores stored before the server kept them (schema 8), from
/// their stored changes, in one transaction.
pub(super) fn backfill_store_held(conn: &mut Connection) -> AppResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stores: Vec<String> = tx
        .prepare(
            "SELECT id FROM stores s WHERE NOT EXISTS (SELECT 1 FROM store_held h WHERE h.store = s.id)",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for store in &stores {
        let changes = tx
            .prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?
            .query_map([store], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        add_store_held(&tx, store, &push::held_by_stored(store, &changes)?)?;
    }
    tx.commit()?;
    Ok(())
}

/// Fills in when the visits and counts stored before the server recorded it (schema 10)
/// happened, from their stored changes, in one transaction.
pub(super) fn backfill_happened_at(conn: &mut Connection) -> AppResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let docs: Vec<String> = tx
        .prepare(
            "SELECT id FROM docs WHERE kind IN ('visit', 'inventory_count') AND happened_at IS NULL",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for doc in &docs {
        let changes = tx
            .prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?
            .query_map([doc], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if let Some(at) = push::happened_at_of_stored(doc, &changes)? {
            tx.prepare_cached("UPDATE docs SET happened_at = ?2 WHERE id = ?1")?
                .execute(params![doc, at])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn migrate(conn: &mut Connection) -> AppResult<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let latest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > latest {
        return Err(AppError::Internal(format!(
            "the database has schema {current}, newer than this server's {latest}"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        tx.commit()?;
    }
    Ok(())
}
