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

/// Rewrites the `changes` table as schema 1 had it (keyed by the change's hash) and marks
/// the database as schema 1: what a server of that version left on disk.
fn back_to_schema_1(path: &Path) -> Fallible<()> {
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
    assert_eq!(schema(&path)?, 2, "migrated on open");
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
