//! What a phone pushes when it edits a document the server already holds: only the new
//! change, not the document's whole history again; and what it takes for an
//! acknowledgement: only the documents the server's answer lists as stored.
//!
//! Found by the sync benchmark (`fieldsync-sync-bench`, November 2026): core deleted a
//! document's outbox row, and with it the server heads it recorded, once the server had
//! confirmed every local edit; the next local edit started a new row with no server heads,
//! so the next push carried every change of the document since its creation (the server
//! dropped them as duplicates). A shelf display with a year of weekly checks went whole
//! each time it was checked again: a week offline pushed 4,110 changes of which 500 were
//! new. The same happened to a document the phone received from the server and edited for
//! the first time. Both tests go through core's own sync client and an in-process server;
//! against the code before the fix each fails with 3 changes pending instead of 1.

use std::sync::Arc;

use fieldsync_core::fixtures::{at, sample_store};
use fieldsync_core::{CheckPoint, DocId, LocalStore, NewVisit, Role, VisitKind};
use fieldsync_tests::client_device::ClientDevice;
use fieldsync_tests::in_process::InProcessServer;
use fieldsync_tests::phone::phones_dir;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn visit(store: &DocId) -> NewVisit {
    NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at("2026-11-23T09:05:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    }
}

/// Changes of `id` the next push would carry.
fn pending_changes(
    local: &Arc<LocalStore>,
    id: &DocId,
) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    Ok(local
        .outbox_batch(100)?
        .iter()
        .filter(|d| d.id == *id)
        .map(|d| d.changes.len())
        .sum())
}

/// A server with one store of `am-li`, and a phone of hers that has synced it.
async fn district(
    dir: &std::path::Path,
) -> Result<(InProcessServer, DocId), Box<dyn std::error::Error + Send + Sync>> {
    let server = InProcessServer::start(&dir.join("server"), None).await?;
    server.add_user("am-li", Role::AccountManager)?;
    let store = {
        let admin = server.admin()?;
        let id = admin.local.create_store(sample_store("am-li", 1))?;
        admin.push()?;
        id
    };
    Ok((server, store))
}

/// A phone of `am-li` named `name`, enrolled on `server`.
async fn li_phone(
    server: &InProcessServer,
    dir: &std::path::Path,
    name: &str,
) -> Result<ClientDevice, Box<dyn std::error::Error + Send + Sync>> {
    let start = at("2026-11-23T09:00:00+08:00");
    Ok(ClientDevice::enroll(server, dir, "am-li", Role::AccountManager, name, start).await?)
}

#[tokio::test]
async fn an_edit_after_a_confirmed_push_pushes_only_the_new_change() -> TestResult {
    let dir = phones_dir()?;
    let (server, store) = district(dir.path()).await?;
    let phone = li_phone(&server, dir.path(), "li-phone").await?;
    phone.sync().await?;
    let v = phone.local.create_visit(visit(&store))?;
    phone.local.set_visit_notes(&v, "shelf tidy")?;
    phone.sync().await?;
    assert_eq!(pending_changes(&phone.local, &v)?, 0);

    phone
        .local
        .append_visit_notes(&v, "; owner wants slim packs")?;
    assert_eq!(
        pending_changes(&phone.local, &v)?,
        1,
        "the server holds the creation and the first notes already"
    );
    Ok(())
}

#[tokio::test]
async fn a_first_edit_of_a_received_document_pushes_only_the_new_change() -> TestResult {
    let dir = phones_dir()?;
    let (server, store) = district(dir.path()).await?;
    let old = li_phone(&server, dir.path(), "old-phone").await?;
    old.sync().await?;
    let v = old.local.create_visit(visit(&store))?;
    old.local.set_visit_notes(&v, "shelf tidy")?;
    old.sync().await?;

    let new = li_phone(&server, dir.path(), "new-phone").await?;
    new.sync().await?;
    new.local
        .append_visit_notes(&v, "; owner wants slim packs")?;
    assert_eq!(
        pending_changes(&new.local, &v)?,
        1,
        "everything the new phone received is on the server"
    );
    Ok(())
}

/// A push reads a document's unconfirmed changes straight from its stored chunks; once
/// compaction has folded those chunks into a snapshot, it must load the document and
/// still send every change the server lacks.
#[tokio::test]
async fn a_push_after_compaction_still_carries_every_unconfirmed_change() -> TestResult {
    let dir = phones_dir()?;
    let (server, store) = district(dir.path()).await?;
    let phone = li_phone(&server, dir.path(), "li-phone").await?;
    phone.sync().await?;
    let v = phone.local.create_visit(visit(&store))?;
    phone.sync().await?;
    phone.local.set_visit_notes(&v, "shelf tidy")?;
    phone
        .local
        .append_visit_notes(&v, "; owner wants slim packs")?;
    assert_eq!(
        pending_changes(&phone.local, &v)?,
        2,
        "read from the chunks"
    );

    assert!(phone.local.compact(1, 100)? >= 1);
    // Two more edits: their chunks are numbered from 1 again, after the snapshot.
    phone.local.append_visit_notes(&v, "; back Friday")?;
    phone.local.append_visit_notes(&v, "; bring the poster")?;
    assert_eq!(
        pending_changes(&phone.local, &v)?,
        4,
        "two folded into the snapshot, two in new chunks; the server holds the creation"
    );
    phone.sync().await?;
    assert_eq!(pending_changes(&phone.local, &v)?, 0);
    let on_server = server.storage().document_changes(v.as_str())?;
    assert_eq!(on_server.len(), 5, "the creation and four notes");

    // The next edit is read from its chunk again, and only it is new.
    phone.local.append_visit_notes(&v, "; paid")?;
    assert_eq!(pending_changes(&phone.local, &v)?, 1);
    phone.sync().await?;
    assert_eq!(server.storage().document_changes(v.as_str())?.len(), 6);
    Ok(())
}

/// A server (or something in front of it) that answers a push with a 200 that does not
/// list the pushed documents as stored: the phone must not take that for an
/// acknowledgement.
#[tokio::test]
async fn an_answer_that_does_not_confirm_a_pushed_document_leaves_it_pending() -> TestResult {
    use axum::http::header;
    use fieldsync_core::protocol::{self, SyncResponse};
    use fieldsync_core::{DeviceIdentity, StoreOptions, SyncClient, SyncConfig, SyncFailure};

    let app = axum::Router::new().route(
        "/v1/sync",
        axum::routing::post(|| async {
            let answer = SyncResponse {
                cursor: "0".into(),
                ..SyncResponse::default()
            };
            (
                [(header::CONTENT_TYPE, protocol::CONTENT_TYPE)],
                protocol::encode(&answer),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir()?;
    let local = Arc::new(LocalStore::open(
        dir.path().join("li.db"),
        DeviceIdentity::new("am-li", "li-phone"),
        StoreOptions::default(),
    )?);
    let store = local.create_store(sample_store("am-li", 1))?;
    let pending = local.pending_documents()?.len();
    let mut config = SyncConfig::new(url, "token");
    config.max_attempts = 1;
    let client = SyncClient::new(config, local.clone())?;
    let failed = client
        .sync(&|_| {})
        .await
        .expect_err("an answer that confirms nothing is not a sync");
    assert!(
        matches!(&failed, SyncFailure::ServerUnavailable(m) if m.contains("does not confirm")),
        "{failed:?}"
    );
    assert_eq!(local.pending_documents()?.len(), pending);
    assert_eq!(
        local.receipt(&store)?,
        fieldsync_core::Receipt::SavedOnPhone
    );
    server.abort();
    Ok(())
}
