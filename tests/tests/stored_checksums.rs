//! Changes stored by a server from before checksums were compared (schema 14 on SQLite, 13
//! on PostgreSQL) may carry 4 checksum bytes that do not match their hash: a strict reader
//! (Automerge's loader, a client of another language) refuses them. Opening such a
//! database sets those bytes from the hash each change is stored under, and touches
//! nothing else.

use std::collections::BTreeMap;
use std::path::Path;

use fieldsync_core::Role;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::admin::import::import_stores;
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{PostgresOptions, PostgresStorage, SqliteStorage};
use fieldsync_tests::backend::TestDatabase;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;
/// The schemas this server migrates to (SQLite, PostgreSQL).
const SQLITE_LATEST: i64 = 16;
const POSTGRES_LATEST: i32 = 15;
/// Every stored change's bytes by its hash.
type Stored = BTreeMap<String, Vec<u8>>;

/// Twenty stores of one account manager imported through the office's admin device: each
/// store and its shelf display, made by the server as the office makes them.
fn seed(dir: &Path, storage: &dyn SyncStorage) -> TestResult {
    storage.add_user(
        &User {
            id: "am-li".into(),
            role: Role::AccountManager,
            name: "Li".into(),
        },
        0,
    )?;
    let admin = AdminDevice::open(dir, storage)?;
    let mut file = String::from(
        "licence,name,owner,phone,address,lat,lng,format,market,size,tier,monthly_volume,demo_street,functional_terminal,rating,territory\n",
    );
    for n in 1..=20 {
        file.push_str(&format!(
            "3399990000{n:02},Store {n},Owner,,Road {n},30.26,120.16,B,C,2,B,100,0,0,,am-li\n"
        ));
    }
    assert_eq!(import_stores(&admin, file.as_bytes())?.imported, 20);
    Ok(())
}

/// Every third change with its checksum bytes inverted, as a device could have sent it:
/// (hash, bytes) to write back.
fn damaged(stored: &Stored) -> Vec<(String, Vec<u8>)> {
    stored
        .iter()
        .step_by(3)
        .map(|(hash, bytes)| {
            let mut bad = bytes.clone();
            for b in &mut bad[4..8] {
                *b = !*b;
            }
            (hash.clone(), bad)
        })
        .collect()
}

/// Each document's changes load with Automerge's strict loader (it compares checksums);
/// the ids of those that do not.
fn unloadable(storage: &dyn SyncStorage) -> Fallible<Vec<String>> {
    let mut refused = Vec::new();
    for (doc, _) in storage.documents()? {
        let all: Vec<u8> = storage.document_changes(&doc)?.concat();
        if automerge::Automerge::load(&all).is_err() {
            refused.push(doc);
        }
    }
    Ok(refused)
}

fn sqlite_changes(path: &Path) -> Fallible<Stored> {
    let conn = rusqlite::Connection::open(path)?;
    let mut statement = conn.prepare("SELECT hash, bytes FROM changes")?;
    let rows = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Stored>>()?;
    Ok(rows)
}

#[test]
fn changes_a_schema_14_sqlite_database_holds_with_wrong_checksums_are_repaired_from_their_hashes_on_opening()
-> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("fieldsync.db");
    seed(dir.path(), &SqliteStorage::open(&path)?)?;
    let honest = sqlite_changes(&path)?;
    assert!(honest.len() >= 40, "the stores' changes: {}", honest.len());

    let conn = rusqlite::Connection::open(&path)?;
    for (hash, bad) in damaged(&honest) {
        conn.execute(
            "UPDATE changes SET bytes = ?2 WHERE hash = ?1",
            rusqlite::params![hash, bad],
        )?;
    }
    conn.execute_batch("PRAGMA user_version = 14")?;
    drop(conn);
    // What the damage does to a strict reader, shown once (read without opening the
    // storage, which would repair it).
    let damaged_docs = {
        let conn = rusqlite::Connection::open(&path)?;
        let mut docs = conn.prepare("SELECT DISTINCT doc_id FROM changes")?;
        let docs: Vec<String> = docs
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut refused = 0;
        for doc in docs {
            let all: Vec<u8> = conn
                .prepare("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?
                .query_map([&doc], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .concat();
            refused += usize::from(automerge::Automerge::load(&all).is_err());
        }
        refused
    };
    assert!(damaged_docs >= 10, "{damaged_docs} documents damaged");

    let storage = SqliteStorage::open(&path)?;
    assert_eq!(unloadable(&storage)?, Vec::<String>::new());
    drop(storage);
    assert_eq!(
        sqlite_changes(&path)?,
        honest,
        "every change as it was before the damage, byte for byte"
    );
    let conn = rusqlite::Connection::open(&path)?;
    let schema: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(schema, SQLITE_LATEST);
    Ok(())
}

fn postgres_changes(client: &mut postgres::Client) -> Fallible<Stored> {
    Ok(client
        .query("SELECT hash, bytes FROM changes", &[])?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

#[test]
fn changes_a_schema_13_postgres_database_holds_with_wrong_checksums_are_repaired_from_their_hashes_on_opening()
-> TestResult {
    let database = TestDatabase::create("checksums")?;
    let dir = tempfile::tempdir()?;
    seed(
        dir.path(),
        &PostgresStorage::open(database.url(), PostgresOptions::default())?,
    )?;
    let mut client = postgres::Client::connect(database.url(), postgres::NoTls)?;
    let honest = postgres_changes(&mut client)?;
    assert!(honest.len() >= 40, "the stores' changes: {}", honest.len());
    for (hash, bad) in damaged(&honest) {
        client.execute(
            "UPDATE changes SET bytes = $2 WHERE hash = $1",
            &[&hash, &bad],
        )?;
    }
    // Back to schema 13: the repair (14) and every later migration run again.
    client.execute("DELETE FROM fieldsync_schema WHERE version >= 14", &[])?;
    assert_ne!(postgres_changes(&mut client)?, honest, "damaged");

    let storage = PostgresStorage::open(database.url(), PostgresOptions::default())?;
    assert_eq!(unloadable(&storage)?, Vec::<String>::new());
    assert_eq!(
        postgres_changes(&mut client)?,
        honest,
        "every change as it was before the damage, byte for byte"
    );
    let schema: i32 = client
        .query_one("SELECT MAX(version) FROM fieldsync_schema", &[])?
        .get(0);
    assert_eq!(schema, POSTGRES_LATEST);
    Ok(())
}
