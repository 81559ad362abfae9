//! The PostgreSQL storage on its own: starting several instances at once on a fresh
//! database, a database of an older schema migrated, a schema newer than the server, and
//! connection errors that say what is wrong.

use std::sync::Arc;

use fieldsync_server::admin::AdminDevice;
use fieldsync_server::admin::import::import_stores;
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{PostgresOptions, PostgresStorage};
use fieldsync_tests::TestDatabase;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn several_instances_starting_at_once_on_a_fresh_postgres_database_migrate_it_once() -> TestResult {
    let database = TestDatabase::create("migrate")?;
    let url = Arc::new(database.url().to_owned());
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresStorage::open(&url, PostgresOptions::default()))
        })
        .collect();
    let mut instances = Vec::new();
    for start in starts {
        instances.push(start.join().map_err(|_| "an instance's start panicked")??);
    }
    let versions = fieldsync_tests::ServerDb::Postgres(database.url().to_owned())
        .rows("SELECT version FROM fieldsync_schema ORDER BY version", &[])?;
    assert_eq!(
        versions.len(),
        15,
        "each migration applied once: {versions:?}"
    );
    // Every instance works on the one schema: a user added through one is seen by all.
    instances[0].add_user(
        &User {
            id: "am-li".into(),
            role: fieldsync_core::Role::AccountManager,
            name: "Li".into(),
        },
        0,
    )?;
    for instance in &instances {
        assert_eq!(instance.users()?.len(), 1);
    }
    Ok(())
}

#[test]
fn a_postgres_database_with_a_newer_schema_is_refused_naming_both_versions() -> TestResult {
    let database = TestDatabase::create("newer")?;
    drop(PostgresStorage::open(
        database.url(),
        PostgresOptions::default(),
    )?);
    let mut client = postgres::Client::connect(database.url(), postgres::NoTls)?;
    client.batch_execute("INSERT INTO fieldsync_schema (version) VALUES (99)")?;
    let refused = PostgresStorage::open(database.url(), PostgresOptions::default())
        .expect_err("a newer schema must be refused");
    let message = refused.to_string();
    assert!(
        message.contains("schema 99") && message.contains("this server's 15"),
        "{message}"
    );
    Ok(())
}

#[test]
fn an_unreachable_postgres_server_is_reported_with_its_address() {
    // Port 1 on loopback: nothing listens there.
    let refused = PostgresStorage::open(
        "postgres://fieldsync@127.0.0.1:1/fieldsync",
        PostgresOptions::default(),
    )
    .expect_err("nothing listens on port 1");
    let message = refused.to_string();
    assert!(
        message.contains("cannot connect to PostgreSQL at 127.0.0.1:1/fieldsync"),
        "{message}"
    );
}

#[test]
fn a_database_url_that_is_not_postgres_is_refused_by_the_server_command() {
    let binary = fieldsync_tests::server::server_binary().expect("the server binary");
    let dir = tempfile::tempdir().expect("temp dir");
    let output = std::process::Command::new(binary)
        .args(["admin", "--data-dir"])
        .arg(dir.path())
        .args([
            "--database",
            "mysql://root:secret@127.0.0.1/fieldsync",
            "users",
        ])
        .output()
        .expect("run the admin command");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`--database` must be a `postgres://` URL"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret"),
        "the password is not echoed: {stderr}"
    );
}

/// The stores of the migration test, as `admin import-stores` reads them.
const TWO_STORES: &str = "licence,name,owner,phone,address,lat,lng,format,market,size,tier,monthly_volume,demo_street,functional_terminal,rating,territory\n\
     339999000001,One,Owner,,Road 1,30.26,120.16,B,C,2,B,100,0,0,,am-li\n\
     339999000002,Two,Owner,,Road 2,30.26,120.17,B,C,2,B,100,0,0,,am-li\n";

