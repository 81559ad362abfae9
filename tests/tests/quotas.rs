//! The server's quotas (docs/operations.md, "Quotas"): a document may not grow past
//! `max_document_bytes`, a device may not store more than `device_bytes_per_day` in a UTC
//! day. A refusal names the limit and its value as fields of the JSON error, and nothing of
//! the refused push is stored.
//!
//! Every test runs on SQLite and on PostgreSQL with two instances.

use axum::http::{StatusCode, header};
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::protocol::{DocChanges, ErrorBody, SyncRequest};
use fieldsync_core::{CheckPoint, DocId, IncomingChange, LocalStore, NewVisit, Role, VisitKind};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::{DeviceInfo, User};
use fieldsync_tests::Backend;
use fieldsync_tests::routes::Instances;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const DAY_MS: i64 = 86_400_000;

/// A server with `limits`, a store of Li's, and Li's phone, synced.
struct Field {
    server: Instances,
    dir: tempfile::TempDir,
    store: DocId,
}

impl Field {
    async fn new(backend: Backend, label: &str, limits: Limits) -> Fallible<Field> {
        let dir = tempfile::tempdir()?;
        let server = Instances::open(backend, dir.path(), label, limits)?;
        server.storage.add_user(
            &User {
                id: "am-li".into(),
                role: Role::AccountManager,
                name: "Li".into(),
            },
            0,
        )?;
        let store = {
            let admin = AdminDevice::open(dir.path(), server.storage.as_ref())?;
            let store = admin.local.create_store(sample_store("am-li", 1))?;
            admin.push()?;
            store
        };
        Ok(Field { server, dir, store })
    }

    /// A phone of Li's, enrolled and synced: the store, its device and its token.
    async fn phone(&self, name: &str) -> Fallible<(LocalStore, DeviceInfo, String)> {
        let enrolled = self.server.enroll_device("am-li").await?;
        let (phone, _) = device(
            self.dir.path().join(format!("{name}.db")),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        self.server.sync_phone(&enrolled.token, &phone).await?;
        let info = DeviceInfo {
            device_id: enrolled.device_id,
            user_id: enrolled.user_id,
            role: Role::AccountManager,
        };
        Ok((phone, info, enrolled.token))
    }

    fn visit(&self) -> NewVisit {
        NewVisit {
            store_id: self.store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: at("2026-11-23T09:00:00+08:00"),
                gps: None,
            },
            complaint_id: None,
        }
    }

    /// Bytes the server stores of `doc`.
    fn stored_bytes(&self, doc: &DocId) -> Fallible<usize> {
        Ok(self
            .server
            .storage
            .document_changes(doc.as_str())?
            .iter()
            .map(Vec::len)
            .sum())
    }
}

/// A push of `docs` as `phone` has them pending, from its cursor.
fn request(phone: &LocalStore, docs: &[&DocId]) -> Fallible<SyncRequest> {
    let pending = phone.outbox_batch(1_000)?;
    Ok(SyncRequest {
        protocol: 1,
        cursor: phone.sync_cursor()?,
        push: pending
            .iter()
            .filter(|d| docs.contains(&&d.id))
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
    })
}

/// Bytes of the changes `phone` has pending for `doc`.
fn pending_bytes(phone: &LocalStore, doc: &DocId) -> Fallible<usize> {
    Ok(phone
        .outbox_batch(1_000)?
        .iter()
        .filter(|d| &d.id == doc)
        .flat_map(|d| d.changes.iter().map(Vec::len))
        .sum())
}

const DOCUMENT_LIMIT: u64 = 6_000;

