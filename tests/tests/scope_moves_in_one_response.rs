//! Stores that move while a phone is offline, read by the phone in one sync: what the
//! feed sends of them is what the phone may hold when the sync ends, and every change it
//! sends comes after those it builds on, however small the responses.

use fieldsync_core::fixtures::at;
use fieldsync_core::{CheckPoint, DocId, NewVisit, Role, VisitKind};
use fieldsync_tests::Backend;
use fieldsync_tests::device::Device;
use fieldsync_tests::district::{District, StoreRow, licence};
use fieldsync_tests::end_state::{Ledger, check_converged};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const MONDAY: &str = "2026-11-23T09:00:00+08:00";

fn new_visit(device: &Device, store: &DocId) -> NewVisit {
    NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: device.clock().now(),
            gps: None,
        },
        complaint_id: None,
    }
}

fn store_of(device: &Device, number: u32) -> Result<DocId, Box<dyn std::error::Error>> {
    Ok(device
        .local()
        .store_by_licence(&licence(number))?
        .ok_or_else(|| format!("{} has no store {number}", device.name))?)
}

fn assert_converged(district: &District, devices: &[&Device], ledger: &Ledger) {
    if let Err(problems) = check_converged(&district.database(), devices, ledger) {
        panic!("{} problems:\n{}", problems.len(), problems.join("\n"));
    }
}

/// A device time as the admin CLI's `--edit-time` takes it.
fn rfc3339(t: fieldsync_core::Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default()
}

/// Shown to guard the settling of what left: before it, the one response held the store's
/// documents both whole and as removed, and the phone (which merges, then drops) ended
/// without its own store and visit: the test failed at the first assert.
async fn a_store_moved_away_and_back_while_its_phone_was_offline_is_still_whole_on_it_on(
    backend: Backend,
) -> TestResult {
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("am-zhao", Role::AccountManager),
        ],
        &[StoreRow::new(1, "am-li")],
    )?;
    let monday = at(MONDAY);
    let li = district.enroll("am-li", "li-phone", monday).await?;
    let zhao = district.enroll("am-zhao", "zhao-phone", monday).await?;
    li.sync().await?;
    zhao.sync().await?;
    let store = store_of(&li, 1)?;
    let mut ledger = Ledger::default();
    let visit = ledger.create(&li, "visit", |l| l.create_visit(new_visit(&li, &store)))?;
    li.sync().await?;
    // A mistaken move, undone the same day, while Li's phone is off.
    let office = rfc3339(li.clock().now());
    for to in ["am-zhao", "am-li"] {
        district
            .server
            .admin(&["--edit-time", &office, "reassign", &licence(1), to])?;
    }
    li.sync().await?;
    assert!(li.local().store(&store).is_ok(), "the store is Li's again");
    assert!(li.local().visit(&visit).is_ok(), "and so is her visit");
    ledger.edit(&li, &visit, "notes", |l| {
        l.set_visit_notes(&visit, "after the move back")
    })?;
    li.sync().await?;
    zhao.sync().await?;
    assert_converged(&district, &[&li, &zhao], &ledger);
    Ok(())
}

/// Shown to guard scope judged at each row: before it, the change Zhao made after Li last
/// synced was sent on its own in the first one-byte response, ahead of the visit it builds
/// on, and Li's phone refused that response (a change whose dependency it lacks) at every
/// attempt: `sync` failed.
async fn a_change_made_before_a_store_entered_the_scope_arrives_after_what_it_builds_on_on(
    backend: Backend,
) -> TestResult {
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("am-zhao", Role::AccountManager),
        ],
        &[StoreRow::new(1, "am-zhao")],
    )?;
    let monday = at(MONDAY);
    let mut li = district.enroll("am-li", "li-phone", monday).await?;
    let zhao = district.enroll("am-zhao", "zhao-phone", monday).await?;
    zhao.sync().await?;
    let store = store_of(&zhao, 1)?;
    let mut ledger = Ledger::default();
    let visit = ledger.create(&zhao, "visit", |l| l.create_visit(new_visit(&zhao, &store)))?;
    zhao.sync().await?;
    li.sync().await?;
    ledger.edit(&zhao, &visit, "notes", |l| {
        l.set_visit_notes(&visit, "made before the move")
    })?;
    zhao.sync().await?;
    let office = rfc3339(zhao.clock().now());
    district
        .server
        .admin(&["--edit-time", &office, "reassign", &licence(1), "am-li"])?;
    li.configure(|c| c.max_response_bytes = 1)?;
    li.sync().await?;
    assert_eq!(li.local().visit(&visit)?.notes, "made before the move");
    zhao.sync().await?;
    assert_converged(&district, &[&li, &zhao], &ledger);
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(a_store_moved_away_and_back_while_its_phone_was_offline_is_still_whole_on_it_on: a_store_moved_away_and_back_while_its_phone_was_offline_is_still_whole_on_it, a_store_moved_away_and_back_while_its_phone_was_offline_is_still_whole_on_it_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_change_made_before_a_store_entered_the_scope_arrives_after_what_it_builds_on_on: a_change_made_before_a_store_entered_the_scope_arrives_after_what_it_builds_on, a_change_made_before_a_store_entered_the_scope_arrives_after_what_it_builds_on_on_postgres);
