//! The stores behind a manager's figures, at the rules' edges: a clock breached by a
//! complaint closed late still counts, as it does in the report.

#[path = "support/console.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod support;

use axum::http::StatusCode;
use fieldsync_core::fixtures::at;
use fieldsync_core::{ComplaintEvent, ComplaintKind, DocId, NewComplaint, Role};
use support::{Console, Fallible, TestResult, attention_rows, csv_row};

#[tokio::test]
async fn a_clock_breached_by_a_complaint_closed_late_lists_its_store_as_the_report_counts_it()
-> TestResult {
    let console = Console::new(100)?;
    console.import(&[
        "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
        "S2,S2,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
    ])?;
    let (li, clock, info) =
        console.phone("am-li", Role::AccountManager, "2026-11-20T11:00:00+08:00")?;
    let id = |l: &str| -> Fallible<DocId> { Ok(li.store_by_licence(l)?.ok_or(format!("no {l}"))?) };
    let (s1, s2) = (id("S1")?, id("S2")?);
    // S1's cartons are replaced a day after the 48 hours: closed, its clock breached.
    let late = li.create_complaint(NewComplaint {
        store_id: s1.clone(),
        kind: ComplaintKind::DamagedCartons,
        received_at: at("2026-11-20T10:00:00+08:00"),
        description: "late".into(),
    })?;
    // S2's never are: open, its clock breached.
    li.create_complaint(NewComplaint {
        store_id: s2.clone(),
        kind: ComplaintKind::DamagedCartons,
        received_at: at("2026-11-20T10:00:00+08:00"),
        description: "never".into(),
    })?;
    clock.set(at("2026-11-23T10:00:00+08:00"));
    li.record_complaint_event(
        &late,
        ComplaintEvent::Replaced,
        at("2026-11-23T10:00:00+08:00"),
        "",
    )?;
    console.sync(&li, &clock, &info)?;
    let (cookie, _) = console.signed_in("sup-wang").await?;
    let export = console
        .get("/console/assessment.csv?day=2026-11-25", &cookie)
        .await?;
    let row = csv_row(&export.body, "am-li")?;
    assert_eq!(row["r9_clocks_breached"], "2");
    let manager = console
        .get("/console/manager/am-li?day=2026-11-25", &cookie)
        .await?;
    assert_eq!(manager.status, StatusCode::OK, "{}", manager.body);
    let listed = attention_rows(&manager.body)?;
    for store in [&s1, &s2] {
        let row = listed
            .iter()
            .find(|r| r.contains(store.as_str()))
            .ok_or(format!("{store} is not listed: {listed:?}"))?;
        assert!(row.contains("本月服务承诺超时 (R9) ×1"), "{row}");
    }
    Ok(())
}
