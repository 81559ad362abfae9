//! Devices whose situation changes under them, on a real server: a store reassigned while
//! its old owner's phone has offline edits to it; a device revoked by the office; a phone
//! restored from an old backup of its database.
//!
//! Each ends with [`fieldsync_tests::end_state::check_converged`] on the devices that are
//! still in service: each holds exactly its scope, identical to the server, with every
//! recorded edit stored once and present wherever its document is.

use std::io::Write;
use std::time::Instant;

use fieldsync_core::fixtures::at;
use fieldsync_core::{DisplayStandard, DocId, LocalStore, Receipt, Role, SyncFailure, Verdict};
use fieldsync_tests::Backend;
use fieldsync_tests::district::{District, StoreRow, licence, office_time};
use fieldsync_tests::end_state::{Ledger, assert_converged, held_documents, server_has_change};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const MONDAY: &str = "2026-11-23T09:00:00+08:00";

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Shown to guard the delivery of edits made before the move: with the server's former 30-day
/// grace period set to 0 (an experiment in a scratch copy), the test failed at
/// `report.rejected`: the offline visit (`store_scope`, "the store is not in the visitor's
/// scope") and the display mark (`store_scope`, "the store of this shelf_display is not in
/// `am-li`'s scope") were refused. Today a device may deliver them until the server has
/// handed it the move (`tests/moved_store_writes.rs`).
async fn a_store_reassigned_while_its_old_owner_has_offline_edits_keeps_them_and_moves_whole_on(
    backend: Backend,
) -> TestResult {
    let started = Instant::now();
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("am-zhao", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
        ],
        &[
            StoreRow::new(1, "am-li").terminal(),
            StoreRow::new(2, "am-li"),
            StoreRow::new(3, "am-zhao"),
        ],
    )?;
    let monday = at(MONDAY);
    let li = district.enroll("am-li", "li-phone", monday).await?;
    let zhao = district.enroll("am-zhao", "zhao-phone", monday).await?;
    let wang = district.enroll("sup-wang", "wang-phone", monday).await?;
    for device in [&li, &zhao, &wang] {
        device.sync().await?;
    }
    let moving = li.store_numbered(1)?;
    let staying = li.store_numbered(2)?;
    let display = LocalStore::shelf_display_id(&moving);
    let mut ledger = Ledger::default();

    // Monday, online: a visit to the store that will move, synced.
    let earlier = ledger.create(&li, "Monday visit", |l| {
        l.create_visit(li.routine_visit(&moving))
    })?;
    ledger.edit(&li, &earlier, "Monday notes", |l| {
        l.set_visit_notes(&earlier, "first visit")
    })?;
    li.sync().await?;

    // Tuesday, offline: another visit and a display check there, and a visit elsewhere.
    li.clock().advance_minutes(24 * 60);
    let offline = ledger.create(&li, "offline visit", |l| {
        l.create_visit(li.routine_visit(&moving))
    })?;
    ledger.edit(&li, &offline, "offline notes", |l| {
        l.set_visit_notes(&offline, "visited before hearing of the move")
    })?;
    ledger.edit(&li, &display, "offline display mark", |l| {
        l.mark_display_standard(
            &display,
            DisplayStandard::PriceTags,
            Verdict::Fail,
            "two missing",
        )
    })?;
    let elsewhere = ledger.create(&li, "visit to a store that stays", |l| {
        l.create_visit(li.routine_visit(&staying))
    })?;

    // Meanwhile the office moves the store to am-zhao, who syncs at once.
    let moved = district.server.admin(&[
        "--edit-time",
        &office_time(li.clock().now()),
        "reassign",
        &licence(1),
        "am-zhao",
    ])?;
    assert!(moved.starts_with("moved store"), "{moved}");
    // Zhao's phone keeps the district's time too.
    zhao.clock().set(li.clock().now());
    zhao.sync().await?;
    assert!(
        zhao.local().visit(&earlier).is_ok(),
        "the history moves with the store"
    );

    // The old owner syncs: the offline edits are accepted (the phone had not heard of the
    // move when it made them), then everything
    // of the moved store leaves the phone, with nothing of it pending.
    let report = li.sync().await?;
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(report.docs_removed >= 4, "{report:?}");
    for gone in [&moving, &display, &earlier, &offline] {
        assert!(
            !held_documents(li.local())?.contains(gone),
            "li-phone still holds `{gone}`"
        );
        assert!(li.local().receipt(gone).is_err());
    }
    assert_eq!(li.local().receipt(&elsewhere)?, Receipt::OnServer);

    // The new owner gets the offline edits too, and carries on with the store.
    zhao.sync().await?;
    assert_eq!(
        zhao.local().visit(&offline)?.notes,
        "visited before hearing of the move"
    );
    assert_eq!(zhao.local().store(&moving)?.territory, "am-zhao");
    ledger.edit(&zhao, &display, "new owner's display mark", |l| {
        l.mark_display_standard(&display, DisplayStandard::PriceTags, Verdict::Pass, "fixed")
    })?;
    zhao.sync().await?;
    for device in [&li, &zhao, &wang] {
        device.sync().await?;
    }
    assert_converged(&district.database(), &[&li, &zhao, &wang], &ledger);
    report_time("reassignment", started);
    Ok(())
}

