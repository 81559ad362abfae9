//! A device learns nothing through a push about documents outside its scope: an id it may
//! not read is answered exactly as an id the server has never seen, and a write refused
//! outside its scope says nothing of the document (docs/protocol.md, "What the server does
//! with a push").
//!
//! Every test runs on SQLite and on PostgreSQL with two instances.

use std::collections::{BTreeSet, HashMap};

use axum::http::StatusCode;
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::protocol::{self, Accepted, DocChanges, ErrorBody, SyncRequest, SyncResponse};
use fieldsync_core::{CheckPoint, DocId, NewVisit, Role, VisitKind};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::demo::{self, Seeded};
use fieldsync_server::storage::User;
use fieldsync_tests::Backend;
use fieldsync_tests::routes::Instances;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// An entry of `accepted` with its id left out: what the answer says about the document.
fn said(entry: &Accepted) -> Vec<u8> {
    protocol::encode(&Accepted {
        doc: String::new(),
        heads: entry.heads.clone(),
    })
}

/// Shown to guard the leak: with a document outside the scope read and answered as one in
/// it (`hidden` always false in `storage/push.rs`), this failed at the first id outside
/// Li's territory, answered with its heads.
async fn every_demo_id_outside_an_account_managers_scope_is_answered_byte_for_byte_as_an_unknown_id_on(
    backend: Backend,
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), "scope_leak_demo", Limits::default())?;
    let Seeded::New(_) = demo::seed(dir.path(), server.storage.as_ref())? else {
        return Err("an empty database is seeded".into());
    };
    let token = server.enroll("am-li").await?;

    // Li's scope, as the feed gives it.
    let mut cursor = None;
    let mut in_scope = BTreeSet::new();
    // Bounded: a 4 MiB page holds the territory of a demo account manager several times over.
    for _ in 0..100 {
        let request = SyncRequest {
            protocol: 1,
            cursor: cursor.clone(),
            push: vec![],
            max_response_bytes: None,
            device: None,
            working_set: None,
            index_version: None,
        };
        let (status, _, body) = server.sync(&token, &request).await?;
        assert_eq!(status, StatusCode::OK);
        let page: SyncResponse = protocol::decode("sync response", &body)?;
        in_scope.extend(page.changes.into_iter().map(|d| d.doc));
        cursor = Some(page.cursor);
        if !page.more {
            break;
        }
    }

    // Every document of the district, and as many ids the server has never seen, mixed.
    let district: Vec<String> = server
        .storage
        .documents()?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(district.len() >= 2_000, "{} documents", district.len());
    let unknown: Vec<String> = (0..200).map(|_| DocId::new().to_string()).collect();
    let mut named: Vec<&String> = district.iter().collect();
    for (n, id) in unknown.iter().enumerate() {
        named.insert((n * 11) % named.len(), id);
    }
    let request = SyncRequest {
        protocol: 1,
        cursor: cursor.clone(),
        push: named
            .iter()
            .map(|id| DocChanges {
                doc: (*id).clone(),
                changes: vec![],
                index: None,
            })
            .collect(),
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    };
    let (status, _, body) = server.sync(&token, &request).await?;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let response: SyncResponse = protocol::decode("sync response", &body)?;
    assert!(response.changes.is_empty() && response.removed.is_empty());
    let answers: HashMap<&str, &Accepted> = response
        .accepted
        .iter()
        .map(|a| (a.doc.as_str(), a))
        .collect();
    assert_eq!(answers.len(), named.len(), "every id named is answered");

    let for_unknown: BTreeSet<Vec<u8>> = unknown
        .iter()
        .map(|id| answers.get(id.as_str()).map(|a| said(a)))
        .collect::<Option<_>>()
        .ok_or("an unknown id is not answered")?;
    assert_eq!(for_unknown.len(), 1, "every unknown id gets one answer");
    let (mut outside, mut inside) = (0, 0);
    for id in &district {
        let answer = answers.get(id.as_str()).ok_or("an id is not answered")?;
        if in_scope.contains(id) {
            inside += 1;
            assert!(!answer.heads.is_empty(), "`{id}` is Li's: its heads");
        } else {
            outside += 1;
            assert!(
                for_unknown.contains(&said(answer)),
                "`{id}`, outside Li's scope, is answered {answer:?}, not as an unknown id"
            );
        }
    }
    assert!(inside > 100, "Li's territory: {inside} documents");
    assert!(
        outside > 1_000,
        "the rest of the district: {outside} documents"
    );
    Ok(())
}

