//! The SQLite storage's schema migrations: a database written by an older server opens
//! with every change it held, in the same order, and takes new writes after them.

use std::collections::BTreeMap;
use std::path::Path;

use fieldsync_core::Role;
use fieldsync_core::protocol::FeedCursor;
use fieldsync_server::SqliteStorage;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::admin::import::import_stores;
use fieldsync_server::demo::{self, Seeded};
use fieldsync_server::storage::{DeviceInfo, SyncStorage};

type TestResult = Result<(), Box<dyn std::error::Error>>;
/// The schema this server migrates to.
const LATEST: i64 = 16;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;
/// Documents with their changes, in the order a feed sent them.
type Sent = Vec<(String, Vec<Vec<u8>>)>;

/// What a supervisor's log-order feed gives from `after` on: (document, changes) in the
/// order sent, and the cursor it ends at.
fn log_feed(storage: &SqliteStorage, after: u64) -> Fallible<(Sent, u64)> {
    let supervisor = DeviceInfo {
        device_id: "sup-phone".into(),
        user_id: "sup".into(),
        role: Role::Supervisor,
    };
    let mut cursor = FeedCursor::Log(after);
    let mut sent = Vec::new();
    // Bounded: 1 MiB pages of a demo district of about a thousand small documents.
    for _ in 0..1_000 {
        let feed = storage.feed(&supervisor, &cursor, 1 << 20, &Default::default())?;
        sent.extend(feed.changes.into_iter().map(|d| {
            let changes = d.changes.into_iter().map(|c| c.into_vec()).collect();
            (d.doc, changes)
        }));
        cursor = feed.cursor;
        if !feed.more {
            let FeedCursor::Log(end) = cursor else {
                return Err(format!("a log-order feed ended at {cursor}").into());
            };
            return Ok((sent, end));
        }
    }
    Err("the feed did not end".into())
}

/// Every document's stored changes, oldest first.
fn stored_changes(storage: &SqliteStorage) -> Fallible<BTreeMap<String, Vec<Vec<u8>>>> {
    storage
        .documents()?
        .into_iter()
        .map(|(doc, _)| Ok((doc.clone(), storage.document_changes(&doc)?)))
        .collect()
}

/// Removes what schemas 14 and 13 added (each document's index rows, the photos' owners)
/// and marks the database as schema 12.
fn back_to_schema_12(path: &Path) -> Fallible<()> {
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "BEGIN;
         ALTER TABLE docs DROP COLUMN feed_index;
         DROP TABLE photo_owners;
         DROP TABLE photo_owners_pending;
         PRAGMA user_version = 12;
         COMMIT;",
    )?;
    Ok(())
}

/// Removes what schemas 13 and 12 added (the photos' owners, the photos each visit uses)
/// and marks the database as schema 11.
fn back_to_schema_11(path: &Path) -> Fallible<()> {
    back_to_schema_12(path)?;
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "BEGIN;
         DROP TABLE photo_uses;
         DROP TABLE photo_uses_pending;
         PRAGMA user_version = 11;
         COMMIT;",
    )?;
    Ok(())
}

/// Removes what schemas 12 to 10 added (the photos each visit uses, when visits and counts
/// happened, and its index) and marks the database as schema 9.
fn back_to_schema_9(path: &Path) -> Fallible<()> {
    back_to_schema_11(path)?;
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "BEGIN;
         DROP INDEX docs_by_happened;
         ALTER TABLE docs DROP COLUMN happened_at;
         PRAGMA user_version = 9;
         COMMIT;",
    )?;
    Ok(())
}

/// Removes what schemas 10 and 9 added (when visits and counts happened, devices' reports)
/// and marks the database as schema 8.
fn back_to_schema_8(path: &Path) -> Fallible<()> {
    back_to_schema_9(path)?;
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "BEGIN;
         DROP TABLE device_reports;
         PRAGMA user_version = 8;
         COMMIT;",
    )?;
    Ok(())
}

/// Removes what schemas 10 to 8 added (when visits and counts happened, devices' reports,
/// the values stores held) and marks
/// the database as schema 7.
fn back_to_schema_7(path: &Path) -> Fallible<()> {
    back_to_schema_8(path)?;
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "BEGIN;
         DROP TABLE store_held;
         PRAGMA user_version = 7;
         COMMIT;",
    )?;
    Ok(())
}

/// Removes what schemas 7 (the console's codes and sessions) and 6 (photo blobs) added
/// and marks the database as schema 5.
fn back_to_schema_5(path: &Path) -> Fallible<()> {
    back_to_schema_7(path)?;
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "BEGIN;
         DROP TABLE console_sessions;
         DROP TABLE console_codes;
         DROP TABLE blobs;
         DROP TABLE blob_upload_days;
         PRAGMA user_version = 5;
         COMMIT;",
    )?;
    Ok(())
}

