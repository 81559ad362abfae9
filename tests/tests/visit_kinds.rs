//! A visit's kind is what the field rules count it as (R4's spot checks, R5's walks and
//! daily checks, R8's training days), so the server takes each kind only from the one role
//! that records it (`VisitKind::recorded_by`): an account manager cannot pass a visit off as
//! the supervision team's spot check, nor a supervisor as the market team's walk. Real
//! phones of every role push a visit of every kind through `POST /v1/sync` of a real server
//! on 127.0.0.1, on SQLite and on PostgreSQL with two instances.
//!
//! Shown to guard the rule: with the check in `core/src/rules/write_rules.rs` taken out
//! (the guard `kind.recorded_by() != writer.role` replaced by `false`), the first case
//! another role may not record, the market team's `routine` visit, was accepted with a 200.

use axum::http::StatusCode;
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::protocol::ErrorBody;
use fieldsync_core::{CheckPoint, DocId, DocKind, LocalStore, NewVisit, Role, VisitKind};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::User;
use fieldsync_tests::Backend;
use fieldsync_tests::district::{District, StoreRow, licence};
use fieldsync_tests::old_server::plant;
use fieldsync_tests::routes::{Instances, outbox_request};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const MONDAY: &str = "2026-11-23T09:00:00+08:00";

/// One user of each role; Li's store is on the demo street, so the market team sees it.
const PEOPLE: [(&str, Role); 4] = [
    ("am-li", Role::AccountManager),
    ("mkt-zhou", Role::MarketTeam),
    ("sup-wang", Role::Supervisor),
    ("admin-chen", Role::Admin),
];

fieldsync_tests::on_sqlite_and_postgres!(
    taken_before:
        a_walk_and_a_spot_check_an_older_server_took_from_an_account_manager_count_for_nothing_in_the_report_on_sqlite,
    a_walk_and_a_spot_check_an_older_server_took_from_an_account_manager_count_for_nothing_in_the_report_on_postgres
);

fieldsync_tests::on_sqlite_and_postgres!(
    kinds_by_role: every_visit_kind_is_taken_from_its_own_role_and_refused_naming_the_kind_from_every_other_on_sqlite,
    every_visit_kind_is_taken_from_its_own_role_and_refused_naming_the_kind_from_every_other_on_postgres
);

async fn kinds_by_role(backend: Backend) -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Instances::open(backend, dir.path(), "visit-kinds", Limits::default())?;
    for (id, role) in PEOPLE {
        let user = User {
            id: id.into(),
            role,
            name: id.into(),
        };
        server.storage.add_user(&user, 0)?;
    }
    let store = {
        let admin = AdminDevice::open(dir.path(), server.storage.as_ref())?;
        let mut new = sample_store("am-li", 1);
        new.demo_street = true;
        let store = admin.local.create_store(new)?;
        admin.push()?;
        store
    };
    // A complaint on site needs a complaint: the kinds that stand alone.
    let kinds = VisitKind::ALL
        .into_iter()
        .filter(|k| *k != VisitKind::ComplaintOnSite);
    let (mut taken, mut refused) = (0, 0);
    for kind in kinds {
        for (user, role) in PEOPLE {
            let name = format!("{user}-{}", kind.code());
            let (phone, token) = phone(&server, dir.path(), user, &name).await?;
            let visit = phone.create_visit(new_visit(&store, kind))?;
            let (status, refusal) = push(&server, &token, &phone).await?;
            if kind.recorded_by() == role {
                assert_eq!(status, StatusCode::OK, "{name}: {refusal:?}");
                taken += 1;
                continue;
            }
            assert_eq!(status, StatusCode::FORBIDDEN, "{name} is refused");
            let body = refusal.ok_or("a refusal has a body")?;
            assert_eq!(body.error, "write_rule", "{name}: {body:?}");
            let [rejection] = body.rejected.as_slice() else {
                return Err(format!("{name}: one document refused: {body:?}").into());
            };
            assert_eq!(rejection.doc, visit.as_str(), "{name}");
            assert_eq!(rejection.rule, "visit_kind_role", "{name}: {rejection:?}");
            for said in [kind.code(), role.code()] {
                assert!(rejection.message.contains(said), "{name}: {rejection:?}");
            }
            assert!(
                server.storage.document_changes(visit.as_str())?.is_empty(),
                "{name}: nothing of the refused visit is stored"
            );
            refused += 1;
        }
    }
    // Five kinds, each taken from one role of four (admins record none).
    assert_eq!((taken, refused), (5, 15));
    Ok(())
}

/// Visits stored before the server bound kinds to roles are not judged again, so the
/// report itself counts a walk or a spot check only from its kind's role: an account
/// manager's "supervision spot check" and "market walk" of her own demo-street store,
/// stored as an older server took them, change none of her figures. Shown to fail with the
/// report not telling its store the users' roles (`set_roles` in `admin/report.rs` not
/// called): `r4_stores_spot_checked` was 1.
async fn taken_before(backend: Backend) -> TestResult {
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("mk-zhao", Role::MarketTeam),
            ("sup-wang", Role::Supervisor),
        ],
        &[StoreRow::new(1, "am-li").demo()],
    )?;
    let phone = district.enroll("am-li", "li-phone", at(MONDAY)).await?;
    phone.sync().await?;
    let store = phone
        .local()
        .store_by_licence(&licence(1))?
        .ok_or("Li holds her store")?;
    for kind in [
        VisitKind::SupervisionSpotCheck,
        VisitKind::MarketWalkthrough,
    ] {
        let visit = phone.local().create_visit(new_visit(&store, kind))?;
        let changes = phone.local().export_changes(&visit, &[])?;
        plant(
            &district.database(),
            &visit,
            DocKind::Visit,
            Some(&store),
            &changes,
        )?;
    }
    let csv = district
        .server
        .admin(&["report", "--month", "2026-11", "--day", "2026-11-23"])?;
    // The rows, before the sections after an empty line; no cell here holds a comma.
    let mut lines = csv.lines().take_while(|l| !l.is_empty());
    let header: Vec<&str> = lines.next().ok_or("a header")?.split(',').collect();
    let li: Vec<&str> = lines
        .find(|l| l.starts_with("am-li,"))
        .ok_or("a row for am-li")?
        .split(',')
        .collect();
    let cell = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .and_then(|i| li.get(i).copied())
    };
    assert_eq!(cell("r4_stores_spot_checked"), Some("0"), "{csv}");
    assert_eq!(cell("r5_demo_street_sampled"), Some("0"), "{csv}");
    assert_eq!(cell("r5_demo_street_unwalked"), Some("1"), "{csv}");
    Ok(())
}

/// A phone of `user`, enrolled and synced (it holds the store).
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

fn new_visit(store: &DocId, kind: VisitKind) -> NewVisit {
    NewVisit {
        store_id: store.clone(),
        kind,
        check_in: CheckPoint {
            at: at(MONDAY),
            gps: None,
        },
        complaint_id: None,
    }
}

/// Pushes everything `phone` has pending; the answer's status and, for a refusal, its body.
async fn push(
    server: &Instances,
    token: &str,
    phone: &LocalStore,
) -> Fallible<(StatusCode, Option<ErrorBody>)> {
    let request = outbox_request(&phone.outbox_batch(1_000)?, phone.sync_cursor()?);
    let (status, _, body) = server.sync(token, &request).await?;
    let refusal = (status != StatusCode::OK)
        .then(|| serde_json::from_slice(&body))
        .transpose()?;
    Ok((status, refusal))
}