fn visit(store: &DocId) -> NewVisit {
    NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at("2026-11-23T09:00:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    }
}

/// Shown to guard the content of a refusal: with documents outside the scope read and
/// judged by the write rules as before (`hidden` always false in `storage/push.rs`, and
/// `Access::Out` passed on as `store_in_scope: false`), the supervisor's visit was refused
/// as `visit_visitor_only`, naming `sup-wang`.
async fn a_refused_write_to_a_visit_outside_the_scope_names_nothing_of_it_and_reads_as_a_new_documents_refusal_on(
    backend: Backend,
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), "scope_leak_visit", Limits::default())?;
    for (id, role) in [
        ("am-li", Role::AccountManager),
        ("am-wu", Role::AccountManager),
        ("sup-wang", Role::Supervisor),
    ] {
        server.storage.add_user(
            &User {
                id: id.into(),
                role,
                name: id.into(),
            },
            0,
        )?;
    }
    let admin = AdminDevice::open(dir.path(), server.storage.as_ref())?;
    let store = admin.local.create_store(sample_store("am-li", 1))?;
    admin.push()?;
    let monday = at("2026-11-23T09:00:00+08:00");
    let (li, _) = device(dir.path().join("li.db"), "am-li", monday)?;
    let (wang, _) = device(dir.path().join("wang.db"), "sup-wang", monday)?;
    let (li_token, wang_token) = (
        server.enroll("am-li").await?,
        server.enroll("sup-wang").await?,
    );
    server.sync_phone(&wang_token, &wang).await?;
    let seen = wang.create_visit(NewVisit {
        kind: VisitKind::SupervisionSpotCheck,
        ..visit(&store)
    })?;
    wang.set_visit_notes(&seen, "spot check by the supervisor")?;
    server.sync_phone(&wang_token, &wang).await?;
    server.sync_phone(&li_token, &li).await?;
    assert_eq!(li.visit(&seen)?.visitor, "sup-wang", "Li reads the visit");

    // The store moves to Wu; Li's phone syncs past the move but keeps its copies.
    admin.pull()?;
    admin.local.reassign_store(&store, "am-wu")?;
    admin.push()?;
    let told = server.sync_phone(&li_token, &li).await?;
    assert!(told.removed.contains(&seen.to_string()));

    // Li writes into the supervisor's visit, and starts a visit of her own there.
    li.set_visit_notes(&seen, "overwritten")?;
    let own = li.create_visit(visit(&store))?;
    let stored_before = server.storage.document_changes(seen.as_str())?;
    let pending = li.outbox_batch(100)?;
    let request = SyncRequest {
        protocol: 1,
        cursor: li.sync_cursor()?,
        push: pending
            .iter()
            .map(|d| DocChanges {
                doc: d.id.to_string(),
                changes: d.changes.iter().cloned().map(Into::into).collect(),
                index: None,
            })
            .collect(),
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    };
    let (status, _, body) = server.sync(&li_token, &request).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let text = String::from_utf8_lossy(&body).into_owned();
    for secret in ["sup-wang", "spot check", store.as_str(), "visit"] {
        assert!(
            !text.contains(secret),
            "the refusal says `{secret}`: {text}"
        );
    }
    let refused: ErrorBody = serde_json::from_slice(&body)?;
    assert_eq!(refused.error, "write_rule");
    let by_doc: HashMap<&str, (&str, &str)> = refused
        .rejected
        .iter()
        .map(|r| (r.doc.as_str(), (r.rule.as_str(), r.message.as_str())))
        .collect();
    assert_eq!(by_doc.len(), 2, "{text}");
    assert_eq!(
        by_doc.get(seen.as_str()),
        by_doc.get(own.as_str()),
        "the supervisor's visit is refused as Li's new one is"
    );
    assert_eq!(
        by_doc.get(own.as_str()),
        Some(&("store_scope", "not in the scope of `am-li`"))
    );
    assert_eq!(
        server.storage.document_changes(seen.as_str())?,
        stored_before,
        "nothing is stored"
    );
    assert!(server.storage.document_changes(own.as_str())?.is_empty());
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(every_demo_id_outside_an_account_managers_scope_is_answered_byte_for_byte_as_an_unknown_id_on: every_demo_id_outside_an_account_managers_scope_is_answered_byte_for_byte_as_an_unknown_id, every_demo_id_outside_an_account_managers_scope_is_answered_byte_for_byte_as_an_unknown_id_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_refused_write_to_a_visit_outside_the_scope_names_nothing_of_it_and_reads_as_a_new_documents_refusal_on: a_refused_write_to_a_visit_outside_the_scope_names_nothing_of_it_and_reads_as_a_new_documents_refusal, a_refused_write_to_a_visit_outside_the_scope_names_nothing_of_it_and_reads_as_a_new_documents_refusal_on_postgres);
