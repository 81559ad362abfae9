//! The cadences others keep in an account manager's stores, at their edges: R5's weekly
//! walk by the market team, R4's monthly spot checks and R5's monthly sample of the demo
//! street by the supervision team; and R10's requests answered.

use chrono::NaiveDate;
use fieldsync_core::fixtures::{ManualClock, at, device, sample_store};
use fieldsync_core::{
    CheckPoint, ComplaintEvent, ComplaintKind, DocId, LocalStore, NewComplaint, NewStore, NewVisit,
    Result, Timestamp, VisitKind,
};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// A supervisor's device: it holds the whole district, and records here whatever kind a
/// test needs (the server holds kinds to roles; the queries read what is stored).
fn district(dir: &tempfile::TempDir) -> Result<(LocalStore, ManualClock)> {
    device(
        dir.path().join("sup.db"),
        "sup-wang",
        at("2026-11-23T09:00:00+08:00"),
    )
}

fn store(db: &LocalStore, territory: &str, n: u32, demo_street: bool) -> Result<DocId> {
    db.create_store(NewStore {
        demo_street,
        ..sample_store(territory, n)
    })
}

/// A visit of `kind` at `store` checked in at `when`, recorded then.
fn visit(
    db: &LocalStore,
    clock: &ManualClock,
    store: &DocId,
    kind: VisitKind,
    when: &str,
) -> Result<DocId> {
    clock.set(at(when));
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

fn unwalked(db: &LocalStore, territory: Option<&str>, on: &str) -> Result<Vec<DocId>> {
    Ok(db
        .demo_street_unwalked(territory, day(on))?
        .into_iter()
        .map(|s| s.store_id)
        .collect())
}

#[test]
fn a_walk_counts_for_its_own_iso_week_so_a_sunday_night_walk_leaves_monday_unwalked() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let (db, clock) = district(&dir)?;
    let demo = store(&db, "am-li", 1, true)?;
    store(&db, "am-li", 2, false)?;
    // Sunday 22 Nov 23:59 local: the last minute of ISO week 47.
    visit(
        &db,
        &clock,
        &demo,
        VisitKind::MarketWalkthrough,
        "2026-11-22T23:59:00+08:00",
    )?;
    assert!(unwalked(&db, Some("am-li"), "2026-11-22")?.is_empty());
    assert_eq!(
        unwalked(&db, Some("am-li"), "2026-11-23")?,
        vec![demo.clone()]
    );
    visit(
        &db,
        &clock,
        &demo,
        VisitKind::MarketWalkthrough,
        "2026-11-23T00:00:00+08:00",
    )?;
    assert!(unwalked(&db, Some("am-li"), "2026-11-29")?.is_empty());
    assert_eq!(unwalked(&db, Some("am-li"), "2026-11-30")?, vec![demo]);
    Ok(())
}

#[test]
fn only_a_market_walkthrough_is_the_weekly_walk_not_a_daily_check_nor_a_spot_check() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = district(&dir)?;
    let demo = store(&db, "am-li", 1, true)?;
    for (kind, when) in [
        (VisitKind::Routine, "2026-11-23T09:00:00+08:00"),
        (VisitKind::DemoStreetDailyCheck, "2026-11-23T10:00:00+08:00"),
        (VisitKind::SupervisionSpotCheck, "2026-11-23T11:00:00+08:00"),
        (VisitKind::TrainingDay, "2026-11-23T12:00:00+08:00"),
    ] {
        visit(&db, &clock, &demo, kind, when)?;
        assert_eq!(
            unwalked(&db, Some("am-li"), "2026-11-23")?,
            vec![demo.clone()],
            "{kind:?}"
        );
    }
    Ok(())
}

#[test]
fn never_walked_stores_come_first_then_the_longest_unwalked_and_a_territory_narrows_them()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = district(&dir)?;
    let a = store(&db, "am-li", 1, true)?;
    let b = store(&db, "am-li", 2, true)?;
    let c = store(&db, "am-li", 3, true)?;
    let wu = store(&db, "am-wu", 4, true)?;
    let walk = VisitKind::MarketWalkthrough;
    visit(&db, &clock, &a, walk, "2026-11-10T10:00:00+08:00")?;
    visit(&db, &clock, &b, walk, "2026-11-03T10:00:00+08:00")?;
    let listed = db.demo_street_unwalked(Some("am-li"), day("2026-11-23"))?;
    let ids: Vec<DocId> = listed.iter().map(|s| s.store_id.clone()).collect();
    assert_eq!(ids, vec![c.clone(), b.clone(), a.clone()]);
    assert_eq!(listed[2].last_visit, Some(at("2026-11-10T10:00:00+08:00")));
    assert_eq!(listed[0].last_visit, None);
    let everywhere = unwalked(&db, None, "2026-11-23")?;
    assert_eq!(everywhere, vec![c, wu.clone(), b, a]);
    assert_eq!(unwalked(&db, Some("am-wu"), "2026-11-23")?, vec![wu]);
    assert!(unwalked(&db, Some("am-zhang"), "2026-11-23")?.is_empty());
    Ok(())
}