/// Removes what schema 5 added (token expiry and rotation) and marks the database as
/// schema 4.
fn back_to_schema_4(path: &Path) -> Fallible<()> {
    back_to_schema_5(path)?;
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "BEGIN;
         DROP INDEX devices_by_previous_token;
         ALTER TABLE devices DROP COLUMN token_expires_at;
         ALTER TABLE devices DROP COLUMN previous_token_hash;
         ALTER TABLE devices DROP COLUMN previous_token_expires_at;
         ALTER TABLE devices DROP COLUMN token_issued_at;
         PRAGMA user_version = 4;
         COMMIT;",
    )?;
    Ok(())
}

/// Removes what schema 4 added (the audit trail, devices' last-seen times) and marks the
/// database as schema 3.
fn back_to_schema_3(path: &Path) -> Fallible<()> {
    back_to_schema_4(path)?;
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "BEGIN;
         DROP TABLE audit;
         ALTER TABLE devices DROP COLUMN last_seen_at;
         PRAGMA user_version = 3;
         COMMIT;",
    )?;
    Ok(())
}

/// Removes what schema 3 added (devices' handed positions, documents' sizes, devices' bytes
/// per day, the scope rows' indexes) and marks the database as schema 2.
fn back_to_schema_2(path: &Path) -> Fallible<()> {
    back_to_schema_3(path)?;
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "BEGIN;
         DROP INDEX log_scope_by_seq;
         DROP INDEX log_scope_by_store;
         DROP TABLE device_days;
         ALTER TABLE docs DROP COLUMN bytes;
         ALTER TABLE devices DROP COLUMN handed;
         PRAGMA user_version = 2;
         COMMIT;",
    )?;
    Ok(())
}

/// Rewrites the `changes` table as schema 1 had it (keyed by the change's hash) and marks
/// the database as schema 1: what a server of that version left on disk.
fn back_to_schema_1(path: &Path) -> Fallible<()> {
    back_to_schema_2(path)?;
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "BEGIN;
         CREATE TABLE changes_v1 (
             hash   TEXT PRIMARY KEY,
             doc_id TEXT NOT NULL,
             seq    INTEGER NOT NULL,
             bytes  BLOB NOT NULL
         ) STRICT;
         INSERT INTO changes_v1 (hash, doc_id, seq, bytes) SELECT hash, doc_id, seq, bytes FROM changes;
         DROP TABLE changes;
         ALTER TABLE changes_v1 RENAME TO changes;
         CREATE INDEX changes_by_doc ON changes (doc_id, seq);
         PRAGMA user_version = 1;
         COMMIT;",
    )?;
    Ok(())
}

fn schema(path: &Path) -> Fallible<i64> {
    let conn = rusqlite::Connection::open(path)?;
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

#[test]
fn a_schema_1_database_keeps_every_change_in_log_order_and_takes_new_pushes_after_them()
-> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("fieldsync.db");
    let storage = SqliteStorage::open(&path)?;
    let Seeded::New(_) = demo::seed(dir.path(), &storage)? else {
        return Err("an empty database is seeded".into());
    };
    let (feed_before, end) = log_feed(&storage, 0)?;
    let stored_before = stored_changes(&storage)?;
    assert!(
        feed_before.len() >= demo::DEMO_STORES as usize,
        "the demo district's stores are in the feed"
    );
    drop(storage);

    back_to_schema_1(&path)?;
    let storage = SqliteStorage::open(&path)?;
    assert_eq!(schema(&path)?, LATEST, "migrated on open");
    let (feed_after, end_after) = log_feed(&storage, 0)?;
    assert_eq!(end_after, end, "the log ends where it did");
    assert!(
        feed_after == feed_before,
        "the feed sends the same changes in the same order"
    );
    assert!(
        stored_changes(&storage)? == stored_before,
        "every document keeps its changes, oldest first"
    );

    // A new store after the migration: it and its shelf display come after everything
    // that was there.
    let admin = AdminDevice::open_with_clock(
        dir.path(),
        &storage,
        fieldsync_core::fixtures::office_clock(),
    )?;
    let file = "licence,name,owner,phone,address,lat,lng,format,market,size,tier,monthly_volume,demo_street,functional_terminal,rating,territory\n\
                 339999000001,New store,Owner,,Road 1,30.26,120.16,B,C,2,B,100,0,0,,am-li\n";
    let report = import_stores(&admin, file.as_bytes())?;
    assert_eq!(report.imported, 1);
    let (new, _) = log_feed(&storage, end)?;
    assert_eq!(
        new.len(),
        2,
        "the store and its shelf display, after the old end"
    );
    for (doc, changes) in &new {
        assert!(
            !stored_before.contains_key(doc),
            "a document not there before"
        );
        assert_eq!(&storage.document_changes(doc)?, changes, "stored as sent");
    }
    Ok(())
}

