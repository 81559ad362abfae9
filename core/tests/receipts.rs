//! Where a record stands on its way to the server, as an app shows it: every receipt state
//! is reachable, heard by a watcher when it changes, and still true after the app is
//! killed or its sync is cancelled.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::{LocalStore, Receipt, Result, SyncClient, SyncConfig, Topics};

fn phone(dir: &std::path::Path) -> Result<LocalStore> {
    Ok(device(
        dir.join("phone.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?
    .0)
}

#[test]
fn a_document_marked_uploading_is_heard_by_a_receipt_watcher_and_reads_uploading() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = phone(dir.path())?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let heard = Arc::new(Mutex::new(0));
    let _watch = db.subscribe_changes(Topics::UPLOADS, {
        let heard = heard.clone();
        move |_, _| *heard.lock().expect("lock") += 1
    });
    db.mark_uploading(std::slice::from_ref(&store), true)?;
    assert_eq!(*heard.lock().expect("lock"), 1);
    assert_eq!(db.receipt(&store)?, Receipt::Uploading);
    db.mark_uploading(std::slice::from_ref(&store), false)?;
    assert_eq!(*heard.lock().expect("lock"), 2);
    assert_eq!(db.receipt(&store)?, Receipt::SavedOnPhone);
    Ok(())
}

#[test]
fn a_store_reopened_after_a_kill_mid_push_shows_saved_on_phone_not_uploading() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = {
        let db = phone(dir.path())?;
        let store = db.create_store(sample_store("am-li", 1))?;
        db.mark_uploading(std::slice::from_ref(&store), true)?;
        assert_eq!(db.receipt(&store)?, Receipt::Uploading);
        // Dropped without unmarking: what a kill leaves in the file.
        store
    };
    let db = phone(dir.path())?;
    assert_eq!(db.receipt(&store)?, Receipt::SavedOnPhone);
    Ok(())
}

#[test]
fn a_refused_record_and_a_confirmed_record_keep_their_receipts_across_a_restart() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (refused, confirmed) = {
        let db = phone(dir.path())?;
        let refused = db.create_store(sample_store("am-li", 1))?;
        let confirmed = db.create_store(sample_store("am-li", 2))?;
        db.mark_rejected(&refused, "scope: not yours")?;
        let pushed = db.outbox_batch(10)?;
        let mine = pushed.iter().find(|d| d.id == confirmed).expect("pending");
        db.confirm_pushed(&confirmed, mine.local_edits, &mine.heads)?;
        (refused, confirmed)
    };
    let db = phone(dir.path())?;
    assert_eq!(
        db.receipt(&refused)?,
        Receipt::Rejected("scope: not yours".into())
    );
    assert_eq!(db.receipt(&confirmed)?, Receipt::OnServer);
    assert_eq!(db.last_synced()?, None, "no sync ever completed");
    Ok(())
}

/// A server that accepts connections and never answers: a push stays in flight.
async fn black_hole() -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        // Bounded: a test makes a few connections at most.
        for _ in 0..16 {
            match listener.accept().await {
                Ok((socket, _)) => held.push(socket),
                Err(_) => break,
            }
        }
    });
    Ok((url, task))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_sync_leaves_its_records_saved_on_the_phone_not_uploading() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = Arc::new(phone(dir.path())?);
    let store = db.create_store(sample_store("am-li", 1))?;
    let (url, server) = black_hole().await?;
    let mut config = SyncConfig::new(url, "token");
    config.request_timeout = Duration::from_secs(60);
    let client = SyncClient::new(config, db.clone())?;
    let sync = tokio::spawn(async move { client.sync(&|_| {}).await });
    let mut seen_uploading = false;
    for _ in 0..200 {
        if db.receipt(&store)? == Receipt::Uploading {
            seen_uploading = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen_uploading, "the push marks it uploading");
    sync.abort();
    let _ = sync.await;
    let mut receipt = db.receipt(&store)?;
    for _ in 0..200 {
        if receipt != Receipt::Uploading {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        receipt = db.receipt(&store)?;
    }
    assert_eq!(receipt, Receipt::SavedOnPhone);
    server.abort();
    Ok(())
}
