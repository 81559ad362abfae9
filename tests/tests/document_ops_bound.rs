//! What one document may cost everyone who loads it. A change and a push are bounded in
//! the operations they list (ADR 0026), but a document grows push after push: operations
//! whose values are null and whose keys and predecessors repeat cost almost no bytes, so
//! a crafted client could make a visit of a few kilobytes hold millions of them, replayed
//! by every later load (the next push's judge, a fetch, a supervisor's phone). A document
//! may list at most `MAX_DOCUMENT_OPS` operations and predecessors in all (found by a
//! review acting as an account manager with a crafted client), and the documents one photo
//! request names at most twice that (a status request may name 500 documents; a second
//! review showed each could hold close to the bound).

use automerge::{AutoCommit, ScalarValue, legacy};
use axum::http::StatusCode;
use fieldsync_core::MAX_DOCUMENT_OPS;
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::protocol::{DocChanges, ErrorBody, SyncRequest};
use fieldsync_core::{CheckPoint, DocId, NewVisit, Role, VisitKind};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::User;
use fieldsync_tests::Backend;
use fieldsync_tests::routes::Instances;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const MONDAY: &str = "2026-11-23T09:00:00+08:00";
/// Puts per crafted change: with their predecessors just under the 100,000 a change may
/// list.
const PUTS: u64 = 49_000;

/// A crafted client's changes on one document: each puts null at the root key `zz` PUTS
/// times, each put overwriting the one before, then deletes it (Automerge's own
/// transactions would fold the puts into one: the client writes the format itself).
struct Crafted {
    actor: automerge::ActorId,
    deps: Vec<automerge::ChangeHash>,
    start_op: u64,
    seq: u64,
}

impl Crafted {
    fn on(doc: &mut AutoCommit) -> Crafted {
        Crafted {
            actor: automerge::ActorId::random(),
            deps: doc.get_heads(),
            start_op: doc
                .get_changes(&[])
                .iter()
                .map(|c| c.max_op())
                .max()
                .unwrap_or(0)
                + 1,
            seq: 1,
        }
    }

    fn changes(&mut self, n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|_| self.change()).collect()
    }

    fn change(&mut self) -> Vec<u8> {
        let operations = (0..=PUTS)
            .map(|i| legacy::Op {
                action: if i == PUTS {
                    legacy::OpType::Delete
                } else {
                    legacy::OpType::Put(ScalarValue::Null)
                },
                obj: legacy::ObjectId::Root,
                key: legacy::Key::Map("zz".into()),
                pred: if i == 0 {
                    Vec::new().into()
                } else {
                    vec![legacy::OpId::new(self.start_op + i - 1, &self.actor)].into()
                },
                insert: false,
            })
            .collect();
        let change = automerge::Change::from(automerge::ExpandedChange {
            operations,
            actor_id: self.actor.clone(),
            hash: None,
            seq: self.seq,
            start_op: std::num::NonZeroU64::new(self.start_op).expect("counted from 1"),
            time: chrono::Utc::now().timestamp_millis(),
            message: None,
            deps: self.deps.clone(),
            extra_bytes: Vec::new(),
            author: None,
        });
        self.start_op += PUTS + 1;
        self.seq += 1;
        self.deps = vec![change.hash()];
        change.raw_bytes().to_vec()
    }
}

/// Li's visit, stored on a server; her token.
async fn visit_of_li(server: &Instances, dir: &std::path::Path) -> Fallible<(DocId, String)> {
    let (mut visits, token) = visits_of_li(server, dir, 1).await?;
    Ok((visits.remove(0), token))
}

/// `n` visits of Li's, stored on a server; her token.
async fn visits_of_li(
    server: &Instances,
    dir: &std::path::Path,
    n: usize,
) -> Fallible<(Vec<DocId>, String)> {
    server.storage.add_user(
        &User {
            id: "am-li".into(),
            role: Role::AccountManager,
            name: "Li".into(),
        },
        0,
    )?;
    let store = {
        let admin = AdminDevice::open(dir, server.storage.as_ref())?;
        let store = admin.local.create_store(sample_store("am-li", 1))?;
        admin.push()?;
        store
    };
    let token = server.enroll("am-li").await?;
    let (li, clock) = device(dir.join("li.db"), "am-li", at(MONDAY))?;
    server.sync_phone(&token, &li).await?;
    let mut visits = Vec::new();
    for _ in 0..n {
        clock.advance_minutes(30);
        visits.push(li.create_visit(NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: li.now()?,
                gps: None,
            },
            complaint_id: None,
        })?);
    }
    server.sync_phone(&token, &li).await?;
    Ok((visits, token))
}

