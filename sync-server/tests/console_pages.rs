//! The console's pages through its routes (no socket): what documents hold is shown as
//! text, Chinese by default and English after the switch, figures equal to what an account
//! manager's phone answers for the same day, the fleet with its silent devices, the
//! assessment download equal to `admin report`'s file with its two sections.

#[path = "support/console.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod support;

use axum::http::{StatusCode, header};
use fieldsync_core::fixtures::at;
use fieldsync_core::protocol::DeviceReport;
use fieldsync_core::{
    CheckPoint, ComplaintKind, DisplayCheck, DocId, LocalStore, NewComplaint, NewCountLine,
    NewInventoryCount, NewTask, NewVisit, ProductOnDisplay, Role, VisitKind,
};
use fieldsync_server::storage::DeviceInfo;
use fieldsync_server::storage::device_reports::DeviceStatus;
use support::{Console, Fallible, TestResult, attention_rows, csv_row, now, visit_at};

#[tokio::test]
async fn a_store_named_like_a_script_is_shown_as_text_on_every_page() -> TestResult {
    let console = Console::new(100)?;
    console.import(&[
        "S1,\"<script>alert(1)</script>\",O,,\"<b>road</b>\",30.26,120.16,B,C,2,B,100,0,0,,am-li",
    ])?;
    let (cookie, _) = console.signed_in("sup-wang").await?;
    let manager = console.get("/console/manager/am-li", &cookie).await?;
    assert_eq!(manager.status, StatusCode::OK, "{}", manager.body);
    assert!(
        manager
            .body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        manager.body
    );
    assert!(!manager.body.contains("<script"), "{}", manager.body);
    let link = manager
        .body
        .split("href=\"/console/store/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("no store link")?
        .to_owned();
    let store = console
        .get(&format!("/console/store/{link}"), &cookie)
        .await?;
    assert_eq!(store.status, StatusCode::OK, "{}", store.body);
    assert!(
        !store.body.contains("<script") && !store.body.contains("<b>road"),
        "{}",
        store.body
    );
    assert!(store.body.contains("&lt;b&gt;road&lt;/b&gt;"));
    let csp = store
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .ok_or("no CSP")?;
    assert!(csp.to_str()?.contains("default-src 'none'"));
    let framing = store.headers.get(header::X_FRAME_OPTIONS);
    assert_eq!(framing.map(|v| v.as_bytes()), Some(&b"DENY"[..]));
    Ok(())
}

#[tokio::test]
async fn the_console_speaks_chinese_by_default_and_english_after_the_switch() -> TestResult {
    let console = Console::new(100)?;
    let (cookie, _) = console.signed_in("sup-wang").await?;
    let zh = console.get("/console", &cookie).await?;
    assert!(zh.body.contains("区域总览") && zh.body.contains("lang=\"zh-CN\""));
    let switch = console.get("/console/lang/en", &cookie).await?;
    assert_eq!(switch.cookie("fieldsync_lang").as_deref(), Some("en"));
    let en = console
        .get("/console", &format!("{cookie}; fieldsync_lang=en"))
        .await?;
    assert!(en.body.contains("District overview") && en.body.contains("lang=\"en\""));
    Ok(())
}

#[tokio::test]
async fn the_consoles_figures_equal_the_account_managers_phone_rule_queries_for_the_same_day()
-> TestResult {
    let console = Console::new(100)?;
    console.import(&[
        "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
        "S2,S2,O,,A,30.26,120.16,Z,C,3,C,50,0,0,,am-li",
        "S3,S3,O,,A,30.26,120.16,Y,C,1,A,400,1,1,good,am-li",
        "S4,S4,O,,A,30.26,120.16,S,C,1,A,500,0,1,unqualified,am-li",
        "S5,S5,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-wu",
        "S7,S7,O,,A,30.26,120.16,B,C,2,B,100,1,0,,am-li",
    ])?;
    let (li, clock, info) =
        console.phone("am-li", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    let id = |l: &str| -> Fallible<DocId> { Ok(li.store_by_licence(l)?.ok_or(format!("no {l}"))?) };
    let (s1, s3, s4) = (id("S1")?, id("S3")?, id("S4")?);
    li.create_visit(NewVisit {
        store_id: s1.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at("2026-11-23T09:05:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    })?;
    li.record_display_check(
        &LocalStore::shelf_display_id(&s3),
        &DisplayCheck {
            products: (1..=5)
                .map(|n| ProductOnDisplay {
                    sku: format!("sku-{n}"),
                    name: "b".into(),
                    price_tag: n == 5,
                })
                .collect(),
            ..DisplayCheck::default()
        },
    )?;
    let count = li.create_inventory_count(NewInventoryCount {
        store_id: s4.clone(),
        lines: vec![NewCountLine {
            sku: "sku-1".into(),
            name: "b".into(),
            book: 100,
        }],
    })?;
    li.set_counted(&count, "sku-1", 70)?;
    li.finish_count(&count)?;
    clock.set(at("2026-11-23T11:00:00+08:00"));
    li.create_complaint(NewComplaint {
        store_id: s1.clone(),
        kind: ComplaintKind::Complaint,
        received_at: at("2026-11-20T10:00:00+08:00"),
        description: "<i>late</i>".into(),
    })?;
    li.create_task(NewTask {
        store_id: s1.clone(),
        title: "tags".into(),
        description: String::new(),
        assignee: "am-li".into(),
        deadline: at("2026-11-23T12:00:00+08:00"),
        origin: None,
    })?;
    console.sync(&li, &clock, &info)?;

    let (cookie, _) = console.signed_in("sup-wang").await?;
    let export = console
        .get("/console/assessment.csv?day=2026-11-23", &cookie)
        .await?;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    let row = csv_row(&export.body, "am-li")?;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).ok_or("date")?;
    let end_of_day = at("2026-11-23T23:59:59.999+08:00");
    let visits = li.monthly_visits("am-li", day, 4)?;
    let tasks = li.open_tasks("am-li", end_of_day)?;
    let running = li
        .complaint_clocks("am-li", end_of_day)?
        .iter()
        .flat_map(|c| c.clocks.clone())
        .filter(|(_, s)| matches!(s, fieldsync_core::ClockState::Running { .. }))
        .count();
    let phone: Vec<(&str, String)> = vec![
        (
            "r1_due_this_week",
            li.stores_due_visit("am-li", day)?.len().to_string(),
        ),
        (
            "r2_price_tag_violations",
            li.stores_missing_price_tags("am-li")?.len().to_string(),
        ),
        (
            "r3_count_findings",
            li.count_findings("am-li")?.len().to_string(),
        ),
        (
            "r5_demo_street_unchecked",
            li.demo_street_unchecked("am-li", day)?.len().to_string(),
        ),
        (
            "r7_follow_ups",
            li.terminal_follow_ups("am-li", day)?.len().to_string(),
        ),
        (
            "r5_demo_street_unwalked",
            li.demo_street_unwalked(Some("am-li"), day)?
                .len()
                .to_string(),
        ),
        (
            "r4_stores_spot_checked",
            li.supervision_month("am-li", day)?
                .stores_spot_checked
                .to_string(),
        ),
        (
            "r10_requests_unanswered",
            li.requests_answered("am-li", day, end_of_day)?
                .unanswered
                .len()
                .to_string(),
        ),
        ("r9_visits_made", visits.made().to_string()),
        ("r9_visits_required", visits.required().to_string()),
        ("r9_clocks_running", running.to_string()),
        ("tasks_open", tasks.len().to_string()),
        (
            "tasks_overdue",
            tasks.iter().filter(|t| t.overdue).count().to_string(),
        ),
    ];
    for (column, expected) in &phone {
        assert_eq!(
            row.get(*column),
            Some(expected),
            "`{column}`: console vs am-li's phone"
        );
    }
    // Not all zero: the district has something to show in each.
    assert_eq!(row["r1_due_this_week"], "3");
    assert_eq!(row["r2_price_tag_violations"], "1");
    assert_eq!(row["r3_count_findings"], "1");
    assert_eq!(row["tasks_overdue"], "1");
    // The overview and the store page show the same day's figures and the store's history.
    let overview = console.get("/console?day=2026-11-23", &cookie).await?;
    assert!(overview.body.contains("<svg") && overview.body.contains("class=\"bar\""));
    assert!(
        overview.body.contains("id=\"clocks-chart\"")
            && overview.body.contains("id=\"trend-chart\"")
    );
    let store = console
        .get(&format!("/console/store/{s1}"), &cookie)
        .await?;
    assert!(
        store.body.contains("id=\"history\"") && store.body.contains("am-li"),
        "{}",
        store.body
    );
    assert!(store.body.contains("&lt;i&gt;late&lt;/i&gt;"));
    // The manager page lists the stores behind the figures, each linked to its page.
    let manager = console
        .get("/console/manager/am-li?day=2026-11-23", &cookie)
        .await?;
    assert_eq!(manager.status, StatusCode::OK, "{}", manager.body);
    let listed = attention_rows(&manager.body)?;
    let row_of = |store: &DocId| -> Fallible<&String> {
        let link = format!("href=\"/console/store/{store}?at=2026-11-23\"");
        Ok(listed
            .iter()
            .find(|row| row.contains(&link))
            .ok_or(format!("{store} is not listed: {listed:?}"))?)
    };
    assert!(row_of(&s3)?.contains("价签缺失&gt;3 (R2)"), "{listed:?}");
    assert!(row_of(&s4)?.contains("库存误差&gt;10% (R3)"), "{listed:?}");
    assert!(row_of(&s1)?.contains("整改任务逾期: tags"), "{listed:?}");
    let count = |words: &str| listed.iter().filter(|r| r.contains(words)).count();
    assert_eq!(count("(R2)").to_string(), row["r2_price_tag_violations"]);
    assert_eq!(count("(R3)").to_string(), row["r3_count_findings"]);
    assert_eq!(count("本周尚未走访").to_string(), row["r1_due_this_week"]);
    assert_eq!(count("整改任务逾期").to_string(), row["tasks_overdue"]);
    assert_eq!(
        count("未达最低 (R9)").to_string(),
        row["r9_stores_below_minimum"]
    );
    assert!(
        !listed.iter().any(|r| r.contains(">S5<")),
        "another manager's store is not listed"
    );
    let bad_day = console.get("/console?day=23-11-2026", &cookie).await?;
    assert_eq!(bad_day.status, StatusCode::BAD_REQUEST);
    assert!(bad_day.body.contains("YYYY-MM-DD"), "{}", bad_day.body);
    Ok(())
}

#[tokio::test]
async fn the_fleet_page_highlights_the_silent_devices_and_the_overview_names_their_managers()
-> TestResult {
    let console = Console::new(100)?;
    let day = 86_400_000;
    for (user, role, last) in [
        ("am-li", Role::AccountManager, now() - 60_000),
        ("am-wu", Role::AccountManager, now() - 5 * day),
    ] {
        let info = DeviceInfo {
            device_id: format!("{user}-phone"),
            user_id: user.into(),
            role,
        };
        console
            .storage
            .add_device(&info, "<phone>", user.as_bytes(), now() - 10 * day)?;
        console.storage.touch_device(&info.device_id, last)?;
    }
    let (cookie, _) = console.signed_in("sup-wang").await?;
    let fleet = console.get("/console/fleet", &cookie).await?;
    assert_eq!(fleet.status, StatusCode::OK);
    let rows: Vec<&str> = fleet.body.split("<tr>").skip(2).collect();
    let row = |device: &str| {
        rows.iter()
            .find(|r| r.contains(device))
            .copied()
            .unwrap_or("")
    };
    assert!(row("am-li-phone").contains("am-li name") && !row("am-li-phone").contains("stale"));
    assert!(
        row("am-wu-phone").contains("stale"),
        "{}",
        row("am-wu-phone")
    );
    assert!(fleet.body.contains("&lt;phone&gt;") && !fleet.body.contains("<phone>"));
    // The overview warns that Wu's figures may lack what is still on his phone.
    let overview = console.get("/console", &cookie).await?;
    let warning = overview
        .body
        .split("id=\"unsynced\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .ok_or("no warning of a phone that has not synced")?;
    assert!(
        warning.contains("am-wu name") && !warning.contains("am-li name"),
        "{warning}"
    );
    Ok(())
}

#[tokio::test]
async fn the_fleet_page_shows_what_phones_report_with_their_clock_drift_and_silent_days_asked_for()
-> TestResult {
    let console = Console::new(100)?;
    let day = 86_400_000;
    let mut devices = Vec::new();
    for user in ["am-li", "am-wu", "am-old"] {
        let info = DeviceInfo {
            device_id: format!("{user}-phone"),
            user_id: "am-li".into(),
            role: Role::AccountManager,
        };
        console
            .storage
            .add_device(&info, "phone", user.as_bytes(), now() - 30 * day)?;
        devices.push(info.device_id);
    }
    // am-li's phone: twenty minutes ahead, work waiting, one document refused.
    let received = now() - 60_000;
    let mut li = DeviceStatus::of(
        &devices[0],
        1,
        Some(&DeviceReport {
            app_version: Some("<b>2.4.1</b>".into()),
            pending_edits: Some(7),
            pending_documents: Some(2),
            rejected_documents: Some(1),
            device_time: Some(received + 20 * 60_000),
        }),
        received,
    );
    console.storage.record_device_report(&li)?;
    console
        .storage
        .record_refused(&devices[0], 1, 3, received)?;
    // The refusal does not touch the report, and a later report keeps the refusals.
    li.pending_edits = Some(8);
    console.storage.record_device_report(&li)?;
    // am-wu's phone: in time, silent for five days.
    let wu_at = now() - 5 * day;
    let wu = DeviceStatus::of(
        &devices[1],
        1,
        Some(&DeviceReport {
            device_time: Some(wu_at - 2_000),
            ..DeviceReport::default()
        }),
        wu_at,
    );
    console.storage.record_device_report(&wu)?;
    // An old app: no report at all, only its protocol.
    console
        .storage
        .record_device_report(&DeviceStatus::of(&devices[2], 1, None, now()))?;

    let (cookie, _) = console.signed_in("sup-wang").await?;
    let en = format!("{cookie}; fieldsync_lang=en");
    let fleet = console.get("/console/fleet", &en).await?;
    assert_eq!(fleet.status, StatusCode::OK, "{}", fleet.body);
    let rows: Vec<&str> = fleet.body.split("<tr>").skip(2).collect();
    let row = |device: &str| {
        rows.iter()
            .find(|r| r.contains(&format!("<td>{device}</td>")))
            .copied()
            .unwrap_or("")
    };
    let li_row = row("am-li-phone");
    assert!(li_row.contains("&lt;b&gt;2.4.1&lt;/b&gt;"), "{li_row}");
    assert!(li_row.contains("<td>8 (2)</td>"), "{li_row}");
    assert!(
        li_row.contains("<span class=\"bad\">1 / 3</span>"),
        "{li_row}"
    );
    assert!(
        li_row.contains("<span class=\"bad drift\">+20 min 0 s</span>"),
        "{li_row}"
    );
    assert!(!li_row.contains("stale"), "{li_row}");
    let wu_row = row("am-wu-phone");
    assert!(wu_row.contains("<td>−2 s</td>"), "{wu_row}");
    assert!(
        wu_row.contains("stale"),
        "silent 5 days, 3 by default: {wu_row}"
    );
    let old_row = row("am-old-phone");
    assert!(
        old_row.contains("<td>1</td>") && old_row.contains("not reported"),
        "{old_row}"
    );
    assert!(fleet.body.contains("Clock drift") && fleet.body.contains("App version"));

    let ten_days = console.get("/console/fleet?silent_days=10", &en).await?;
    let rows: Vec<&str> = ten_days.body.split("<tr>").skip(2).collect();
    assert!(
        rows.iter().all(|r| !r.contains("stale")),
        "{}",
        ten_days.body
    );
    let bad = console.get("/console/fleet?silent_days=0", &en).await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("`silent_days`"), "{}", bad.body);

    let zh = console.get("/console/fleet", &cookie).await?;
    assert!(
        zh.body.contains("时钟偏差") && zh.body.contains("+20 分 0 秒"),
        "{}",
        zh.body
    );
    Ok(())
}

#[tokio::test]
async fn a_push_after_a_page_shows_on_the_next_page_though_overviews_are_cached() -> TestResult {
    let console = Console::new(100)?;
    console.import(&["S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li"])?;
    let (li, clock, info) =
        console.phone("am-li", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    let (cookie, _) = console.signed_in("sup-wang").await?;
    let due =
        |csv: &str| -> Fallible<String> { Ok(csv_row(csv, "am-li")?["r1_due_this_week"].clone()) };
    let path = "/console/assessment.csv?day=2026-11-23";
    let before = console.get(path, &cookie).await?;
    assert_eq!(due(&before.body)?, "1");
    assert_eq!(
        due(&console.get(path, &cookie).await?.body)?,
        "1",
        "cached, same answer"
    );
    li.create_visit(NewVisit {
        store_id: li.store_by_licence("S1")?.ok_or("no S1")?,
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: at("2026-11-23T09:05:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    })?;
    clock.set(at("2026-11-23T09:30:00+08:00"));
    console.sync(&li, &clock, &info)?;
    assert_eq!(
        due(&console.get(path, &cookie).await?.body)?,
        "0",
        "the visit counts at once"
    );
    Ok(())
}

/// The lines of the assessment CSV's section headed `header` (after its empty line), up to
/// the next empty line.
fn section(csv: &str, header: &str) -> Vec<String> {
    csv.split("\n\n")
        .find(|part| part.starts_with(header))
        .map(|part| {
            part.lines()
                .skip(1)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

const DAMAGED: &str = "damaged_document,kind,store,territory,reason";
const REUSED: &str = "reused_photo,visit,store,day";

/// `admin report` for `month` judged on `day`, run by the server's binary on the console's
/// data folder: what the admin's command writes.
fn admin_report(console: &Console, month: &str, day: &str) -> Fallible<String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fieldsync-server"))
        .args(["admin", "--data-dir"])
        .arg(&console.dir)
        .args(["report", "--month", month, "--day", day])
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// A routine visit of `store` at `when` on `phone`, with `photo` (a hash) as its evidence.
fn photographed_visit(
    phone: &LocalStore,
    store: &DocId,
    when: &str,
    photo: &str,
) -> Fallible<DocId> {
    let visit = visit_at(phone, store, when, None)?;
    phone.add_visit_photo(&visit, photo, "shelf")?;
    Ok(visit)
}

#[tokio::test]
async fn the_consoles_assessment_csv_is_the_admin_reports_file_byte_for_byte_after_its_bom_for_a_month_with_a_reused_photo_and_an_unreadable_document()
-> TestResult {
    let console = Console::new(100)?;
    console.import(&[
        "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
        "S2,S2,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-wu",
    ])?;
    let (li, clock, info) =
        console.phone("am-li", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    let s1 = li.store_by_licence("S1")?.ok_or("no S1")?;
    // One photo as the evidence of visits on two days: reused.
    let photo = format!("sha256:{}", "ab".repeat(32));
    let first = photographed_visit(&li, &s1, "2026-11-23T09:05:00+08:00", &photo)?;
    console.sync(&li, &clock, &info)?;
    clock.set(at("2026-11-24T09:00:00+08:00"));
    let second = photographed_visit(&li, &s1, "2026-11-24T09:05:00+08:00", &photo)?;
    console.sync(&li, &clock, &info)?;
    // A visit an older server stored without its check-in: unreadable.
    let damaged =
        console.plant_visit_without_check_in("am-li", &s1, "2026-11-24T10:00:00+08:00")?;

    let (cookie, _) = console.signed_in("sup-wang").await?;
    let export = console
        .get("/console/assessment.csv?day=2026-11-24", &cookie)
        .await?;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    let report = admin_report(&console, "2026-11", "2026-11-24")?;
    // The admin's file has both sections, so the comparison below covers them.
    let unreadable = section(&report, DAMAGED);
    assert_eq!(unreadable.len(), 1, "{report}");
    assert!(
        unreadable[0].starts_with(&format!("{damaged},visit,{s1},am-li,")),
        "{report}"
    );
    let mut uses = vec![
        format!("{photo},{first},{s1},2026-11-23"),
        format!("{photo},{second},{s1},2026-11-24"),
    ];
    uses.sort();
    assert_eq!(section(&report, REUSED), uses, "{report}");
    assert_eq!(export.body, format!("\u{feff}{report}"));
    Ok(())
}

#[tokio::test]
async fn the_assessments_sections_list_the_whole_districts_unreadable_documents_and_the_months_reused_photos_on_the_csv_and_the_printable_page_and_none_reused_only_in_another_month()
-> TestResult {
    let console = Console::new(100)?;
    console.import(&[
        "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
        "S2,S2,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-wu",
    ])?;
    let (li, li_clock, li_info) =
        console.phone("am-li", Role::AccountManager, "2026-10-20T09:00:00+08:00")?;
    let (wu, wu_clock, wu_info) =
        console.phone("am-wu", Role::AccountManager, "2026-11-23T09:00:00+08:00")?;
    let s1 = li.store_by_licence("S1")?.ok_or("no S1")?;
    let s2 = wu.store_by_licence("S2")?.ok_or("no S2")?;
    // October's photo: two of am-li's visits on two October days, reused in October only.
    let october = format!("sha256:{}", "0c".repeat(32));
    photographed_visit(&li, &s1, "2026-10-20T09:05:00+08:00", &october)?;
    li_clock.set(at("2026-10-21T09:00:00+08:00"));
    photographed_visit(&li, &s1, "2026-10-21T09:05:00+08:00", &october)?;
    // November's photo: the same picture in a visit of each territory on one day.
    let november = format!("sha256:{}", "0b".repeat(32));
    li_clock.set(at("2026-11-23T09:00:00+08:00"));
    let li_visit = photographed_visit(&li, &s1, "2026-11-23T09:05:00+08:00", &november)?;
    console.sync(&li, &li_clock, &li_info)?;
    let wu_visit = photographed_visit(&wu, &s2, "2026-11-23T09:05:00+08:00", &november)?;
    console.sync(&wu, &wu_clock, &wu_info)?;
    // An unreadable visit in am-wu's territory.
    let damaged =
        console.plant_visit_without_check_in("am-wu", &s2, "2026-11-23T10:00:00+08:00")?;

    let (cookie, _) = console.signed_in("sup-wang").await?;
    let csv = console
        .get("/console/assessment.csv?day=2026-11-23", &cookie)
        .await?;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    let unreadable = section(&csv.body, DAMAGED);
    assert_eq!(unreadable.len(), 1, "{}", csv.body);
    assert!(
        unreadable[0].starts_with(&format!("{damaged},visit,{s2},am-wu,")),
        "a supervisor sees the district: {}",
        csv.body
    );
    let reused = section(&csv.body, REUSED);
    assert_eq!(reused.len(), 2, "{}", csv.body);
    for (visit, store) in [(&li_visit, &s1), (&wu_visit, &s2)] {
        let line = format!("{november},{visit},{store},2026-11-23");
        assert!(reused.contains(&line), "`{line}`: {}", csv.body);
    }
    assert!(
        !csv.body.contains(&october),
        "a photo reused only in October is not November's: {}",
        csv.body
    );
    let past = console
        .get("/console/assessment.csv?day=2026-10-31", &cookie)
        .await?;
    let reused = section(&past.body, REUSED);
    assert_eq!(reused.len(), 2, "{}", past.body);
    assert!(
        reused.iter().all(|l| l.starts_with(&october)),
        "{}",
        past.body
    );

    // The printable page shows the same sections, in words.
    let en = console
        .get(
            "/console/assessment?day=2026-11-23",
            &format!("{cookie}; fieldsync_lang=en"),
        )
        .await?;
    assert_eq!(en.status, StatusCode::OK, "{}", en.body);
    for shown in [
        "Documents that cannot be read (left out)",
        "<table id=\"damaged-documents\">",
        damaged.as_str(),
        "Photos used as evidence more than once",
        "<table id=\"reused-photos\">",
        november.as_str(),
        li_visit.as_str(),
        wu_visit.as_str(),
        "?at=2026-11-23\">S2</a>",
    ] {
        assert!(en.body.contains(shown), "`{shown}`: {}", en.body);
    }
    assert!(!en.body.contains(&october), "{}", en.body);
    let zh = console
        .get("/console/assessment?day=2026-11-23", &cookie)
        .await?;
    for shown in ["无法读取的文档（未计入）", "多次用作凭证的照片"] {
        assert!(zh.body.contains(shown), "`{shown}`: {}", zh.body);
    }
    // Without a session, nothing of it.
    let signed_out = console
        .get("/console/assessment.csv?day=2026-11-23", "")
        .await?;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    assert!(!signed_out.body.contains(&november) && !signed_out.body.contains(damaged.as_str()));
    Ok(())
}
