//! After `admin reassign` moves a store away, its former account manager's devices may
//! deliver the edits they made before they heard of the move, and nothing after: the server
//! judges each push on the log position it has handed that very device, never on a clock or
//! on the cursor the device sends (docs/adr/0006-writes-after-a-store-leaves-the-scope.md).
//!
//! The phones here keep their copies of a store's documents after the server announces
//! them removed, as a phone restored from an older backup or a careless client would, so
//! that they can try to write to them. Every test runs on SQLite and on PostgreSQL with two
//! instances.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::protocol::{
    self, DeviceReport, DocChanges, ErrorBody, SyncRequest, SyncResponse,
};
use fieldsync_core::{
    CheckPoint, DisplayStandard, DocId, LocalStore, NewTask, NewVisit, Role, Verdict, VisitKind,
};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::User;
use fieldsync_tests::Backend;
use fieldsync_tests::routes::Instances;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const MONDAY: &str = "2026-11-23T09:00:00+08:00";

/// A district of two account managers and one store of Li's, `S`, with its shelf display
/// `D` and a visit `V` that Li's phone made and synced.
struct Moving {
    server: Instances,
    dir: tempfile::TempDir,
    store: DocId,
    display: DocId,
    visit: DocId,
    li: LocalStore,
    li_token: String,
}

impl Moving {
    async fn new(backend: Backend, label: &str) -> Fallible<Moving> {
        let dir = tempfile::tempdir()?;
        let server = Instances::open(backend, dir.path(), label, Limits::default())?;
        for id in ["am-li", "am-wu"] {
            server.storage.add_user(
                &User {
                    id: id.into(),
                    role: Role::AccountManager,
                    name: id.into(),
                },
                0,
            )?;
        }
        let store = {
            let admin = AdminDevice::open(dir.path(), server.storage.as_ref())?;
            let store = admin.local.create_store(sample_store("am-li", 1))?;
            admin.push()?;
            store
        };
        let (li, li_token) = phone(&server, dir.path(), "am-li", "li-phone").await?;
        let display = li.create_shelf_display(&store)?;
        let visit = li.create_visit(new_visit(&store))?;
        server.sync_phone(&li_token, &li).await?;
        Ok(Moving {
            server,
            dir,
            store,
            display,
            visit,
            li,
            li_token,
        })
    }

    /// A second store of Li's, made by the office.
    fn second_store(&self) -> Fallible<DocId> {
        let admin = AdminDevice::open(self.dir.path(), self.server.storage.as_ref())?;
        let other = admin.local.create_store(sample_store("am-li", 2))?;
        admin.push()?;
        Ok(other)
    }

    /// The office moves `S` to Wu (`admin reassign`).
    fn move_store(&self) -> Fallible<()> {
        let admin = AdminDevice::open(self.dir.path(), self.server.storage.as_ref())?;
        let said = admin.reassign(self.store.as_str(), "am-wu")?;
        assert!(said.starts_with("moved store"), "{said}");
        Ok(())
    }

    /// A visit, a display check and a task at `S`, and notes on `V`, made on `phone`.
    fn edit_store(&self, phone: &LocalStore, note: &str) -> Fallible<Vec<DocId>> {
        phone.append_visit_notes(&self.visit, note)?;
        phone.mark_display_standard(
            &self.display,
            DisplayStandard::PriceTags,
            Verdict::Fail,
            note,
        )?;
        let visit = phone.create_visit(new_visit(&self.store))?;
        let task = phone.create_task(NewTask {
            store_id: self.store.clone(),
            title: format!("fix the price tags ({note})"),
            description: String::new(),
            assignee: "am-li".into(),
            deadline: at("2026-12-04T18:00:00+08:00"),
            origin: Some(fieldsync_core::TaskOrigin::ShelfDisplay(
                self.display.clone(),
            )),
        })?;
        Ok(vec![self.visit.clone(), self.display.clone(), visit, task])
    }

    /// What the server stores of each of `docs`, to see that a refused push changed nothing.
    fn stored(&self, docs: &[DocId]) -> Fallible<Vec<Vec<Vec<u8>>>> {
        docs.iter()
            .map(|d| Ok(self.server.storage.document_changes(d.as_str())?))
            .collect()
    }
}

