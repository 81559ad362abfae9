//! The admin tools through the library: store import (bad rows, re-import), reassignment
//! as the phones' feeds see it, the compliance report of a crafted district, and the demo
//! district.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;
use fieldsync_core::fixtures::{ManualClock, at, device};
use fieldsync_core::protocol::FeedCursor;
use fieldsync_core::{
    CheckPoint, ComplaintEvent, ComplaintKind, DisplayCheck, DisplayStandard, DocId, DocKind,
    FieldCalendar, LocalStore, NewComplaint, NewCountLine, NewInventoryCount, NewScorecard,
    NewTask, NewVisit, ProductOnDisplay, Role, ScoreDimension, ScoreWeights, StandardCheck,
    TrainingActivity, Verdict, VisitKind,
};
use fieldsync_server::admin::import::{BadRow, ImportReport, import_stores};
use fieldsync_server::admin::report::{COLUMNS, ReportOptions, compliance_report, write_csv};
use fieldsync_server::admin::{AdminDevice, enrollment_code};
use fieldsync_server::demo::{self, Seeded};
use fieldsync_server::error::AppError;
use fieldsync_server::storage::{DeviceInfo, Feed, SyncStorage, User};
use fieldsync_server::{AppState, Limits, SqliteStorage, app};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const HEADER: &str = "licence,name,owner,phone,address,lat,lng,format,market,size,tier,monthly_volume,demo_street,functional_terminal,rating,territory";

struct District {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    storage: Arc<SqliteStorage>,
}

impl District {
    fn new() -> Fallible<District> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().to_path_buf();
        let storage = Arc::new(SqliteStorage::open(&path.join("fieldsync.db"))?);
        for (id, role) in [
            ("am-li", Role::AccountManager),
            ("am-wu", Role::AccountManager),
            ("sup-wang", Role::Supervisor),
            ("sup-liu", Role::Supervisor),
            ("mk-zhao", Role::MarketTeam),
        ] {
            storage.add_user(
                &User {
                    id: id.into(),
                    role,
                    name: format!("{id} name"),
                },
                0,
            )?;
        }
        Ok(District {
            _dir: dir,
            dir: path,
            storage,
        })
    }

    /// The admin device, whose clock stands before every phone's: the stores it imports
    /// exist before anyone visits them.
    fn admin(&self) -> Fallible<AdminDevice<'_>> {
        let office = at("2026-10-01T09:00:00+08:00");
        Ok(AdminDevice::open_with_clock(
            &self.dir,
            self.storage.as_ref(),
            std::sync::Arc::new(move || office),
        )?)
    }

    fn import(&self, csv: &str) -> Fallible<ImportReport> {
        let admin = self.admin()?;
        Ok(import_stores(&admin, csv.as_bytes())?)
    }

    /// Document counts on the server by kind.
    fn stored(&self, kind: DocKind) -> Fallible<usize> {
        Ok(self
            .storage
            .documents()?
            .iter()
            .filter(|(_, k)| k == kind.as_str())
            .count())
    }

    /// A phone of `user`, registered with the server, with a manual clock at `start`.
    fn phone(&self, user: &str, role: Role, start: &str) -> Fallible<Phone> {
        let (local, clock) = device(self.dir.join(format!("{user}.db")), user, at(start))?;
        let info = DeviceInfo {
            device_id: format!("{user}-phone"),
            user_id: user.into(),
            role,
        };
        self.storage
            .add_device(&info, "test phone", user.as_bytes(), 0)?;
        Ok(Phone { local, clock, info })
    }

    /// One sync of a phone straight against storage: push its outbox, merge its feed.
    fn sync(&self, phone: &Phone) -> Fallible<Feed> {
        let batch = phone.local.outbox_batch(1000)?;
        let docs = batch
            .iter()
            .map(|d| {
                let changes = d
                    .changes
                    .iter()
                    .map(|c| fieldsync_core::IncomingChange::parse(c))
                    .collect::<fieldsync_core::Result<Vec<_>>>()?;
                Ok((d.id.clone(), changes))
            })
            .collect::<Fallible<Vec<_>>>()?;
        // Received as the phone's clock says: the phone is on time.
        let received = phone.clock.now().0;
        if let Err(rejected) = self.storage.push(&phone.info, docs, received)? {
            return Err(format!("push refused: {rejected:?}").into());
        }
        for d in &batch {
            phone.local.confirm_pushed(&d.id, d.local_edits, &d.heads)?;
        }
        let cursor = FeedCursor::parse(phone.local.sync_cursor()?.as_deref())?;
        let feed = self
            .storage
            .feed(&phone.info, &cursor, 64 << 20, &Default::default())?;
        for doc in &feed.changes {
            let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
            phone
                .local
                .merge_changes(&DocId::parse("doc", &doc.doc)?, &changes)?;
        }
        phone.local.set_sync_cursor(&feed.cursor.to_string())?;
        Ok(feed)
    }
}

