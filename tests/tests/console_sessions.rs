//! The console's sign-in codes and sessions on both backends: a code works once and not
//! after it expires, a session is found by its hash until it ends or expires, and a sign-in
//! sweeps expired sessions away.

use fieldsync_core::Role;
use fieldsync_server::auth::hash_secret;
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{PostgresOptions, PostgresStorage, SqliteStorage};
use fieldsync_tests::TestDatabase;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn exercise(storage: &dyn SyncStorage) -> TestResult {
    storage.add_user(
        &User {
            id: "sup-wang".into(),
            role: Role::Supervisor,
            name: "Wang".into(),
        },
        0,
    )?;
    let (now, hour) = (1_000_000_i64, 3_600_000_i64);
    storage.add_console_code("sup-wang", &hash_secret("CODE-1"), now, now + hour)?;
    storage.add_console_code("sup-wang", &hash_secret("CODE-2"), now, now + hour)?;
    assert_eq!(
        storage
            .take_console_code(&hash_secret("CODE-1"), now + 1)?
            .as_deref(),
        Some("sup-wang")
    );
    assert_eq!(
        storage.take_console_code(&hash_secret("CODE-1"), now + 2)?,
        None,
        "once only"
    );
    assert_eq!(
        storage.take_console_code(&hash_secret("CODE-2"), now + hour)?,
        None,
        "expired"
    );
    assert_eq!(
        storage.take_console_code(&hash_secret("NOPE"), now)?,
        None,
        "unknown"
    );

    storage.add_console_session(&hash_secret("S1"), "sup-wang", "csrf-1", now, now + hour)?;
    let session = storage
        .console_session(&hash_secret("S1"), now + 5)?
        .ok_or("no session")?;
    assert_eq!(
        (session.user_id.as_str(), session.csrf.as_str()),
        ("sup-wang", "csrf-1")
    );
    assert_eq!(
        storage.console_session(&hash_secret("S1"), now + hour)?,
        None,
        "expired"
    );
    assert!(storage.end_console_session(&hash_secret("S1"), now + 10)?);
    assert_eq!(
        storage.console_session(&hash_secret("S1"), now + 11)?,
        None,
        "ended"
    );
    assert!(
        !storage.end_console_session(&hash_secret("S1"), now + 12)?,
        "ended already"
    );
    // A later sign-in sweeps the expired session away; the new one is found.
    storage.add_console_session(
        &hash_secret("S2"),
        "sup-wang",
        "csrf-2",
        now + 2 * hour,
        now + 3 * hour,
    )?;
    assert!(
        storage
            .console_session(&hash_secret("S2"), now + 2 * hour)?
            .is_some()
    );
    Ok(())
}

#[test]
fn console_codes_work_once_and_sessions_end_or_expire_on_sqlite() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = SqliteStorage::open(&dir.path().join("fieldsync.db"))?;
    exercise(&storage)
}

#[test]
fn console_codes_work_once_and_sessions_end_or_expire_on_postgres() -> TestResult {
    let database = TestDatabase::create("console_sessions")?;
    let storage = PostgresStorage::open(database.url(), PostgresOptions::default())?;
    exercise(&storage)
}
