//! R1 over a month at its edges: which weeks a month judges, a week in progress, a store
//! that arrived mid-month, the exemption, and whose visits count.

use chrono::NaiveDate;
use fieldsync_core::fixtures::{ManualClock, at, device, sample_store};
use fieldsync_core::{
    CheckPoint, DocId, LocalStore, NewStore, NewVisit, Result, StoreClassification, StoreFormat,
    StoreSize, Timestamp, VisitKind,
};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn visit(db: &LocalStore, clock: &ManualClock, store: &DocId, when: &str) -> Result<DocId> {
    clock.set(at(when));
    db.create_visit(NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at(when),
            gps: None,
        },
        complaint_id: None,
    })
}

/// The last instant of local day `on`.
fn end_of(on: &str) -> Timestamp {
    Timestamp(at(&format!("{on}T23:59:59.999+08:00")).0)
}

/// (Monday, stores missed) for each week judged by the end of `on`.
fn missed(db: &LocalStore, on: &str) -> Result<Vec<(String, Vec<DocId>)>> {
    Ok(db
        .weeks_missed("am-li", day(on), end_of(on))?
        .into_iter()
        .map(|w| (w.week_start.to_string(), w.stores))
        .collect())
}

#[test]
fn each_ended_week_of_the_month_lists_the_stores_not_visited_in_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-10-01T09:00:00+08:00"),
    )?;
    let a = db.create_store(sample_store("am-li", 1))?;
    let b = db.create_store(sample_store("am-li", 2))?;
    db.create_store(NewStore {
        format: StoreFormat::Grocery,
        size: StoreSize::Small,
        ..sample_store("am-li", 3)
    })?;
    // A: the weeks of 2 and 16 November, the second at the week's last instant. B: the
    // week of 9 November, and Monday 30 November (December's week).
    visit(&db, &clock, &a, "2026-11-02T00:00:00+08:00")?;
    visit(&db, &clock, &a, "2026-11-22T23:59:59+08:00")?;
    visit(&db, &clock, &b, "2026-11-12T10:00:00+08:00")?;
    visit(&db, &clock, &b, "2026-11-30T10:00:00+08:00")?;
    let all = vec![
        ("2026-11-02".to_owned(), vec![b.clone()]),
        ("2026-11-09".to_owned(), vec![a.clone()]),
        ("2026-11-16".to_owned(), vec![b.clone()]),
        ("2026-11-23".to_owned(), vec![a.clone(), b.clone()]),
    ];
    assert_eq!(missed(&db, "2026-11-30")?, all);
    // On Sunday 22 November the week of the 16th has ended; the week of the 23rd has not.
    assert_eq!(missed(&db, "2026-11-22")?, all[..3].to_vec());
    assert_eq!(missed(&db, "2026-11-21")?, all[..2].to_vec());
    assert!(missed(&db, "2026-11-01")?.is_empty(), "no week has ended");
    Ok(())
}

#[test]
fn a_store_is_owed_a_week_by_whoever_held_it_at_its_middle_so_not_before_it_arrived() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-10-01T09:00:00+08:00"),
    )?;
    let old = db.create_store(sample_store("am-li", 1))?;
    // Imported on Thursday 12 November at 12:01, after the week's middle: owed from the
    // week of the 16th.
    clock.set(at("2026-11-12T12:01:00+08:00"));
    let new = db.create_store(sample_store("am-li", 2))?;
    // Moved to Li on Monday 16 November at 00:00: hers when the week began, owed that week.
    let moved = db.create_store(sample_store("am-wu", 3))?;
    clock.set(at("2026-11-16T00:00:00+08:00"));
    db.reassign_store(&moved, "am-li")?;
    let weeks = db.weeks_missed("am-li", day("2026-11-30"), end_of("2026-11-30"))?;
    let owed: Vec<(String, usize)> = weeks
        .iter()
        .map(|w| (w.week_start.to_string(), w.stores.len()))
        .collect();
    assert_eq!(
        owed,
        vec![
            ("2026-11-02".to_owned(), 1),
            ("2026-11-09".to_owned(), 1),
            ("2026-11-16".to_owned(), 3),
            ("2026-11-23".to_owned(), 3),
        ]
    );
    assert_eq!(weeks[0].stores, vec![old]);
    assert!(weeks[1].stores.iter().all(|s| *s != new));
    Ok(())
}