#[test]
fn a_schema_1_postgres_database_learns_each_documents_size_and_counts_its_devices_told_of_moves_older_than_the_old_grace_period()
-> TestResult {
    let database = TestDatabase::create("migrate_sizes")?;
    let dir = tempfile::tempdir()?;
    {
        let storage = PostgresStorage::open(database.url(), PostgresOptions::default())?;
        for user in ["am-li", "am-wu"] {
            storage.add_user(
                &User {
                    id: user.into(),
                    role: fieldsync_core::Role::AccountManager,
                    name: user.into(),
                },
                0,
            )?;
        }
        let admin = AdminDevice::open(dir.path(), &storage)?;
        assert_eq!(import_stores(&admin, TWO_STORES.as_bytes())?.imported, 2);
        admin.reassign("339999000001", "am-wu")?;
        admin.reassign("339999000002", "am-wu")?;
    }
    let mut client = postgres::Client::connect(database.url(), postgres::NoTls)?;
    let scope_rows: Vec<i64> = client
        .query("SELECT seq FROM log WHERE kind = 'scope' ORDER BY seq", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let [old, new] = scope_rows[..] else {
        return Err(format!("two scope rows, not {scope_rows:?}").into());
    };
    // The first move 40 days ago (beyond the old 30-day grace period), the second today.
    let forty_days_ago = chrono::Utc::now().timestamp_millis() - 40 * 86_400_000;
    client.execute(
        "UPDATE log SET at = $2 WHERE seq <= $1",
        &[&old, &forty_days_ago],
    )?;
    // Back to schema 1: what a server of that version left in the database.
    client.batch_execute(
        "DELETE FROM fieldsync_schema WHERE version = 15;
         DELETE FROM fieldsync_schema WHERE version = 14;
         ALTER TABLE docs DROP COLUMN feed_index;
         DELETE FROM fieldsync_schema WHERE version = 13;
         DROP TABLE photo_owners;
         DROP TABLE photo_owners_pending;
         DELETE FROM fieldsync_schema WHERE version = 12;
         DROP TABLE photo_uses;
         DROP TABLE photo_uses_pending;
         DELETE FROM fieldsync_schema WHERE version = 11;
         DROP INDEX docs_by_happened;
         DELETE FROM fieldsync_schema WHERE version = 10;
         ALTER TABLE docs DROP COLUMN happened_at;
         DELETE FROM fieldsync_schema WHERE version = 9;
         DROP TABLE device_reports;
         DELETE FROM fieldsync_schema WHERE version = 8;
         DROP TABLE store_held;
         DELETE FROM fieldsync_schema WHERE version = 7;
         DROP TABLE console_sessions;
         DROP TABLE console_codes;
         DELETE FROM fieldsync_schema WHERE version = 6;
         DROP TABLE blobs;
         DROP TABLE blob_upload_days;
         DELETE FROM fieldsync_schema WHERE version = 5;
         DROP INDEX devices_by_previous_token;
         ALTER TABLE devices DROP COLUMN token_expires_at;
         ALTER TABLE devices DROP COLUMN previous_token_hash;
         ALTER TABLE devices DROP COLUMN previous_token_expires_at;
         ALTER TABLE devices DROP COLUMN token_issued_at;
         DELETE FROM fieldsync_schema WHERE version = 4;
         DROP TABLE audit;
         ALTER TABLE devices DROP COLUMN last_seen_at;
         DELETE FROM fieldsync_schema WHERE version = 3;
         DROP INDEX log_scope_by_seq;
         DROP TABLE device_days;
         ALTER TABLE docs DROP COLUMN bytes;
         ALTER TABLE devices DROP COLUMN handed;
         DELETE FROM fieldsync_schema WHERE version = 2;",
    )?;

    drop(PostgresStorage::open(
        database.url(),
        PostgresOptions::default(),
    )?);
    let docs = client.query(
        "SELECT d.id, d.bytes, (SELECT COALESCE(SUM(length(c.bytes)), 0) FROM changes c
                               WHERE c.doc_id = d.id)
         FROM docs d",
        &[],
    )?;
    assert_eq!(docs.len(), 4, "two stores and their shelf displays");
    for doc in &docs {
        let (id, bytes, stored): (String, i64, i64) = (doc.get(0), doc.get(1), doc.get(2));
        assert!(bytes > 0, "`{id}` has changes");
        assert_eq!(bytes, stored, "`{id}` counts the bytes of its changes");
    }
    let devices = client.query("SELECT id, handed FROM devices", &[])?;
    assert!(!devices.is_empty());
    for device in &devices {
        let (id, handed): (String, i64) = (device.get(0), device.get(1));
        assert!(
            (old..new).contains(&handed),
            "`{id}` is told of the move at {old} and not of the one at {new}: {handed}"
        );
    }
    Ok(())
}

