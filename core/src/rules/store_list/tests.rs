use super::*;
use crate::fixtures::{ManualClock, at, device, sample_store};
use crate::kinds::shelf_display::{DisplayStandard, Verdict};
use crate::kinds::store::NewStore;
use crate::kinds::task::NewTask;
use crate::kinds::visit::{CheckPoint, NewVisit, VisitKind};

const MANAGER: &str = "am-li";

fn monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).expect("day")
}

/// Twelve stores of every sort: small groceries, demo-street stores, rated terminals,
/// visited this week, earlier, or never, with displays and tasks.
fn territory() -> Result<(tempfile::TempDir, LocalStore, ManualClock, Vec<DocId>)> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = device(
        dir.path().join("a.db"),
        MANAGER,
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let ratings = [
        None,
        Some(TerminalRating::Excellent),
        Some(TerminalRating::Good),
        Some(TerminalRating::Qualified),
        Some(TerminalRating::Unqualified),
    ];
    let mut ids = Vec::new();
    for n in 0..12u32 {
        let mut new: NewStore = sample_store(MANAGER, n);
        new.name = format!("Store {:02}", 12 - n);
        if n % 4 == 0 {
            new.format = StoreFormat::Grocery;
            new.size = StoreSize::Small;
        }
        new.demo_street = n % 3 == 0;
        new.rating = ratings[n as usize % ratings.len()];
        new.functional_terminal = new.rating.is_some();
        ids.push(db.create_store(new)?);
    }
    db.create_store(sample_store("am-zhao", 99))?;
    let visit = |store: &DocId, when: &str| -> Result<DocId> {
        db.create_visit(NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: at(when),
                gps: None,
            },
            complaint_id: None,
        })
    };
    visit(&ids[1], "2026-11-23T08:30:00+08:00")?; // this week
    visit(&ids[2], "2026-11-10T10:00:00+08:00")?; // this month, earlier week
    visit(&ids[5], "2026-11-02T10:00:00+08:00")?;
    visit(&ids[7], "2026-10-20T10:00:00+08:00")?; // last month
    let display = db.create_shelf_display(&ids[3])?;
    db.mark_display_standard(&display, DisplayStandard::TidyCounter, Verdict::Pass, "")?;
    let other = db.create_shelf_display(&ids[6])?;
    db.mark_display_standard(&other, DisplayStandard::PriceTags, Verdict::Fail, "")?;
    db.create_task(NewTask {
        store_id: ids[8].clone(),
        title: "fix the box".into(),
        description: String::new(),
        assignee: MANAGER.into(),
        deadline: at("2026-11-30T17:00:00+08:00"),
        origin: None,
    })?;
    Ok((dir, db, clock, ids))
}

fn all(db: &LocalStore, query: StoreListQuery) -> Result<Vec<StoreListRow>> {
    Ok(db.store_list(&query)?.rows)
}

#[test]
fn the_store_list_says_what_is_due_as_the_single_rule_queries_do() -> Result<()> {
    let (_dir, db, _clock, _ids) = territory()?;
    let rows = all(&db, StoreListQuery::new(MANAGER, monday(), 100))?;
    assert_eq!(rows.len(), 12, "only the territory's stores");
    let mut r1: Vec<DocId> = db
        .stores_due_visit(MANAGER, monday())?
        .into_iter()
        .map(|s| s.store_id)
        .collect();
    let mut listed: Vec<DocId> = rows
        .iter()
        .filter(|r| r.visit_due)
        .map(|r| r.store_id.clone())
        .collect();
    r1.sort();
    listed.sort();
    assert_eq!(listed, r1, "R1");
    let mut r5: Vec<DocId> = db
        .demo_street_unchecked(MANAGER, monday())?
        .into_iter()
        .map(|s| s.0)
        .collect();
    let mut listed: Vec<DocId> = rows
        .iter()
        .filter(|r| r.demo_check_due)
        .map(|r| r.store_id.clone())
        .collect();
    r5.sort();
    listed.sort();
    assert_eq!(listed, r5, "R5");
    assert!(
        !r5.is_empty() && r5.len() < 4,
        "one demo-street store was checked"
    );
    let mut r7: Vec<(DocId, FollowUpAction)> = db
        .terminal_follow_ups(MANAGER, monday())?
        .into_iter()
        .filter(|f| f.done != Some(true))
        .map(|f| (f.store_id, f.action))
        .collect();
    let mut listed: Vec<(DocId, FollowUpAction)> = rows
        .iter()
        .filter_map(|r| r.follow_up_due.map(|a| (r.store_id.clone(), a)))
        .collect();
    r7.sort_by(|a, b| a.0.cmp(&b.0));
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(listed, r7, "R7");
    assert!(
        rows.iter()
            .any(|r| r.follow_up_due.is_none() && r.rating.is_some()),
        "a follow-up done this period is not due"
    );
    Ok(())
}