/// Each document with its recorded size and the bytes of its stored changes.
type Sizes = Vec<(String, i64, i64)>;

/// What schema 3 worked out for each document and device, read straight from the file.
fn sizes_and_handed(path: &Path) -> Fallible<(Sizes, Vec<(String, i64)>)> {
    let conn = rusqlite::Connection::open(path)?;
    let docs = conn
        .prepare(
            "SELECT d.id, d.bytes, (SELECT COALESCE(SUM(length(c.bytes)), 0) FROM changes c
                                   WHERE c.doc_id = d.id)
             FROM docs d ORDER BY d.id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let devices = conn
        .prepare("SELECT id, handed FROM devices ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((docs, devices))
}

#[test]
fn a_schema_2_database_learns_each_documents_size_and_counts_its_devices_told_of_moves_older_than_the_old_grace_period()
-> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("fieldsync.db");
    let storage = SqliteStorage::open(&path)?;
    let admin = AdminDevice::open(dir.path(), &storage)?;
    for user in ["am-li", "am-wu"] {
        storage.add_user(
            &fieldsync_server::storage::User {
                id: user.into(),
                role: Role::AccountManager,
                name: user.into(),
            },
            0,
        )?;
    }
    let file = "licence,name,owner,phone,address,lat,lng,format,market,size,tier,monthly_volume,demo_street,functional_terminal,rating,territory\n\
                 339999000001,One,Owner,,Road 1,30.26,120.16,B,C,2,B,100,0,0,,am-li\n\
                 339999000002,Two,Owner,,Road 2,30.26,120.17,B,C,2,B,100,0,0,,am-li\n";
    assert_eq!(import_stores(&admin, file.as_bytes())?.imported, 2);
    // Two moves: one 40 days ago (beyond the old 30-day grace), one today.
    admin.reassign("339999000001", "am-wu")?;
    admin.reassign("339999000002", "am-wu")?;
    drop(admin);
    drop(storage);
    let conn = rusqlite::Connection::open(&path)?;
    let scope_rows: Vec<i64> = conn
        .prepare("SELECT seq FROM log WHERE kind = 'scope' ORDER BY seq")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let [old, new] = scope_rows[..] else {
        return Err(format!("two scope rows, not {scope_rows:?}").into());
    };
    let forty_days_ago = chrono::Utc::now().timestamp_millis() - 40 * 86_400_000;
    conn.execute(
        "UPDATE log SET at = ?2 WHERE seq <= ?1",
        rusqlite::params![old, forty_days_ago],
    )?;
    drop(conn);

    back_to_schema_2(&path)?;
    let storage = SqliteStorage::open(&path)?;
    assert_eq!(schema(&path)?, LATEST, "migrated on open");
    let (docs, devices) = sizes_and_handed(&path)?;
    assert_eq!(docs.len(), 4, "two stores and their shelf displays");
    for (doc, bytes, stored) in &docs {
        assert!(*bytes > 0, "`{doc}` has changes");
        assert_eq!(bytes, stored, "`{doc}` counts the bytes of its changes");
    }
    assert!(!devices.is_empty());
    for (device, handed) in &devices {
        assert!(
            (old..new).contains(handed),
            "`{device}` is told of the move at {old} and not of the one at {new}: {handed}"
        );
    }
    // And a push after the migration adds to the size it found.
    let admin = AdminDevice::open(dir.path(), &storage)?;
    admin.reassign("339999000001", "am-li")?;
    drop(admin);
    for (doc, bytes, stored) in sizes_and_handed(&path)?.0 {
        assert_eq!(bytes, stored, "`{doc}` after a push");
    }
    Ok(())
}

/// The values stores held, as the server keeps them: (store, field, value), sorted.
fn held_rows(path: &Path) -> Fallible<Vec<(String, String, String)>> {
    let conn = rusqlite::Connection::open(path)?;
    let rows = conn
        .prepare("SELECT store, field, value FROM store_held ORDER BY store, field, value")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// A database of schema 7 has no record of the values its stores held (what visits and
/// complaints copy are judged against): opening it fills them in from the stored changes,
/// the same rows the pushes recorded.
#[test]
fn a_schema_7_database_learns_every_value_its_stores_held_when_it_opens() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("fieldsync.db");
    let storage = SqliteStorage::open(&path)?;
    let Seeded::New(_) = demo::seed(dir.path(), &storage)? else {
        return Err("an empty database is seeded".into());
    };
    drop(storage);
    let recorded = held_rows(&path)?;
    let stores = recorded
        .iter()
        .map(|(s, _, _)| s)
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(stores.len(), demo::DEMO_STORES as usize, "every demo store");
    back_to_schema_7(&path)?;
    drop(SqliteStorage::open(&path)?);
    assert_eq!(schema(&path)?, LATEST);
    assert!(
        held_rows(&path)? == recorded,
        "the same rows, from the changes"
    );
    Ok(())
}

