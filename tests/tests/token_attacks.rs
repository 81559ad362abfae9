//! Token rotation under attack and under races (docs/protocol.md, "Token rotation";
//! docs/adr/0015-token-expiry-and-rotation.md): what a holder of an old token, or a sync
//! that ends after a later one, can do to the token the device holds.
//!
//! Through the server's routes on real storage. The races run on PostgreSQL with two
//! instances, where a request can be held part-way deterministically: a lock taken from
//! outside on the table a device report is written to holds the one sync that carries a
//! report, and nothing else.

use std::sync::Arc;
use std::sync::mpsc;

use axum::http::{HeaderMap, StatusCode};
use fieldsync_core::Role;
use fieldsync_core::protocol::{DeviceReport, EnrollResponse, SyncRequest, TOKEN_HEADER};
use fieldsync_server::Limits;
use fieldsync_server::admin::enrollment_code;
use fieldsync_server::auth::hash_secret;
use fieldsync_server::storage::User;
use fieldsync_tests::routes::Instances;
use fieldsync_tests::{Backend, ServerDb};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DAY: i64 = 86_400_000;

fn pull() -> SyncRequest {
    fieldsync_tests::routes::outbox_request(&[], None)
}

/// A pull that carries a device report (written to `device_reports` before the feed).
fn pull_reporting(app_version: &str) -> SyncRequest {
    SyncRequest {
        device: Some(DeviceReport {
            app_version: Some(app_version.into()),
            ..DeviceReport::default()
        }),
        ..pull()
    }
}

fn new_token(headers: &HeaderMap) -> Option<String> {
    Some(headers.get(TOKEN_HEADER)?.to_str().ok()?.to_owned())
}

fn add_li(server: &Instances) -> TestResult {
    server.storage.add_user(
        &User {
            id: "am-li".into(),
            role: Role::AccountManager,
            name: "Li Wei".into(),
        },
        0,
    )?;
    Ok(())
}

/// Holds `LOCK TABLE device_reports` in a transaction on a thread of its own (the blocking
/// client must not run on the test's runtime) until the returned sender is dropped or sent to.
fn hold_device_reports(url: &str) -> Result<mpsc::Sender<()>, Box<dyn std::error::Error>> {
    let url = url.to_owned();
    let (release, released) = mpsc::channel::<()>();
    let (locked, is_locked) = mpsc::channel::<Result<(), String>>();
    std::thread::spawn(move || {
        let run = || -> Result<postgres::Client, postgres::Error> {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
            client.batch_execute("BEGIN; LOCK TABLE device_reports IN EXCLUSIVE MODE")?;
            Ok(client)
        };
        match run() {
            Ok(mut client) => {
                let _ = locked.send(Ok(()));
                let _ = released.recv();
                let _ = client.batch_execute("ROLLBACK");
            }
            Err(e) => {
                let _ = locked.send(Err(e.to_string()));
            }
        }
    });
    is_locked.recv()??;
    Ok(release)
}

fn database_url(server: &Instances) -> Result<String, Box<dyn std::error::Error>> {
    match &server.db {
        ServerDb::Postgres(url) => Ok(url.clone()),
        ServerDb::Sqlite(_) => Err("these races need PostgreSQL".into()),
    }
}

/// Two PostgreSQL instances (labelled `label`) where `am-li`'s enrolled device has synced
/// with both (its report, when it was last seen), so that a held report holds only the
/// sync meant to be held.
async fn a_device_heard_by_two_instances(
    label: &str,
) -> Result<(tempfile::TempDir, Arc<Instances>, EnrollResponse), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let server = Arc::new(Instances::open(
        Backend::POSTGRES_PAIR,
        dir.path(),
        label,
        Limits::default(),
    )?);
    add_li(&server)?;
    let enrolled = server.enroll_device("am-li").await?;
    for _ in 0..4 {
        let (status, _, _) = server.sync(&enrolled.token, &pull()).await?;
        assert_eq!(status, StatusCode::OK);
    }
    Ok((dir, server, enrolled))
}

/// Gives the device the token `to` in place of `from` (presented and read as current),
/// issued and expiring at those instants.
fn replace_token(
    server: &Instances,
    device: &str,
    (from, to): (&str, &str),
    issued_at: i64,
    expires_at: i64,
) -> Result<bool, Box<dyn std::error::Error>> {
    Ok(server.storage.rotate_token(
        device,
        &hash_secret(from),
        &hash_secret(from),
        &hash_secret(to),
        issued_at,
        expires_at,
    )?)
}