struct Phone {
    local: LocalStore,
    clock: ManualClock,
    info: DeviceInfo,
}

fn bad_cells(report: &ImportReport) -> Vec<(u64, Option<&str>)> {
    report
        .bad
        .iter()
        .map(|b: &BadRow| (b.line, b.column.as_deref()))
        .collect()
}

/// A file with two good rows (one with a quoted address over two lines) and bad ones.
fn mixed_file() -> String {
    [
        // BOM, as spreadsheet programs write it.
        format!("\u{feff}{HEADER}"),
        // line 2: good
        "330102100001,惠民便利店,王建国,13800000001,延安路1号,30.2590,120.1640,B,C,2,B,120,0,0,,am-li".into(),
        // line 3: a phone that is not one
        "330102100002,Store 2,Owner,12ab,Road 2,30.26,120.16,B,C,2,B,120,0,0,,am-li".into(),
        // line 4: a latitude and a format that cannot be read
        "330102100003,Store 3,Owner,,Road 3,north,120.16,W,C,2,B,120,0,0,,am-li".into(),
        // line 5: a supervisor is not a territory
        "330102100004,Store 4,Owner,,Road 4,30.26,120.16,B,C,2,B,120,0,0,,sup-wang".into(),
        // line 6: the licence of line 2 again
        "330102100001,Store 1 again,Owner,,Road 1,30.26,120.16,B,C,2,B,120,0,0,,am-wu".into(),
        // lines 7-8: good, lower-case codes, an address over two lines
        "330102100005,金叶烟酒,Owner,,\"Road 5\nUnit 2\",30.26,120.17,y,c,1,a,400,yes,1,good,am-wu"
            .into(),
        // line 9: a rating on a store that is not a functional terminal (core refuses it)
        "330102100006,Store 6,Owner,,Road 6,30.26,120.16,B,C,2,B,120,0,0,excellent,am-li".into(),
        // line 10: a field short
        "330102100007,Store 7,Owner,,Road 7,30.26,120.16,B,C,2,B,120,0,0,am-li".into(),
        // line 11: a negative volume (core refuses it)
        "330102100008,Store 8,Owner,,Road 8,30.26,120.16,B,C,2,B,-5,0,0,,am-li".into(),
    ]
    .join("\n")
}

#[test]
fn an_import_keeps_the_good_rows_and_reports_each_bad_row_with_its_line_and_column() -> TestResult {
    let district = District::new()?;
    let report = district.import(&mixed_file())?;
    assert_eq!(report.imported, 2, "{report}");
    assert_eq!(
        bad_cells(&report),
        vec![
            (3, Some("phone")),
            (4, Some("lat")),
            (4, Some("format")),
            (5, Some("territory")),
            (6, Some("licence")),
            (9, Some("rating")),
            (10, None),
            (11, Some("monthly_volume")),
        ],
        "{report}"
    );
    assert_eq!(report.bad_lines(), 7);
    let printed = report.to_string();
    assert!(
        printed.contains("line 6, column `licence`: licence `330102100001` is on line 2 already"),
        "{printed}"
    );
    assert!(
        printed.contains("line 5, column `territory`: `sup-wang` is not an account manager"),
        "{printed}"
    );

    assert_eq!(
        district.stored(DocKind::Store)?,
        2,
        "nothing of a bad row reaches the server"
    );
    assert_eq!(
        district.stored(DocKind::ShelfDisplay)?,
        2,
        "each store comes with its shelf display"
    );
    let admin = district.admin()?;
    let id = admin.find_store("330102100005")?;
    let store = admin.local.store(&id)?;
    assert_eq!(store.address, "Road 5\nUnit 2");
    assert_eq!(
        (store.code(), store.demo_street, store.territory.as_str()),
        ("CY1".to_owned(), true, "am-wu")
    );
    Ok(())
}

