//! The PostgreSQL storage on its own: starting several instances at once on a fresh
//! database, a schema newer than the server, and connection errors that say what is wrong.

use std::sync::Arc;

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
        2,
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
        message.contains("schema 99") && message.contains("this server's 2"),
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
