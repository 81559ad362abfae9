//! A past month judged on the store as it was then (docs/adr/0034): R3's findings, R7's
//! follow-ups and R8's training days of November do not move when the store is
//! declassified, re-rated or reassigned in December; tasks created after the instant asked
//! about are not open at it; and a line added on another phone while a count was being
//! finished counts as found empty, so leaving it out never improves the count's rate; and
//! a demo-street store checked on a day stays checked for it after a later check (R5).
//!
//! Each was found by a review as a failing test against the code before (R3 and R7 and R8
//! read the store as it is now, tasks ignored their creation, the rate skipped the line),
//! and fails again with the period columns read as today's.

use chrono::NaiveDate;
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::{
    CheckPoint, DisplayCheck, DocId, FieldCalendar, FollowUpAction, IncomingChange, LocalStore,
    NewCountLine, NewInventoryCount, NewStore, NewTask, NewVisit, ProductOnDisplay, Pusher,
    Replica, Result, StoreClassification, TerminalRating, Timestamp, TrainingActivity, VisitKind,
};

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
}

fn set_clock(db: &LocalStore, when: &str) -> Result<()> {
    let when = at(when);
    db.set_clock(std::sync::Arc::new(move || when))
}

/// Am-li's phone, its clock at `start`.
fn li(dir: &tempfile::TempDir, start: &str) -> Result<LocalStore> {
    Ok(device(dir.path().join("a.db"), "am-li", at(start))?.0)
}

fn november() -> (Timestamp, Timestamp) {
    let cal = FieldCalendar::default();
    (
        cal.start_of(day("2026-11-01")),
        cal.start_of(day("2026-12-01")),
    )
}

fn visit(db: &LocalStore, store: &DocId, kind: VisitKind, when: &str) -> Result<DocId> {
    set_clock(db, when)?;
    db.create_visit(NewVisit {
        store_id: store.clone(),
        kind,
        check_in: CheckPoint {
            at: at(when),
            gps: None,
        },
        complaint_id: None,
    })
}

#[test]
fn a_novembers_count_finding_stays_after_the_terminal_is_declassified_in_december() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = li(&dir, "2026-10-01T09:00:00+08:00")?;
    let store = db.create_store(NewStore {
        functional_terminal: true,
        ..sample_store("am-li", 1)
    })?;
    set_clock(&db, "2026-11-20T10:00:00+08:00")?;
    db.record_inventory_count(
        NewInventoryCount {
            store_id: store.clone(),
            lines: vec![NewCountLine {
                sku: "6901028001".into(),
                name: "Zhonghua".into(),
                book: 100,
            }],
        },
        &[("6901028001".into(), 80)],
        true,
    )?;
    let (from, to) = november();
    assert_eq!(db.count_findings_finished_in("am-li", from, to)?.len(), 1);
    set_clock(&db, "2026-12-02T09:00:00+08:00")?;
    db.update_store_classification(
        &store,
        StoreClassification {
            functional_terminal: Some(false),
            ..StoreClassification::default()
        },
    )?;
    assert_eq!(
        db.count_findings_finished_in("am-li", from, to)?.len(),
        1,
        "November's finding stands"
    );
    assert!(
        db.count_findings("am-li")?.is_empty(),
        "today's list holds functional terminals only"
    );
    Ok(())
}

#[test]
fn novembers_follow_ups_are_those_of_novembers_rating_after_a_re_rating_in_december() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let db = li(&dir, "2026-10-01T09:00:00+08:00")?;
    let store = db.create_store(NewStore {
        functional_terminal: true,
        rating: Some(TerminalRating::Excellent),
        ..sample_store("am-li", 1)
    })?;
    visit(&db, &store, VisitKind::Routine, "2026-11-10T10:00:00+08:00")?;
    let follow_up = |d: &str| -> Result<Vec<(FollowUpAction, Option<bool>)>> {
        Ok(db
            .terminal_follow_ups("am-li", day(d))?
            .iter()
            .map(|f| (f.action, f.done))
            .collect())
    };
    assert_eq!(
        follow_up("2026-11-30")?,
        [(FollowUpAction::MonthlyGuidance, Some(true))]
    );
    set_clock(&db, "2026-12-02T09:00:00+08:00")?;
    db.update_store_classification(
        &store,
        StoreClassification {
            rating: Some(Some(TerminalRating::Unqualified)),
            ..StoreClassification::default()
        },
    )?;
    assert_eq!(
        follow_up("2026-11-30")?,
        [(FollowUpAction::MonthlyGuidance, Some(true))],
        "November is judged on November's rating"
    );
    assert_eq!(
        follow_up("2026-12-02")?,
        [(FollowUpAction::RectificationNotice, Some(false))],
        "December on December's"
    );
    Ok(())
}

#[test]
fn a_training_day_stays_with_the_manager_who_held_the_terminal_that_day() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = li(&dir, "2026-10-01T09:00:00+08:00")?;
    let store = db.create_store(NewStore {
        functional_terminal: true,
        ..sample_store("am-li", 1)
    })?;
    let training = visit(
        &db,
        &store,
        VisitKind::TrainingDay,
        "2026-11-10T09:00:00+08:00",
    )?;
    for activity in TrainingActivity::ALL {
        db.record_training_activity(&training, activity, "done")?;
    }
    set_clock(&db, "2026-12-02T09:00:00+08:00")?;
    db.reassign_store(&store, "am-wu")?;
    let then = db
        .store_at(&store, at("2026-11-10T09:00:00+08:00"))?
        .expect("a period on 10 November");
    assert_eq!((then.territory.as_str(), then.functional), ("am-li", true));
    let now = db
        .store_at(&store, at("2026-12-02T09:00:00+08:00"))?
        .expect("a period now");
    assert_eq!(now.territory, "am-wu");
    assert_eq!(db.stores_ever_held("am-li")?, std::slice::from_ref(&store));
    assert_eq!(db.stores_ever_held("am-wu")?, [store]);
    assert!(
        db.store_at(&training, at("2026-11-10T09:00:00+08:00"))?
            .is_none(),
        "a visit has no periods"
    );
    Ok(())
}

