//! The phone's side of token rotation: a device that keeps syncing takes the new token a
//! sync hands it, uses it from then on, and keeps it across a restart of the app, which
//! still passes the token it was enrolled with. Real server on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;

use fieldsync_core::fixtures::{at, device};
use fieldsync_core::{SyncClient, SyncConfig};
use fieldsync_server::admin::enrollment_code;
use fieldsync_server::auth::hash_secret;
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{AppState, Limits, SqliteStorage, serve};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_keeps_syncing_takes_its_new_token_retires_the_old_one_at_once_and_keeps_it_after_a_restart()
-> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = Arc::new(SqliteStorage::open(&dir.path().join("fieldsync.db"))?);
    storage.add_user(
        &User {
            id: "am-li".into(),
            role: fieldsync_core::Role::AccountManager,
            name: "Li Wei".into(),
        },
        0,
    )?;
    let now = chrono::Utc::now().timestamp_millis();
    let code = enrollment_code(storage.as_ref(), "am-li", now)?;
    let enrolled = storage.enroll(&hash_secret(&code), "phone", &hash_secret("t0"), now)?;
    // The token the app holds was issued 60 days ago.
    storage.rotate_token(
        &enrolled.device_id,
        &hash_secret("t0"),
        &hash_secret("t0"),
        &hash_secret("app-token"),
        now - 60 * 86_400_000,
        now + 30 * 86_400_000,
    )?;
    let state = AppState {
        storage: storage.clone(),
        limits: Limits::default(),
        metrics: None,
    };
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<SocketAddr>();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        state,
        "127.0.0.1:0".parse()?,
        move |addr| {
            let _ = ready_tx.send(addr);
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let addr = ready_rx.await?;
    let phone_path = dir.path().join("li.db");
    let config = SyncConfig::new(format!("http://{addr}"), "app-token");
    let start = at("2026-11-23T09:00:00+08:00");

    let (phone, _) = device(&phone_path, "am-li", start)?;
    let phone = Arc::new(phone);
    let client = SyncClient::new(config.clone(), phone.clone())?;
    let first = client.sync(&|_| {}).await?;
    assert!(first.token_rotated, "a 60-day-old token is replaced");
    let kept = phone
        .rotated_token("app-token")?
        .ok_or("the new token is kept in the store")?;
    let status = storage
        .token_status(&enrolled.device_id, &hash_secret(&kept))?
        .ok_or("the device")?;
    assert!(
        !status.previous,
        "what the phone keeps is the server's current token"
    );
    assert!(
        !status.has_previous,
        "the sync that took the new token used it at once: the replaced one is retired"
    );
    // Presenting the old token again would be rotated again: no rotation means the new
    // token was sent.
    let second = client.sync(&|_| {}).await?;
    assert!(!second.token_rotated, "the same client sends its new token");
    drop(client);
    drop(phone);

    // The app restarts, still configured with the token it was enrolled with.
    let (phone, _) = device(&phone_path, "am-li", start)?;
    let client = SyncClient::new(config, Arc::new(phone))?;
    let third = client.sync(&|_| {}).await?;
    assert!(
        !third.token_rotated,
        "after a restart the kept token is sent"
    );
    Ok(())
}