type HeldSync = tokio::task::JoinHandle<
    Result<(StatusCode, HeaderMap, Vec<u8>), fieldsync_tests::HarnessError>,
>;

/// A sync with `token` carrying a report, held before its feed until the returned sender
/// is dropped.
async fn hold_a_sync(
    server: &Arc<Instances>,
    token: &str,
) -> Result<(mpsc::Sender<()>, HeldSync), Box<dyn std::error::Error>> {
    let release = hold_device_reports(&database_url(server)?)?;
    let held = tokio::spawn({
        let (server, token) = (server.clone(), token.to_owned());
        async move { server.sync(&token, &pull_reporting("2.4.1 (381)")).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    Ok((release, held))
}

/// Two syncs with one due token, the first held part-way (the device gave up on it: a
/// timeout, a dropped connection) while its retry goes through and hands the device a new
/// token. When the first one finishes, the token the device now holds must still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_ends_after_its_retry_does_not_kill_the_token_the_retry_handed_out()
-> TestResult {
    let (_dir, server, enrolled) = a_device_heard_by_two_instances("token_race_retry").await?;
    // The token the device holds is due for rotation.
    let now = chrono::Utc::now().timestamp_millis();
    let aged = "aged-token";
    replace_token(
        &server,
        &enrolled.device_id,
        (&enrolled.token, aged),
        now - 50 * DAY,
        now + 40 * DAY,
    )?;

    // The first attempt is held before its feed; the device gives up on it.
    let (release, first) = hold_a_sync(&server, aged).await?;
    assert!(!first.is_finished(), "the first attempt is held");

    // Its retry goes through and hands out a new token, which the device takes.
    let (status, headers, _) = server.sync(aged, &pull()).await?;
    assert_eq!(status, StatusCode::OK);
    let taken = new_token(&headers).ok_or("the retry hands out a new token")?;

    // The first attempt finishes on the server (its answer goes nowhere).
    drop(release);
    let (status, _, _) = first.await??;
    assert_eq!(status, StatusCode::OK);

    let (status, _, _) = server.sync(&taken, &pull()).await?;
    assert_eq!(
        status,
        StatusCode::OK,
        "the device is locked out: the token its latest answer gave it was replaced by a sync \
         that started before it"
    );
    Ok(())
}

/// The same race with the instances' clocks an hour apart: the retry is handled by an
/// instance whose clock is behind the one the first attempt is held on. Which token a
/// sync may replace must not depend on the servers' clocks agreeing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_ends_after_its_retry_does_not_kill_the_retrys_token_when_the_servers_clocks_disagree()
-> TestResult {
    let (_dir, server, enrolled) = a_device_heard_by_two_instances("token_race_skew").await?;
    let now = chrono::Utc::now().timestamp_millis();
    let device = enrolled.device_id.as_str();
    let aged = "aged-token";
    replace_token(
        &server,
        device,
        (&enrolled.token, aged),
        now - 50 * DAY,
        now + 40 * DAY,
    )?;

    let (release, first) = hold_a_sync(&server, aged).await?;
    assert!(!first.is_finished(), "the first attempt is held");

    // The retry, on an instance whose clock is an hour behind, rotates the token the
    // device holds and hands it `taken` (what that instance's sync stores, stamped with
    // its clock).
    let later = chrono::Utc::now().timestamp_millis();
    let taken = "taken-by-the-retry";
    let slow = later - 3_600_000;
    assert!(replace_token(
        &server,
        device,
        (aged, taken),
        slow,
        slow + 90 * DAY
    )?);

    drop(release);
    let (status, _, _) = first.await??;
    assert_eq!(status, StatusCode::OK);

    let (status, _, _) = server.sync(taken, &pull()).await?;
    assert_eq!(
        status,
        StatusCode::OK,
        "the device is locked out: a sync that began before its retry replaced the token \
         the retry handed out, because the retry's server clock was behind"
    );
    Ok(())
}

/// A sync with the previous token is held while the device's current one is rotated by
/// another sync; when it finishes, it must not answer with a token it never stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_never_answers_with_a_token_the_server_did_not_store() -> TestResult {
    let (_dir, server, enrolled) = a_device_heard_by_two_instances("token_race_unstored").await?;
    // The device's previous token `old` (still valid) and its current one `due`, half a
    // lifetime old.
    let now = chrono::Utc::now().timestamp_millis();
    let device = enrolled.device_id.as_str();
    replace_token(
        &server,
        device,
        (&enrolled.token, "old"),
        now - 60 * DAY,
        now + 30 * DAY,
    )?;
    replace_token(
        &server,
        device,
        ("old", "due"),
        now - 50 * DAY,
        now + 40 * DAY,
    )?;

    let (release, held) = hold_a_sync(&server, "old").await?;
    assert!(!held.is_finished(), "the sync with the old token is held");
    // The current token is rotated meanwhile: `old` is neither current nor previous now.
    let (status, headers, _) = server.sync("due", &pull()).await?;
    assert_eq!(status, StatusCode::OK);
    new_token(&headers).ok_or("the due token is rotated")?;

    drop(release);
    let (status, headers, _) = held.await??;
    assert_eq!(status, StatusCode::OK);
    if let Some(handed) = new_token(&headers) {
        let (status, _, _) = server.sync(&handed, &pull()).await?;
        assert_eq!(
            status,
            StatusCode::OK,
            "the server answered with a token it never stored"
        );
    }
    Ok(())
}

/// Many syncs at once with one due token (a device's retries, two of its syncs that overlap),
/// on both instances: the rotations are atomic, so exactly one of the tokens they handed out
/// is current (the others were replaced by syncs that began after them), and the token the
/// device presented still works, so that whichever answer it keeps, it can sync again.
async fn concurrent_syncs_with_one_due_token_leave_one_handed_out_token_current_and_the_presented_one_working_on(
    backend: Backend,
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Arc::new(Instances::open(
        backend,
        dir.path(),
        "token_concurrent",
        Limits::default(),
    )?);
    add_li(&server)?;
    let enrolled = server.enroll_device("am-li").await?;
    let now = chrono::Utc::now().timestamp_millis();
    let device = enrolled.device_id.clone();
    let aged = "aged-token";
    server.storage.rotate_token(
        &device,
        &hash_secret(&enrolled.token),
        &hash_secret(&enrolled.token),
        &hash_secret(aged),
        now - 50 * DAY,
        now + 40 * DAY,
    )?;
    for round in 0..3 {
        let syncs: Vec<_> = (0..8)
            .map(|_| {
                let server = server.clone();
                tokio::spawn(async move { server.sync(aged, &pull()).await })
            })
            .collect();
        let mut handed = Vec::new();
        for sync in syncs {
            let (status, headers, _) = sync.await??;
            assert_eq!(status, StatusCode::OK);
            handed.extend(new_token(&headers));
        }
        assert!(!handed.is_empty(), "round {round}: a due token is rotated");
        let current: Vec<_> = handed
            .iter()
            .filter(|t| {
                server
                    .storage
                    .token_status(&device, &hash_secret(t))
                    .ok()
                    .flatten()
                    .is_some_and(|s| !s.previous)
            })
            .collect();
        assert_eq!(
            current.len(),
            1,
            "round {round}: {} tokens handed out, {} of them current",
            handed.len(),
            current.len()
        );
        let presented = server.storage.token_status(&device, &hash_secret(aged))?;
        assert!(
            presented.is_some_and(|s| s.previous && s.has_previous),
            "round {round}: the token the device presented is still its previous one"
        );
    }
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(concurrent_syncs_with_one_due_token_leave_one_handed_out_token_current_and_the_presented_one_working_on: concurrent_syncs_with_one_due_token_leave_one_handed_out_token_current_and_the_presented_one_working, concurrent_syncs_with_one_due_token_leave_one_handed_out_token_current_and_the_presented_one_working_on_postgres);

/// An honest device whose rotation answers are lost twice (or whose app was killed before
/// it kept the new token) goes on with the token it has: each sync with it hands out a new
/// one, and the first sync with the one it finally keeps retires the old one.
async fn a_device_whose_rotation_answers_are_lost_twice_keeps_syncing_and_takes_the_third_on(
    backend: Backend,
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), "token_lost_twice", Limits::default())?;
    add_li(&server)?;
    let enrolled = server.enroll_device("am-li").await?;
    let now = chrono::Utc::now().timestamp_millis();
    let aged = "aged-token";
    server.storage.rotate_token(
        &enrolled.device_id,
        &hash_secret(&enrolled.token),
        &hash_secret(&enrolled.token),
        &hash_secret(aged),
        now - 50 * DAY,
        now + 40 * DAY,
    )?;
    let mut lost = Vec::new();
    for _ in 0..2 {
        let (status, headers, _) = server.sync(aged, &pull()).await?;
        assert_eq!(status, StatusCode::OK);
        lost.push(new_token(&headers).ok_or("a new token each time")?);
    }
    let (status, headers, _) = server.sync(aged, &pull()).await?;
    assert_eq!(status, StatusCode::OK);
    let kept = new_token(&headers).ok_or("a third new token")?;
    let (status, headers, _) = server.sync(&kept, &pull()).await?;
    assert_eq!((status, new_token(&headers)), (StatusCode::OK, None));
    for token in [aged, lost[0].as_str(), lost[1].as_str()] {
        let (status, _, _) = server.sync(token, &pull()).await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token} is retired");
    }
    let (status, _, _) = server.sync(&kept, &pull()).await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(a_device_whose_rotation_answers_are_lost_twice_keeps_syncing_and_takes_the_third_on: a_device_whose_rotation_answers_are_lost_twice_keeps_syncing_and_takes_the_third, a_device_whose_rotation_answers_are_lost_twice_keeps_syncing_and_takes_the_third_on_postgres);

/// A token copied off a phone at enrollment (or any replaced token) is a thief's: once the
/// phone has synced with the token that replaced it, the copy must neither keep working
/// nor replace the phone's token.
async fn a_replaced_token_is_refused_once_its_successor_has_been_used_on(
    backend: Backend,
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), "token_stolen_old", Limits::default())?;
    add_li(&server)?;
    // Enrolled 50 days ago; the thief copied the enrollment token then.
    let now = chrono::Utc::now().timestamp_millis();
    let then = now - 50 * DAY;
    let code = enrollment_code(server.storage.as_ref(), "am-li", then)?;
    let copied = "enrollment-token";
    server.storage.enroll(
        &hash_secret(&code),
        "Li's phone",
        &hash_secret(copied),
        then,
    )?;

    // The phone syncs, takes its new token and syncs with it: it has its new token.
    let (status, headers, _) = server.sync(copied, &pull()).await?;
    assert_eq!(status, StatusCode::OK);
    let phone = new_token(&headers).ok_or("the enrollment token is rotated")?;
    let (status, headers, _) = server.sync(&phone, &pull()).await?;
    assert_eq!((status, new_token(&headers)), (StatusCode::OK, None));

    // The thief syncs with the copy.
    let (thief_status, thief_headers, _) = server.sync(copied, &pull()).await?;
    let (phone_status, _, _) = server.sync(&phone, &pull()).await?;
    assert_eq!(
        phone_status,
        StatusCode::OK,
        "the phone is locked out by a sync with its replaced token"
    );
    assert_eq!(
        (thief_status, new_token(&thief_headers).is_some()),
        (StatusCode::UNAUTHORIZED, false),
        "the replaced token still works (and mints a fresh token of a full lifetime)"
    );
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(a_replaced_token_is_refused_once_its_successor_has_been_used_on: a_replaced_token_is_refused_once_its_successor_has_been_used, a_replaced_token_is_refused_once_its_successor_has_been_used_on_postgres);