#[test]
fn a_month_of_spot_checks_counts_the_territorys_stores_from_the_first_instant_to_the_last()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = district(&dir)?;
    let demo = store(&db, "am-li", 1, true)?;
    let plain = store(&db, "am-li", 2, false)?;
    store(&db, "am-li", 3, true)?;
    let wu = store(&db, "am-wu", 4, true)?;
    let spot = VisitKind::SupervisionSpotCheck;
    let month = |on: &str| db.supervision_month("am-li", day(on));
    let empty = month("2026-11-15")?;
    assert_eq!(
        (
            empty.spot_checks,
            empty.stores_spot_checked,
            empty.demo_street_stores
        ),
        (0, 0, 2)
    );
    assert!(!empty.spot_checked() && !empty.demo_street_sampled_ok());
    // The last instant of October and the first of December are outside November.
    visit(&db, &clock, &demo, spot, "2026-10-31T23:59:59+08:00")?;
    visit(&db, &clock, &demo, spot, "2026-12-01T00:00:00+08:00")?;
    // Another territory's store, and a routine visit by the supervisor, count for nothing.
    visit(&db, &clock, &wu, spot, "2026-11-10T10:00:00+08:00")?;
    visit(
        &db,
        &clock,
        &plain,
        VisitKind::Routine,
        "2026-11-10T11:00:00+08:00",
    )?;
    let outside = month("2026-11-15")?;
    assert_eq!((outside.spot_checks, outside.stores_spot_checked), (0, 0));
    visit(&db, &clock, &plain, spot, "2026-11-01T00:00:00+08:00")?;
    let plain_only = month("2026-11-30")?;
    assert_eq!(
        (plain_only.spot_checks, plain_only.stores_spot_checked),
        (1, 1)
    );
    assert!(plain_only.spot_checked(), "R4: a store was spot-checked");
    assert!(
        !plain_only.demo_street_sampled_ok(),
        "R5: no demo-street store among them"
    );
    visit(&db, &clock, &demo, spot, "2026-11-30T23:59:59+08:00")?;
    visit(&db, &clock, &demo, spot, "2026-11-20T10:00:00+08:00")?;
    let november = month("2026-11-01")?;
    assert_eq!(november.month_start, day("2026-11-01"));
    assert_eq!(
        (
            november.spot_checks,
            november.stores_spot_checked,
            november.demo_street_stores,
            november.demo_street_sampled
        ),
        (3, 2, 2, 1)
    );
    assert!(november.spot_checked() && november.demo_street_sampled_ok());
    let december = month("2026-12-31")?;
    assert_eq!((december.spot_checks, december.demo_street_sampled), (1, 1));
    Ok(())
}

#[test]
fn a_territory_with_no_demo_street_owes_no_sample_but_still_owes_a_spot_check() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = district(&dir)?;
    store(&db, "am-li", 1, false)?;
    let month = db.supervision_month("am-li", day("2026-11-15"))?;
    assert_eq!(month.demo_street_stores, 0);
    assert!(month.demo_street_sampled_ok());
    assert!(!month.spot_checked());
    Ok(())
}

