//! Device tokens expire and are rotated through sync (docs/protocol.md, "Token rotation"):
//! a sync with a token half its lifetime old gets a new one in `Fieldsync-Token`; the old
//! one keeps working until its own expiry (its answer may have been lost) or until the new
//! one is used; a token past its expiry is refused. On SQLite and on PostgreSQL (one instance: a rotation is stored
//! before it is handed out, so any instance would do).

use axum::http::{HeaderMap, StatusCode};
use fieldsync_core::Role;
use fieldsync_core::protocol::{SyncRequest, TOKEN_EXPIRES_HEADER, TOKEN_HEADER};
use fieldsync_server::Limits;
use fieldsync_server::auth::hash_secret;
use fieldsync_server::storage::User;
use fieldsync_tests::Backend;
use fieldsync_tests::routes::Instances;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DAY: i64 = 86_400_000;

fn pull() -> SyncRequest {
    fieldsync_tests::routes::outbox_request(&[], None)
}

fn new_token(headers: &HeaderMap) -> Option<(String, i64)> {
    let token = headers.get(TOKEN_HEADER)?.to_str().ok()?.to_owned();
    let expires = headers
        .get(TOKEN_EXPIRES_HEADER)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some((token, expires))
}

async fn a_token_half_its_life_old_is_replaced_through_sync_and_an_expired_one_is_refused_on(
    backend: Backend,
) -> TestResult {
    let backend = match backend {
        Backend::Postgres { .. } => Backend::Postgres { instances: 1 },
        b => b,
    };
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), "token_rotation", Limits::default())?;
    server.storage.add_user(
        &User {
            id: "am-li".into(),
            role: Role::AccountManager,
            name: "Li Wei".into(),
        },
        0,
    )?;
    let enrolled = server.enroll_device("am-li").await?;
    let device = enrolled.device_id.as_str();
    let now = chrono::Utc::now().timestamp_millis();

    // A fresh token is left alone.
    let (status, headers, _) = server.sync(&enrolled.token, &pull()).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(new_token(&headers), None, "a fresh token is not rotated");

    // The same device, with a token issued 50 of its 90 days ago.
    let aged = "aged-token";
    server.storage.rotate_token(
        device,
        &hash_secret(&enrolled.token),
        &hash_secret(&enrolled.token),
        &hash_secret(aged),
        now - 50 * DAY,
        now + 40 * DAY,
    )?;
    let (status, headers, _) = server.sync(aged, &pull()).await?;
    assert_eq!(status, StatusCode::OK);
    let (fresh, expires) = new_token(&headers).ok_or("a new token in the answer")?;
    assert_ne!(fresh, aged);
    assert!(
        (expires - (now + 90 * DAY)).abs() < 60_000,
        "90 days from now"
    );

    // Until the new one is used, the old one still works (its answer may never have
    // arrived) and gets a new token again, in place of the one never received.
    let (status, headers, _) = server.sync(aged, &pull()).await?;
    assert_eq!(status, StatusCode::OK);
    let (again, _) = new_token(&headers).ok_or("the old token's sync gets a new one")?;
    let (status, _, _) = server.sync(&fresh, &pull()).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the token never received");
    // The new one works and is not rotated again; from then on the old one is refused.
    let (status, headers, _) = server.sync(&again, &pull()).await?;
    assert_eq!((status, new_token(&headers)), (StatusCode::OK, None));
    let (status, _, _) = server.sync(aged, &pull()).await?;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old token, once the new one was used"
    );

    // A token past its expiry is refused.
    server.storage.rotate_token(
        device,
        &hash_secret(&again),
        &hash_secret(&again),
        &hash_secret("expired-token"),
        now - 100 * DAY,
        now - DAY,
    )?;
    let (status, _, _) = server.sync("expired-token", &pull()).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(a_token_half_its_life_old_is_replaced_through_sync_and_an_expired_one_is_refused_on: a_token_half_its_life_old_is_replaced_through_sync_and_an_expired_one_is_refused, a_token_half_its_life_old_is_replaced_through_sync_and_an_expired_one_is_refused_on_postgres);
