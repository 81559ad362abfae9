//! The console's R1 figures of one week count the stores visited in it among one set of
//! stores: those the manager owes the week (held at its middle and covered by R1, as R1's
//! weeks over a month are judged: docs/adr/0029). The overview's "visited this week" cell,
//! the coverage chart and the manager page's stores show no store visited for a manager
//! who visited none, after a store moved away in the month. Each test failed while these
//! took this week's due stores (held now) from the stores held at the month's middle.

#[path = "support/district.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod district;

use district::{District, Fallible, HEADER, TestResult, day};
use fieldsync_core::fixtures::at;
use fieldsync_core::{CheckPoint, NewVisit, Role, VisitKind};
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::admin::report::ReportOptions;

/// A district where S1 and S2 were Li's until S2 moved to Wu on Friday 20 November, and
/// nobody visited any store but as `before_the_move` does.
fn move_s2_to_wu(
    district: &District,
    before_the_move: impl FnOnce(&District) -> TestResult,
) -> TestResult {
    let report = district.import(
        &[
            HEADER,
            "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
            "S2,S2,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
        ]
        .join("\n"),
    )?;
    assert!(report.bad.is_empty(), "{report}");
    before_the_move(district)?;
    district.reassign_at("S2", "am-wu", "2026-11-20T10:00:00+08:00")?;
    Ok(())
}

/// The admin device after a pull (its store holds the whole district, as the console's
/// replica does), and the console's options for Wednesday 25 November 2026, that evening.
fn console_of_the_25th(district: &District) -> Fallible<(AdminDevice<'_>, ReportOptions)> {
    let admin = district.admin()?;
    admin.pull()?;
    let options = ReportOptions::resolve(
        Some(day("2026-11-01")),
        Some(day("2026-11-25")),
        4,
        admin.local.calendar(),
        at("2026-11-25T18:00:00+08:00"),
    )?;
    Ok((admin, options))
}

/// The overview of Wednesday 25 November 2026, made that evening, after S2's move.
fn overview_after_a_move(
    district: &District,
    before_the_move: impl FnOnce(&District) -> TestResult,
) -> Fallible<fieldsync_server::console::overview::Overview> {
    move_s2_to_wu(district, before_the_move)?;
    let (admin, options) = console_of_the_25th(district)?;
    let mut memo = fieldsync_core::PriceTagsOverTime::default();
    Ok(fieldsync_server::console::overview::Overview::compute(
        &admin.local,
        fieldsync_server::storage::SyncStorage::users(district.storage.as_ref())?,
        options,
        &mut memo,
    )?)
}

/// The overview's "visited this week" cell counts the stores visited this week: S2, held
/// by Li at the month's middle and moved to Wu on the 20th, is not among them for Li, who
/// visited no store (domain.md R1: a store counts as visited when a visit was made).
#[test]
fn the_overview_shows_no_store_visited_this_week_when_the_manager_visited_none() -> TestResult {
    let district = District::new()?;
    let o = overview_after_a_move(&district, |_| Ok(()))?;
    let li = o
        .rows
        .iter()
        .find(|r| r.manager == "am-li")
        .ok_or("no row for am-li")?;
    // The page's `r1_visited` cell of Li's row.
    let page = fieldsync_server::console::overview_page::render(
        fieldsync_server::console::i18n::Lang::En,
        &o,
        std::time::Duration::ZERO,
    );
    let row = page
        .split("/console/manager/am-li?")
        .nth(1)
        .ok_or("no row for am-li on the page")?;
    let shown_visited = row
        .split("data-figure=\"r1_visited\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .ok_or("no r1_visited cell")?;
    assert_eq!(
        (li.r1_due_this_week, shown_visited),
        (1, "0"),
        "Li holds S1, not visited this week, and visited no store"
    );
    Ok(())
}

/// The coverage chart's share of a week is the stores visited among those owed that week:
/// 0% for Li in the week of 23 November, S2 (moved to Wu) not counted as visited.
#[test]
fn the_coverage_chart_shows_zero_percent_for_a_week_in_which_the_manager_visited_no_store()
-> TestResult {
    let district = District::new()?;
    let o = overview_after_a_move(&district, |_| Ok(()))?;
    let li = o
        .coverage
        .iter()
        .find(|s| s.name == "am-li name")
        .ok_or("no coverage series for am-li")?;
    let this_week = li.points.last().ok_or("no week")?;
    assert_eq!(
        this_week,
        &("11-23".to_owned(), 0.0),
        "no store of Li's was visited in the week of 23 November"
    );
    Ok(())
}

/// Each week of the chart is read over the stores owed that week (held at its middle):
/// Li, who visited only S2, on Tuesday 17 November, owed S1 and S2 in that week (S2 moved
/// on the Friday, after the week's middle) and is shown 50% for it; every other week of
/// the chart, 0%.
#[test]
fn each_week_of_the_coverage_chart_counts_the_stores_owed_that_week() -> TestResult {
    let district = District::new()?;
    let o = overview_after_a_move(&district, |district| {
        let li = district.phone("am-li", Role::AccountManager, "2026-11-17T10:00:00+08:00")?;
        district.sync(&li)?;
        let s2 = li.local.store_by_licence("S2")?.ok_or("no S2")?;
        li.local.create_visit(NewVisit {
            store_id: s2,
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: at("2026-11-17T10:00:00+08:00"),
                gps: None,
            },
            complaint_id: None,
        })?;
        district.sync(&li)?;
        Ok(())
    })?;
    let li = o
        .coverage
        .iter()
        .find(|s| s.name == "am-li name")
        .ok_or("no coverage series for am-li")?;
    let shown: Vec<(&str, f64)> = li.points.iter().map(|(w, p)| (w.as_str(), *p)).collect();
    assert_eq!(
        shown,
        [
            ("10-05", 0.0),
            ("10-12", 0.0),
            ("10-19", 0.0),
            ("10-26", 0.0),
            ("11-02", 0.0),
            ("11-09", 0.0),
            ("11-16", 50.0),
            ("11-23", 0.0),
        ],
        "one store visited of the two owed in the week of 16 November, none in the others"
    );
    Ok(())
}

/// The manager page marks each store's week as the overview counts it: S2, moved to Wu
/// before this week and still listed among Li's stores of the month (held at its middle),
/// is not shown visited this week (✓) for Li, and S1, hers and not visited, is due.
#[test]
fn the_manager_page_shows_no_store_visited_this_week_when_the_manager_visited_none() -> TestResult {
    let district = District::new()?;
    move_s2_to_wu(&district, |_| Ok(()))?;
    let (admin, options) = console_of_the_25th(&district)?;
    let page = fieldsync_server::console::manager::render(
        &admin.local,
        fieldsync_server::console::i18n::Lang::En,
        "am-li",
        &options,
    )?;
    let stores = page
        .split("<table id=\"stores\">")
        .nth(1)
        .ok_or("no table of stores")?;
    // Each row's store name and its week's cell (the last).
    let weeks: Vec<(String, String)> = stores
        .split("<tr>")
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row
                .split("<td>")
                .skip(1)
                .map(|c| c.split("</td>").next().unwrap_or_default())
                .collect();
            let name = cells
                .first()
                .and_then(|c| c.split('>').nth(1))
                .and_then(|c| c.split('<').next())
                .unwrap_or_default();
            (
                name.to_owned(),
                cells.last().copied().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        weeks,
        [
            (
                "S1".to_owned(),
                "<span class=\"bad\">✗</span> never".to_owned()
            ),
            ("S2".to_owned(), "–".to_owned()),
        ],
        "Li visited neither store; S2 is Wu's this week"
    );
    Ok(())
}
