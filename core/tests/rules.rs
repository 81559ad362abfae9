//! The rule queries at their edges: R1 weeks and exemptions, R5 daily checks, R7
//! follow-ups, R9 monthly visits. (R2 and R3 edges sit with shelf displays and counts.)

use chrono::NaiveDate;
use fieldsync_core::fixtures::{at, device, exchange, sample_store};
use fieldsync_core::{
    CheckPoint, DisplayCheck, DisplayStandard, DocId, FollowUpAction, LocalStore, NewStore,
    NewVisit, ProductOnDisplay, Result, StoreFormat, StoreSize, TerminalRating, Timestamp, Verdict,
    VisitKind,
};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// A visit checked in at `when`, recorded then: the device's clock reads `when` (a check-in
/// ahead of the device's clock is refused).
fn visit(db: &LocalStore, store: &DocId, when: Timestamp) -> Result<DocId> {
    db.set_clock(std::sync::Arc::new(move || when))?;
    db.create_visit(NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: when,
            gps: None,
        },
        complaint_id: None,
    })
}

fn due(db: &LocalStore, manager: &str, on: &str) -> Result<Vec<DocId>> {
    Ok(db
        .stores_due_visit(manager, day(on))?
        .into_iter()
        .map(|d| d.store_id)
        .collect())
}

#[test]
fn a_small_grocery_store_is_exempt_from_the_weekly_visit_but_a_medium_one_is_not() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let z3 = db.create_store(NewStore {
        format: StoreFormat::Grocery,
        size: StoreSize::Small,
        ..sample_store("am-li", 1)
    })?;
    let z2 = db.create_store(NewStore {
        format: StoreFormat::Grocery,
        size: StoreSize::Medium,
        ..sample_store("am-li", 2)
    })?;
    let b3 = db.create_store(NewStore {
        format: StoreFormat::Convenience,
        size: StoreSize::Small,
        ..sample_store("am-li", 3)
    })?;
    assert!(db.store(&z3)?.is_small_grocery());
    let mut expected = vec![z2, b3];
    expected.sort_by_key(|id| db.store(id).map(|s| s.name).unwrap_or_default());
    assert_eq!(due(&db, "am-li", "2026-11-23")?, expected);
    Ok(())
}

#[test]
fn a_sunday_night_visit_counts_for_its_own_iso_week_not_the_next() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    // Sunday 22 Nov 23:59 local: the last minute of ISO week 47.
    visit(&db, &store, at("2026-11-22T23:59:00+08:00"))?;
    assert!(
        due(&db, "am-li", "2026-11-22")?.is_empty(),
        "visited in week 47"
    );
    assert_eq!(
        due(&db, "am-li", "2026-11-23")?,
        vec![store.clone()],
        "week 48 starts on Monday"
    );
    // Monday 00:00 local (Sunday 16:00 UTC) already belongs to week 48.
    visit(&db, &store, at("2026-11-23T00:00:00+08:00"))?;
    assert!(due(&db, "am-li", "2026-11-29")?.is_empty());
    Ok(())
}

#[test]
fn the_iso_week_that_spans_new_year_is_one_week() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-12-28T09:00:00+08:00"),
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    visit(&db, &store, at("2026-12-29T10:00:00+08:00"))?;
    assert!(
        due(&db, "am-li", "2027-01-03")?.is_empty(),
        "2026-12-29 and 2027-01-03 share ISO week 53"
    );
    assert_eq!(due(&db, "am-li", "2027-01-04")?, vec![store]);
    Ok(())
}

#[test]
fn a_visit_by_someone_else_does_not_satisfy_the_account_managers_weekly_visit() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("sup.db"),
        "sup-wang",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    visit(&db, &store, at("2026-11-24T10:00:00+08:00"))?;
    assert_eq!(due(&db, "am-li", "2026-11-24")?, vec![store]);
    Ok(())
}