/// Fails today, for the same reason as the restored backup below: when a store enters a
/// device's scope the server sends its documents "whole" except the device's own changes
/// (`send_store_whole` filters `l.device_id IS NOT ?2`). An owner whose store moves away
/// (his copies are dropped, as they must be) and back gets his own visit never again: the
/// sync succeeds and the visit is simply missing from his phone. Had anyone else edited
/// that visit meanwhile, the other edit would arrive without the change that created the
/// visit, and every later sync would fail to merge it.
async fn a_store_that_moves_away_and_back_returns_whole_to_its_owner_on(
    backend: Backend,
) -> TestResult {
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("am-zhao", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
        ],
        &[StoreRow::new(1, "am-li")],
    )?;
    let monday = at(MONDAY);
    let li = district.enroll("am-li", "li-phone", monday).await?;
    let zhao = district.enroll("am-zhao", "zhao-phone", monday).await?;
    let wang = district.enroll("sup-wang", "wang-phone", monday).await?;
    for device in [&li, &zhao, &wang] {
        device.sync().await?;
    }
    let store = li.store_numbered(1)?;
    let mut ledger = Ledger::default();
    let visit = ledger.create(&li, "visit", |l| l.create_visit(li.routine_visit(&store)))?;
    ledger.edit(&li, &visit, "notes", |l| {
        l.set_visit_notes(&visit, "before the move")
    })?;
    li.sync().await?;
    let office = office_time(li.clock().now());
    district
        .server
        .admin(&["--edit-time", &office, "reassign", &licence(1), "am-zhao"])?;
    li.sync().await?;
    assert!(
        li.local().visit(&visit).is_err(),
        "dropped when the store left"
    );
    district
        .server
        .admin(&["--edit-time", &office, "reassign", &licence(1), "am-li"])?;
    for device in [&li, &zhao, &wang] {
        device.sync().await?;
    }
    assert_eq!(li.local().visit(&visit)?.notes, "before the move");
    assert_converged(&district.database(), &[&li, &zhao, &wang], &ledger);
    Ok(())
}

/// Shown to guard "a refusal keeps the edits": with `SyncClient::sync` changed to confirm
/// each batch before sending it (an experiment in a scratch copy), `pending_documents` was
/// empty after the `401` and the test failed there.
async fn a_revoked_device_is_refused_as_unauthorized_and_keeps_its_edits_pending_on(
    backend: Backend,
) -> TestResult {
    let started = Instant::now();
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
        ],
        &[StoreRow::new(1, "am-li")],
    )?;
    let monday = at(MONDAY);
    let li = district.enroll("am-li", "li-phone", monday).await?;
    let tablet = district.enroll("am-li", "li-tablet", monday).await?;
    let wang = district.enroll("sup-wang", "wang-phone", monday).await?;
    for device in [&li, &tablet, &wang] {
        device.sync().await?;
    }
    let store = li.store_numbered(1)?;
    let mut ledger = Ledger::default();
    let visit = ledger.create(&tablet, "tablet visit", |l| {
        l.create_visit(tablet.routine_visit(&store))
    })?;
    tablet.sync().await?;

    // The tablet is reported lost and revoked; it goes on working offline.
    district.server.admin(&["revoke", &tablet.device_id])?;
    let mut kept = Ledger::default();
    kept.edit(&tablet, &visit, "notes after the revocation", |l| {
        l.set_visit_notes(&visit, "written on a revoked tablet")
    })?;
    let later = kept.create(&tablet, "visit after the revocation", |l| {
        l.create_visit(tablet.routine_visit(&store))
    })?;
    let failed = tablet
        .sync()
        .await
        .expect_err("a revoked device is refused");
    assert!(matches!(failed, SyncFailure::Unauthorized(_)), "{failed:?}");
    assert!(!failed.is_transient());
    let pending: Vec<DocId> = tablet
        .local()
        .pending_documents()?
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(pending, vec![visit.clone(), later.clone()]);
    for id in [&visit, &later] {
        assert_eq!(tablet.local().receipt(id)?, Receipt::SavedOnPhone);
    }
    for edit in &kept.edits {
        assert!(
            !server_has_change(&district.database(), &edit.change)?,
            "`{}` reached the server",
            edit.what
        );
    }

    // The user's other device carries on untouched.
    li.sync().await?;
    ledger.edit(&li, &visit, "notes from the phone", |l| {
        l.append_visit_notes(&visit, "seen from the phone")
    })?;
    for device in [&li, &wang, &li] {
        device.sync().await?;
    }
    assert_converged(&district.database(), &[&li, &wang], &ledger);
    assert!(tablet.sync().await.is_err(), "still revoked");
    assert_eq!(tablet.local().pending_documents()?.len(), 2);
    report_time("revoked device", started);
    Ok(())
}