#[test]
fn a_header_that_lacks_a_column_refuses_the_whole_file() -> TestResult {
    let district = District::new()?;
    let header = HEADER.replace(",tier", "");
    let err = district
        .import(&format!(
            "{header}\n330102100001,S,O,,A,30.2,120.1,B,C,2,120,0,0,,am-li"
        ))
        .expect_err("refused");
    assert!(err.to_string().contains("lacks `tier`"), "{err}");
    assert_eq!(district.stored(DocKind::Store)?, 0);
    Ok(())
}

#[test]
fn importing_the_same_file_again_creates_nothing_and_lists_its_rows_as_existing() -> TestResult {
    let district = District::new()?;
    let file = mixed_file();
    let first = district.import(&file)?;
    let again = district.import(&file)?;
    assert_eq!(again.imported, 0, "{again}");
    assert_eq!(
        again
            .existing
            .iter()
            .map(|e| (e.line, e.differs.is_empty()))
            .collect::<Vec<_>>(),
        vec![(2, true), (7, true)],
        "{again}"
    );
    assert_eq!(
        bad_cells(&again),
        bad_cells(&first),
        "bad rows stay bad, and are reported again"
    );
    assert_eq!(district.stored(DocKind::Store)?, 2);
    assert_eq!(district.stored(DocKind::ShelfDisplay)?, 2);

    // A changed row is not applied: it is listed with the columns that differ.
    let changed = file.replace("13800000001", "13900000009");
    let third = district.import(&changed)?;
    let listed = third.existing.first().map(|e| (e.line, e.differs.clone()));
    assert_eq!(listed, Some((2, vec!["phone"])));
    assert!(
        third
            .to_string()
            .contains("differs in `phone` (not updated)")
    );
    assert_eq!(district.stored(DocKind::Store)?, 2);
    Ok(())
}

#[test]
fn an_admin_device_whose_database_was_lost_still_finds_the_stores_it_imported() -> TestResult {
    let district = District::new()?;
    let file = mixed_file();
    district.import(&file)?;
    // A phone updates a display, so the server holds changes that build on the admin's.
    let phone = district.phone("am-li", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    district.sync(&phone)?;
    let store = phone
        .local
        .store_by_licence("330102100001")?
        .ok_or("the phone has the store")?;
    phone.local.mark_display_standard(
        &LocalStore::shelf_display_id(&store),
        DisplayStandard::TidyCounter,
        Verdict::Pass,
        "",
    )?;
    district.sync(&phone)?;

    for name in [
        "admin-device.db",
        "admin-device.db-wal",
        "admin-device.db-shm",
    ] {
        let path = district.dir.join(name);
        if path.exists() {
            std::fs::remove_file(path)?;
        }
    }
    let again = district.import(&file)?;
    assert_eq!(
        (again.imported, again.existing.len()),
        (0, 2),
        "the new admin database learns the old one's stores from the server: {again}"
    );
    assert_eq!(district.stored(DocKind::Store)?, 2);
    Ok(())
}

#[test]
fn reassigning_a_store_by_licence_moves_it_with_its_display_from_one_feed_to_the_other()
-> TestResult {
    let district = District::new()?;
    district.import(&mixed_file())?;
    let li = district.phone("am-li", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    let wu = district.phone("am-wu", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    district.sync(&li)?;
    district.sync(&wu)?;
    let store = li
        .local
        .store_by_licence("330102100001")?
        .ok_or("am-li has the store")?;
    let display = LocalStore::shelf_display_id(&store);
    assert!(wu.local.store(&store).is_err());

    let admin = district.admin()?;
    let err = admin
        .reassign("330102100001", "sup-wang")
        .expect_err("a supervisor holds no territory");
    assert!(matches!(err, AppError::BadRequest(_)), "{err}");
    let err = admin.reassign("999", "am-wu").expect_err("no such store");
    assert!(matches!(err, AppError::NotFound(_)), "{err}");
    let said = admin.reassign("330102100001", "am-wu")?;
    assert!(said.contains("from `am-li` to `am-wu`"), "{said}");
    drop(admin);

    let to_wu = district.sync(&wu)?;
    assert_eq!(wu.local.store(&store)?.territory, "am-wu");
    assert!(
        wu.local.shelf_display(&display).is_ok(),
        "the display moves too"
    );
    assert!(to_wu.removed.is_empty());
    let to_li = district.sync(&li)?;
    assert_eq!(
        to_li.removed.iter().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([store.to_string(), display.to_string()]),
        "the old manager is told both are gone"
    );

    let again = district.admin()?.reassign(store.as_str(), "am-wu")?;
    assert!(
        again.contains("already"),
        "by document id, and idempotent: {again}"
    );
    Ok(())
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
}

/// Reads a report's CSV into (manager → column → value).
fn report_cells(csv_bytes: &[u8]) -> Fallible<Vec<std::collections::HashMap<String, String>>> {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    assert_eq!(header, COLUMNS.map(str::to_owned).to_vec());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        rows.push(
            header
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_owned))
                .collect(),
        );
    }
    Ok(rows)
}

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
    li.local.record_display_check(
        &LocalStore::shelf_display_id(&s1),
        &DisplayCheck {
            products: (1..=4)
                .map(|n| ProductOnDisplay {
                    sku: format!("690102800{n}"),
                    name: format!("brand {n}"),
                    price_tag: false,
                })
                .collect(),
            ..DisplayCheck::default()
        },
    )?;
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

