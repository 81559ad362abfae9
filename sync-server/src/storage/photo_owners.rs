//! Who owns each photo (schema 13 on SQLite, 12 on PostgreSQL; docs/adr/0033): the user
//! whose push first referenced its hash. A device reads a blob through a document only
//! where an entry the owner wrote references it (`crate::blobs::access`).
//!
//! Claimed at push, in the push's transaction: the hashes the pushed document references in
//! entries of the pushing user (the server checked at push that every new entry names its
//! sender, so entries of others were claimed by their own pushes), first claim standing.
//! Documents reach the server before their photos and a hash is learned only from a stored
//! document, so the first to reference a hash is the one who attached it; uploading bytes
//! confers nothing. Photos referenced before the table existed are owned by the uploader
//! the blob ledger records, else by the author of the earliest entry naming them in the
//! first stored document that does: the migration lists those documents in the order they
//! were first stored, and [`backfill_claims`] reads them when a server opens the database.

use fieldsync_core::{DocKind, Replica};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{AppError, AppResult};

const OWNER: &str = "SELECT user_id FROM photo_owners WHERE hash = $1";
/// Documents listed by the migration and not read yet, a batch, oldest first.
pub const PENDING: &str = "SELECT doc FROM photo_owners_pending ORDER BY first_seq, doc LIMIT $1";

/// Documents read per transaction when a server opens a database stored before the table.
pub const BACKFILL_BATCH: i64 = 500;
const CLAIM: &str = "INSERT INTO photo_owners (hash, user_id) VALUES ($1, $2)
     ON CONFLICT (hash) DO NOTHING";

/// Whether documents of `kind` reference photos.
pub fn has_photos(kind: DocKind) -> bool {
    matches!(
        kind,
        DocKind::Visit | DocKind::Task | DocKind::Complaint | DocKind::ShelfDisplay
    )
}

/// The hashes `user` references in the document of `replica`, which a push of theirs claims.
pub fn claims(replica: &Replica, user: &str) -> Vec<String> {
    replica
        .photo_authors()
        .into_iter()
        .filter(|(_, authors)| authors.contains(user))
        .map(|(hash, _)| hash)
        .collect()
}

/// The claims a document stored before the table makes: for each hash it references, the
/// author of its earliest photo entry naming it (a display standard's list: its entry's
/// author), as `(hash, user)` pairs.
pub fn backfill_claims(doc: &str, changes: &[Vec<u8>]) -> AppResult<Vec<(String, String)>> {
    let replica = super::replica_cache::load_replica(doc, changes)?;
    let mut earliest: std::collections::BTreeMap<String, (i64, String)> =
        std::collections::BTreeMap::new();
    for photo in replica.photo_refs() {
        let at = photo.at.0;
        for hash in std::iter::once(photo.hash).chain(photo.thumb) {
            let seen = earliest.entry(hash).or_insert((at, photo.by.clone()));
            if (at, &photo.by) < (seen.0, &seen.1) {
                *seen = (at, photo.by.clone());
            }
        }
    }
    Ok(replica
        .photo_authors()
        .into_iter()
        .filter_map(|(hash, authors)| {
            let user = match earliest.remove(&hash) {
                Some((_, by)) if authors.contains(&by) => by,
                _ => authors.into_iter().next()?,
            };
            Some((hash, user))
        })
        .collect())
}

pub fn sqlite_claim(conn: &Connection, user: &str, hashes: &[String]) -> AppResult<()> {
    let mut claim = conn.prepare_cached(&CLAIM.replace('$', "?"))?;
    for hash in hashes {
        claim.execute(params![hash, user])?;
    }
    Ok(())
}

pub fn sqlite_owner(conn: &Connection, hash: &str) -> AppResult<Option<String>> {
    Ok(conn
        .prepare_cached(&OWNER.replace('$', "?"))?
        .query_row([hash], |r| r.get::<_, String>(0))
        .optional()?)
}

