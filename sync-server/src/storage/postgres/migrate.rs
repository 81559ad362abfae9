//! The schema: its migrations, applied when an instance starts under a transaction-scoped
//! advisory lock (instances that start together apply each one once), and the backfills
//! of what a migration added to rows an older server stored.

use fieldsync_core::HeldValue;
use postgres::Transaction;

use super::Client;
use crate::error::{AppError, AppResult};
use crate::storage::push;

const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../../../migrations/postgres/001_init.sql")),
    (
        2,
        include_str!("../../../migrations/postgres/002_handed_and_quotas.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/postgres/003_audit_and_last_seen.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/postgres/004_token_rotation.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/postgres/005_blobs.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/postgres/006_console_sessions.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/postgres/007_store_held.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/postgres/008_device_reports.sql"),
    ),
    (
        9,
        include_str!("../../../migrations/postgres/009_happened_at.sql"),
    ),
    (
        10,
        include_str!("../../../migrations/postgres/010_happened_index.sql"),
    ),
    (
        11,
        include_str!("../../../migrations/postgres/011_photo_uses.sql"),
    ),
    (
        12,
        include_str!("../../../migrations/postgres/012_photo_owners.sql"),
    ),
    (
        13,
        include_str!("../../../migrations/postgres/013_feed_index.sql"),
    ),
    (
        14,
        include_str!("../../../migrations/postgres/014_change_checksums.sql"),
    ),
    (
        15,
        include_str!("../../../migrations/postgres/015_photo_uses_local_days.sql"),
    ),
];
pub(super) fn add_store_held(
    tx: &mut Transaction<'_>,
    store: &str,
    values: &[HeldValue],
) -> Result<(), postgres::Error> {
    for (field, value) in values {
        tx.execute(
            "INSERT INTO store_held (store, field, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&store, field, value],
        )?;
    }
    Ok(())
}

/// Fills in the values held by stores stored before the server kept them (schema 7), from
/// their stored changes. Instances that start together may both fill a store in: the rows
/// are the same, and a second insert of one is ignored.
pub(super) fn backfill_store_held(client: &mut postgres::Client) -> AppResult<()> {
    let mut tx = client.transaction()?;
    let stores: Vec<String> = tx
        .query(
            "SELECT id FROM stores s WHERE NOT EXISTS (SELECT 1 FROM store_held h WHERE h.store = s.id)",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for store in &stores {
        let changes: Vec<Vec<u8>> = tx
            .query(
                "SELECT bytes FROM changes WHERE doc_id = $1 ORDER BY seq",
                &[store],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        add_store_held(&mut tx, store, &push::held_by_stored(store, &changes)?)?;
    }
    tx.commit()?;
    Ok(())
}

/// Fills in when the visits and counts stored before the server recorded it (schema 9)
/// happened, from their stored changes, in one transaction.
pub(super) fn backfill_happened_at(client: &mut postgres::Client) -> AppResult<()> {
    let mut tx = client.transaction()?;
    let docs: Vec<String> = tx
        .query(
            "SELECT id FROM docs WHERE kind IN ('visit', 'inventory_count') AND happened_at IS NULL",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for doc in &docs {
        let changes: Vec<Vec<u8>> = tx
            .query(
                "SELECT bytes FROM changes WHERE doc_id = $1 ORDER BY seq",
                &[doc],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if let Some(at) = push::happened_at_of_stored(doc, &changes)? {
            tx.execute(
                "UPDATE docs SET happened_at = $2 WHERE id = $1",
                &[doc, &at],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Key of the advisory lock that migrations run under ("fieldsyn").
const MIGRATION_LOCK: i64 = 0x6669_656c_6473_796e;

pub(super) fn migrate(client: &mut Client) -> AppResult<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS fieldsync_schema (
             version    INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    let current: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM fieldsync_schema",
            &[],
        )?
        .get(0);
    let latest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > latest {
        return Err(AppError::Internal(format!(
            "the database has schema {current}, newer than this server's {latest}"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO fieldsync_schema (version) VALUES ($1)",
            &[version],
        )?;
    }
    tx.commit()?;
    Ok(())
}