#[tokio::test]
async fn the_demo_district_has_about_a_thousand_stores_codes_that_enroll_and_seeds_only_once()
-> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = Arc::new(SqliteStorage::open(&dir.path().join("fieldsync.db"))?);
    let Seeded::New(district) = demo::seed(dir.path(), storage.as_ref())? else {
        return Err("an empty database is seeded".into());
    };
    let stores = storage
        .documents()?
        .iter()
        .filter(|(_, kind)| kind == "store")
        .count();
    assert_eq!(stores, demo::DEMO_STORES as usize);
    assert_eq!(district.import.imported, stores);
    assert!(
        dir.path().join(demo::DEMO_CSV).exists(),
        "the file is there to read"
    );
    let roles: std::collections::HashSet<Role> =
        district.users.iter().map(|(u, _)| u.role).collect();
    assert_eq!(roles.len(), 3, "account managers, market team, supervisor");

    let instructions = Seeded::New(district).instructions("127.0.0.1:7878".parse()?);
    assert!(instructions.contains("curl -s -X POST http://127.0.0.1:7878/v1/enroll"));
    // The printed code of am-li enrolls a device.
    let code = instructions
        .lines()
        .find(|l| l.trim_start().starts_with("am-li "))
        .and_then(|l| l.split("code ").nth(1))
        .ok_or("am-li's code is printed")?
        .trim()
        .to_owned();
    let router = app(AppState {
        storage: storage.clone(),
        limits: Limits::default(),
        metrics: None,
    });
    use tower::ServiceExt;
    let response = router
        .oneshot(
            axum::http::Request::post("/v1/enroll")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    serde_json::json!({"code": code, "device_name": "demo phone"}).to_string(),
                ))?,
        )
        .await?;
    assert_eq!(response.status(), axum::http::StatusCode::OK);

    match demo::seed(dir.path(), storage.as_ref())? {
        Seeded::Existing { users } => assert_eq!(users, 6),
        Seeded::New(_) => return Err("a second start seeds again".into()),
    }
    assert_eq!(
        storage
            .documents()?
            .iter()
            .filter(|(_, kind)| kind == "store")
            .count(),
        stores
    );
    // A code for a demo user can still be made the usual way.
    enrollment_code(storage.as_ref(), "am-li", 0)?;
    Ok(())
}

