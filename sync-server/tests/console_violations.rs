//! The overview's "violations over time" chart: its figures, month by month, equal what
//! the test counts itself from the account manager's own documents (each display read as
//! it was at the month's end, each count, visit and complaint read one by one).

#[path = "support/console.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod support;

use std::collections::HashMap;

use axum::http::StatusCode;
use chrono::NaiveDate;
use fieldsync_core::fixtures::at;
use fieldsync_core::{
    ClockState, ComplaintKind, DisplayCheck, DocId, DocKind, FieldCalendar, GpsFix, LocalStore,
    NewComplaint, NewCountLine, NewInventoryCount, ProductOnDisplay, Role, Timestamp,
};
use fieldsync_server::console::overview::{Overview, options_for};
use support::{Backend, Console, Fallible, TestResult, visit_at};

fn display_check(missing: usize) -> DisplayCheck {
    DisplayCheck {
        products: (1..=6)
            .map(|n| ProductOnDisplay {
                sku: format!("sku-{n}"),
                name: "brand".into(),
                price_tag: n > missing,
            })
            .collect(),
        ..DisplayCheck::default()
    }
}

fn count(li: &LocalStore, store: &DocId, counted: i64) -> Fallible<()> {
    let id = li.create_inventory_count(NewInventoryCount {
        store_id: store.clone(),
        lines: vec![NewCountLine {
            sku: "sku-1".into(),
            name: "brand".into(),
            book: 100,
        }],
    })?;
    li.set_counted(&id, "sku-1", counted)?;
    li.finish_count(&id)?;
    Ok(())
}

fn visit(li: &LocalStore, store: &DocId, when: &str, far: bool) -> Fallible<()> {
    let shop = li.store(store)?;
    let north = if far { 0.02 } else { 0.0002 };
    let gps = GpsFix::wgs84(shop.location.lat + north, shop.location.lng, 8.0);
    visit_at(li, store, when, Some(gps))?;
    Ok(())
}

/// The violations table of an overview page: month (`YYYY-MM`) → the five figures.
fn violations_table(page: &str) -> Fallible<HashMap<String, Vec<usize>>> {
    let start = page
        .find("<table id=\"violations\">")
        .ok_or("no violations table")?;
    let table = &page[start..];
    let table = &table[..table.find("</table>").ok_or("unclosed table")?];
    let mut months = HashMap::new();
    for row in table.split("<tr>").skip(2) {
        let cells: Vec<&str> = row
            .split("<td>")
            .skip(1)
            .map(|c| c.split("</td>").next().unwrap_or(""))
            .collect();
        let (month, figures) = cells.split_first().ok_or("an empty row")?;
        let figures = figures
            .iter()
            .map(|c| {
                let n = c.split('>').nth(1).and_then(|t| t.split('<').next());
                n.ok_or("no figure")?.parse::<usize>().map_err(Into::into)
            })
            .collect::<Fallible<Vec<_>>>()?;
        months.insert((*month).to_owned(), figures);
    }
    Ok(months)
}

/// What the test counts itself for `month` from the phone's documents, read one by one.
fn counted_by_hand(li: &LocalStore, month: NaiveDate, as_of: Timestamp) -> Fallible<Vec<usize>> {
    let cal = li.calendar();
    let from = cal.start_of(month);
    let to = Timestamp(
        cal.start_of(FieldCalendar::next_month_start(month))
            .0
            .min(as_of.0 + 1),
    );
    let within = |t: Timestamp| t >= from && t < to;
    let mut figures = vec![0; 5];
    for store in li.document_ids(DocKind::Store)? {
        let shop = li.store(&store)?;
        let display = LocalStore::shelf_display_id(&store);
        // A display first written after the month's end was not there to break R2.
        let first_written = match li.kind_of(&display) {
            Ok(_) => li.history(&display)?.iter().map(|h| h.at).min(),
            Err(_) => None,
        };
        if first_written.is_some_and(|t| t < to)
            && li
                .shelf_display_as_of(&display, Timestamp(to.0 - 1))?
                .violates_price_tag_rule()
        {
            figures[0] += 1;
        }
        for id in li.inventory_counts_of_store(&store)? {
            let c = li.inventory_count(&id)?;
            if shop.functional_terminal
                && c.finished.as_ref().is_some_and(|(_, t)| within(*t))
                && c.error_rate().exceeds_limit()
            {
                figures[1] += 1;
            }
        }
        for id in li.visits_of_store(&store)? {
            let v = li.visit(&id)?;
            if within(v.check_in.at) && v.check_in.in_range == Some(false) {
                figures[3] += 1;
            }
        }
    }
    for id in li.document_ids(DocKind::Complaint)? {
        for (_, state) in li.complaint(&id)?.clocks(as_of) {
            if matches!(state, ClockState::Breached { due, .. } if within(due)) {
                figures[2] += 1;
            }
        }
    }
    figures[4] = li
        .monthly_visits("am-li", month, 4)?
        .below_minimum()
        .count();
    Ok(figures)
}

