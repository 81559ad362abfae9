//! The compliance report (`admin report`) through the library: each rule's known answer
//! for a small crafted district, the district's calendar, and a store's assignments over
//! time (a past month judged by who held each store then).

#[path = "support/district.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod district;

use district::{District, Fallible, HEADER, Phone, TestResult, day, report_cells};
use fieldsync_core::fixtures::at;
use fieldsync_core::{
    CheckPoint, ComplaintEvent, ComplaintKind, DisplayCheck, DisplayStandard, DocId, FieldCalendar,
    LocalStore, NewComplaint, NewCountLine, NewInventoryCount, NewScorecard, NewTask, NewVisit,
    ProductOnDisplay, Role, ScoreDimension, ScoreWeights, StandardCheck, TrainingActivity, Verdict,
    VisitKind,
};
use fieldsync_server::admin::report::{ReportOptions, compliance_report, write_csv};

#[test]
fn the_report_gives_each_rule_its_known_answer_for_a_small_crafted_district() -> TestResult {
    let district = District::new()?;
    // am-li: S1 a convenience store, S2 a small grocery (R1-exempt), S3 a rated "good"
    // functional terminal on the demo street, S4 an "unqualified" functional terminal,
    // S6 a small grocery on the demo street. am-wu: S5.
    let file = [
        HEADER,
        "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
        "S2,S2,O,,A,30.26,120.16,Z,C,3,C,50,0,0,,am-li",
        "S3,S3,O,,A,30.26,120.16,Y,C,1,A,400,1,1,good,am-li",
        "S4,S4,O,,A,30.26,120.16,S,C,1,A,500,0,1,unqualified,am-li",
        "S5,S5,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-wu",
        "S6,S6,O,,A,30.26,120.16,Z,C,3,C,60,1,0,,am-li",
    ]
    .join("\n");
    let report = district.import(&file)?;
    assert!(report.bad.is_empty(), "{report}");

    let li = district.phone("am-li", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    district.sync(&li)?;
    let id = |licence: &str| -> Fallible<DocId> {
        Ok(li
            .local
            .store_by_licence(licence)?
            .ok_or(format!("no {licence}"))?)
    };
    let (s1, s3, s4) = (id("S1")?, id("S3")?, id("S4")?);
    let visit = |store: &DocId, kind: VisitKind, when: &str| NewVisit {
        store_id: store.clone(),
        kind,
        check_in: CheckPoint {
            at: at(when),
            gps: None,
        },
        complaint_id: None,
    };
    // R1, R9: one routine visit to S1 on Monday 23 November.
    li.local
        .create_visit(visit(&s1, VisitKind::Routine, "2026-11-23T09:05:00+08:00"))?;
    // R2: S1's display lacks four price tags. R5, R6: S3 checked today, failing a standard.
    li.local
        .record_display_check(&LocalStore::shelf_display_id(&s1), &four_tags_missing())?;
    li.local.record_display_check(
        &LocalStore::shelf_display_id(&s3),
        &DisplayCheck {
            standards: vec![StandardCheck {
                standard: DisplayStandard::TidyCounter,
                verdict: Verdict::Fail,
                note: "cluttered".into(),
                photos: vec![],
            }],
            ..DisplayCheck::default()
        },
    )?;
    // R3: S4 counted 80 against a book of 100, off by 20%.
    let count = li.local.create_inventory_count(NewInventoryCount {
        store_id: s4.clone(),
        lines: vec![NewCountLine {
            sku: "6901028001".into(),
            name: "brand".into(),
            book: 100,
        }],
    })?;
    li.local.set_counted(&count, "6901028001", 80)?;
    li.local.finish_count(&count)?;
    // R9 clocks: a complaint from Friday never answered (on site and handling breached,
    // callback not started) and damaged cartons this morning (replacement running).
    li.clock.set(at("2026-11-23T10:00:00+08:00"));
    for (kind, received) in [
        (ComplaintKind::Complaint, "2026-11-20T10:00:00+08:00"),
        (ComplaintKind::DamagedCartons, "2026-11-23T09:30:00+08:00"),
    ] {
        li.local.create_complaint(NewComplaint {
            store_id: s1.clone(),
            kind,
            received_at: at(received),
            description: "the retailer called".into(),
        })?;
    }
    // Tasks: one due at noon (overdue by the end of the day), one next week.
    for deadline in ["2026-11-23T12:00:00+08:00", "2026-11-30T12:00:00+08:00"] {
        li.local.create_task(NewTask {
            store_id: s1.clone(),
            title: "fix the price tags".into(),
            description: String::new(),
            assignee: "am-li".into(),
            deadline: at(deadline),
            origin: None,
        })?;
    }
    // R8: a complete training day in S4 (which also counts as S4's visit this week).
    li.clock.set(at("2026-11-23T14:00:00+08:00"));
    let training = li.local.create_visit(visit(
        &s4,
        VisitKind::TrainingDay,
        "2026-11-23T14:00:00+08:00",
    ))?;
    for activity in TrainingActivity::ALL {
        li.local
            .record_training_activity(&training, activity, "done")?;
    }
    district.sync(&li)?;

    // R4: 85 points, passes the mark of 80, short of the bonus at 90.
    let sup = district.phone("sup-wang", Role::Supervisor, "2026-11-23T16:00:00+08:00")?;
    district.sync(&sup)?;
    let score = |phone: &Phone| -> TestResult {
        let card = phone.local.create_scorecard(NewScorecard {
            manager: "am-li".into(),
            month: "2026-11".into(),
            weights: ScoreWeights::default(),
        })?;
        for (dimension, score) in ScoreDimension::ALL
            .into_iter()
            .zip([25.0, 20.0, 20.0, 20.0])
        {
            phone.local.score_dimension(&card, dimension, score)?;
        }
        Ok(())
    };
    score(&sup)?;
    // R4: a second supervisor scores the same month alike (offline, say): both count.
    let sup2 = district.phone("sup-liu", Role::Supervisor, "2026-11-23T16:00:00+08:00")?;
    district.sync(&sup2)?;
    score(&sup2)?;
    district.sync(&sup2)?;
    // R4, R5: the supervisor spot-checks S1, which is not on the demo street.
    sup.local.create_visit(visit(
        &s1,
        VisitKind::SupervisionSpotCheck,
        "2026-11-23T16:00:00+08:00",
    ))?;
    district.sync(&sup)?;
    // R5: the market team walks S3 this week, not S6.
    let mkt = district.phone("mk-zhao", Role::MarketTeam, "2026-11-23T15:00:00+08:00")?;
    district.sync(&mkt)?;
    mkt.local.create_visit(visit(
        &s3,
        VisitKind::MarketWalkthrough,
        "2026-11-23T15:00:00+08:00",
    ))?;
    district.sync(&mkt)?;
    // R10: a request on Monday, replied to and not yet visited.
    li.clock.set(at("2026-11-23T17:00:00+08:00"));
    let request = li.local.create_complaint(NewComplaint {
        store_id: s1.clone(),
        kind: ComplaintKind::Request,
        received_at: at("2026-11-23T16:30:00+08:00"),
        description: "wants a display rack".into(),
    })?;
    li.local.record_complaint_event(
        &request,
        fieldsync_core::ComplaintEvent::Replied,
        at("2026-11-23T16:45:00+08:00"),
        "",
    )?;
    district.sync(&li)?;

    let admin = district.admin()?;
    let options = ReportOptions::resolve(
        Some(day("2026-11-01")),
        Some(day("2026-11-23")),
        4,
        &FieldCalendar::default(),
        at("2026-11-24T09:00:00+08:00"),
    )?;
    admin.pull()?;
    let mut out = Vec::new();
    write_csv(&compliance_report(&admin, &options)?, &mut out)?;
    let rows = report_cells(&out)?;
    let row = |manager: &str| {
        rows.iter()
            .find(|r| r.get("manager").map(String::as_str) == Some(manager))
            .cloned()
            .unwrap_or_default()
    };
    let expect = |manager: &str, wanted: &[(&str, &str)]| {
        let r = row(manager);
        for (column, value) in wanted {
            assert_eq!(
                r.get(*column).map(String::as_str),
                Some(*value),
                "{manager}: {column}"
            );
        }
    };
    assert_eq!(rows.len(), 2, "one row per account manager");
    expect(
        "am-li",
        &[
            ("name", "am-li name"),
            ("month", "2026-11"),
            ("stores", "5"),
            ("r1_due_this_week", "1"),
            ("r1_weeks_judged", "3"),
            ("r1_store_weeks_missed", "9"),
            ("r2_price_tag_violations", "1"),
            ("r3_count_findings", "1"),
            ("r4_total", "85.0"),
            ("r4_passes", "yes"),
            ("r4_bonus", "no"),
            ("r4_scorecards", "2"),
            ("r4_stores_spot_checked", "1"),
            ("r5_demo_street_unchecked", "1"),
            ("r5_demo_street_unwalked", "1"),
            ("r5_store_weeks_unwalked", "6"),
            ("r5_demo_street_stores", "2"),
            ("r5_demo_street_sampled", "0"),
            ("r6_demo_street_failing", "1"),
            ("r7_follow_ups", "2"),
            ("r7_not_done", "2"),
            ("r8_training_days", "1"),
            ("r9_visits_made", "2"),
            ("r9_visits_required", "12"),
            ("r9_stores_below_minimum", "3"),
            ("r9_clocks_breached", "2"),
            ("r9_clocks_running", "1"),
            ("r10_requests_received", "1"),
            ("r10_requests_unanswered", "1"),
            ("tasks_open", "2"),
            ("tasks_overdue", "1"),
        ],
    );
    expect(
        "am-wu",
        &[
            ("stores", "1"),
            ("r1_due_this_week", "1"),
            ("r2_price_tag_violations", "0"),
            ("r4_total", ""),
            ("r4_passes", ""),
            ("r7_follow_ups", "0"),
            ("r8_training_days", "0"),
            ("r9_visits_made", "0"),
            ("r9_visits_required", "4"),
            ("r9_stores_below_minimum", "1"),
            ("r9_clocks_breached", "0"),
            ("r4_scorecards", "0"),
            ("r4_stores_spot_checked", "0"),
            ("r5_demo_street_stores", "0"),
            ("r5_demo_street_unwalked", "0"),
            ("r10_requests_received", "0"),
            ("r10_requests_unanswered", "0"),
            ("tasks_open", "0"),
        ],
    );
    Ok(())
}

#[test]
fn the_report_judges_a_refund_over_the_spring_festival_by_the_districts_calendar() -> TestResult {
    let district = District::new()?;
    let report =
        district.import(&[HEADER, "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li"].join("\n"))?;
    assert!(report.bad.is_empty(), "{report}");
    let li = district.phone("am-li", Role::AccountManager, "2026-02-13T10:00:00+08:00")?;
    district.sync(&li)?;
    let store = li.local.store_by_licence("S1")?.ok_or("no S1")?;
    let deduction = li.local.create_complaint(NewComplaint {
        store_id: store,
        kind: ComplaintKind::WrongDeduction,
        received_at: at("2026-02-13T10:00:00+08:00"),
        description: "deducted twice".into(),
    })?;
    // Refunded on the third working day after the holiday week (Sat 14 was worked).
    li.clock.set(at("2026-02-25T16:00:00+08:00"));
    li.local
        .record_complaint_event(&deduction, ComplaintEvent::Refunded, li.clock.now(), "")?;
    district.sync(&li)?;

    let breached = || -> Fallible<String> {
        let rows = district.report(day("2026-02-01"), at("2026-03-02T09:00:00+08:00"))?;
        let li = rows
            .iter()
            .find(|r| r.get("manager").map(String::as_str) == Some("am-li"))
            .ok_or("no row for am-li")?;
        Ok(li.get("r9_clocks_breached").cloned().unwrap_or_default())
    };
    assert_eq!(
        breached()?,
        "1",
        "Monday to Friday, it fell due in the holiday"
    );
    let source = district.dir.join("china-2026.txt");
    std::fs::write(&source, include_str!("../../docs/calendars/china-2026.txt"))?;
    fieldsync_server::calendar::install(&district.dir, &source)?;
    assert_eq!(breached()?, "0", "met on the district's calendar");
    Ok(())
}

#[test]
fn a_past_month_is_judged_by_who_held_each_store_then_and_stays_so_after_a_store_moves()
-> TestResult {
    let district = District::new()?;
    let report = district.import(
        &[
            HEADER,
            "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
            "S2,S2,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
        ]
        .join("\n"),
    )?;
    assert!(report.bad.is_empty(), "{report}");
    let visit = |phone: &Phone, store: &DocId, kind: VisitKind, when: &str| -> TestResult {
        phone.clock.set(at(when));
        phone.local.create_visit(NewVisit {
            store_id: store.clone(),
            kind,
            check_in: CheckPoint {
                at: at(when),
                gps: None,
            },
            complaint_id: None,
        })?;
        district.sync(phone)?;
        Ok(())
    };
    let li = district.phone("am-li", Role::AccountManager, "2026-11-02T09:00:00+08:00")?;
    district.sync(&li)?;
    let id = |licence: &str| -> Fallible<DocId> {
        Ok(li
            .local
            .store_by_licence(licence)?
            .ok_or(format!("no {licence}"))?)
    };
    let (s1, s2) = (id("S1")?, id("S2")?);
    // Li visits both stores in the week of 2 November only; the supervisor spot-checks
    // S2 on the 10th, while it is Li's.
    visit(&li, &s1, VisitKind::Routine, "2026-11-02T10:00:00+08:00")?;
    visit(&li, &s2, VisitKind::Routine, "2026-11-02T11:00:00+08:00")?;
    let wang = district.phone("sup-wang", Role::Supervisor, "2026-11-10T09:00:00+08:00")?;
    district.sync(&wang)?;
    visit(
        &wang,
        &s2,
        VisitKind::SupervisionSpotCheck,
        "2026-11-10T10:00:00+08:00",
    )?;
    let move_to_wu = |store: &str, when: &str| -> TestResult {
        let office = at(when);
        let admin = fieldsync_server::admin::AdminDevice::open_with_clock(
            &district.dir,
            district.storage.as_ref(),
            std::sync::Arc::new(move || office),
        )?;
        admin.reassign(store, "am-wu")?;
        Ok(())
    };
    let november = || -> Fallible<Vec<(String, String, String)>> {
        Ok(district
            .report(day("2026-11-01"), at("2026-12-03T09:00:00+08:00"))?
            .into_iter()
            .map(|r| {
                let cell = |c: &str| r.get(c).cloned().unwrap_or_default();
                (
                    cell("manager"),
                    cell("r1_store_weeks_missed"),
                    cell("r4_stores_spot_checked"),
                )
            })
            .collect())
    };
    let cells = |rows: &[(&str, &str, &str)]| -> Vec<(String, String, String)> {
        rows.iter()
            .map(|(m, r1, r4)| ((*m).into(), (*r1).into(), (*r4).into()))
            .collect()
    };
    // S1 moves to Wu on Friday 13 November: Li owes its week of the 9th (hers for most of
    // it), Wu the weeks of the 16th and 23rd; Li owes S2 in the three weeks after the 2nd.
    move_to_wu("S1", "2026-11-13T10:00:00+08:00")?;
    let judged = cells(&[("am-li", "4", "1"), ("am-wu", "2", "0")]);
    assert_eq!(november()?, judged);
    // S2 moves to Wu after the month: November's report does not change, and the spot
    // check made while S2 was Li's stays hers.
    move_to_wu("S2", "2026-12-02T10:00:00+08:00")?;
    assert_eq!(november()?, judged);
    Ok(())
}

#[test]
fn a_training_day_counts_for_who_held_the_terminal_that_day_after_the_store_moves() -> TestResult {
    let district = District::new()?;
    let report =
        district.import(&[HEADER, "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,1,,am-li"].join("\n"))?;
    assert!(report.bad.is_empty(), "{report}");
    let li = district.phone("am-li", Role::AccountManager, "2026-11-10T09:00:00+08:00")?;
    district.sync(&li)?;
    let s1 = li.local.store_by_licence("S1")?.ok_or("no S1")?;
    let training = li.local.create_visit(NewVisit {
        store_id: s1,
        kind: VisitKind::TrainingDay,
        check_in: CheckPoint {
            at: at("2026-11-10T09:00:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    })?;
    for activity in TrainingActivity::ALL {
        li.local
            .record_training_activity(&training, activity, "done")?;
    }
    district.sync(&li)?;
    let november = || -> Fallible<Vec<(String, String)>> {
        Ok(district
            .report(day("2026-11-01"), at("2026-12-03T09:00:00+08:00"))?
            .into_iter()
            .map(|r| {
                let cell = |c: &str| r.get(c).cloned().unwrap_or_default();
                (cell("manager"), cell("r8_training_days"))
            })
            .collect())
    };
    let judged = vec![
        ("am-li".to_owned(), "1".to_owned()),
        ("am-wu".into(), "0".into()),
    ];
    assert_eq!(november()?, judged);
    district.reassign_at("S1", "am-wu", "2026-12-02T10:00:00+08:00")?;
    assert_eq!(
        november()?,
        judged,
        "the day stays Li's after S1 moves to Wu"
    );
    Ok(())
}

#[test]
fn a_past_month_is_judged_on_its_own_price_tags_counts_and_deadlines_not_on_the_next_months()
-> TestResult {
    let district = District::new()?;
    let report = district
        .import(&[HEADER, "S1,S1,O,,A,30.26,120.16,Y,C,1,A,400,0,1,good,am-li"].join("\n"))?;
    assert!(report.bad.is_empty(), "{report}");
    let li = district.phone("am-li", Role::AccountManager, "2026-11-29T10:00:00+08:00")?;
    district.sync(&li)?;
    let s1 = li.local.store_by_licence("S1")?.ok_or("no S1")?;
    // Sunday 29 November: a complaint, out of working hours (no on-site clock); handled
    // within 72 hours means by Wednesday 2 December, and it never is.
    li.local.create_complaint(NewComplaint {
        store_id: s1.clone(),
        kind: ComplaintKind::Complaint,
        received_at: at("2026-11-29T10:00:00+08:00"),
        description: "the retailer called".into(),
    })?;
    // Thursday 3 December: the display lacks four price tags, and a count is off by half.
    li.clock.set(at("2026-12-03T10:00:00+08:00"));
    li.local
        .record_display_check(&LocalStore::shelf_display_id(&s1), &four_tags_missing())?;
    let count = fieldsync_core::fixtures::sample_count(&s1, 1);
    li.local
        .record_inventory_count(count, &[("sku-000".into(), 10)], true)?;
    district.sync(&li)?;

    let cells = |month: &str, now: &str| -> Fallible<Vec<String>> {
        let rows = district.report(day(month), at(now))?;
        let li = rows
            .iter()
            .find(|r| r.get("manager").map(String::as_str) == Some("am-li"))
            .ok_or("no row for am-li")?;
        Ok([
            "r2_price_tag_violations",
            "r3_count_findings",
            "r9_clocks_breached",
        ]
        .iter()
        .map(|c| li.get(*c).cloned().unwrap_or_default())
        .collect())
    };
    // November, reported on 4 December: its last day saw no missing tags, no count and no
    // deadline passed; December has all three.
    let now = "2026-12-04T09:00:00+08:00";
    assert_eq!(cells("2026-11-01", now)?, ["0", "0", "0"]);
    assert_eq!(cells("2026-12-01", now)?, ["1", "1", "1"]);
    Ok(())
}

/// A display check that finds four products without their price tag (R2 broken).
fn four_tags_missing() -> DisplayCheck {
    DisplayCheck {
        products: (1..=4)
            .map(|n| ProductOnDisplay {
                sku: format!("690102800{n}"),
                name: format!("brand {n}"),
                price_tag: false,
            })
            .collect(),
        ..DisplayCheck::default()
    }
}