/// Shown to guard the limit: with `document_over_limit` always `None` in
/// `storage/quota.rs`, the push was accepted (`200`) and the visit grew past 6,000 bytes.
async fn a_push_that_would_grow_a_document_past_its_limit_is_refused_naming_the_limit_and_stores_nothing_on(
    backend: Backend,
) -> TestResult {
    let limits = Limits {
        max_document_bytes: DOCUMENT_LIMIT,
        ..Limits::default()
    };
    let field = Field::new(backend, "quota_document", limits).await?;
    let (li, _, token) = field.phone("li-phone").await?;
    let visit = li.create_visit(field.visit())?;
    field.server.sync_phone(&token, &li).await?;
    let stored = field.stored_bytes(&visit)?;

    // Notes that alone fit the limit, but not on top of what the visit holds.
    let room = DOCUMENT_LIMIT as usize - stored;
    li.append_visit_notes(&visit, &"n".repeat(room))?;
    let adding = pending_bytes(&li, &visit)?;
    assert!(
        adding < DOCUMENT_LIMIT as usize && stored + adding > DOCUMENT_LIMIT as usize,
        "stored {stored}, adding {adding}"
    );
    let other = li.create_visit(field.visit())?;
    let (status, headers, body) = field
        .server
        .sync(&token, &request(&li, &[&visit, &other])?)
        .await?;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(
        headers.get(header::RETRY_AFTER).is_none(),
        "waiting does not help"
    );
    let json: serde_json::Value = serde_json::from_slice(&body)?;
    assert_eq!(
        json["error"], "write_rule",
        "a client sets the document aside"
    );
    assert_eq!(json["limit"], "max_document_bytes");
    assert_eq!(json["value"], DOCUMENT_LIMIT);
    let refusal: ErrorBody = serde_json::from_slice(&body)?;
    assert_eq!(refusal.rejected.len(), 1, "{refusal:?}");
    assert_eq!(refusal.rejected[0].doc, visit.as_str());
    assert_eq!(refusal.rejected[0].rule, "quota");
    assert!(
        refusal.rejected[0]
            .message
            .contains(&format!("`{DOCUMENT_LIMIT}`")),
        "{refusal:?}"
    );
    assert_eq!(
        field.stored_bytes(&visit)?,
        stored,
        "the visit is unchanged"
    );
    assert_eq!(
        field.stored_bytes(&other)?,
        0,
        "refused whole: the other waits"
    );

    // Without the document over its limit, the rest goes through.
    let (status, _, body) = field.server.sync(&token, &request(&li, &[&other])?).await?;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    Ok(())
}

const DAILY_BUDGET: u64 = 5_000;