#[test]
fn a_task_created_after_the_instant_asked_about_is_not_open_at_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = li(&dir, "2026-10-01T09:00:00+08:00")?;
    let store = db.create_store(sample_store("am-li", 1))?;
    set_clock(&db, "2026-12-03T09:00:00+08:00")?;
    db.create_task(NewTask {
        store_id: store,
        title: "fix the price tag box".into(),
        description: String::new(),
        assignee: "am-li".into(),
        deadline: at("2026-12-10T17:00:00+08:00"),
        origin: None,
    })?;
    assert!(
        db.open_tasks("am-li", at("2026-11-30T23:59:59+08:00"))?
            .is_empty()
    );
    assert_eq!(
        db.open_tasks("am-li", at("2026-12-03T09:00:00+08:00"))?
            .len(),
        1
    );
    // A creator's clock a few minutes ahead does not hide it from today's list.
    assert_eq!(
        db.open_tasks("am-li", at("2026-12-03T08:55:00+08:00"))?
            .len(),
        1
    );
    Ok(())
}

#[test]
fn a_line_added_on_another_phone_while_the_count_was_finished_counts_as_found_empty() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let (a, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (b, _) = device(
        dir.path().join("b.db"),
        "mt-zhou",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = a.create_store(NewStore {
        functional_terminal: true,
        ..sample_store("am-li", 1)
    })?;
    b.merge_changes(&store, &a.export_changes(&store, &[])?)?;
    let count = a.create_inventory_count(NewInventoryCount {
        store_id: store.clone(),
        lines: vec![NewCountLine {
            sku: "6901028001".into(),
            name: "Zhonghua".into(),
            book: 100,
        }],
    })?;
    b.merge_changes(&count, &a.export_changes(&count, &[])?)?;
    let base = a.heads(&count)?;
    a.set_counted(&count, "6901028001", 100)?;
    a.finish_count(&count)?;
    b.add_count_line(
        &count,
        NewCountLine {
            sku: "6901028002".into(),
            name: "Hongtashan".into(),
            book: 100,
        },
    )?;
    // The server keeps both (each valid where it was made; ADR 0008).
    let parse = |c: Vec<Vec<u8>>| {
        c.iter()
            .map(|x| IncomingChange::parse(x))
            .collect::<Result<Vec<_>>>()
    };
    let pusher = |user| Pusher {
        user,
        received_at: at("2026-11-23T12:00:00+08:00").0,
    };
    let mut server = Replica::empty(&count);
    let pushed = server.apply(&parse(a.export_changes(&count, &[])?)?, &pusher("am-li"))?;
    assert!(pushed.is_ok(), "{pushed:?}");
    let added = server.apply(
        &parse(b.export_changes(&count, &base)?)?,
        &pusher("mt-zhou"),
    )?;
    assert!(added.is_ok(), "{added:?}");

    a.merge_changes(&count, &b.export_changes(&count, &base)?)?;
    let merged = a.inventory_count(&count)?;
    assert!(merged.finished.is_some());
    let rate = merged.error_rate();
    assert_eq!(
        (rate.abs_diff(), rate.exceeds_limit()),
        (100, true),
        "{rate:?}"
    );
    let finding = a.count_findings("am-li")?;
    assert_eq!(finding.len(), 1, "the index agrees with the document");
    assert_eq!(finding[0].error_rate.abs_diff(), 100);
    Ok(())
}

#[test]
fn a_demo_street_store_checked_on_a_day_stays_checked_for_it_after_a_later_check() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let db = li(&dir, "2026-11-01T09:00:00+08:00")?;
    let store = db.create_store(NewStore {
        demo_street: true,
        ..sample_store("am-li", 1)
    })?;
    let display = db.create_shelf_display(&store)?;
    let check = |when: &str, tag: bool| -> Result<()> {
        set_clock(&db, when)?;
        db.record_display_check(
            &display,
            &DisplayCheck {
                products: vec![ProductOnDisplay {
                    sku: "6901028001".into(),
                    name: "Zhonghua".into(),
                    price_tag: tag,
                }],
                ..DisplayCheck::default()
            },
        )
    };
    let unchecked =
        |d: &str| -> Result<usize> { Ok(db.demo_street_unchecked("am-li", day(d))?.len()) };
    check("2026-11-30T10:00:00+08:00", true)?;
    assert_eq!((unchecked("2026-11-29")?, unchecked("2026-11-30")?), (1, 0));
    check("2026-12-01T09:00:00+08:00", false)?;
    assert_eq!(
        (
            unchecked("2026-11-29")?,
            unchecked("2026-11-30")?,
            unchecked("2026-12-01")?,
            unchecked("2026-12-02")?
        ),
        (1, 0, 0, 1),
        "30 November stays checked after the check of 1 December"
    );
    Ok(())
}
