//! Core's sync client against a real server on 127.0.0.1: receipts, rejections that do not
//! block the queue, cursor recovery and the classification of failures.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::{
    CheckPoint, LocalStore, NewVisit, Receipt, StoreClassification, SyncClient, SyncConfig,
    SyncFailure, SyncPhase, ValueTier, VisitKind,
};
use fieldsync_server::admin::{AdminDevice, enrollment_code};
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{AppState, Limits, SqliteStorage, serve};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Server {
    dir: tempfile::TempDir,
    storage: Arc<SqliteStorage>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    async fn start() -> Result<Server, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let storage = Arc::new(SqliteStorage::open(&dir.path().join("fieldsync.db"))?);
        for (id, role) in [("am-li", "account_manager"), ("sup-wang", "supervisor")] {
            storage.add_user(
                &User {
                    id: id.into(),
                    role: fieldsync_core::Role::parse(role)?,
                    name: id.into(),
                },
                0,
            )?;
        }
        let state = AppState {
            storage: storage.clone(),
            limits: Limits::default(),
            metrics: None,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
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
        Ok(Server {
            dir,
            storage,
            addr,
            stop: Some(stop),
        })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn phone(
        &self,
        user: &str,
    ) -> Result<(Arc<LocalStore>, SyncClient), Box<dyn std::error::Error>> {
        let code = enrollment_code(
            self.storage.as_ref(),
            user,
            chrono::Utc::now().timestamp_millis(),
        )?;
        let body = serde_json::json!({"code": code, "device_name": user}).to_string();
        let reply = reqwest::Client::new()
            .post(format!("{}/v1/enroll", self.url()))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?
            .bytes()
            .await?;
        let enrolled: fieldsync_core::protocol::EnrollResponse = serde_json::from_slice(&reply)?;
        let (store, _) = device(
            self.dir
                .path()
                .join(format!("{user}-{}.db", fieldsync_core::DocId::new())),
            user,
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let store = Arc::new(store);
        let client = SyncClient::new(SyncConfig::new(self.url(), enrolled.token), store.clone())?;
        Ok((store, client))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn visit(store: &fieldsync_core::DocId) -> NewVisit {
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

fn no_progress(_: fieldsync_core::SyncProgress) {}

#[tokio::test]
async fn a_visit_turns_from_saved_on_the_phone_to_on_the_server_and_reaches_the_supervisor()
-> TestResult {
    let server = Server::start().await?;
    let store = {
        let admin = AdminDevice::open_with_clock(
            server.dir.path(),
            server.storage.as_ref(),
            fieldsync_core::fixtures::office_clock(),
        )?;
        let id = admin.local.create_store(sample_store("am-li", 1))?;
        admin.push()?;
        id
    };
    let (li, li_sync) = server.phone("am-li").await?;
    li_sync.sync(&no_progress).await?;
    let v = li.create_visit(visit(&store))?;
    li.set_visit_notes(&v, "shelf tidy, owner wants slim packs")?;
    assert_eq!(li.receipt(&v)?, Receipt::SavedOnPhone);

    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let report = li_sync
        .sync(&move |p| seen.lock().map(|mut e| e.push(p)).unwrap_or(()))
        .await?;
    assert_eq!(li.receipt(&v)?, Receipt::OnServer);
    assert_eq!(
        (report.round_trips, report.docs_pushed),
        (1, 1),
        "a day's work is one round trip"
    );
    let events = events.lock().map(|e| e.clone()).unwrap_or_default();
    assert_eq!(events.last().map(|p| p.phase), Some(SyncPhase::Done));
    assert!(
        events
            .iter()
            .any(|p| p.docs_pushed == 1 && p.bytes_sent > 0)
    );

    let (sup, sup_sync) = server.phone("sup-wang").await?;
    sup_sync.sync(&no_progress).await?;
    assert_eq!(sup.visit(&v)?.notes, "shelf tidy, owner wants slim packs");
    Ok(())
}

#[tokio::test]
async fn a_rejected_document_stays_on_the_phone_and_does_not_hold_up_the_others() -> TestResult {
    let server = Server::start().await?;
    let store = {
        let admin = AdminDevice::open_with_clock(
            server.dir.path(),
            server.storage.as_ref(),
            fieldsync_core::fixtures::office_clock(),
        )?;
        let id = admin.local.create_store(sample_store("am-li", 1))?;
        admin.push()?;
        id
    };
    let (li, li_sync) = server.phone("am-li").await?;
    li_sync.sync(&no_progress).await?;
    li.update_store_classification(
        &store,
        StoreClassification {
            tier: Some(ValueTier::A),
            ..Default::default()
        },
    )?;
    let v = li.create_visit(visit(&store))?;

    let report = li_sync.sync(&no_progress).await?;
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(
        (&report.rejected[0].0, report.rejected[0].1.as_str()),
        (&store, "store_contact_only")
    );
    assert_eq!(li.receipt(&v)?, Receipt::OnServer, "the visit went through");
    assert!(
        matches!(li.receipt(&store)?, Receipt::Rejected(reason) if reason.starts_with("store_contact_only"))
    );
    assert_eq!(
        li.store(&store)?.tier,
        ValueTier::A,
        "the refused edit is kept on the phone"
    );
    assert_eq!(server.storage.document_changes(v.as_str())?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn an_unreachable_server_is_reported_offline_and_a_revoked_device_unauthorized() -> TestResult
{
    let server = Server::start().await?;
    let (li, li_sync) = server.phone("am-li").await?;
    // A port nobody listens on: connection refused, classified offline after the retries.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut config = SyncConfig::new(format!("http://{closed}"), "token");
    config.max_attempts = 2;
    config.initial_backoff = std::time::Duration::from_millis(10);
    let offline = SyncClient::new(config, li.clone())?;
    assert!(matches!(
        offline.sync(&no_progress).await,
        Err(SyncFailure::Offline(_))
    ));

    li_sync.sync(&no_progress).await?;
    let conn = rusqlite::Connection::open(server.dir.path().join("fieldsync.db"))?;
    let device: String =
        conn.query_row("SELECT id FROM devices WHERE user_id = 'am-li'", [], |r| {
            r.get(0)
        })?;
    server.storage.revoke_device(&device, 1)?;
    assert!(matches!(
        li_sync.sync(&no_progress).await,
        Err(SyncFailure::Unauthorized(_))
    ));
    Ok(())
}