#[test]
fn a_store_reassigned_by_the_admin_cli_while_the_server_runs_stays_reassigned() -> TestResult {
    let district = District::new()?;
    // Each admin command is a process of its own: a fresh storage on the same database.
    // The office works on the district's time: the import before the phones start, the
    // move after Li's edit.
    let office = ManualClock::starting_at(at("2026-11-22T09:00:00+08:00"));
    let admin_command = |command: &dyn Fn(&AdminDevice<'_>) -> Fallible<()>| -> TestResult {
        let cli = SqliteStorage::open(&district.dir.join("fieldsync.db"))?;
        command(&AdminDevice::open_with_clock(
            &district.dir,
            &cli,
            office.clock(),
        )?)
    };
    admin_command(&|admin| {
        import_stores(admin, mixed_file().as_bytes())?;
        Ok(())
    })?;
    let li = district.phone("am-li", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    let wu = district.phone("am-wu", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    district.sync(&li)?;
    district.sync(&wu)?;
    let store = li
        .local
        .store_by_licence("330102100001")?
        .ok_or("am-li has the store")?;
    let contact = |phone: &str| fieldsync_core::StoreContact {
        phone: Some(phone.into()),
        ..Default::default()
    };
    // The server stores (and caches) an edit of the store by its manager.
    li.local
        .update_store_contact(&store, contact("13800000002"))?;
    district.sync(&li)?;

    office.set(at("2026-11-23T12:00:00+08:00"));
    admin_command(&|admin| {
        admin.reassign("330102100001", "am-wu")?;
        Ok(())
    })?;
    li.clock.set(at("2026-11-23T13:00:00+08:00"));
    wu.clock.set(at("2026-11-23T13:00:00+08:00"));
    // Li, offline since the move, edits the phone number again and syncs.
    li.local
        .update_store_contact(&store, contact("13800000003"))?;
    district.sync(&li)?;

    district.sync(&wu)?;
    assert_eq!(wu.local.store(&store)?.territory, "am-wu");
    wu.local
        .update_store_contact(&store, contact("13800000004"))?;
    district.sync(&wu)?;
    let to_li = district.sync(&li)?;
    assert!(
        !to_li.changes.iter().any(|d| d.doc == store.as_str()),
        "the old manager no longer receives the store's changes"
    );
    let back_to_wu = {
        let admin_storage = SqliteStorage::open(&district.dir.join("fieldsync.db"))?;
        let admin = AdminDevice::open_with_clock(&district.dir, &admin_storage, office.clock())?;
        admin.pull()?;
        admin.local.store(&store)?.territory
    };
    assert_eq!(back_to_wu, "am-wu");
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
        let admin = district.admin()?;
        let options = ReportOptions::resolve(
            Some(day("2026-02-01")),
            None,
            4,
            admin.local.calendar(),
            at("2026-03-02T09:00:00+08:00"),
        )?;
        admin.pull()?;
        let mut out = Vec::new();
        write_csv(&compliance_report(&admin, &options)?, &mut out)?;
        let rows = report_cells(&out)?;
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
fn an_import_with_a_datum_column_keeps_each_rows_datum_and_refuses_an_unknown_one() -> TestResult {
    let district = District::new()?;
    let report = district.import(
        &[
            format!("{HEADER},datum"),
            // line 2: picked on an Amap map
            "S1,S1,O,,A,39.90245,116.42703,B,C,2,B,100,0,0,,am-li,gcj02".into(),
            // line 3: empty is WGS-84
            "S2,S2,O,,A,39.90105,116.42079,B,C,2,B,100,0,0,,am-li,".into(),
            // line 4: Baidu's BD-09 is not supported
            "S3,S3,O,,A,39.90,116.42,B,C,2,B,100,0,0,,am-li,bd09".into(),
        ]
        .join("\n"),
    )?;
    assert_eq!(report.imported, 2, "{report}");
    assert_eq!(bad_cells(&report), vec![(4, Some("datum"))], "{report}");
    let admin = district.admin()?;
    let datum = |licence: &str| -> Fallible<fieldsync_core::Datum> {
        Ok(admin
            .local
            .store(&admin.find_store(licence)?)?
            .location
            .datum)
    };
    assert_eq!(datum("S1")?, fieldsync_core::Datum::Gcj02);
    assert_eq!(datum("S2")?, fieldsync_core::Datum::Wgs84);
    Ok(())
}