#[test]
fn a_demo_street_store_checked_yesterday_is_unchecked_today() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T18:00:00+08:00"),
    )?;
    let demo = db.create_store(NewStore {
        demo_street: true,
        ..sample_store("am-li", 1)
    })?;
    let ordinary = db.create_store(sample_store("am-li", 2))?;
    let display = db.create_shelf_display(&demo)?;
    db.create_shelf_display(&ordinary)?;
    assert_eq!(
        db.demo_street_unchecked("am-li", day("2026-11-23"))?.len(),
        1,
        "never checked"
    );
    db.mark_display_standard(&display, DisplayStandard::TidyCounter, Verdict::Pass, "")?;
    assert!(
        db.demo_street_unchecked("am-li", day("2026-11-23"))?
            .is_empty()
    );
    clock.set(at("2026-11-24T00:00:00+08:00"));
    assert_eq!(
        db.demo_street_unchecked("am-li", day("2026-11-24"))?
            .into_iter()
            .map(|s| s.0)
            .collect::<Vec<_>>(),
        vec![demo]
    );
    Ok(())
}

#[test]
fn the_market_teams_walkthrough_does_not_stand_in_for_the_daily_check() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("mk.db"),
        "mk-zhao",
        at("2026-11-23T10:00:00+08:00"),
    )?;
    let demo = db.create_store(NewStore {
        demo_street: true,
        ..sample_store("am-li", 1)
    })?;
    let display = db.create_shelf_display(&demo)?;
    db.mark_display_standard(
        &display,
        DisplayStandard::BrightStorefront,
        Verdict::Pass,
        "",
    )?;
    assert_eq!(
        db.demo_street_unchecked("am-li", day("2026-11-23"))?.len(),
        1
    );
    Ok(())
}

#[test]
fn an_account_managers_daily_check_stands_when_the_market_team_rewrites_the_standard_later()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (li, _) = device(
        dir.path().join("am.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (zhao, _) = device(
        dir.path().join("mk.db"),
        "mk-zhao",
        at("2026-11-23T10:00:00+08:00"),
    )?;
    let demo = li.create_store(NewStore {
        demo_street: true,
        ..sample_store("am-li", 1)
    })?;
    let display = li.create_shelf_display(&demo)?;
    li.mark_display_standard(&display, DisplayStandard::TidyCounter, Verdict::Fail, "")?;
    exchange(&li, &zhao)?;
    // The market team's walk, an hour later, writes over the same standard.
    zhao.mark_display_standard(&display, DisplayStandard::TidyCounter, Verdict::Pass, "")?;
    exchange(&zhao, &li)?;
    for db in [&li, &zhao] {
        assert!(
            db.demo_street_unchecked("am-li", day("2026-11-23"))?
                .is_empty(),
            "the account manager checked it at 09:00"
        );
    }
    Ok(())
}

#[test]
fn a_check_that_only_takes_a_product_off_the_display_is_the_days_check() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let demo = db.create_store(NewStore {
        demo_street: true,
        ..sample_store("am-li", 1)
    })?;
    let display = db.create_shelf_display(&demo)?;
    db.record_display_check(
        &display,
        &DisplayCheck {
            products: vec![ProductOnDisplay {
                sku: "6901028075015".into(),
                name: "Zhonghua".into(),
                price_tag: true,
            }],
            ..DisplayCheck::default()
        },
    )?;
    clock.set(at("2026-11-24T09:00:00+08:00"));
    assert_eq!(
        db.demo_street_unchecked("am-li", day("2026-11-24"))?.len(),
        1
    );
    db.record_display_check(
        &display,
        &DisplayCheck {
            removed_products: vec!["6901028075015".into()],
            ..DisplayCheck::default()
        },
    )?;
    assert!(
        db.demo_street_unchecked("am-li", day("2026-11-24"))?
            .is_empty(),
        "taking a product off the display is a check"
    );
    Ok(())
}