async fn push(
    server: &Instances,
    token: &str,
    visit: &DocId,
    changes: Vec<Vec<u8>>,
) -> Fallible<(StatusCode, Vec<u8>)> {
    let request = SyncRequest {
        protocol: 1,
        cursor: None,
        push: vec![DocChanges {
            doc: visit.to_string(),
            changes: changes.into_iter().map(Into::into).collect(),
            index: None,
        }],
        max_response_bytes: Some(0),
        device: None,
        working_set: None,
        index_version: None,
    };
    let (status, _, body) = server.sync(token, &request).await?;
    Ok((status, body))
}

#[tokio::test]
async fn a_document_grown_push_after_push_past_its_operation_bound_is_refused_and_keeps_what_it_held()
-> Fallible<()> {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(Backend::Sqlite, dir.path(), "doc_ops", Limits::default())?;
    let (visit, token) = visit_of_li(&server, dir.path()).await?;
    let mut doc = AutoCommit::new();
    for change in server.storage.document_changes(visit.as_str())? {
        doc.load_incremental(&change)?;
    }
    let mut crafted = Crafted::on(&mut doc);

    // Four changes, about 392,000 listed: within the bound, stored.
    let first = crafted.changes(4);
    let sent: usize = first.iter().map(Vec::len).sum();
    assert!(sent < 4_000, "a few kilobytes: {sent}");
    let (status, body) = push(&server, &token, &visit, first).await?;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let held = server.storage.document_changes(visit.as_str())?;

    // Two more, in a push of their own: the document would pass the bound.
    let (status, body) = push(&server, &token, &visit, crafted.changes(2)).await?;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let refusal: ErrorBody = serde_json::from_slice(&body)?;
    let rejected = &refusal.rejected[0];
    assert_eq!(
        (rejected.doc.as_str(), rejected.rule.as_str()),
        (visit.as_str(), "quota")
    );
    assert!(
        rejected
            .message
            .contains(&format!("`{MAX_DOCUMENT_OPS}` one document may hold")),
        "{rejected:?}"
    );
    assert_eq!(
        server.storage.document_changes(visit.as_str())?,
        held,
        "nothing of the refused push is stored"
    );
    Ok(())
}

#[tokio::test]
async fn one_push_that_would_make_a_document_pass_its_operation_bound_is_refused_before_it_is_applied()
-> Fallible<()> {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(
        Backend::Sqlite,
        dir.path(),
        "doc_ops_one",
        Limits::default(),
    )?;
    let (visit, token) = visit_of_li(&server, dir.path()).await?;
    let held = server.storage.document_changes(visit.as_str())?;
    let mut doc = AutoCommit::new();
    for change in &held {
        doc.load_incremental(change)?;
    }
    // Six changes, about 588,000 listed, under the 2,000,000 a push may list.
    let (status, body) = push(&server, &token, &visit, Crafted::on(&mut doc).changes(6)).await?;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let refusal: ErrorBody = serde_json::from_slice(&body)?;
    assert_eq!(refusal.rejected[0].rule, "quota", "{refusal:?}");
    assert_eq!(server.storage.document_changes(visit.as_str())?, held);
    Ok(())
}

#[tokio::test]
async fn a_photo_status_naming_documents_that_list_more_operations_than_one_request_may_replay_is_refused_before_they_are_replayed()
-> Fallible<()> {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(
        Backend::Sqlite,
        dir.path(),
        "doc_ops_blobs",
        Limits::default(),
    )?;
    let (visits, token) = visits_of_li(&server, dir.path(), 3).await?;
    // Each visit grown to about 392,000 listed, within the bound a document has: three of
    // them list more than the 1,000,000 one request may make the server replay.
    for visit in &visits {
        let mut doc = AutoCommit::new();
        for change in server.storage.document_changes(visit.as_str())? {
            doc.load_incremental(&change)?;
        }
        let (status, body) = push(&server, &token, visit, Crafted::on(&mut doc).changes(4)).await?;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
    let hash = format!("sha256:{}", "ab".repeat(32));
    let status_of = |docs: &[DocId]| {
        serde_json::json!({
            "blobs": docs.iter().map(|d| serde_json::json!({"hash": hash, "doc": d.as_str()}))
                .collect::<Vec<_>>()
        })
    };
    // Two of them, and one named again and again, are read.
    let two = [&visits[..2], &[visits[0].clone(), visits[1].clone()]].concat();
    let (status, body) = server
        .post_json("/v1/blobs/status", &token, &status_of(&two))
        .await?;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (status, body) = server
        .post_json("/v1/blobs/status", &token, &status_of(&visits))
        .await?;
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let refusal: ErrorBody = serde_json::from_slice(&body)?;
    assert!(
        refusal.message.contains("more than `1000000` operations"),
        "{refusal:?}"
    );
    Ok(())
}