/// Shown to guard the budget: with `check_daily_budget` never called in `storage/push.rs`,
/// every visit was accepted and the loop below ended without a refusal.
async fn a_device_over_its_daily_byte_budget_is_told_to_retry_after_midnight_utc_and_stores_nothing_on(
    backend: Backend,
) -> TestResult {
    let limits = Limits {
        device_bytes_per_day: DAILY_BUDGET,
        ..Limits::default()
    };
    let field = Field::new(backend, "quota_daily", limits.clone()).await?;
    let (li, li_device, token) = field.phone("li-phone").await?;

    // Visits, one push each, until the budget refuses one.
    let mut accepted: Vec<DocId> = Vec::new();
    let mut used = 0;
    let mut refused = None;
    // Bounded: a visit is over a hundred bytes, so 5,000 bytes run out well before 50.
    for _ in 0..50 {
        let visit = li.create_visit(field.visit())?;
        let size = pending_bytes(&li, &visit)?;
        let outgoing = li
            .outbox_batch(1_000)?
            .into_iter()
            .find(|d| d.id == visit)
            .ok_or("the visit is pending")?;
        let (status, headers, body) = field.server.sync(&token, &request(&li, &[&visit])?).await?;
        if status == StatusCode::OK {
            li.confirm_pushed(&visit, outgoing.local_edits, &outgoing.heads)?;
            used += size;
            accepted.push(visit);
            continue;
        }
        refused = Some((visit, size, status, headers, body));
        break;
    }
    let Some((visit, size, status, headers, body)) = refused else {
        return Err("the budget never refused a push".into());
    };
    assert!(
        accepted.len() >= 2,
        "a day holds a few visits: {}",
        accepted.len()
    );
    assert!(used as u64 <= DAILY_BUDGET && (used + size) as u64 > DAILY_BUDGET);
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let json: serde_json::Value = serde_json::from_slice(&body)?;
    assert_eq!(json["error"], "quota");
    assert_eq!(json["limit"], "device_bytes_per_day");
    assert_eq!(json["value"], DAILY_BUDGET);
    let retry_after: u64 = headers
        .get(header::RETRY_AFTER)
        .ok_or("a Retry-After header")?
        .to_str()?
        .parse()?;
    assert!((1..=86_400).contains(&retry_after), "{retry_after}");
    assert_eq!(json["retry_after"], retry_after);
    let now = chrono::Utc::now().timestamp_millis();
    let midnight = (now.div_euclid(DAY_MS) + 1) * DAY_MS;
    assert!(
        (midnight - now).abs_diff(retry_after as i64 * 1_000) < 5_000,
        "until the next 00:00 UTC"
    );
    assert_eq!(field.stored_bytes(&visit)?, 0, "nothing of it is stored");

    // Pulling still works, and so does pushing again what the server has: it costs nothing.
    let pull = SyncRequest {
        protocol: 1,
        cursor: li.sync_cursor()?,
        push: vec![],
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    };
    assert_eq!(field.server.sync(&token, &pull).await?.0, StatusCode::OK);
    let again = SyncRequest {
        push: vec![DocChanges {
            doc: accepted[0].to_string(),
            changes: li
                .export_changes(&accepted[0], &[])?
                .into_iter()
                .map(Into::into)
                .collect(),
            index: None,
        }],
        ..pull.clone()
    };
    assert_eq!(field.server.sync(&token, &again).await?.0, StatusCode::OK);

    // Li's other phone has a budget of its own.
    let (tablet, _, tablet_token) = field.phone("li-tablet").await?;
    let from_tablet = tablet.create_visit(field.visit())?;
    let (status, _, _) = field
        .server
        .sync(&tablet_token, &request(&tablet, &[&from_tablet])?)
        .await?;
    assert_eq!(status, StatusCode::OK);

    // After 00:00 UTC the phone's push goes through.
    let changes = li
        .export_changes(&visit, &[])?
        .iter()
        .map(|c| IncomingChange::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    let tomorrow = field.server.storage.push_within(
        &li_device,
        vec![(visit.clone(), changes)],
        midnight,
        &limits.quotas(),
    )?;
    assert!(tomorrow.is_ok(), "{tomorrow:?}");
    assert_eq!(field.stored_bytes(&visit)?, size);
    Ok(())
}

/// Shown to guard the charge: with refused pushes charged nothing (`charge` never called
/// in `sync.rs`), Wu's pushes were refused with `403` all 20 times and never with `429`.
async fn pushes_the_rules_refuse_count_against_the_day_until_the_device_is_refused_unread_on(
    backend: Backend,
) -> TestResult {
    const BUDGET: u64 = 3 * 1024;
    let limits = Limits {
        device_bytes_per_day: BUDGET,
        ..Limits::default()
    };
    let field = Field::new(backend, "quota_refused", limits).await?;
    field.server.storage.add_user(
        &User {
            id: "am-wu".into(),
            role: Role::AccountManager,
            name: "Wu".into(),
        },
        0,
    )?;
    let (li, _, li_token) = field.phone("li").await?;
    // Wu's phone holds Li's store (copied from Li's phone) and writes visits at it: each
    // push is judged and refused as outside Wu's scope.
    let wu_enrolled = field.server.enroll_device("am-wu").await?;
    let (wu, _) = device(
        field.dir.path().join("wu.db"),
        "am-wu",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    fieldsync_core::fixtures::exchange(&li, &wu)?;
    let mut refused = 0u64;
    let mut charged = 0u64;
    let mut spent = None;
    // Bounded: 20 pushes of a visit (about 700 bytes each) against a budget of 3 KiB.
    for _ in 0..20 {
        let visit = wu.create_visit(field.visit())?;
        let size = pending_bytes(&wu, &visit)? as u64;
        let (status, _, body) = field
            .server
            .sync(&wu_enrolled.token, &request(&wu, &[&visit])?)
            .await?;
        assert_eq!(
            field.stored_bytes(&visit)?,
            0,
            "nothing of Wu's visit is stored"
        );
        if status == StatusCode::FORBIDDEN {
            refused += 1;
            charged += size;
            continue;
        }
        spent = Some((status, serde_json::from_slice::<serde_json::Value>(&body)?));
        break;
    }
    let (status, json) = spent.ok_or("the day was never spent")?;
    assert!(refused >= 2, "a few refused pushes first: {refused}");
    assert!(
        charged >= BUDGET,
        "refused only once the day was spent: {charged} bytes"
    );
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{json}");
    assert_eq!(json["limit"], "device_bytes_per_day");
    assert!(
        json["message"]
            .as_str()
            .is_some_and(|m| m.contains("refused pushes count too")),
        "{json}"
    );
    // Li's day is Li's own.
    li.create_visit(field.visit())?;
    field.server.sync_phone(&li_token, &li).await?;
    assert_eq!(
        li.outbox_counts()?.pending_documents,
        0,
        "Li's visit is stored"
    );
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(a_push_that_would_grow_a_document_past_its_limit_is_refused_naming_the_limit_and_stores_nothing_on: a_push_that_would_grow_a_document_past_its_limit_is_refused_naming_the_limit_and_stores_nothing, a_push_that_would_grow_a_document_past_its_limit_is_refused_naming_the_limit_and_stores_nothing_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_device_over_its_daily_byte_budget_is_told_to_retry_after_midnight_utc_and_stores_nothing_on: a_device_over_its_daily_byte_budget_is_told_to_retry_after_midnight_utc_and_stores_nothing, a_device_over_its_daily_byte_budget_is_told_to_retry_after_midnight_utc_and_stores_nothing_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(pushes_the_rules_refuse_count_against_the_day_until_the_device_is_refused_unread_on: pushes_the_rules_refuse_count_against_the_day_until_the_device_is_refused_unread, pushes_the_rules_refuse_count_against_the_day_until_the_device_is_refused_unread_on_postgres);
