//! The sync server through its HTTP routes (no socket): enrollment, push and pull, scopes,
//! write rules, actor binding, revocation and reassignment.
//!
//! Every test runs twice: on SQLite, and on PostgreSQL with two instances (two storages,
//! each with its own pool and cache, behind two routers that take requests in turn).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::protocol::{
    self, DocChanges, EnrollResponse, ErrorBody, FeedCursor, SyncRequest, SyncResponse,
};
use fieldsync_core::{
    CheckPoint, DocId, LocalStore, NewStore, NewVisit, StoreClassification, ValueTier, VisitKind,
};
use fieldsync_server::Limits;
use fieldsync_server::admin::{AdminDevice, enrollment_code};
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_tests::Backend;
use fieldsync_tests::routes::Instances;
use serde_bytes::ByteBuf;
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct District {
    dir: std::path::PathBuf,
    /// The first instance's storage.
    storage: Arc<dyn SyncStorage>,
    /// The instances; requests take their routers in turn.
    server: Instances,
    _dir: tempfile::TempDir,
}

impl District {
    fn new(backend: Backend) -> Result<District, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().to_path_buf();
        let server = Instances::open(backend, &path, "sync_routes", Limits::default())?;
        let storage = server.storage.clone();
        for (id, role) in [
            ("am-li", "account_manager"),
            ("am-wu", "account_manager"),
            ("sup-wang", "supervisor"),
            ("mk-zhao", "market_team"),
        ] {
            storage.add_user(
                &User {
                    id: id.into(),
                    role: fieldsync_core::Role::parse(role)?,
                    name: id.into(),
                },
                0,
            )?;
        }
        Ok(District {
            dir: path,
            storage,
            server,
            _dir: dir,
        })
    }

    /// The next instance's router.
    fn router(&self) -> axum::Router {
        self.server.router()
    }

    fn admin(&self) -> Result<AdminDevice<'_>, Box<dyn std::error::Error>> {
        Ok(AdminDevice::open_with_clock(
            &self.dir,
            self.storage.as_ref(),
            fieldsync_core::fixtures::office_clock(),
        )?)
    }

    async fn enroll(&self, user: &str) -> Result<String, Box<dyn std::error::Error>> {
        let code = enrollment_code(
            self.storage.as_ref(),
            user,
            chrono::Utc::now().timestamp_millis(),
        )?;
        let body =
            serde_json::json!({"code": code, "device_name": format!("{user}'s phone")}).to_string();
        let response = self
            .router()
            .oneshot(
                Request::post("/v1/enroll")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body))?,
            )
            .await?;
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
        Ok(serde_json::from_slice::<EnrollResponse>(&bytes)?.token)
    }

    async fn post(
        &self,
        token: &str,
        request: &SyncRequest,
    ) -> Result<(StatusCode, Vec<u8>), Box<dyn std::error::Error>> {
        let response = self
            .router()
            .oneshot(
                Request::post("/v1/sync")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .header(header::CONTENT_TYPE, protocol::CONTENT_TYPE)
                    .body(Body::from(protocol::encode(request)))?,
            )
            .await?;
        let status = response.status();
        Ok((
            status,
            axum::body::to_bytes(response.into_body(), 64 << 20)
                .await?
                .to_vec(),
        ))
    }

    /// One device's whole sync: push its outbox, merge the feed, store the cursor.
    async fn sync(
        &self,
        token: &str,
        local: &LocalStore,
    ) -> Result<SyncResponse, Box<dyn std::error::Error>> {
        let batch = local.outbox_batch(1000)?;
        let push = batch
            .iter()
            .map(|d| DocChanges {
                doc: d.id.to_string(),
                changes: d.changes.iter().cloned().map(ByteBuf::from).collect(),
                index: None,
            })
            .collect();
        let request = SyncRequest {
            protocol: 1,
            cursor: local.sync_cursor()?,
            push,
            max_response_bytes: None,
            device: None,
            working_set: None,
            index_version: None,
        };
        let (status, body) = self.post(token, &request).await?;
        if status != StatusCode::OK {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&body)).into());
        }
        let response: SyncResponse = protocol::decode("sync response", &body)?;
        for d in &batch {
            local.confirm_pushed(&d.id, d.local_edits, &d.heads)?;
        }
        for doc in &response.changes {
            let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
            local.merge_changes(&DocId::parse("doc", &doc.doc)?, &changes)?;
        }
        local.set_sync_cursor(&response.cursor)?;
        Ok(response)
    }
}