/// The backup is taken while an edit is pending; since then the phone pushed it and pulled
/// the supervisor's changes. Restored, its cursor is behind and its heads are old: it
/// pushes the old edit again (stored once), pulls the supervisor's changes again (merged
/// harmlessly), and its new edits (by the fresh actor of the new opening) go through.
///
/// With the server no longer dropping changes it already stores (an experiment in a scratch
/// copy), the restored phone's sync failed with `500` (the re-sent edit hit the
/// `changes.hash` key).
async fn a_phone_restored_from_a_backup_taken_before_its_last_push_catches_up_and_loses_nothing_on(
    backend: Backend,
) -> TestResult {
    let started = Instant::now();
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
        ],
        &[StoreRow::new(1, "am-li").demo()],
    )?;
    let monday = at(MONDAY);
    let li = district.enroll("am-li", "li-phone", monday).await?;
    let wang = district.enroll("sup-wang", "wang-phone", monday).await?;
    li.sync().await?;
    wang.sync().await?;
    let store = li.store_numbered(1)?;
    let display = LocalStore::shelf_display_id(&store);
    let mut ledger = Ledger::default();
    let visit = ledger.create(&li, "visit", |l| l.create_visit(li.routine_visit(&store)))?;
    li.sync().await?;
    ledger.edit(&li, &visit, "notes pending at the backup", |l| {
        l.set_visit_notes(&visit, "pending when backed up. ")
    })?;

    let backup = district.phones_dir().join("li-phone-backup.db");
    let closed = li.close()?;
    closed.copy_to(&backup)?;
    let li = closed.open()?;
    let actor_before = li.local().actor_id()?;

    li.sync().await?;
    wang.sync().await?;
    ledger.edit(&wang, &visit, "supervisor comment", |l| {
        l.comment_on_visit(&visit, "seen")
    })?;
    ledger.edit(&wang, &display, "supervisor mark", |l| {
        l.mark_display_standard(
            &display,
            DisplayStandard::TidyCounter,
            Verdict::Fail,
            "dusty",
        )
    })?;
    wang.sync().await?;
    li.sync().await?;

    let closed = li.close()?;
    closed.replace_with(&backup)?;
    let li = closed.open()?;
    assert_ne!(li.local().actor_id()?, actor_before, "a fresh actor");
    assert!(li.local().visit(&visit)?.comments.is_empty(), "an old copy");
    assert_eq!(li.local().receipt(&visit)?, Receipt::SavedOnPhone);
    ledger.edit(&li, &visit, "notes after the restore", |l| {
        l.append_visit_notes(&visit, "written after the restore. ")
    })?;
    ledger.edit(&li, &display, "mark after the restore", |l| {
        l.mark_display_standard(&display, DisplayStandard::PackDisplay, Verdict::Pass, "ok")
    })?;
    li.sync().await?;
    wang.sync().await?;
    li.sync().await?;
    assert_converged(&district.database(), &[&li, &wang], &ledger);
    assert_eq!(
        li.local().visit(&visit)?.notes,
        "pending when backed up. written after the restore. "
    );
    report_time("restore (pulls since the backup)", started);
    Ok(())
}