#[test]
fn the_store_list_shows_last_visit_missing_tags_open_tasks_and_upload_state() -> Result<()> {
    let (_dir, db, _clock, ids) = territory()?;
    let rows = all(&db, StoreListQuery::new(MANAGER, monday(), 100))?;
    let row = |id: &DocId| rows.iter().find(|r| &r.store_id == id).expect("listed");
    assert_eq!(
        row(&ids[1]).last_visit,
        Some(at("2026-11-23T08:30:00+08:00"))
    );
    assert_eq!(row(&ids[0]).last_visit, None);
    assert_eq!(row(&ids[3]).missing_price_tags, Some(0));
    assert_eq!(row(&ids[0]).missing_price_tags, None);
    assert_eq!(row(&ids[8]).open_tasks, 1);
    assert_eq!(row(&ids[8]).upload, UploadState::SavedOnPhone);
    assert!(
        row(&ids[8]).documents_not_on_server >= 2,
        "the store and its task"
    );
    db.mark_uploading(std::slice::from_ref(&ids[8]), true)?;
    let rows = all(&db, StoreListQuery::new(MANAGER, monday(), 100))?;
    let row = rows.iter().find(|r| r.store_id == ids[8]).expect("listed");
    assert_eq!(row.upload, UploadState::Uploading);
    db.mark_rejected(&ids[8], "rule: no")?;
    let page = db.store_list(&StoreListQuery {
        only_not_on_server: true,
        ..StoreListQuery::new(MANAGER, monday(), 100)
    })?;
    assert_eq!(page.total, 12, "nothing was pushed yet");
    let row = page
        .rows
        .iter()
        .find(|r| r.store_id == ids[8])
        .expect("listed");
    assert_eq!(row.upload, UploadState::Rejected);
    Ok(())
}

#[test]
fn the_store_list_pages_through_every_store_once_with_the_total() -> Result<()> {
    let (_dir, db, _clock, _ids) = territory()?;
    let mut seen = Vec::new();
    let mut query = StoreListQuery::new(MANAGER, monday(), 5);
    query.sort = StoreSort::DueFirst;
    for page in 0..10u32 {
        query.offset = page * 5;
        let got = db.store_list(&query)?;
        assert_eq!(got.total, 12);
        if got.rows.is_empty() {
            break;
        }
        seen.extend(got.rows);
    }
    assert_eq!(seen.len(), 12);
    let firsts: Vec<bool> = seen.iter().map(StoreListRow::anything_due).collect();
    assert!(
        firsts.windows(2).all(|w| w[0] >= w[1]),
        "due first: {firsts:?}"
    );
    let mut ids: Vec<&DocId> = seen.iter().map(|r| &r.store_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12, "no store twice");
    Ok(())
}

#[test]
fn the_store_list_filters_by_search_and_flags_and_sorts_by_name_by_default() -> Result<()> {
    let (_dir, db, _clock, ids) = territory()?;
    let by_name = all(&db, StoreListQuery::new(MANAGER, monday(), 100))?;
    let names: Vec<&str> = by_name.iter().map(|r| r.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let search = |text: &str| -> Result<Vec<StoreListRow>> {
        all(
            &db,
            StoreListQuery {
                search: Some(text.into()),
                ..StoreListQuery::new(MANAGER, monday(), 100)
            },
        )
    };
    assert_eq!(search("store 03")?.len(), 1, "case does not matter");
    assert_eq!(search("%")?.len(), 0, "a wildcard is taken literally");
    let licence = db.store(&ids[4])?.licence;
    assert_eq!(search(&licence)?[0].store_id, ids[4]);
    let demo = all(
        &db,
        StoreListQuery {
            only_demo_street: true,
            ..StoreListQuery::new(MANAGER, monday(), 100)
        },
    )?;
    assert_eq!(demo.len(), 4);
    assert!(demo.iter().all(|r| r.demo_street));
    let tasks = all(
        &db,
        StoreListQuery {
            only_with_open_tasks: true,
            ..StoreListQuery::new(MANAGER, monday(), 100)
        },
    )?;
    assert_eq!(tasks.len(), 1);
    let due = all(
        &db,
        StoreListQuery {
            only_due: true,
            sort: StoreSort::LastVisit,
            ..StoreListQuery::new(MANAGER, monday(), 100)
        },
    )?;
    assert!(due.iter().all(StoreListRow::anything_due));
    assert!(due.len() < 12);
    let never: Vec<bool> = due.iter().map(|r| r.last_visit.is_none()).collect();
    assert!(
        never.windows(2).all(|w| w[0] >= w[1]),
        "never visited first"
    );
    Ok(())
}

#[test]
fn the_store_list_searches_indexes_and_scans_no_visit_or_task_table() -> Result<()> {
    let mut conn = rusqlite::Connection::open_in_memory()?;
    crate::store::migrate::migrate(&mut conn)?;
    let plan: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {STORE_LIST}"))?
        .query_map(rusqlite::params_from_iter([None::<i64>; 19]), |r| r.get(3))?
        .collect::<rusqlite::Result<_>>()?;
    assert!(
        plan.iter().any(|step| step.contains("outbox_pending")),
        "the upload states start from what is pending: {plan:#?}"
    );
    for step in &plan {
        assert!(
            !step.starts_with("SCAN")
                || step.contains("subquery")
                || step.contains("listed")
                || step.contains("outbox_pending"),
            "no table is scanned: {plan:#?}"
        );
        assert!(!step.contains("documents_by"), "{plan:#?}");
    }
    Ok(())
}