/// One page of a pull-only sync with a small byte budget: merges it, stores its cursor.
async fn pull_page(
    district: &District,
    token: &str,
    phone: &LocalStore,
    max_bytes: u64,
) -> Result<SyncResponse, Box<dyn std::error::Error>> {
    let request = SyncRequest {
        protocol: 1,
        cursor: phone.sync_cursor()?,
        push: vec![],
        max_response_bytes: Some(max_bytes),
        device: None,
        working_set: None,
        index_version: None,
    };
    let (status, body) = district.post(token, &request).await?;
    if status != StatusCode::OK {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)).into());
    }
    let response: SyncResponse = protocol::decode("sync response", &body)?;
    for doc in &response.changes {
        let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
        phone.merge_changes(&DocId::parse("doc", &doc.doc)?, &changes)?;
    }
    phone.set_sync_cursor(&response.cursor)?;
    Ok(response)
}

/// Every document a phone holds, with its heads.
fn all_heads(
    phone: &LocalStore,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, Box<dyn std::error::Error>> {
    let mut heads = std::collections::BTreeMap::new();
    for kind in [
        fieldsync_core::DocKind::Store,
        fieldsync_core::DocKind::Visit,
        fieldsync_core::DocKind::ShelfDisplay,
    ] {
        for id in phone.document_ids(kind)? {
            let mut h = phone.heads(&id)?;
            h.sort();
            heads.insert(id.to_string(), h);
        }
    }
    Ok(heads)
}

/// A phone of `am-li` named `name`, enrolled in `district`: its token and its store.
async fn li_phone(
    district: &District,
    name: &str,
) -> Result<(String, fieldsync_core::LocalStore), Box<dyn std::error::Error>> {
    let token = district.enroll("am-li").await?;
    let (phone, _) = device(
        district.dir.join(format!("{name}.db")),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    Ok((token, phone))
}

/// Li's phone records, in rounds synced one after the other, a display check and a visit in
/// each of `stores`: every display's changes end up spread over the whole log.
/// `count` stores of Li's territory, made on the admin device (not pushed yet).
fn li_stores(
    admin: &AdminDevice<'_>,
    count: u32,
) -> Result<Vec<DocId>, Box<dyn std::error::Error>> {
    Ok((0..count)
        .map(|n| admin.local.create_store(sample_store("am-li", n)))
        .collect::<Result<Vec<_>, _>>()?)
}

async fn record_rounds(
    district: &District,
    token: &str,
    phone: &LocalStore,
    stores: &[DocId],
    rounds: usize,
) -> Result<Vec<DocId>, Box<dyn std::error::Error>> {
    let mut displays = Vec::new();
    for store in stores {
        displays.push(phone.create_shelf_display(store)?);
    }
    for round in 0..rounds {
        for (store, display) in stores.iter().zip(&displays) {
            let verdict = if round % 2 == 0 {
                fieldsync_core::Verdict::Pass
            } else {
                fieldsync_core::Verdict::Fail
            };
            phone.mark_display_standard(
                display,
                fieldsync_core::DisplayStandard::TidyCounter,
                verdict,
                &format!("round {round}"),
            )?;
            phone.create_visit(visit(store))?;
        }
        district.sync(token, phone).await?;
    }
    Ok(displays)
}

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

async fn an_account_manager_receives_only_the_stores_of_their_territory_and_never_their_own_changes_on(
    backend: Backend,
) -> TestResult {
    let district = District::new(backend)?;
    let admin = district.admin()?;
    let li_store = admin.local.create_store(sample_store("am-li", 1))?;
    let wu_store = admin.local.create_store(sample_store("am-wu", 2))?;
    admin.push()?;

    let token = district.enroll("am-li").await?;
    let (phone, _) = device(
        district.dir.join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let first = district.sync(&token, &phone).await?;
    assert_eq!(
        first
            .changes
            .iter()
            .map(|d| d.doc.as_str())
            .collect::<Vec<_>>(),
        vec![li_store.as_str()]
    );
    assert!(
        phone.store(&wu_store).is_err(),
        "another territory's store never reaches the phone"
    );

    let v = phone.create_visit(visit(&li_store))?;
    let second = district.sync(&token, &phone).await?;
    assert_eq!(
        second
            .accepted
            .iter()
            .map(|a| a.doc.as_str())
            .collect::<Vec<_>>(),
        vec![v.as_str()]
    );
    assert!(
        second.changes.is_empty(),
        "the server does not send the phone its own visit back"
    );
    assert!(
        phone.pending_documents()?.is_empty(),
        "the visit is confirmed"
    );

    let sup_token = district.enroll("sup-wang").await?;
    let (sup_phone, _) = device(
        district.dir.join("sup.db"),
        "sup-wang",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    district.sync(&sup_token, &sup_phone).await?;
    assert_eq!(
        sup_phone.visit(&v)?.visitor,
        "am-li",
        "a supervisor sees the whole district"
    );
    Ok(())
}

async fn a_push_that_breaks_a_write_rule_is_refused_whole_and_changes_nothing_on(
    backend: Backend,
) -> TestResult {
    let district = District::new(backend)?;
    let admin = district.admin()?;
    let store = admin.local.create_store(sample_store("am-li", 1))?;
    admin.push()?;
    let token = district.enroll("am-li").await?;
    let (phone, _) = device(
        district.dir.join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    district.sync(&token, &phone).await?;

    let v = phone.create_visit(visit(&store))?;
    phone.update_store_classification(
        &store,
        StoreClassification {
            tier: Some(ValueTier::A),
            ..Default::default()
        },
    )?;
    let before = district.storage.document_changes(store.as_str())?;
    let err = district
        .sync(&token, &phone)
        .await
        .expect_err("must be refused");
    let message = err.to_string();
    assert!(message.starts_with("403"), "{message}");
    let body: ErrorBody = serde_json::from_str(message.trim_start_matches("403 Forbidden: "))?;
    assert_eq!(body.error, "write_rule");
    assert_eq!(body.rejected.len(), 1);
    assert_eq!(
        (
            body.rejected[0].doc.as_str(),
            body.rejected[0].rule.as_str()
        ),
        (store.as_str(), "store_contact_only")
    );
    assert_eq!(
        district.storage.document_changes(store.as_str())?,
        before,
        "the store is unchanged"
    );
    assert!(
        district.storage.document_changes(v.as_str())?.is_empty(),
        "refused as a whole: the visit waits too"
    );
    assert_eq!(
        phone.pending_documents()?.len(),
        2,
        "the phone keeps both edits"
    );
    Ok(())
}

/// The request's entry for `doc`: every change the phone holds of it.
fn entry(phone: &LocalStore, doc: &DocId) -> Result<DocChanges, Box<dyn std::error::Error>> {
    Ok(DocChanges {
        doc: doc.to_string(),
        changes: phone
            .export_changes(doc, &[])?
            .into_iter()
            .map(ByteBuf::from)
            .collect(),
        index: None,
    })
}

/// Large enough for the server to judge the documents on several threads.
const MANY_VISITS: usize = 40;

async fn a_push_of_many_documents_is_judged_as_if_one_by_one_in_the_order_sent_on(
    backend: Backend,
) -> TestResult {
    let district = District::new(backend)?;
    let admin = district.admin()?;
    let first = admin.local.create_store(sample_store("am-li", 1))?;
    let second = admin.local.create_store(sample_store("am-li", 2))?;
    admin.push()?;
    let token = district.enroll("am-li").await?;
    let (phone, _) = device(
        district.dir.join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    district.sync(&token, &phone).await?;
    let visits = (0..MANY_VISITS)
        .map(|n| phone.create_visit(visit(if n % 2 == 0 { &first } else { &second })))
        .collect::<Result<Vec<_>, _>>()?;
    // Two stores, in the middle and near the end, edited where an account manager may not.
    for store in [&first, &second] {
        phone.update_store_classification(
            store,
            StoreClassification {
                tier: Some(ValueTier::A),
                ..Default::default()
            },
        )?;
    }
    let mut order: Vec<&DocId> = visits.iter().collect();
    order.insert(MANY_VISITS / 2, &second);
    order.insert(MANY_VISITS - 3, &first);
    let request = |docs: &[&DocId]| -> Result<SyncRequest, Box<dyn std::error::Error>> {
        Ok(SyncRequest {
            protocol: 1,
            cursor: None,
            push: docs
                .iter()
                .map(|d| entry(&phone, d))
                .collect::<Result<_, _>>()?,
            max_response_bytes: None,
            device: None,
            working_set: None,
            index_version: None,
        })
    };

    let (status, body) = district.post(&token, &request(&order)?).await?;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let body: ErrorBody = serde_json::from_slice(&body)?;
    assert_eq!(
        body.rejected
            .iter()
            .map(|r| (r.doc.as_str(), r.rule.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (second.as_str(), "store_contact_only"),
            (first.as_str(), "store_contact_only")
        ],
        "both stores, in the order sent, and nothing else"
    );
    for v in &visits {
        assert!(
            district.storage.document_changes(v.as_str())?.is_empty(),
            "refused as a whole: no visit is stored"
        );
    }

    // Without the stores' edits: a store the server holds unchanged is accepted first, then
    // every visit in the order sent.
    let unchanged = DocChanges {
        doc: first.to_string(),
        changes: district
            .storage
            .document_changes(first.as_str())?
            .into_iter()
            .map(ByteBuf::from)
            .collect(),
        index: None,
    };
    let mut retry = request(&visits.iter().collect::<Vec<_>>())?;
    retry.push.insert(MANY_VISITS / 2, unchanged);
    let (status, body) = district.post(&token, &retry).await?;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let response: SyncResponse = protocol::decode("sync response", &body)?;
    let mut expected = vec![first.as_str()];
    expected.extend(visits.iter().map(DocId::as_str));
    assert_eq!(
        response
            .accepted
            .iter()
            .map(|a| a.doc.as_str())
            .collect::<Vec<_>>(),
        expected
    );
    for v in &visits {
        assert_eq!(
            district.storage.document_changes(v.as_str())?.len(),
            phone.export_changes(v, &[])?.len(),
            "every visit is stored whole"
        );
    }
    Ok(())
}

async fn a_change_made_by_another_devices_actor_is_refused_unless_the_server_has_it_on(
    backend: Backend,
) -> TestResult {
    let district = District::new(backend)?;
    let admin = district.admin()?;
    let store = admin.local.create_store(NewStore {
        territory: "am-li".into(),
        ..sample_store("am-li", 1)
    })?;
    admin.push()?;
    let li = district.enroll("am-li").await?;
    let li_tablet = district.enroll("am-li").await?;
    let (phone, _) = device(
        district.dir.join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    district.sync(&li, &phone).await?;
    let v = phone.create_visit(visit(&store))?;
    let changes: Vec<ByteBuf> = phone
        .export_changes(&v, &[])?
        .into_iter()
        .map(ByteBuf::from)
        .collect();

    // The same user's second device replays the phone's change before the phone pushed it.
    let stolen = SyncRequest {
        protocol: 1,
        cursor: None,
        push: vec![DocChanges {
            doc: v.to_string(),
            changes: changes.clone(),
            index: None,
        }],
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    };
    let (status, _) = district.post(&li, &stolen).await?;
    assert_eq!(status, StatusCode::OK, "the phone pushes its own change");
    let (status, body) = district.post(&li_tablet, &stolen).await?;
    assert_eq!(
        status,
        StatusCode::OK,
        "a change the server already has is harmless: {}",
        String::from_utf8_lossy(&body)
    );

    phone.set_visit_notes(&v, "only the phone may write this")?;
    let newer: Vec<ByteBuf> = phone
        .export_changes(&v, &[])?
        .into_iter()
        .map(ByteBuf::from)
        .collect();
    let forged = SyncRequest {
        protocol: 1,
        cursor: None,
        push: vec![DocChanges {
            doc: v.to_string(),
            changes: newer,
            index: None,
        }],
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    };
    let (status, body) = district.post(&li_tablet, &forged).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body: ErrorBody = serde_json::from_slice(&body)?;
    assert_eq!(body.rejected[0].rule, "actor_binding");
    Ok(())
}

async fn a_revoked_device_is_refused_on_its_next_request_on(backend: Backend) -> TestResult {
    let district = District::new(backend)?;
    let token = district.enroll("am-li").await?;
    let (phone, _) = device(
        district.dir.join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    district.sync(&token, &phone).await?;
    let device_id = district
        .storage
        .devices()?
        .into_iter()
        .find(|d| d.user_id == "am-li")
        .ok_or("am-li has no device")?
        .device_id;
    assert!(district.storage.revoke_device(&device_id, 1)?);
    let (status, body) = district
        .post(
            &token,
            &SyncRequest {
                protocol: 1,
                ..Default::default()
            },
        )
        .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_slice::<ErrorBody>(&body)?.error,
        "unauthorized"
    );
    Ok(())
}

async fn a_reassigned_store_arrives_whole_at_its_new_manager_and_is_announced_gone_to_the_old_on(
    backend: Backend,
) -> TestResult {
    let district = District::new(backend)?;
    let admin = district.admin()?;
    let store = admin.local.create_store(sample_store("am-li", 1))?;
    admin.push()?;
    let (li_token, wu_token) = (
        district.enroll("am-li").await?,
        district.enroll("am-wu").await?,
    );
    let (li, _) = device(
        district.dir.join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (wu, _) = device(
        district.dir.join("wu.db"),
        "am-wu",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    district.sync(&li_token, &li).await?;
    district.sync(&wu_token, &wu).await?;
    let v = li.create_visit(visit(&store))?;
    let display = li.create_shelf_display(&store)?;
    li.mark_display_standard(
        &display,
        fieldsync_core::DisplayStandard::TidyCounter,
        fieldsync_core::Verdict::Pass,
        "",
    )?;
    district.sync(&li_token, &li).await?;
    assert!(wu.visit(&v).is_err());

    admin.pull()?;
    admin.local.reassign_store(&store, "am-wu")?;
    admin.push()?;

    let to_wu = district.sync(&wu_token, &wu).await?;
    assert_eq!(
        wu.visit(&v)?.visitor,
        "am-li",
        "the store's history moves with it"
    );
    assert_eq!(wu.store(&store)?.territory, "am-wu");
    assert!(
        wu.shelf_display(&display)?
            .standard(fieldsync_core::DisplayStandard::TidyCounter)
            .is_some()
    );
    assert!(to_wu.removed.is_empty());
    let to_li = district.sync(&li_token, &li).await?;
    let mut removed = to_li.removed.clone();
    removed.sort();
    let mut expected = vec![store.to_string(), v.to_string(), display.to_string()];
    expected.sort();
    assert_eq!(removed, expected);
    Ok(())
}

async fn a_large_catch_up_arrives_in_bounded_batches_that_resume_where_they_stopped_on(
    backend: Backend,
) -> TestResult {
    let district = District::new(backend)?;
    let admin = district.admin()?;
    for n in 0..40 {
        admin.local.create_store(sample_store("am-li", n))?;
    }
    admin.push()?;
    let token = district.enroll("am-li").await?;
    let (phone, _) = device(
        district.dir.join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let mut rounds = 0;
    let mut docs = 0;
    loop {
        rounds += 1;
        let request = SyncRequest {
            protocol: 1,
            cursor: phone.sync_cursor()?,
            push: vec![],
            max_response_bytes: Some(4_000),
            device: None,
            working_set: None,
            index_version: None,
        };
        let (status, body) = district.post(&token, &request).await?;
        assert_eq!(status, StatusCode::OK);
        let response: SyncResponse = protocol::decode("sync response", &body)?;
        for doc in &response.changes {
            let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
            phone.merge_changes(&DocId::parse("doc", &doc.doc)?, &changes)?;
            docs += 1;
        }
        phone.set_sync_cursor(&response.cursor)?;
        if !response.more || rounds > 100 {
            break;
        }
    }
    assert!(
        rounds > 3,
        "a 4 kB budget splits 40 stores into several batches ({rounds})"
    );
    assert_eq!(docs, 40, "nothing is sent twice and nothing is missing");
    assert_eq!(
        phone.document_ids(fieldsync_core::DocKind::Store)?.len(),
        40
    );
    Ok(())
}

async fn a_visit_recorded_offline_before_its_store_moved_is_still_accepted_on(
    backend: Backend,
) -> TestResult {
    let district = District::new(backend)?;
    let admin = district.admin()?;
    let store = admin.local.create_store(sample_store("am-li", 1))?;
    admin.push()?;
    let li_token = district.enroll("am-li").await?;
    let (li, _) = device(
        district.dir.join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    district.sync(&li_token, &li).await?;

    // Offline on Monday: Li visits the store. On Tuesday the office moves it to Wu.
    let v = li.create_visit(visit(&store))?;
    admin.pull()?;
    admin.local.reassign_store(&store, "am-wu")?;
    admin.push()?;

    let response = district.sync(&li_token, &li).await?;
    assert_eq!(
        response
            .accepted
            .iter()
            .map(|a| a.doc.as_str())
            .collect::<Vec<_>>(),
        vec![v.as_str()]
    );
    assert!(
        response.removed.contains(&v.to_string()),
        "then announced gone, with the store: {response:?}"
    );
    assert!(
        li.pending_documents()?.is_empty(),
        "nothing of Li's is lost or left pending"
    );
    assert_eq!(district.storage.document_changes(v.as_str())?.len(), 1);
    Ok(())
}

async fn a_first_sync_sends_each_document_once_with_all_its_changes_on(
    backend: Backend,
) -> TestResult {
    let district = District::new(backend)?;
    let admin = district.admin()?;
    let stores = li_stores(&admin, 3)?;
    admin.local.create_store(sample_store("am-wu", 9))?;
    admin.push()?;
    let (token, first) = li_phone(&district, "li-1").await?;
    district.sync(&token, &first).await?;
    let displays = record_rounds(&district, &token, &first, &stores, 6).await?;

    let (second_token, second) = li_phone(&district, "li-2").await?;
    let mut pages = 0;
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    loop {
        pages += 1;
        let page = pull_page(&district, &second_token, &second, 3_000).await?;
        for doc in &page.changes {
            *seen.entry(doc.doc.clone()).or_default() += 1;
        }
        if !page.more || pages > 200 {
            break;
        }
    }
    assert!(
        pages > 3,
        "a 3 kB budget splits the territory ({pages} pages)"
    );
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "documents sent in several pages: {twice:?}"
    );
    for display in &displays {
        assert_eq!(seen.get(display.as_str()), Some(&1));
    }
    assert_eq!(
        all_heads(&second)?,
        all_heads(&first)?,
        "the second phone holds what the first does"
    );
    Ok(())
}

async fn a_first_sync_interrupted_halfway_resumes_and_ends_with_every_document_including_changes_pushed_in_between_on(
    backend: Backend,
) -> TestResult {
    let district = District::new(backend)?;
    let admin = district.admin()?;
    let stores = li_stores(&admin, 4)?;
    admin.push()?;
    let (token, first) = li_phone(&district, "li-1").await?;
    district.sync(&token, &first).await?;
    let displays = record_rounds(&district, &token, &first, &stores, 4).await?;

    let (second_token, second) = li_phone(&district, "li-2").await?;
    // Small pages until the first display has arrived (the stores and other documents
    // come first in id order, as their ids happen to sort).
    let arrived = |d: &&DocId| second.heads(d).map(|h| !h.is_empty()).unwrap_or(false);
    for _ in 0..100 {
        pull_page(&district, &second_token, &second, 3_000).await?;
        if displays.iter().any(|d| arrived(&d)) {
            break;
        }
    }
    let cursor = second.sync_cursor()?.unwrap_or_default();
    assert!(
        matches!(
            FeedCursor::parse(Some(&cursor)),
            Ok(FeedCursor::Ordered { .. })
        ),
        "stopped inside the first sync's pass: `{cursor}`"
    );
    let (delivered, waiting): (Vec<&DocId>, Vec<&DocId>) = displays.iter().partition(arrived);
    assert!(
        !delivered.is_empty() && !waiting.is_empty(),
        "the pass stopped between the displays ({} delivered)",
        delivered.len()
    );

    // Meanwhile the first phone checks every display again and records a new visit.
    for display in &displays {
        first.mark_display_standard(
            display,
            fieldsync_core::DisplayStandard::TidyCounter,
            fieldsync_core::Verdict::Fail,
            "in between",
        )?;
    }
    let late = first.create_visit(visit(&stores[0]))?;
    district.sync(&token, &first).await?;

    let mut pages = 0;
    while pull_page(&district, &second_token, &second, 3_000)
        .await?
        .more
        && pages < 200
    {
        pages += 1;
    }
    assert!(
        second.visit(&late).is_ok(),
        "the visit recorded in between arrived"
    );
    assert_eq!(
        all_heads(&second)?,
        all_heads(&first)?,
        "nothing is missing"
    );
    let cursor = second.sync_cursor()?.unwrap_or_default();
    assert!(
        matches!(FeedCursor::parse(Some(&cursor)), Ok(FeedCursor::Log(_))),
        "the pass ended in the log: `{cursor}`"
    );

    // A cursor of a pass beyond the server's log is refused like a numeric one.
    let (status, _) = district
        .post(
            &second_token,
            &SyncRequest {
                protocol: 1,
                cursor: Some(format!("d999999:{}", stores[0])),
                push: vec![],
                max_response_bytes: None,
                device: None,
                working_set: None,
                index_version: None,
            },
        )
        .await?;
    assert_eq!(status, StatusCode::CONFLICT);
    Ok(())
}

async fn a_first_sync_never_sends_what_left_the_scope_and_announces_it_removed_on(
    backend: Backend,
) -> TestResult {
    let district = District::new(backend)?;
    let admin = district.admin()?;
    let stores = li_stores(&admin, 4)?;
    let wu_store = admin.local.create_store(sample_store("am-wu", 9))?;
    admin.push()?;
    let (token, first) = li_phone(&district, "li-1").await?;
    district.sync(&token, &first).await?;
    let mut visits = Vec::new();
    for store in &stores {
        for _ in 0..3 {
            visits.push(first.create_visit(visit(store))?);
        }
    }
    district.sync(&token, &first).await?;
    let of_store = |n: usize| -> Vec<String> {
        let mut docs = vec![stores[n].to_string()];
        docs.extend(visits[n * 3..n * 3 + 3].iter().map(|v| v.to_string()));
        docs
    };

    // Before the second phone's first sync, store 0 moves to Wu; during it, store 1 does and
    // Wu's store moves to Li.
    admin.pull()?;
    admin.local.reassign_store(&stores[0], "am-wu")?;
    admin.push()?;
    let (second_token, second) = li_phone(&district, "li-2").await?;
    let mut held = std::collections::BTreeSet::new();
    let mut pages = 0;
    loop {
        pages += 1;
        let page = pull_page(&district, &second_token, &second, 1_500).await?;
        held.extend(page.changes.iter().map(|d| d.doc.clone()));
        for doc in &page.removed {
            held.remove(doc);
        }
        if pages == 1 {
            for doc in of_store(0) {
                assert!(
                    page.removed.contains(&doc),
                    "`{doc}` left before: announced removed"
                );
            }
            admin.pull()?;
            admin.local.reassign_store(&stores[1], "am-wu")?;
            admin.local.reassign_store(&wu_store, "am-li")?;
            admin.push()?;
        }
        if !page.more || pages > 200 {
            break;
        }
    }
    assert!(pages > 2, "{pages} pages");
    let mut expected: std::collections::BTreeSet<String> = (2..4).flat_map(of_store).collect();
    expected.insert(wu_store.to_string());
    assert_eq!(
        held, expected,
        "what Li's second phone holds in the end is Li's scope"
    );
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(an_account_manager_receives_only_the_stores_of_their_territory_and_never_their_own_changes_on: an_account_manager_receives_only_the_stores_of_their_territory_and_never_their_own_changes, an_account_manager_receives_only_the_stores_of_their_territory_and_never_their_own_changes_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_push_that_breaks_a_write_rule_is_refused_whole_and_changes_nothing_on: a_push_that_breaks_a_write_rule_is_refused_whole_and_changes_nothing, a_push_that_breaks_a_write_rule_is_refused_whole_and_changes_nothing_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_change_made_by_another_devices_actor_is_refused_unless_the_server_has_it_on: a_change_made_by_another_devices_actor_is_refused_unless_the_server_has_it, a_change_made_by_another_devices_actor_is_refused_unless_the_server_has_it_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_revoked_device_is_refused_on_its_next_request_on: a_revoked_device_is_refused_on_its_next_request, a_revoked_device_is_refused_on_its_next_request_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_reassigned_store_arrives_whole_at_its_new_manager_and_is_announced_gone_to_the_old_on: a_reassigned_store_arrives_whole_at_its_new_manager_and_is_announced_gone_to_the_old, a_reassigned_store_arrives_whole_at_its_new_manager_and_is_announced_gone_to_the_old_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_large_catch_up_arrives_in_bounded_batches_that_resume_where_they_stopped_on: a_large_catch_up_arrives_in_bounded_batches_that_resume_where_they_stopped, a_large_catch_up_arrives_in_bounded_batches_that_resume_where_they_stopped_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_visit_recorded_offline_before_its_store_moved_is_still_accepted_on: a_visit_recorded_offline_before_its_store_moved_is_still_accepted, a_visit_recorded_offline_before_its_store_moved_is_still_accepted_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_push_of_many_documents_is_judged_as_if_one_by_one_in_the_order_sent_on: a_push_of_many_documents_is_judged_as_if_one_by_one_in_the_order_sent, a_push_of_many_documents_is_judged_as_if_one_by_one_in_the_order_sent_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_first_sync_sends_each_document_once_with_all_its_changes_on: a_first_sync_sends_each_document_once_with_all_its_changes, a_first_sync_sends_each_document_once_with_all_its_changes_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_first_sync_interrupted_halfway_resumes_and_ends_with_every_document_including_changes_pushed_in_between_on: a_first_sync_interrupted_halfway_resumes_and_ends_with_every_document_including_changes_pushed_in_between, a_first_sync_interrupted_halfway_resumes_and_ends_with_every_document_including_changes_pushed_in_between_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_first_sync_never_sends_what_left_the_scope_and_announces_it_removed_on: a_first_sync_never_sends_what_left_the_scope_and_announces_it_removed, a_first_sync_never_sends_what_left_the_scope_and_announces_it_removed_on_postgres);
