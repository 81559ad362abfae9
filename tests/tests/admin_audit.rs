//! The admin commands leave a trail in the database (`admin audit`), list things as JSON
//! with `--json`, and find devices that stopped syncing (`admin devices --stale 7d`). On
//! SQLite and on PostgreSQL, through the server binary's own CLI.

use std::path::Path;

use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{PostgresOptions, PostgresStorage, SqliteStorage};
use fieldsync_tests::server::{admin, server_binary};
use fieldsync_tests::{Backend, TestDatabase};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// A data folder, and a database on PostgreSQL when the backend says so.
struct Place {
    dir: tempfile::TempDir,
    database: Option<TestDatabase>,
}

impl Place {
    fn new(backend: Backend, label: &str) -> Fallible<Place> {
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres { .. } => Some(TestDatabase::create(label)?),
        };
        Ok(Place {
            dir: tempfile::tempdir()?,
            database,
        })
    }

    fn url(&self) -> Option<&str> {
        self.database.as_ref().map(TestDatabase::url)
    }

    fn admin(&self, args: &[&str]) -> Fallible<String> {
        let binary = server_binary()?;
        Ok(admin(&binary, self.dir.path(), self.url(), args)?)
    }

    fn storage(&self) -> Fallible<Box<dyn SyncStorage>> {
        Ok(match self.url() {
            Some(url) => Box::new(PostgresStorage::open(url, PostgresOptions::default())?),
            None => Box::new(SqliteStorage::open(&self.dir.path().join("fieldsync.db"))?),
        })
    }
}

fn json(text: &str) -> Fallible<Vec<serde_json::Value>> {
    Ok(serde_json::from_str(text)?)
}

async fn admin_actions_are_recorded_with_who_what_and_when_and_listed_by_admin_audit_on(
    backend: Backend,
) -> TestResult {
    let place = Place::new(backend, "admin_audit")?;
    place.admin(&[
        "--actor",
        "it-zhou",
        "add-user",
        "am-li",
        "account_manager",
        "Li Wei",
    ])?;
    place.admin(&["--actor", "it-zhou", "enroll-code", "am-li"])?;
    let code_line = place.admin(&["--actor", "it-zhou", "audit"])?;
    let entries = json(&place.admin(&["audit", "--json"])?)?;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0]["action"], "add-user");
    assert_eq!(entries[0]["subject"], "am-li");
    assert_eq!(entries[0]["actor"], "it-zhou");
    assert_eq!(entries[1]["action"], "enroll-code");
    assert!(entries[1]["at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(
        code_line.lines().count(),
        2,
        "one line per action:\n{code_line}"
    );

    // A device enrolled with the code, then revoked: the revocation is in the trail too.
    let storage = place.storage()?;
    let devices_before = storage.devices()?;
    assert!(devices_before.is_empty());
    let code = fieldsync_server::admin::enrollment_code(storage.as_ref(), "am-li", 0)?;
    let device = storage.enroll(
        &fieldsync_server::auth::hash_secret(&code),
        "Li's phone",
        &fieldsync_server::auth::hash_secret("t"),
        1,
    )?;
    place.admin(&["--actor", "it-zhou", "revoke", &device.device_id])?;
    let entries = json(&place.admin(&["audit", "--json", "--since", "1d"])?)?;
    let last = entries.last().ok_or("entries")?;
    assert_eq!(last["action"], "revoke");
    assert_eq!(last["subject"], device.device_id.as_str());

    // A supervisor's console access ended: their unused code voided, in the trail too.
    place.admin(&["add-user", "sup-wang", "supervisor", "Wang Fang"])?;
    place.admin(&["console-code", "sup-wang"])?;
    let said = place.admin(&["--actor", "it-zhou", "console-revoke", "sup-wang"])?;
    assert!(
        said.contains("0 console sessions ended, 1 unused codes voided"),
        "{said}"
    );
    let entries = json(&place.admin(&["audit", "--json", "--since", "1d"])?)?;
    let last = entries.last().ok_or("entries")?;
    assert_eq!(last["action"], "console-revoke");
    assert_eq!(last["subject"], "sup-wang");
    assert_eq!(last["actor"], "it-zhou");
    assert!(
        place.admin(&["console-revoke", "nobody"]).is_err(),
        "an unknown user is refused"
    );

    // Listings as JSON.
    let users = json(&place.admin(&["users", "--json"])?)?;
    assert_eq!(users[0]["id"], "am-li");
    assert_eq!(users[0]["role"], "account_manager");
    let devices = json(&place.admin(&["devices", "--json"])?)?;
    assert_eq!(devices[0]["id"], device.device_id.as_str());
    assert!(devices[0]["revoked_at"].is_string());
    Ok(())
}

async fn devices_that_have_not_synced_for_a_week_are_listed_by_devices_stale_on(
    backend: Backend,
) -> TestResult {
    let place = Place::new(backend, "devices_stale")?;
    let storage = place.storage()?;
    storage.add_user(
        &User {
            id: "am-li".into(),
            role: fieldsync_core::Role::AccountManager,
            name: "Li Wei".into(),
        },
        0,
    )?;
    let now = chrono::Utc::now().timestamp_millis();
    let day = 86_400_000;
    let enroll = |name: &str, at: i64| -> Fallible<String> {
        let code = fieldsync_server::admin::enrollment_code(storage.as_ref(), "am-li", at)?;
        let token = format!("token-{name}");
        Ok(storage
            .enroll(
                &fieldsync_server::auth::hash_secret(&code),
                name,
                &fieldsync_server::auth::hash_secret(&token),
                at,
            )?
            .device_id)
    };
    let busy = enroll("busy", now - 30 * day)?;
    let quiet = enroll("quiet", now - 30 * day)?;
    let new = enroll("new", now - day)?;
    storage.touch_device(&busy, now - day)?;
    storage.touch_device(&quiet, now - 10 * day)?;
    // Written at most once an hour: a second note within the hour changes nothing.
    storage.touch_device(&quiet, now - 10 * day + 60_000)?;
    let stale = json(&place.admin(&["devices", "--stale", "7d", "--json"])?)?;
    let ids: Vec<&str> = stale.iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(ids, [quiet.as_str()], "not {busy} nor {new}");
    assert!(stale[0]["last_seen_at"].is_string());
    let table = place.admin(&["devices", "--stale", "7d"])?;
    assert_eq!(table.lines().count(), 1, "{table}");
    Ok(())
}

/// What the database holds proves the trail is stored, not printed: a fresh process reads it.
#[test]
fn the_audit_trail_survives_in_the_sqlite_file() -> TestResult {
    let place = Place::new(Backend::Sqlite, "audit_file")?;
    place.admin(&[
        "--actor",
        "it-zhou",
        "add-user",
        "sup-wang",
        "supervisor",
        "Wang",
    ])?;
    let conn = rusqlite::Connection::open(Path::new(place.dir.path()).join("fieldsync.db"))?;
    let (actor, action): (String, String) =
        conn.query_row("SELECT actor, action FROM audit", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    assert_eq!((actor.as_str(), action.as_str()), ("it-zhou", "add-user"));
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(admin_actions_are_recorded_with_who_what_and_when_and_listed_by_admin_audit_on: admin_actions_are_recorded_with_who_what_and_when_and_listed_by_admin_audit, admin_actions_are_recorded_with_who_what_and_when_and_listed_by_admin_audit_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(devices_that_have_not_synced_for_a_week_are_listed_by_devices_stale_on: devices_that_have_not_synced_for_a_week_are_listed_by_devices_stale, devices_that_have_not_synced_for_a_week_are_listed_by_devices_stale_on_postgres);