/// (Monday, number of stores owed and not visited) of each November week, for `manager`.
fn owed(db: &LocalStore, manager: &str) -> Result<Vec<(String, Vec<DocId>)>> {
    Ok(db
        .weeks_missed(manager, day("2026-11-30"), end_of("2026-11-30"))?
        .into_iter()
        .map(|w| (w.week_start.to_string(), w.stores))
        .collect())
}

#[test]
fn a_store_moved_away_is_still_owed_by_its_former_manager_for_the_weeks_it_was_theirs() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("sup.db"),
        "sup-wang",
        at("2026-10-01T09:00:00+08:00"),
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    // Moved to Wu on Friday 13 November: Li's in the weeks of the 2nd and the 9th (hers
    // for most of them), Wu's from the 16th.
    clock.set(at("2026-11-13T10:00:00+08:00"));
    db.reassign_store(&store, "am-wu")?;
    let weeks = |monday: [&str; 4], stores: [Vec<DocId>; 4]| -> Vec<(String, Vec<DocId>)> {
        monday
            .iter()
            .zip(stores)
            .map(|(m, s)| ((*m).to_owned(), s))
            .collect()
    };
    let november = ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"];
    let s = || vec![store.clone()];
    assert_eq!(
        owed(&db, "am-li")?,
        weeks(november, [s(), s(), vec![], vec![]])
    );
    assert_eq!(
        owed(&db, "am-wu")?,
        weeks(november, [vec![], vec![], s(), s()])
    );
    Ok(())
}

#[test]
fn a_store_moved_away_and_back_is_owed_by_whoever_held_it_at_the_middle_of_each_week() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sup.db");
    let (db, clock) = device(&path, "sup-wang", at("2026-10-01T09:00:00+08:00"))?;
    let store = db.create_store(sample_store("am-li", 1))?;
    // Li's until Thursday 5 November at 18:00, Wu's until Monday 23 November at 00:00,
    // then Li's.
    clock.set(at("2026-11-05T18:00:00+08:00"));
    db.reassign_store(&store, "am-wu")?;
    clock.set(at("2026-11-23T00:00:00+08:00"));
    db.reassign_store(&store, "am-li")?;
    let weeks_of = |db: &LocalStore, manager: &str| -> Result<Vec<usize>> {
        Ok(owed(db, manager)?.iter().map(|(_, s)| s.len()).collect())
    };
    assert_eq!(weeks_of(&db, "am-li")?, vec![1, 0, 0, 1]);
    assert_eq!(weeks_of(&db, "am-wu")?, vec![0, 1, 1, 0]);
    // A store of schema 10 (before assignments were kept) derives them when it opens.
    drop(db);
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch("DROP INDEX documents_rows_unchecked; ALTER TABLE documents DROP COLUMN rows_unchecked; DROP TABLE store_period; DROP TABLE photo_blocked; DROP TABLE photo_docs; PRAGMA user_version = 10;")?;
    }
    let (db, _) = device(&path, "sup-wang", clock.now())?;
    assert_eq!(weeks_of(&db, "am-li")?, vec![1, 0, 0, 1]);
    assert_eq!(weeks_of(&db, "am-wu")?, vec![0, 1, 1, 0]);
    Ok(())
}

#[test]
fn the_week_a_store_moves_is_owed_by_its_new_manager_and_met_by_either_managers_visit() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let (li, li_clock) = device(
        dir.path().join("li.db"),
        "am-li",
        at("2026-10-01T09:00:00+08:00"),
    )?;
    let (wu, wu_clock) = device(
        dir.path().join("wu.db"),
        "am-wu",
        at("2026-10-01T09:00:00+08:00"),
    )?;
    let a = li.create_store(sample_store("am-li", 1))?;
    let b = li.create_store(sample_store("am-li", 2))?;
    // Li visits A on Monday 9 November; both move to Wu on Tuesday 10 November at 09:00,
    // and Wu visits B on Wednesday.
    visit(&li, &li_clock, &a, "2026-11-09T10:00:00+08:00")?;
    li_clock.set(at("2026-11-10T09:00:00+08:00"));
    li.reassign_store(&a, "am-wu")?;
    li.reassign_store(&b, "am-wu")?;
    fieldsync_core::fixtures::exchange(&li, &wu)?;
    visit(&wu, &wu_clock, &b, "2026-11-11T10:00:00+08:00")?;
    fieldsync_core::fixtures::exchange(&wu, &li)?;
    let week_of_9 = |manager: &str| -> Result<Vec<DocId>> {
        Ok(li
            .weeks_missed(manager, day("2026-11-15"), end_of("2026-11-15"))?
            .pop()
            .map(|w| w.stores)
            .unwrap_or_default())
    };
    // Wu held both for most of the week: Li owes nothing, and Wu's week is met for A by
    // Li's Monday visit (she held it then) and for B by his own.
    assert_eq!(week_of_9("am-li")?, Vec::<DocId>::new());
    assert_eq!(week_of_9("am-wu")?, Vec::<DocId>::new());
    // A visit Li makes after the move (her phone had not heard) meets no one's week.
    let c = li.create_store(sample_store("am-li", 3))?;
    li_clock.set(at("2026-11-17T09:00:00+08:00"));
    li.reassign_store(&c, "am-wu")?;
    visit(&li, &li_clock, &c, "2026-11-18T10:00:00+08:00")?;
    let week_of_16 = li.weeks_missed("am-wu", day("2026-11-22"), end_of("2026-11-22"))?;
    assert!(week_of_16[2].stores.contains(&c), "{week_of_16:?}");
    Ok(())
}