/// The values stores held, as the server keeps them: (store, field, value), sorted.
fn held_rows(
    client: &mut postgres::Client,
) -> Result<Vec<(String, String, String)>, postgres::Error> {
    Ok(client
        .query(
            "SELECT store, field, value FROM store_held ORDER BY store, field, value",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// A database of schema 6 has no record of the values its stores held (what visits and
/// complaints copy are judged against): opening it fills them in from the stored changes,
/// the same rows the pushes recorded.
#[test]
fn a_schema_6_postgres_database_learns_every_value_its_stores_held_when_it_opens() -> TestResult {
    let database = TestDatabase::create("migrate_held")?;
    let dir = tempfile::tempdir()?;
    let moved;
    {
        let storage = PostgresStorage::open(database.url(), PostgresOptions::default())?;
        storage.add_user(
            &User {
                id: "am-li".into(),
                role: fieldsync_core::Role::AccountManager,
                name: "Li".into(),
            },
            0,
        )?;
        let admin = AdminDevice::open(dir.path(), &storage)?;
        assert_eq!(import_stores(&admin, TWO_STORES.as_bytes())?.imported, 2);
        let (store, _) = storage
            .documents()?
            .into_iter()
            .find(|(_, kind)| kind == "store")
            .ok_or("a store")?;
        moved = store.clone();
        admin.local.update_store_classification(
            &fieldsync_core::DocId::parse("store", &store)?,
            fieldsync_core::StoreClassification {
                location: Some(fieldsync_core::GeoPoint {
                    lat: 30.3,
                    lng: 120.2,
                    datum: fieldsync_core::Datum::Gcj02,
                }),
                ..Default::default()
            },
        )?;
        admin.push()?;
    }
    let mut client = postgres::Client::connect(database.url(), postgres::NoTls)?;
    let recorded = held_rows(&mut client)?;
    let lats = recorded
        .iter()
        .filter(|(s, f, _)| *s == moved && f == "lat")
        .count();
    assert_eq!(lats, 2, "both places of the moved store: {recorded:?}");
    client.batch_execute(
        "DELETE FROM fieldsync_schema WHERE version = 15;
         DELETE FROM fieldsync_schema WHERE version = 14;
         ALTER TABLE docs DROP COLUMN feed_index;
         DELETE FROM fieldsync_schema WHERE version = 13;
         DROP TABLE photo_owners;
         DROP TABLE photo_owners_pending;
         DELETE FROM fieldsync_schema WHERE version = 12;
         DROP TABLE photo_uses;
         DROP TABLE photo_uses_pending;
         DELETE FROM fieldsync_schema WHERE version = 11;
         DROP INDEX docs_by_happened;
         DELETE FROM fieldsync_schema WHERE version = 10;
         ALTER TABLE docs DROP COLUMN happened_at;
         DELETE FROM fieldsync_schema WHERE version = 9;
         DROP TABLE device_reports;
         DELETE FROM fieldsync_schema WHERE version = 8;
         DROP TABLE store_held;
         DELETE FROM fieldsync_schema WHERE version = 7;",
    )?;
    drop(PostgresStorage::open(
        database.url(),
        PostgresOptions::default(),
    )?);
    assert_eq!(held_rows(&mut client)?, recorded);
    Ok(())
}

/// Every photo use the database records: (visit, hash, store, day).
fn photo_rows(
    client: &mut postgres::Client,
) -> Result<Vec<(String, String, String, i64)>, postgres::Error> {
    Ok(client
        .query(
            "SELECT visit, hash, store, day FROM photo_uses ORDER BY visit, hash, day",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
}

#[test]
fn a_schema_10_postgres_database_learns_the_photos_its_visits_use_and_their_owners_from_instances_starting_together()
-> TestResult {
    let database = TestDatabase::create("photo_uses")?;
    let dir = tempfile::tempdir()?;
    let storage = PostgresStorage::open(database.url(), PostgresOptions::default())?;
    let fieldsync_server::demo::Seeded::New(_) =
        fieldsync_server::demo::seed_with(dir.path(), &storage, true, None)?
    else {
        return Err("an empty database is seeded".into());
    };
    drop(storage);
    let mut client = postgres::Client::connect(database.url(), postgres::NoTls)?;
    let recorded = photo_rows(&mut client)?;
    assert_eq!(
        recorded.len(),
        2,
        "the demo's photographed visit, recorded by its push: {recorded:?}"
    );
    let owners = |client: &mut postgres::Client| -> Result<Vec<(String, String)>, postgres::Error> {
        Ok(client
            .query("SELECT hash, user_id FROM photo_owners ORDER BY hash", &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    };
    let claimed = owners(&mut client)?;
    assert_eq!(
        claimed.len(),
        4,
        "two photos and their thumbnails: {claimed:?}"
    );
    client.batch_execute(
        "DELETE FROM fieldsync_schema WHERE version = 15;
         DELETE FROM fieldsync_schema WHERE version = 14;
         ALTER TABLE docs DROP COLUMN feed_index;
         DELETE FROM fieldsync_schema WHERE version = 13;
         DROP TABLE photo_owners;
         DROP TABLE photo_owners_pending;
         DELETE FROM fieldsync_schema WHERE version = 12;
         DROP TABLE photo_uses;
         DROP TABLE photo_uses_pending;
         DELETE FROM fieldsync_schema WHERE version = 11;",
    )?;
    let url = Arc::new(database.url().to_owned());
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresStorage::open(&url, PostgresOptions::default()))
        })
        .collect();
    for start in starts {
        drop(start.join().map_err(|_| "an instance's start panicked")??);
    }
    assert_eq!(
        photo_rows(&mut client)?,
        recorded,
        "the same uses, from the changes"
    );
    let pending: i64 = client
        .query_one("SELECT COUNT(*) FROM photo_uses_pending", &[])?
        .get(0);
    assert_eq!(pending, 0, "nothing left to fill in");
    assert_eq!(
        owners(&mut client)?,
        claimed,
        "the same owners, from the ledger and the stored documents"
    );
    Ok(())
}