/// Fails today: the server's feed leaves out every change the device itself pushed
/// (`read_feed` and `send_store_whole` filter `l.device_id IS NOT ?2`). A phone restored
/// from a backup taken before some of its own pushes never gets those changes back: its
/// copies stay behind the server's, and once another device builds on them (the
/// supervisor's comment below depends on the lost notes) every later sync fails with "local
/// store: invalid `changes`: they depend on change … which this device does not have",
/// rolling back the whole response: the phone can neither confirm its new pushes (the
/// server has stored them) nor pull anything again. Run with `--ignored` to see it.
///
/// Experiments in a scratch copy: with the feed sending a device's own changes too, except
/// those pushed in the same request (in `read_feed` and `send_store_whole`), this test and
/// `a_store_that_moves_away_and_back_returns_whole_to_its_owner` passed, and so did every
/// other test of `field_week.rs`, `faults.rs` and this file; with, in addition, core
/// reusing one actor per file instead of a fresh one per opening (ADR 0002), this test
/// failed with "400 … automerge: duplicate seq 2 found for actor …".
async fn a_phone_restored_from_a_backup_gets_back_what_it_pushed_after_the_backup_on(
    backend: Backend,
) -> TestResult {
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
        ],
        &[StoreRow::new(1, "am-li")],
    )?;
    let monday = at(MONDAY);
    let li = district.enroll("am-li", "li-phone", monday).await?;
    let wang = district.enroll("sup-wang", "wang-phone", monday).await?;
    li.sync().await?;
    wang.sync().await?;
    let store = li.store_numbered(1)?;
    let mut ledger = Ledger::default();
    let visit = ledger.create(&li, "visit", |l| l.create_visit(li.routine_visit(&store)))?;
    li.sync().await?;

    let backup = district.phones_dir().join("li-phone-backup.db");
    let closed = li.close()?;
    closed.copy_to(&backup)?;
    let li = closed.open()?;

    ledger.edit(&li, &visit, "notes pushed after the backup", |l| {
        l.set_visit_notes(&visit, "pushed after the backup. ")
    })?;
    let second = ledger.create(&li, "visit pushed after the backup", |l| {
        l.create_visit(li.routine_visit(&store))
    })?;
    li.sync().await?;
    wang.sync().await?;
    ledger.edit(&wang, &visit, "supervisor comment", |l| {
        l.comment_on_visit(&visit, "seen")
    })?;
    wang.sync().await?;

    let closed = li.close()?;
    closed.replace_with(&backup)?;
    let li = closed.open()?;
    ledger.edit(&li, &visit, "notes after the restore", |l| {
        l.append_visit_notes(&visit, "written after the restore. ")
    })?;
    li.sync().await?;
    wang.sync().await?;
    li.sync().await?;
    assert!(
        li.local().visit(&second).is_ok(),
        "the visit pushed after the backup"
    );
    assert_converged(&district.database(), &[&li, &wang], &ledger);
    Ok(())
}

fn report_time(what: &str, started: Instant) {
    report(&format!("{what}: {:.1} s", started.elapsed().as_secs_f64()));
}

fieldsync_tests::on_sqlite_and_postgres!(a_store_reassigned_while_its_old_owner_has_offline_edits_keeps_them_and_moves_whole_on: a_store_reassigned_while_its_old_owner_has_offline_edits_keeps_them_and_moves_whole, a_store_reassigned_while_its_old_owner_has_offline_edits_keeps_them_and_moves_whole_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_store_that_moves_away_and_back_returns_whole_to_its_owner_on: a_store_that_moves_away_and_back_returns_whole_to_its_owner, a_store_that_moves_away_and_back_returns_whole_to_its_owner_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_revoked_device_is_refused_as_unauthorized_and_keeps_its_edits_pending_on: a_revoked_device_is_refused_as_unauthorized_and_keeps_its_edits_pending, a_revoked_device_is_refused_as_unauthorized_and_keeps_its_edits_pending_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_phone_restored_from_a_backup_taken_before_its_last_push_catches_up_and_loses_nothing_on: a_phone_restored_from_a_backup_taken_before_its_last_push_catches_up_and_loses_nothing, a_phone_restored_from_a_backup_taken_before_its_last_push_catches_up_and_loses_nothing_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_phone_restored_from_a_backup_gets_back_what_it_pushed_after_the_backup_on: a_phone_restored_from_a_backup_gets_back_what_it_pushed_after_the_backup, a_phone_restored_from_a_backup_gets_back_what_it_pushed_after_the_backup_on_postgres);