#[test]
fn each_terminal_rating_gets_its_follow_up_and_a_visit_marks_it_done() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let rated = |n: u32, rating| NewStore {
        functional_terminal: true,
        rating: Some(rating),
        ..sample_store("am-li", n)
    };
    let excellent = db.create_store(rated(1, TerminalRating::Excellent))?;
    let good = db.create_store(rated(2, TerminalRating::Good))?;
    db.create_store(rated(3, TerminalRating::Qualified))?;
    db.create_store(rated(4, TerminalRating::Unqualified))?;
    db.create_store(NewStore {
        functional_terminal: true,
        ..sample_store("am-li", 5)
    })?; // not rated yet

    // A visit in early November covers the excellent store's month but not the good one's week.
    visit(&db, &excellent, at("2026-11-03T10:00:00+08:00"))?;
    visit(&db, &good, at("2026-11-03T10:00:00+08:00"))?;
    let follow = db.terminal_follow_ups("am-li", day("2026-11-23"))?;
    let summary: Vec<(TerminalRating, FollowUpAction, Option<bool>)> = follow
        .iter()
        .map(|f| (f.rating, f.action, f.done))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                TerminalRating::Excellent,
                FollowUpAction::MonthlyGuidance,
                Some(true)
            ),
            (
                TerminalRating::Good,
                FollowUpAction::WeeklyInStoreService,
                Some(false)
            ),
            (
                TerminalRating::Qualified,
                FollowUpAction::QuarterlyStudyVisit,
                None
            ),
            (
                TerminalRating::Unqualified,
                FollowUpAction::RectificationNotice,
                Some(false)
            ),
        ]
    );
    assert_eq!(follow[1].period_start, day("2026-11-23"));
    assert_eq!(follow[2].period_start, day("2026-10-01"));
    Ok(())
}

#[test]
fn monthly_visits_count_only_the_month_and_only_r1_covered_stores() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-01T09:00:00+08:00"),
    )?;
    let a = db.create_store(sample_store("am-li", 1))?;
    let b = db.create_store(sample_store("am-li", 2))?;
    db.create_store(NewStore {
        format: StoreFormat::Grocery,
        size: StoreSize::Small,
        ..sample_store("am-li", 3)
    })?;
    for when in [
        "2026-10-31T23:59:00+08:00",
        "2026-11-01T00:00:00+08:00",
        "2026-11-09T10:00:00+08:00",
        "2026-11-16T10:00:00+08:00",
        "2026-11-30T23:59:00+08:00",
        "2026-12-01T00:00:00+08:00",
    ] {
        visit(&db, &a, at(when))?;
    }
    visit(&db, &b, at("2026-11-10T10:00:00+08:00"))?;
    let month = db.monthly_visits(
        "am-li",
        day("2026-11-15"),
        fieldsync_core::DEFAULT_MIN_MONTHLY_VISITS,
    )?;
    assert_eq!(
        month.stores.iter().map(|s| s.2).collect::<Vec<_>>(),
        vec![4, 1]
    );
    assert_eq!((month.required(), month.made()), (8, 5));
    assert_eq!(
        month.below_minimum().map(|s| &s.0).collect::<Vec<_>>(),
        vec![&b]
    );
    Ok(())
}

#[test]
fn stores_due_a_visit_list_the_never_visited_first_then_the_longest_unvisited() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let a = db.create_store(sample_store("am-li", 1))?;
    let b = db.create_store(sample_store("am-li", 2))?;
    let c = db.create_store(sample_store("am-li", 3))?;
    visit(&db, &a, at("2026-11-10T10:00:00+08:00"))?;
    visit(&db, &b, at("2026-11-03T10:00:00+08:00"))?;
    assert_eq!(due(&db, "am-li", "2026-11-23")?, vec![c, b, a]);
    Ok(())
}

#[test]
fn a_store_visited_twice_on_one_local_day_counts_one_visit_for_the_monthly_minimum() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-01T09:00:00+08:00"),
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    // Four check-ins on Monday 9 November, local time: the first at 00:00 (still Sunday 8
    // November in UTC), the last at 23:59:59.
    for when in [
        "2026-11-09T00:00:00+08:00",
        "2026-11-09T09:00:00+08:00",
        "2026-11-09T15:00:00+08:00",
        "2026-11-09T23:59:59+08:00",
    ] {
        visit(&db, &store, at(when))?;
    }
    let month = db.monthly_visits("am-li", day("2026-11-15"), 4)?;
    assert_eq!(month.made(), 1, "one local day");
    visit(&db, &store, at("2026-11-10T00:00:00+08:00"))?;
    let month = db.monthly_visits("am-li", day("2026-11-15"), 4)?;
    assert_eq!(month.made(), 2, "the next local day is another visit");
    assert_eq!(month.below_minimum().count(), 1);
    Ok(())
}