/// Revocation and expiry hold for both of a device's tokens: neither works, and neither
/// trades itself for a new one.
async fn a_revoked_devices_tokens_and_an_expired_previous_token_get_nothing_on(
    backend: Backend,
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), "token_revoked", Limits::default())?;
    add_li(&server)?;
    let now = chrono::Utc::now().timestamp_millis();
    let enrolled = server.enroll_device("am-li").await?;
    let device = enrolled.device_id.as_str();
    // An expired previous token and a current one due for rotation.
    server.storage.rotate_token(
        device,
        &hash_secret(&enrolled.token),
        &hash_secret(&enrolled.token),
        &hash_secret("expired-previous"),
        now - 200 * DAY,
        now - DAY,
    )?;
    server.storage.rotate_token(
        device,
        &hash_secret("expired-previous"),
        &hash_secret("expired-previous"),
        &hash_secret("due"),
        now - 50 * DAY,
        now + 40 * DAY,
    )?;
    let (status, headers, _) = server.sync("expired-previous", &pull()).await?;
    assert_eq!(
        (status, new_token(&headers)),
        (StatusCode::UNAUTHORIZED, None)
    );
    // Revoked: the current token and the previous one (from a rotation) are both refused.
    let (status, headers, _) = server.sync("due", &pull()).await?;
    assert_eq!(status, StatusCode::OK);
    let fresh = new_token(&headers).ok_or("rotated")?;
    assert!(server.storage.revoke_device(device, now)?);
    for token in ["due", fresh.as_str()] {
        let (status, headers, _) = server.sync(token, &pull()).await?;
        assert_eq!(
            (status, new_token(&headers)),
            (StatusCode::UNAUTHORIZED, None)
        );
    }
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(a_revoked_devices_tokens_and_an_expired_previous_token_get_nothing_on: a_revoked_devices_tokens_and_an_expired_previous_token_get_nothing, a_revoked_devices_tokens_and_an_expired_previous_token_get_nothing_on_postgres);