#[test]
fn the_violations_chart_counts_each_month_as_the_documents_read_one_by_one_do_on_sqlite()
-> TestResult {
    violations_chart_on(Backend::Sqlite)
}

#[test]
fn the_violations_chart_counts_each_month_as_the_documents_read_one_by_one_do_on_postgres()
-> TestResult {
    violations_chart_on(Backend::Postgres)
}

/// The scene is written and synced outside the runtime (PostgreSQL's client blocks); the
/// pages are asked for inside it.
fn violations_chart_on(backend: Backend) -> TestResult {
    let rt = tokio::runtime::Runtime::new()?;
    let console = Console::on(100, backend)?;
    console.import(&[
        "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
        "S2,S2,O,,A,30.27,120.16,B,C,2,B,100,0,0,,am-li",
        "S3,S3,O,,A,30.28,120.16,Y,C,1,A,400,0,1,good,am-li",
        "S4,S4,O,,A,30.29,120.16,S,C,1,A,500,0,0,,am-li",
    ])?;
    let (li, clock, info) =
        console.phone("am-li", Role::AccountManager, "2026-10-12T10:00:00+08:00")?;
    let id = |l: &str| -> Fallible<DocId> { Ok(li.store_by_licence(l)?.ok_or(format!("no {l}"))?) };
    let (s1, s2, s3, s4) = (id("S1")?, id("S2")?, id("S3")?, id("S4")?);
    // October: S1's display 4 tags short, a functional terminal's count 30% off and a
    // non-functional store's 50% off, one visit outside the fence, a complaint left alone.
    li.record_display_check(&LocalStore::shelf_display_id(&s1), &display_check(4))?;
    count(&li, &s3, 70)?;
    count(&li, &s4, 50)?;
    visit(&li, &s1, "2026-10-12T09:05:00+08:00", true)?;
    visit(&li, &s2, "2026-10-12T09:30:00+08:00", false)?;
    li.create_complaint(NewComplaint {
        store_id: s2.clone(),
        kind: ComplaintKind::Complaint,
        received_at: at("2026-10-12T08:00:00+08:00"),
        description: "stale stock".into(),
    })?;
    console.sync(&li, &clock, &info)?;
    // A supervisor's phone takes the district in October, then goes offline.
    let (sup, sup_clock, sup_info) =
        console.phone("sup-wang", Role::Supervisor, "2026-10-12T11:00:00+08:00")?;
    // November: S1 put right, S2's display 5 short, S3 counted 5% off, visits in the fence.
    clock.set(at("2026-11-16T10:00:00+08:00"));
    li.record_display_check(&LocalStore::shelf_display_id(&s1), &display_check(0))?;
    li.record_display_check(&LocalStore::shelf_display_id(&s2), &display_check(5))?;
    count(&li, &s3, 95)?;
    visit(&li, &s1, "2026-11-16T09:05:00+08:00", false)?;
    visit(&li, &s3, "2026-11-16T09:40:00+08:00", true)?;
    console.sync(&li, &clock, &info)?;

    let (cookie, _) = rt.block_on(console.signed_in("sup-wang"))?;
    let page = rt.block_on(console.get("/console?day=2026-11-23", &cookie))?;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"violations-chart\""));
    let chart = &page.body[page
        .body
        .find("id=\"violations-chart\"")
        .ok_or("no chart")?..];
    // Six months, five kinds: a bar for each (the stores below the minimum in a chart of
    // their own).
    let chart = &chart[..chart.find("</figure>").ok_or("no figure end")?];
    assert_eq!(chart.matches("<svg").count(), 2);
    assert_eq!(chart.matches("class=\"bar\"").count(), 30);
    let shown = violations_table(&page.body)?;
    assert_eq!(shown.len(), 6, "{shown:?}");
    let as_of = at("2026-11-23T23:59:59.999+08:00");
    for month in ["2026-10", "2026-11", "2026-09"] {
        let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")?;
        assert_eq!(
            shown.get(month),
            Some(&counted_by_hand(&li, first, as_of)?),
            "{month}: the chart's figures against the documents read one by one"
        );
    }
    // The district has something to show: October's display, count, fence and clocks;
    // November's display; stores below the minimum both months.
    let (october, november) = (&shown["2026-10"], &shown["2026-11"]);
    assert_eq!(october[..2], [1, 1]);
    assert_eq!(october[3], 1);
    assert!(october[2] + november[2] > 0, "{october:?} {november:?}");
    assert_eq!(november[..2], [1, 0]);
    assert_eq!(november[3], 1);
    assert!(october[4] > 0 && november[4] > 0);
    // A second overview (the past readings remembered) shows the same.
    let again = rt.block_on(console.get("/console?day=2026-11-23", &cookie))?;
    assert_eq!(violations_table(&again.body)?, shown);
    // The supervisor's check of S1 made offline in October, all tags there, arrives late:
    // October's figure changes though the display was remembered as it read before.
    sup_clock.set(at("2026-10-20T10:00:00+08:00"));
    sup.record_display_check(&LocalStore::shelf_display_id(&s1), &display_check(0))?;
    sup_clock.set(at("2026-11-20T10:00:00+08:00"));
    console.sync(&sup, &sup_clock, &sup_info)?;
    console.sync(&li, &clock, &info)?;
    let late = rt.block_on(console.get("/console?day=2026-11-23", &cookie))?;
    let late = violations_table(&late.body)?;
    let first = NaiveDate::from_ymd_opt(2026, 10, 1).ok_or("date")?;
    assert_eq!(late["2026-10"], counted_by_hand(&li, first, as_of)?);
    assert_eq!(late["2026-10"][0], 0, "{late:?}");
    Ok(())
}