#[test]
fn a_request_is_unanswered_until_replied_visited_and_called_back_and_complaints_are_not_requests()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = district(&dir)?;
    let li = store(&db, "am-li", 1, false)?;
    let wu = store(&db, "am-wu", 2, false)?;
    let raise = |store: &DocId, kind: ComplaintKind, when: &str| -> Result<DocId> {
        clock.set(at(when));
        db.create_complaint(NewComplaint {
            store_id: store.clone(),
            kind,
            received_at: at(when),
            description: "wants a new display rack".into(),
        })
    };
    let october = raise(&li, ComplaintKind::Request, "2026-10-31T23:59:00+08:00")?;
    let november = raise(&li, ComplaintKind::Request, "2026-11-01T00:00:00+08:00")?;
    raise(&li, ComplaintKind::Complaint, "2026-11-02T10:00:00+08:00")?;
    raise(&wu, ComplaintKind::Request, "2026-11-02T10:00:00+08:00")?;
    let late = raise(&li, ComplaintKind::Request, "2026-11-20T10:00:00+08:00")?;
    clock.set(at("2026-12-31T12:00:00+08:00"));
    let as_of = |s: &str| at(s);
    let answered = |on: &str, when: &str| db.requests_answered("am-li", day(on), as_of(when));
    let mid = answered("2026-11-10", "2026-11-10T23:59:59+08:00")?;
    assert_eq!(mid.received, 1, "November's, up to the 10th");
    let ids: Vec<DocId> = mid.unanswered.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, vec![october.clone(), november.clone()]);
    use ComplaintEvent::{Replied, SatisfactionCallback, Visited};
    let t = |s: &str| -> Timestamp { at(s) };
    db.record_complaint_event(&november, Replied, t("2026-11-02T09:00:00+08:00"), "")?;
    db.record_complaint_event(&november, Visited, t("2026-11-03T09:00:00+08:00"), "")?;
    let two_of_three = answered("2026-11-10", "2026-11-10T23:59:59+08:00")?;
    let waiting: Vec<_> = two_of_three
        .unanswered
        .iter()
        .map(|c| (c.id.clone(), c.outstanding.clone()))
        .collect();
    assert_eq!(
        waiting,
        vec![
            (
                october.clone(),
                vec![Replied, Visited, SatisfactionCallback]
            ),
            (november.clone(), vec![SatisfactionCallback]),
        ]
    );
    db.record_complaint_event(
        &november,
        SatisfactionCallback,
        t("2026-11-04T09:00:00+08:00"),
        "",
    )?;
    let end = answered("2026-11-30", "2026-11-30T23:59:59+08:00")?;
    assert_eq!(
        end.received, 2,
        "November's two requests, not Wu's nor the complaint"
    );
    let ids: Vec<DocId> = end.unanswered.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, vec![october, late]);
    // Asked as of the 3rd, the callback of the 4th has not happened yet.
    let before = answered("2026-11-03", "2026-11-03T23:59:59+08:00")?;
    assert!(before.unanswered.iter().any(|c| c.id == november));
    Ok(())
}

#[test]
fn once_the_roles_are_known_a_visit_counts_only_from_the_role_its_kind_needs() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (district, clock) = district(&dir)?;
    let demo = store(&district, "am-li", 1, true)?;
    // Li's own phone records a walk and a spot check of her store, as any client could
    // before the server bound kinds to roles, and the district's store receives them.
    let (li, li_clock) = device(
        dir.path().join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    fieldsync_core::fixtures::exchange(&district, &li)?;
    visit(
        &li,
        &li_clock,
        &demo,
        VisitKind::MarketWalkthrough,
        "2026-11-23T10:00:00+08:00",
    )?;
    visit(
        &li,
        &li_clock,
        &demo,
        VisitKind::SupervisionSpotCheck,
        "2026-11-23T11:00:00+08:00",
    )?;
    fieldsync_core::fixtures::exchange(&li, &district)?;
    let sampled = |db: &LocalStore| -> Result<u32> {
        Ok(db
            .supervision_month("am-li", day("2026-11-23"))?
            .demo_street_sampled)
    };
    assert_eq!(sampled(&district)?, 1, "no roles known: counted by kind");
    assert!(unwalked(&district, None, "2026-11-23")?.is_empty());

    let roles = [
        ("am-li".to_owned(), fieldsync_core::Role::AccountManager),
        ("mk-zhao".to_owned(), fieldsync_core::Role::MarketTeam),
        ("sup-wang".to_owned(), fieldsync_core::Role::Supervisor),
    ];
    district.set_user_roles(&roles)?;
    district.set_user_roles(&roles)?;
    assert_eq!(
        sampled(&district)?,
        0,
        "Li's spot check is not the supervision team's"
    );
    let listed = district.demo_street_unwalked(None, day("2026-11-23"))?;
    assert_eq!(listed.len(), 1, "Li's walk is not the market team's");
    assert_eq!(listed[0].last_visit, None);
    visit(
        &district,
        &clock,
        &demo,
        VisitKind::SupervisionSpotCheck,
        "2026-11-23T12:00:00+08:00",
    )?;
    assert_eq!(
        sampled(&district)?,
        1,
        "the supervisor's own spot check counts"
    );
    // The roles are replaced whole: Li a supervisor, her spot check counts too.
    district.set_user_roles(&[
        ("am-li".to_owned(), fieldsync_core::Role::Supervisor),
        ("sup-wang".to_owned(), fieldsync_core::Role::Supervisor),
    ])?;
    let month = district.supervision_month("am-li", day("2026-11-23"))?;
    assert_eq!(month.spot_checks, 2);
    Ok(())
}