#[test]
fn only_the_managers_own_visits_count_for_the_weeks_of_the_month() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("sup.db"),
        "sup-wang",
        at("2026-10-01T09:00:00+08:00"),
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    visit(&db, &clock, &store, "2026-11-03T10:00:00+08:00")?;
    let weeks = db.weeks_missed("am-li", day("2026-11-08"), end_of("2026-11-08"))?;
    assert_eq!(weeks.len(), 1);
    assert_eq!(weeks[0].stores, vec![store]);
    Ok(())
}

#[test]
fn a_store_written_by_schema_9_learns_since_when_each_store_is_its_managers() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("a.db");
    let (db, clock) = device(&path, "am-li", at("2026-11-12T13:00:00+08:00"))?;
    let store = db.create_store(sample_store("am-li", 1))?;
    drop(db);
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "ALTER TABLE store_index DROP COLUMN assigned_at; DROP TABLE user_roles;
             DROP INDEX documents_rows_unchecked; ALTER TABLE documents DROP COLUMN rows_unchecked;
             DROP TABLE store_period; DROP TABLE photo_blocked; DROP TABLE photo_docs; PRAGMA user_version = 9;",
        )?;
    }
    let (db, _) = device(&path, "am-li", clock.now())?;
    let weeks = db.weeks_missed("am-li", day("2026-11-30"), end_of("2026-11-30"))?;
    let owed: Vec<usize> = weeks.iter().map(|w| w.stores.len()).collect();
    assert_eq!(
        owed,
        vec![0, 0, 1, 1],
        "owed from the week after its import"
    );
    assert_eq!(weeks[3].stores, vec![store]);
    Ok(())
}

#[test]
fn each_ended_week_lists_the_demo_street_stores_the_market_team_did_not_walk() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("mk.db"),
        "mk-zhao",
        at("2026-10-01T09:00:00+08:00"),
    )?;
    let demo = |n: u32| {
        db.create_store(NewStore {
            demo_street: true,
            ..sample_store("am-li", n)
        })
    };
    let (a, b) = (demo(1)?, demo(2)?);
    db.create_store(sample_store("am-li", 3))?;
    let walk = |store: &DocId, when: &str| -> Result<DocId> {
        clock.set(at(when));
        db.create_visit(NewVisit {
            store_id: store.clone(),
            kind: VisitKind::MarketWalkthrough,
            check_in: CheckPoint {
                at: at(when),
                gps: None,
            },
            complaint_id: None,
        })
    };
    walk(&a, "2026-11-03T10:00:00+08:00")?;
    walk(&b, "2026-11-03T11:00:00+08:00")?;
    walk(&a, "2026-11-15T23:59:59+08:00")?;
    // A routine visit is no walk.
    visit(&db, &clock, &b, "2026-11-10T10:00:00+08:00")?;
    let weeks: Vec<(String, Vec<DocId>)> = db
        .walks_missed("am-li", day("2026-11-22"), end_of("2026-11-22"))?
        .into_iter()
        .map(|w| (w.week_start.to_string(), w.stores))
        .collect();
    assert_eq!(
        weeks,
        vec![
            ("2026-11-02".to_owned(), vec![]),
            ("2026-11-09".to_owned(), vec![b.clone()]),
            ("2026-11-16".to_owned(), vec![a, b]),
        ]
    );
    Ok(())
}