#[test]
fn overviews_of_today_read_a_displays_past_once_though_now_moves_and_a_check_of_today_lands()
-> TestResult {
    let console = Console::new(100)?;
    console.import(&["S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li"])?;
    let now = Timestamp(support::now());
    let cal = fieldsync_core::FieldCalendar::default();
    // A display checked two months ago and again last month: read as it was at the end of
    // two months ago.
    let two_ago = FieldCalendar::month_start(cal.date(now)) - chrono::Duration::days(40);
    let last = FieldCalendar::month_start(cal.date(now)) - chrono::Duration::days(5);
    let start = |d: NaiveDate| Timestamp(cal.start_of(d).0 + 10 * 3_600_000);
    let (li, clock, info) = console.phone(
        "am-li",
        Role::AccountManager,
        &chrono::DateTime::from_timestamp_millis(start(two_ago).0)
            .ok_or("time")?
            .to_rfc3339(),
    )?;
    let s1 = li.store_by_licence("S1")?.ok_or("no S1")?;
    li.record_display_check(&LocalStore::shelf_display_id(&s1), &display_check(4))?;
    clock.set(start(last));
    li.record_display_check(&LocalStore::shelf_display_id(&s1), &display_check(0))?;
    console.sync(&li, &clock, &info)?;
    let users = console.storage.users()?;
    let mut memo = fieldsync_core::PriceTagsOverTime::default();
    let mut reads = Vec::new();
    for _ in 0..2 {
        let options = options_for(None, 4, li.calendar())?;
        let overview = Overview::compute(&li, users.clone(), options, &mut memo)?;
        let breaking: Vec<usize> = overview.violations.iter().map(|m| m.counts[0]).collect();
        assert_eq!(breaking.iter().sum::<usize>(), 1, "{breaking:?}");
        reads.push(memo.past_reads);
        // `now` moves between the two overviews.
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(reads[0] > 0, "{reads:?}");
    assert_eq!(
        reads[1], reads[0],
        "the second overview read the display again"
    );
    // A check today changes the display: its past months are not read again.
    clock.set(now);
    li.record_display_check(&LocalStore::shelf_display_id(&s1), &display_check(5))?;
    let options = options_for(None, 4, li.calendar())?;
    let overview = Overview::compute(&li, users, options, &mut memo)?;
    let breaking: Vec<usize> = overview.violations.iter().map(|m| m.counts[0]).collect();
    assert_eq!(breaking.iter().sum::<usize>(), 2, "{breaking:?}");
    assert_eq!(
        memo.past_reads, reads[0],
        "a change of today read the past again"
    );
    Ok(())
}