#[test]
fn a_phone_that_knows_its_users_role_refuses_another_roles_visit_kind_naming_kind() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (li, clock) = device(
        dir.path().join("li.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let demo = store(&li, "am-li", 1, true)?;
    // Before it knows its role, the phone leaves the kind to the server.
    visit(
        &li,
        &clock,
        &demo,
        VisitKind::MarketWalkthrough,
        "2026-11-23T09:00:00+08:00",
    )?;
    li.record_role(fieldsync_core::Role::AccountManager)?;
    for kind in [
        VisitKind::MarketWalkthrough,
        VisitKind::SupervisionSpotCheck,
    ] {
        let err = visit(&li, &clock, &demo, kind, "2026-11-23T10:00:00+08:00")
            .expect_err("another role's kind");
        let said = err.to_string();
        assert!(
            said.contains("kind") && said.contains(kind.code()) && said.contains("account_manager"),
            "{said}"
        );
    }
    for kind in [
        VisitKind::Routine,
        VisitKind::DemoStreetDailyCheck,
        VisitKind::TrainingDay,
    ] {
        visit(&li, &clock, &demo, kind, "2026-11-23T11:00:00+08:00")?;
    }
    assert_eq!(
        li.visits_of_store(&demo)?.len(),
        4,
        "the first walk and three of Li's kinds"
    );
    Ok(())
}

#[test]
fn a_spot_check_counts_for_the_manager_who_held_the_store_when_it_was_made() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = district(&dir)?;
    clock.set(at("2026-10-01T09:00:00+08:00"));
    let moved = store(&db, "am-li", 1, true)?;
    store(&db, "am-wu", 2, false)?;
    let spot = VisitKind::SupervisionSpotCheck;
    visit(&db, &clock, &moved, spot, "2026-11-05T10:00:00+08:00")?;
    // Moved to Wu on 10 November, spot-checked again on the 20th.
    clock.set(at("2026-11-10T09:00:00+08:00"));
    db.reassign_store(&moved, "am-wu")?;
    visit(&db, &clock, &moved, spot, "2026-11-20T10:00:00+08:00")?;
    let li = db.supervision_month("am-li", day("2026-11-15"))?;
    let wu = db.supervision_month("am-wu", day("2026-11-15"))?;
    let row = |m: &fieldsync_core::SupervisionMonth| {
        (
            m.spot_checks,
            m.stores_spot_checked,
            m.demo_street_stores,
            m.demo_street_sampled,
        )
    };
    // Both held the demo-street store in November, each checked once while theirs.
    assert_eq!(row(&li), (1, 1, 1, 1));
    assert_eq!(row(&wu), (1, 1, 1, 1));
    // Before the stores were imported, nothing was held or checked.
    let september = db.supervision_month("am-li", day("2026-09-15"))?;
    assert_eq!(row(&september), (0, 0, 0, 0));
    // In December Li holds it no more and owes no sample of it.
    let december = db.supervision_month("am-li", day("2026-12-15"))?;
    assert_eq!(row(&december), (0, 0, 0, 0));
    Ok(())
}

#[test]
fn of_two_reassignments_made_at_once_the_one_every_device_shows_holds_from_its_stamp() -> Result<()>
{
    use fieldsync_core::fixtures::exchange;
    let dir = tempfile::tempdir()?;
    let (a, a_clock) = district(&dir)?;
    let (b, b_clock) = device(
        dir.path().join("admin.db"),
        "admin",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    a_clock.set(at("2026-10-01T09:00:00+08:00"));
    let s = store(&a, "am-li", 1, false)?;
    exchange(&a, &b)?;
    // Offline, one moves it to Wu on Friday the 6th and the other to Zhao on Friday the
    // 20th.
    a_clock.set(at("2026-11-06T09:00:00+08:00"));
    a.reassign_store(&s, "am-wu")?;
    b_clock.set(at("2026-11-20T09:00:00+08:00"));
    b.reassign_store(&s, "am-zhao")?;
    exchange(&a, &b)?;
    exchange(&b, &a)?;
    for db in [&a, &b] {
        let now = db.store(&s)?.territory;
        let november = |m: &str| -> Result<Vec<usize>> {
            Ok(db
                .weeks_missed(m, day("2026-11-30"), at("2026-12-01T00:00:00+08:00"))?
                .iter()
                .map(|w| w.stores.len())
                .collect())
        };
        // Whichever wins holds from its own stamp on. Zhao's, the later, leaves Wu the
        // weeks between; Wu's, the earlier, leaves Zhao's move as if never made.
        let (wu, zhao) = if now == "am-zhao" {
            (vec![0, 1, 1, 0], vec![0, 0, 0, 1])
        } else {
            (vec![0, 1, 1, 1], vec![0, 0, 0, 0])
        };
        assert_eq!(november("am-li")?, vec![1, 0, 0, 0]);
        assert_eq!(november("am-wu")?, wu, "{now} holds it now");
        assert_eq!(november("am-zhao")?, zhao, "{now} holds it now");
    }
    Ok(())
}