/// A phone of `user`, enrolled and synced.
async fn phone(
    server: &Instances,
    dir: &std::path::Path,
    user: &str,
    name: &str,
) -> Fallible<(LocalStore, String)> {
    let token = server.enroll(user).await?;
    let (phone, _) = device(dir.join(format!("{name}.db")), user, at(MONDAY))?;
    server.sync_phone(&token, &phone).await?;
    Ok((phone, token))
}

fn new_visit(store: &DocId) -> NewVisit {
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

/// Pushes everything `phone` has pending with `cursor` (not the phone's own); the answer's
/// status and, for a refusal, its body.
async fn push(
    server: &Instances,
    token: &str,
    phone: &LocalStore,
    cursor: Option<String>,
) -> Fallible<(StatusCode, Option<ErrorBody>)> {
    let request = SyncRequest {
        protocol: 1,
        cursor,
        push: phone
            .outbox_batch(1_000)?
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
    let (status, _, body) = server.sync(token, &request).await?;
    let refusal = (status != StatusCode::OK)
        .then(|| serde_json::from_slice(&body))
        .transpose()?;
    Ok((status, refusal))
}

/// Asserts a `403` whose rejections are exactly `docs`, each under `store_scope`.
fn assert_refused_out_of_scope(
    answer: &(StatusCode, Option<ErrorBody>),
    docs: &[DocId],
) -> TestResult {
    assert_eq!(answer.0, StatusCode::FORBIDDEN, "{:?}", answer.1);
    let body = answer.1.as_ref().ok_or("a refusal has a body")?;
    assert_eq!(body.error, "write_rule");
    let refused: BTreeSet<&str> = body.rejected.iter().map(|r| r.doc.as_str()).collect();
    let expected: BTreeSet<&str> = docs.iter().map(DocId::as_str).collect();
    assert_eq!(refused, expected, "{body:?}");
    assert!(
        body.rejected.iter().all(|r| r.rule == "store_scope"),
        "{body:?}"
    );
    Ok(())
}

/// Shown to guard the delivery: with every store that left the scope refused at once
/// (`Access::Unheard` never given in `storage/scope_guard.rs`), the sync failed with a
/// `403` listing all four documents under `store_scope`.
async fn edits_made_offline_before_a_store_moved_are_delivered_after_the_move_on(
    backend: Backend,
) -> TestResult {
    let m = Moving::new(backend, "moved_before").await?;
    // Offline: notes, a display check, a new visit and a task at the store.
    let edited = m.edit_store(&m.li, "made before the move")?;
    m.move_store()?;

    let delivered = m.server.sync_phone(&m.li_token, &m.li).await?;
    let accepted: BTreeSet<&str> = delivered.accepted.iter().map(|a| a.doc.as_str()).collect();
    for doc in &edited {
        assert!(accepted.contains(doc.as_str()), "`{doc}` is accepted");
        assert!(
            delivered.removed.contains(&doc.to_string()),
            "`{doc}` is then announced gone with the store"
        );
        assert_eq!(
            m.server.storage.document_changes(doc.as_str())?.len(),
            m.li.export_changes(doc, &[])?.len(),
            "`{doc}` is stored whole"
        );
    }
    // The new account manager gets all of it.
    let (wu, _) = phone(&m.server, m.dir.path(), "am-wu", "wu-phone").await?;
    assert!(wu.visit(&m.visit)?.notes.contains("made before the move"));
    assert_eq!(wu.visit(&edited[2])?.visitor, "am-li");
    assert!(wu.task(&edited[3])?.title.contains("made before the move"));
    Ok(())
}

/// Shown to guard the refusal: with the device's handed position never consulted
/// (`handed < left_at` always true in `storage/scope_guard.rs`), the push was accepted
/// (`200`) and the new visit and task were stored.
async fn edits_made_after_the_device_synced_past_the_move_are_refused_on(
    backend: Backend,
) -> TestResult {
    let m = Moving::new(backend, "moved_after").await?;
    m.move_store()?;
    let told = m.server.sync_phone(&m.li_token, &m.li).await?;
    assert!(told.removed.contains(&m.visit.to_string()));

    let edited = m.edit_store(&m.li, "made after the move")?;
    let before = m.stored(&edited)?;
    let answer = push(&m.server, &m.li_token, &m.li, m.li.sync_cursor()?).await?;
    assert_refused_out_of_scope(&answer, &edited)?;
    assert_eq!(m.stored(&edited)?, before, "nothing of the push is stored");
    assert!(
        m.server
            .storage
            .document_changes(edited[2].as_str())?
            .is_empty(),
        "no new visit at a store that is not Li's"
    );
    assert!(
        m.server
            .storage
            .document_changes(edited[3].as_str())?
            .is_empty(),
        "no task opened on it"
    );
    Ok(())
}

/// Shown to guard against a device forgetting: with the handed position never recorded
/// (the record of what a feed told never written, in the backends' `feed_within`), the pushes with no cursor and
/// with the old cursor were accepted.
async fn a_device_that_sends_no_cursor_cannot_pretend_it_never_heard_of_the_move_on(
    backend: Backend,
) -> TestResult {
    let m = Moving::new(backend, "moved_no_cursor").await?;
    let before_the_move = m.li.sync_cursor()?;
    m.move_store()?;
    m.server.sync_phone(&m.li_token, &m.li).await?;

    m.li.append_visit_notes(&m.visit, "written after hearing")?;
    let stored = m.stored(std::slice::from_ref(&m.visit))?;
    for cursor in [None, before_the_move, Some("0".to_owned())] {
        let answer = push(&m.server, &m.li_token, &m.li, cursor.clone()).await?;
        assert_refused_out_of_scope(&answer, std::slice::from_ref(&m.visit))?;
    }
    assert_eq!(m.stored(std::slice::from_ref(&m.visit))?, stored);
    Ok(())
}

/// A pull-only sync of `token` with `cursor`, asking for at most `max_bytes` of changes.
async fn pull(
    server: &Instances,
    token: &str,
    cursor: Option<String>,
    max_bytes: u64,
) -> Fallible<SyncResponse> {
    let request = SyncRequest {
        protocol: 1,
        cursor,
        push: Vec::new(),
        max_response_bytes: Some(max_bytes),
        device: None,
        working_set: None,
        index_version: None,
    };
    let (status, _, body) = server.sync(token, &request).await?;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    Ok(protocol::decode("sync response", &body)?)
}

/// Shown to guard "whatever its cursor": with the removals told only by the pass of the
/// device's cursor (`tell_what_left` returning at once in `storage/feed/left.rs`), the sync
/// with the old cursor listed nothing removed and the push after it was accepted.
async fn a_device_that_never_moves_its_cursor_past_the_move_is_told_and_refused_after_on(
    backend: Backend,
) -> TestResult {
    let m = Moving::new(backend, "moved_stuck_cursor").await?;
    // Changes logged after Li's cursor and before the move, so that a response of one byte
    // from the old cursor stops short of the move.
    let old_cursor = m.li.sync_cursor()?;
    let other = m.second_store()?;
    m.server.sync_phone(&m.li_token, &m.li).await?;
    m.li.create_visit(new_visit(&other))?;
    m.server.sync_phone(&m.li_token, &m.li).await?;
    m.move_store()?;

    // Each sync sends the cursor from before the move and asks for one byte.
    let told = pull(&m.server, &m.li_token, old_cursor.clone(), 1).await?;
    assert!(told.more, "the response stopped short of the move");
    assert!(
        told.removed.contains(&m.visit.to_string()),
        "the store's documents are announced gone all the same: {:?}",
        told.removed
    );
    let edited = m.edit_store(&m.li, "made after being told")?;
    let before = m.stored(&edited)?;
    let answer = push(&m.server, &m.li_token, &m.li, old_cursor).await?;
    assert_refused_out_of_scope(&answer, &edited)?;
    assert_eq!(m.stored(&edited)?, before, "nothing of the push is stored");
    Ok(())
}

/// Shown to guard a new device: with a device enrolled at log position 0 (the `handed`
/// column's default, in both backends' `enroll`), the tablet's visit at the store that had
/// left was accepted.
async fn a_device_enrolled_after_a_store_moved_cannot_write_to_it_on(
    backend: Backend,
) -> TestResult {
    let m = Moving::new(backend, "moved_new_device").await?;
    m.move_store()?;
    // A tablet enrolled after the move, holding the store's documents from the old phone
    // (copied, or restored from its backup), pushes before it ever pulls.
    let token = m.server.enroll("am-li").await?;
    let (tablet, _) = device(m.dir.path().join("li-tablet.db"), "am-li", at(MONDAY))?;
    fieldsync_core::fixtures::exchange(&m.li, &tablet)?;
    let visit = tablet.create_visit(new_visit(&m.store))?;
    let answer = push(&m.server, &token, &tablet, None).await?;
    assert_eq!(answer.0, StatusCode::FORBIDDEN, "{:?}", answer.1);
    let body = answer.1.as_ref().ok_or("a refusal has a body")?;
    assert!(
        body.rejected
            .iter()
            .any(|r| r.doc == visit.as_str() && r.rule == "store_scope"),
        "{body:?}"
    );
    assert!(
        m.server
            .storage
            .document_changes(visit.as_str())?
            .is_empty()
    );
    Ok(())
}

/// Pushes those of `docs` that `phone` has pending, with its own cursor: the status.
async fn push_some(
    server: &Instances,
    token: &str,
    phone: &LocalStore,
    docs: &[DocId],
) -> Fallible<StatusCode> {
    let batch: Vec<_> = phone
        .outbox_batch(1_000)?
        .into_iter()
        .filter(|d| docs.contains(&d.id))
        .collect();
    let request = fieldsync_tests::routes::outbox_request(&batch, phone.sync_cursor()?);
    Ok(server.sync(token, &request).await?.0)
}

/// Shown to guard a catch-up in several pushes: with the handed position recorded by the
/// response to a push (the `outbox_emptied` check taken out of `read` in
/// `storage/feed.rs`), the second push, carrying the edits made at the store before the
/// move, was refused (`403`), the first push's response having passed the move.
async fn edits_made_before_a_move_are_delivered_in_the_later_pushes_of_a_catch_up_on(
    backend: Backend,
) -> TestResult {
    let m = Moving::new(backend, "moved_catch_up").await?;
    let other = m.second_store()?;
    m.server.sync_phone(&m.li_token, &m.li).await?;
    // Offline: a visit at the other store, and edits at the one about to move.
    let elsewhere = m.li.create_visit(new_visit(&other))?;
    let edited = m.edit_store(&m.li, "made before the move")?;
    m.move_store()?;

    // The catch-up's first push carries only the other store's visit.
    let first = push_some(
        &m.server,
        &m.li_token,
        &m.li,
        std::slice::from_ref(&elsewhere),
    )
    .await?;
    assert_eq!(first, StatusCode::OK);
    let second = push_some(&m.server, &m.li_token, &m.li, &edited).await?;
    assert_eq!(
        second,
        StatusCode::OK,
        "the edits made before the move are delivered"
    );
    for doc in &edited {
        assert!(
            !m.server.storage.document_changes(doc.as_str())?.is_empty(),
            "`{doc}` is stored"
        );
    }
    Ok(())
}

/// Shown to guard the honest client's telling: with the device's report ignored (only a
/// sync that pushed nothing telling, in `sync.rs`), the answer to Li's push listed nothing
/// removed: a phone that pushes at every sync was never told.
async fn a_phone_whose_sync_pushes_and_empties_its_outbox_is_told_of_the_move_on(
    backend: Backend,
) -> TestResult {
    let m = Moving::new(backend, "moved_told_by_push").await?;
    let other = m.second_store()?;
    m.server.sync_phone(&m.li_token, &m.li).await?;
    m.move_store()?;
    // The phone's sync pushes a visit elsewhere, and its report (as core's client sends
    // it) says nothing waits once this push is stored: the answer tells it of the move.
    m.li.create_visit(new_visit(&other))?;
    let mut request =
        fieldsync_tests::routes::outbox_request(&m.li.outbox_batch(1_000)?, m.li.sync_cursor()?);
    request.device = Some(DeviceReport {
        pending_edits: Some(0),
        pending_documents: Some(0),
        ..DeviceReport::default()
    });
    let (status, _, body) = m.server.sync(&m.li_token, &request).await?;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let told: SyncResponse = protocol::decode("sync response", &body)?;
    assert!(
        told.removed.contains(&m.visit.to_string()),
        "{:?}",
        told.removed
    );
    m.li.append_visit_notes(&m.visit, "written after hearing")?;
    let answer = push(&m.server, &m.li_token, &m.li, m.li.sync_cursor()?).await?;
    assert_refused_out_of_scope(&answer, std::slice::from_ref(&m.visit))?;
    Ok(())
}

/// Shown to guard the ids: with every document of the store listed (`store_documents`
/// without its bound on the log position, in both backends), Wu's new visit was in Li's
/// `removed`, on the sync after the move and on a sync from the start.
async fn removed_lists_only_what_the_device_could_have_held_on(backend: Backend) -> TestResult {
    let m = Moving::new(backend, "moved_removed_ids").await?;
    let before_the_move = m.li.sync_cursor()?;
    m.move_store()?;
    let (wu, wu_token) = phone(&m.server, m.dir.path(), "am-wu", "wu-phone").await?;
    let wu_visit = wu.create_visit(new_visit(&m.store))?;
    m.server.sync_phone(&wu_token, &wu).await?;

    for cursor in [before_the_move, None] {
        let told = pull(&m.server, &m.li_token, cursor.clone(), 4 << 20).await?;
        assert!(
            told.removed.contains(&m.visit.to_string()),
            "Li's visit is announced gone (cursor {cursor:?}): {:?}",
            told.removed
        );
        assert!(
            !told.removed.contains(&wu_visit.to_string()),
            "Wu's visit, made after the move, is not named to Li (cursor {cursor:?})"
        );
    }
    Ok(())
}

/// Shown to guard "on its own": with the handed position recorded for every device of the
/// user at once (`UPDATE devices ... WHERE user_id = (...)` in both backends' `feed`), the
/// tablet's edit made before the move was refused.
async fn a_second_device_of_the_same_user_is_judged_on_its_own_on(backend: Backend) -> TestResult {
    let m = Moving::new(backend, "moved_two_devices").await?;
    let (tablet, tablet_token) = phone(&m.server, m.dir.path(), "am-li", "li-tablet").await?;
    // The tablet, offline, checks the display before the move.
    tablet.mark_display_standard(
        &m.display,
        DisplayStandard::TidyCounter,
        Verdict::Pass,
        "tablet, before the move",
    )?;
    m.move_store()?;

    // The phone hears of the move; what it writes afterwards is refused.
    m.server.sync_phone(&m.li_token, &m.li).await?;
    m.li.append_visit_notes(&m.visit, "phone, after hearing")?;
    let answer = push(&m.server, &m.li_token, &m.li, m.li.sync_cursor()?).await?;
    assert_refused_out_of_scope(&answer, std::slice::from_ref(&m.visit))?;

    // The tablet has not heard: its check is delivered.
    let delivered = m.server.sync_phone(&tablet_token, &tablet).await?;
    assert_eq!(delivered.accepted.len(), 1, "{delivered:?}");
    assert_eq!(
        m.server.storage.document_changes(m.display.as_str())?.len(),
        tablet.export_changes(&m.display, &[])?.len(),
        "the tablet's check is stored"
    );
    // Now it has heard, and its next edit is refused too.
    tablet.mark_display_standard(
        &m.display,
        DisplayStandard::TidyCounter,
        Verdict::Fail,
        "tablet, after hearing",
    )?;
    let answer = push(&m.server, &tablet_token, &tablet, tablet.sync_cursor()?).await?;
    assert_refused_out_of_scope(&answer, std::slice::from_ref(&m.display))?;
    Ok(())
}

/// Shown to guard the dependency check: with `built_after_move` always `None` in
/// `storage/scope_guard.rs`, Li's check of the display, made on top of Wu's, was accepted.
async fn an_edit_built_on_a_change_logged_after_the_move_is_refused_on(
    backend: Backend,
) -> TestResult {
    let m = Moving::new(backend, "moved_built_after").await?;
    m.move_store()?;
    // Wu, the new holder, checks the display.
    let (wu, wu_token) = phone(&m.server, m.dir.path(), "am-wu", "wu-phone").await?;
    wu.mark_display_standard(
        &m.display,
        DisplayStandard::PriceTags,
        Verdict::Pass,
        "wu, after the move",
    )?;
    m.server.sync_phone(&wu_token, &wu).await?;

    // Li has not synced since, but gets Wu's check from Wu's phone directly (a bundle), and
    // checks the display on top of it; she also has notes from before.
    m.li.merge_changes(&m.display, &wu.export_changes(&m.display, &[])?)?;
    m.li.mark_display_standard(
        &m.display,
        DisplayStandard::PriceTags,
        Verdict::Fail,
        "li, on top of wu's",
    )?;
    m.li.append_visit_notes(&m.visit, "li, before hearing")?;
    let docs = [m.display.clone(), m.visit.clone()];
    let before = m.stored(&docs)?;
    let answer = push(&m.server, &m.li_token, &m.li, m.li.sync_cursor()?).await?;
    assert_refused_out_of_scope(&answer, std::slice::from_ref(&m.display))?;
    let message = answer
        .1
        .as_ref()
        .and_then(|b| b.rejected.first())
        .map(|r| r.message.clone())
        .unwrap_or_default();
    assert!(message.contains("after the store left"), "{message}");
    assert_eq!(
        m.stored(&docs)?,
        before,
        "refused whole: the notes wait too"
    );

    // Without the display, the notes made before hearing are delivered.
    let notes_only = SyncRequest {
        protocol: 1,
        cursor: m.li.sync_cursor()?,
        push: vec![DocChanges {
            doc: m.visit.to_string(),
            changes: m
                .li
                .export_changes(&m.visit, &[])?
                .into_iter()
                .map(Into::into)
                .collect(),
            index: None,
        }],
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    };
    let (status, _, body) = m.server.sync(&m.li_token, &notes_only).await?;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(edits_made_offline_before_a_store_moved_are_delivered_after_the_move_on: edits_made_offline_before_a_store_moved_are_delivered_after_the_move, edits_made_offline_before_a_store_moved_are_delivered_after_the_move_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(edits_made_after_the_device_synced_past_the_move_are_refused_on: edits_made_after_the_device_synced_past_the_move_are_refused, edits_made_after_the_device_synced_past_the_move_are_refused_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_device_that_sends_no_cursor_cannot_pretend_it_never_heard_of_the_move_on: a_device_that_sends_no_cursor_cannot_pretend_it_never_heard_of_the_move, a_device_that_sends_no_cursor_cannot_pretend_it_never_heard_of_the_move_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_second_device_of_the_same_user_is_judged_on_its_own_on: a_second_device_of_the_same_user_is_judged_on_its_own, a_second_device_of_the_same_user_is_judged_on_its_own_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(an_edit_built_on_a_change_logged_after_the_move_is_refused_on: an_edit_built_on_a_change_logged_after_the_move_is_refused, an_edit_built_on_a_change_logged_after_the_move_is_refused_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_device_that_never_moves_its_cursor_past_the_move_is_told_and_refused_after_on: a_device_that_never_moves_its_cursor_past_the_move_is_told_and_refused_after, a_device_that_never_moves_its_cursor_past_the_move_is_told_and_refused_after_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_device_enrolled_after_a_store_moved_cannot_write_to_it_on: a_device_enrolled_after_a_store_moved_cannot_write_to_it, a_device_enrolled_after_a_store_moved_cannot_write_to_it_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(removed_lists_only_what_the_device_could_have_held_on: removed_lists_only_what_the_device_could_have_held, removed_lists_only_what_the_device_could_have_held_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(edits_made_before_a_move_are_delivered_in_the_later_pushes_of_a_catch_up_on: edits_made_before_a_move_are_delivered_in_the_later_pushes_of_a_catch_up, edits_made_before_a_move_are_delivered_in_the_later_pushes_of_a_catch_up_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_phone_whose_sync_pushes_and_empties_its_outbox_is_told_of_the_move_on: a_phone_whose_sync_pushes_and_empties_its_outbox_is_told_of_the_move, a_phone_whose_sync_pushes_and_empties_its_outbox_is_told_of_the_move_on_postgres);