#[test]
fn a_week_is_judged_only_once_over_so_a_sunday_afternoon_is_not_yet_a_miss() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-10-01T09:00:00+08:00"),
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let sunday = db.weeks_missed("am-li", day("2026-11-22"), at("2026-11-22T15:00:00+08:00"))?;
    assert_eq!(sunday.len(), 2, "the week of the 16th is still running");
    let monday = db.weeks_missed("am-li", day("2026-11-22"), at("2026-11-23T00:00:00+08:00"))?;
    assert_eq!(monday.len(), 3);
    assert_eq!(monday[2].stores, vec![store]);
    Ok(())
}

#[test]
fn a_past_months_last_week_ending_in_the_next_month_is_judged_once_it_is_over() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-09-01T09:00:00+08:00"),
    )?;
    db.create_store(sample_store("am-li", 1))?;
    // October 2026's last week runs 26 October to 1 November (its Thursday is the 29th).
    let mondays = |ended_by: &str| -> Result<Vec<String>> {
        Ok(db
            .weeks_missed("am-li", day("2026-10-31"), at(ended_by))?
            .iter()
            .map(|w| w.week_start.to_string())
            .collect())
    };
    assert_eq!(mondays("2026-10-31T23:59:59.999+08:00")?.len(), 4);
    let all = mondays("2026-12-06T10:00:00+08:00")?;
    assert_eq!(all.first().map(String::as_str), Some("2026-09-28"));
    assert_eq!(all.last().map(String::as_str), Some("2026-10-26"));
    assert_eq!(all.len(), 5);
    Ok(())
}

#[test]
fn a_stores_class_and_demo_street_count_as_they_were_at_the_middle_of_each_week() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("sup.db"),
        "sup-wang",
        at("2026-10-01T09:00:00+08:00"),
    )?;
    let shrunk = db.create_store(sample_store("am-li", 1))?;
    let grew = db.create_store(NewStore {
        format: StoreFormat::Grocery,
        size: StoreSize::Small,
        ..sample_store("am-li", 2)
    })?;
    let joined = db.create_store(sample_store("am-li", 3))?;
    // On Friday 13 November: one store becomes a small grocery (exempt from R1), a small
    // grocery grows (covered), another store joins the demo street.
    clock.set(at("2026-11-13T10:00:00+08:00"));
    let class = |format, size| StoreClassification {
        format: Some(format),
        size: Some(size),
        ..Default::default()
    };
    db.update_store_classification(&shrunk, class(StoreFormat::Grocery, StoreSize::Small))?;
    db.update_store_classification(&grew, class(StoreFormat::Grocery, StoreSize::Medium))?;
    db.update_store_classification(
        &joined,
        StoreClassification {
            demo_street: Some(true),
            ..Default::default()
        },
    )?;
    let r1: Vec<Vec<DocId>> = owed(&db, "am-li")?.into_iter().map(|(_, s)| s).collect();
    for (week, stores) in r1.iter().enumerate() {
        assert_eq!(
            stores.contains(&shrunk),
            week < 2,
            "week {week}: {stores:?}"
        );
        assert_eq!(stores.contains(&grew), week >= 2, "week {week}: {stores:?}");
    }
    let walks: Vec<Vec<DocId>> = db
        .walks_missed("am-li", day("2026-11-30"), end_of("2026-11-30"))?
        .into_iter()
        .map(|w| w.stores)
        .collect();
    let joined_owed: Vec<bool> = walks.iter().map(|s| s.contains(&joined)).collect();
    assert_eq!(joined_owed, vec![false, false, true, true]);
    Ok(())
}

#[test]
fn a_past_days_list_of_stores_due_this_week_leaves_out_the_stores_imported_after_that_day()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-02T09:00:00+08:00"),
    )?;
    let first = db.create_store(sample_store("am-li", 1))?;
    // Imported on Wednesday 4 November at 09:00.
    clock.set(at("2026-11-04T09:00:00+08:00"));
    let later = db.create_store(sample_store("am-li", 2))?;
    let due = |on: &str| -> Result<Vec<DocId>> {
        Ok(db
            .stores_due_visit("am-li", day(on))?
            .into_iter()
            .map(|d| d.store_id)
            .collect())
    };
    assert_eq!(due("2026-10-31")?, Vec::<DocId>::new(), "neither existed");
    assert_eq!(due("2026-11-03")?, vec![first.clone()]);
    let both = due("2026-11-04")?;
    assert!(
        both.contains(&first) && both.contains(&later) && both.len() == 2,
        "the day it was imported: {both:?}"
    );
    Ok(())
}