pub fn postgres_owner(client: &mut postgres::Client, hash: &str) -> AppResult<Option<String>> {
    Ok(client
        .query_opt(OWNER, &[&hash])
        .map_err(AppError::internal)?
        .map(|r| r.get::<_, String>(0)))
}

/// Reads the documents the migration listed, a batch per transaction, until none is left
/// (bounded: each pass takes its batch off the list), on SQLite's one writer: a push of a
/// listed document lands before or after a batch and claims its own entries either way.
pub fn sqlite_backfill(conn: &mut Connection) -> AppResult<()> {
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let docs: Vec<String> = tx
            .prepare_cached(&PENDING.replace('$', "?"))?
            .query_map([BACKFILL_BATCH], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if docs.is_empty() {
            return Ok(());
        }
        for doc in &docs {
            let changes = tx
                .prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?
                .query_map([doc], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut claim = tx.prepare_cached(&CLAIM.replace('$', "?"))?;
            for (hash, user) in backfill_claims(doc, &changes)? {
                claim.execute(params![hash, user])?;
            }
            tx.prepare_cached("DELETE FROM photo_owners_pending WHERE doc = ?1")?
                .execute([doc])?;
        }
        tx.commit()?;
    }
}

/// [`sqlite_backfill`] on PostgreSQL: instances opening together take different batches
/// (`SKIP LOCKED`), each under its documents' locks, so a push of a listed document waits.
pub fn postgres_backfill(client: &mut postgres::Client) -> AppResult<()> {
    loop {
        let mut tx = client.transaction().map_err(AppError::internal)?;
        let docs: Vec<String> = tx
            .query(
                &format!("{PENDING} FOR UPDATE SKIP LOCKED"),
                &[&BACKFILL_BATCH],
            )
            .map_err(AppError::internal)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if docs.is_empty() {
            return Ok(());
        }
        tx.execute(
            "INSERT INTO doc_locks (id) SELECT id FROM unnest($1::text[]) WITH ORDINALITY AS t (id, n)
             ORDER BY n ON CONFLICT (id) DO UPDATE SET id = excluded.id",
            &[&docs],
        )
        .map_err(AppError::internal)?;
        let (mut hashes, mut users) = (Vec::new(), Vec::new());
        for doc in &docs {
            let changes: Vec<Vec<u8>> = tx
                .query(
                    "SELECT bytes FROM changes WHERE doc_id = $1 ORDER BY seq",
                    &[doc],
                )
                .map_err(AppError::internal)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            // In claim order: the first document of a batch to name a hash owns it.
            for (hash, user) in backfill_claims(doc, &changes)? {
                if !hashes.contains(&hash) {
                    hashes.push(hash);
                    users.push(user);
                }
            }
        }
        postgres_claim(&mut tx, &hashes, &users).map_err(AppError::internal)?;
        tx.execute(
            "DELETE FROM photo_owners_pending WHERE doc = ANY($1)",
            &[&docs],
        )
        .map_err(AppError::internal)?;
        tx.commit().map_err(AppError::internal)?;
    }
}

/// The claims of a PostgreSQL push, written in one statement before it commits.
pub fn postgres_claim(
    tx: &mut postgres::Transaction<'_>,
    hashes: &[String],
    users: &[String],
) -> Result<(), postgres::Error> {
    if hashes.is_empty() {
        return Ok(());
    }
    // Inserted in hash order, so that two pushes claiming the same hashes cannot deadlock;
    // of a hash claimed twice in one push, the first claim stands.
    let mut claims: Vec<(&String, &String)> = hashes.iter().zip(users).collect();
    claims.sort_by_key(|(hash, _)| *hash);
    claims.dedup_by_key(|(hash, _)| *hash);
    let (hashes, users): (Vec<&String>, Vec<&String>) = claims.into_iter().unzip();
    tx.execute(
        "INSERT INTO photo_owners (hash, user_id)
         SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (hash) DO NOTHING",
        &[&hashes, &users],
    )?;
    Ok(())
}