/// A database in `dir` holding the demo district with its weeks of activity, written by
/// this server; its path.
fn seeded_with_activity(dir: &Path) -> Fallible<std::path::PathBuf> {
    let path = dir.join("fieldsync.db");
    let storage = SqliteStorage::open(&path)?;
    let Seeded::New(_) = demo::seed_with(dir, &storage, true, None)? else {
        return Err("an empty database is seeded".into());
    };
    Ok(path)
}

/// When each visit and count happened, as the database records it.
fn happened_rows(path: &Path) -> Fallible<BTreeMap<String, Option<i64>>> {
    let conn = rusqlite::Connection::open(path)?;
    let mut statement = conn.prepare(
        "SELECT id, happened_at FROM docs WHERE kind IN ('visit', 'inventory_count') ORDER BY id",
    )?;
    let rows = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<BTreeMap<_, _>>>()?;
    Ok(rows)
}

#[test]
fn a_schema_9_database_learns_when_its_visits_and_counts_happened_when_it_opens() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = seeded_with_activity(dir.path())?;
    let recorded = happened_rows(&path)?;
    assert!(
        recorded.len() > 10,
        "the demo's visits and counts: {recorded:?}"
    );
    assert!(
        recorded.values().all(Option::is_some),
        "every push recorded when its visit or count happened"
    );
    back_to_schema_9(&path)?;
    drop(SqliteStorage::open(&path)?);
    assert_eq!(schema(&path)?, LATEST);
    assert_eq!(
        happened_rows(&path)?,
        recorded,
        "the same times, from the changes"
    );
    Ok(())
}

/// Every photo use the database records: (visit, hash, store, day).
fn photo_rows(path: &Path) -> Fallible<Vec<(String, String, String, i64)>> {
    let conn = rusqlite::Connection::open(path)?;
    let mut statement =
        conn.prepare("SELECT visit, hash, store, day FROM photo_uses ORDER BY visit, hash, day")?;
    let rows = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

#[test]
fn a_schema_11_database_learns_the_photos_its_visits_use_when_it_opens() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = seeded_with_activity(dir.path())?;
    let recorded = photo_rows(&path)?;
    assert_eq!(
        recorded.len(),
        2,
        "the demo's photographed visit, recorded by its push: {recorded:?}"
    );
    back_to_schema_11(&path)?;
    drop(SqliteStorage::open(&path)?);
    assert_eq!(schema(&path)?, LATEST);
    assert_eq!(
        photo_rows(&path)?,
        recorded,
        "the same uses, from the changes"
    );
    let conn = rusqlite::Connection::open(&path)?;
    let pending: i64 =
        conn.query_row("SELECT COUNT(*) FROM photo_uses_pending", [], |r| r.get(0))?;
    assert_eq!(pending, 0, "nothing left to fill in");
    Ok(())
}

fn photo_owners(path: &Path) -> Fallible<Vec<(String, String)>> {
    let conn = rusqlite::Connection::open(path)?;
    let mut statement = conn.prepare("SELECT hash, user_id FROM photo_owners ORDER BY hash")?;
    let rows = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

#[test]
fn a_schema_12_database_learns_who_attached_each_photo_when_it_opens() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = seeded_with_activity(dir.path())?;
    let claimed = photo_owners(&path)?;
    assert_eq!(
        claimed.len(),
        4,
        "the demo's two photos and their thumbnails, claimed by the push: {claimed:?}"
    );
    assert!(
        claimed.iter().all(|(_, user)| user == "am-li"),
        "{claimed:?}"
    );
    back_to_schema_12(&path)?;
    drop(SqliteStorage::open(&path)?);
    assert_eq!(schema(&path)?, LATEST);
    assert_eq!(
        photo_owners(&path)?,
        claimed,
        "the same owners, from the ledger and the stored documents"
    );
    let conn = rusqlite::Connection::open(&path)?;
    let pending: i64 = conn.query_row("SELECT COUNT(*) FROM photo_owners_pending", [], |r| {
        r.get(0)
    })?;
    assert_eq!(pending, 0, "nothing left to read");
    // A photo that was never uploaded has no ledger row: its owner came from the documents.
    let uploaded: i64 = conn.query_row("SELECT COUNT(*) FROM blobs", [], |r| r.get(0))?;
    assert!(
        uploaded < 4,
        "one demo photo stays on the phone: {uploaded} uploaded"
    );
    Ok(())
}
