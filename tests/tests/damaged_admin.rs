//! The admin commands meet documents an older server stored unreadable (planted straight
//! into the server's database by `old_server`): each command does its job for the other
//! documents and names the damaged ones, never failing whole with an `internal` error.
//! On SQLite and on PostgreSQL, through the real binary's admin CLI.

use fieldsync_core::fixtures::at;
use fieldsync_core::{DocId, DocKind, Role};
use fieldsync_tests::Backend;
use fieldsync_tests::district::{District, StoreRow, licence};
use fieldsync_tests::old_server::{Bad, plant_bad, stored_changes};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const MONDAY: &str = "2026-11-23T09:00:00+08:00";

/// am-li's stores 1 (demo street) and 2, am-wu's store 3, and every kind of bad document
/// about store 1. Returns the district, store 1's id and the bad documents.
async fn district_with_bad_documents(
    backend: Backend,
) -> Fallible<(District, DocId, Vec<(DocId, DocKind)>)> {
    let district = District::start_on(
        backend,
        &[
            ("am-li", Role::AccountManager),
            ("am-wu", Role::AccountManager),
        ],
        &[
            StoreRow::new(1, "am-li").demo(),
            StoreRow::new(2, "am-li"),
            StoreRow::new(3, "am-wu"),
        ],
    )?;
    let phone = district.enroll("am-li", "li-phone", at(MONDAY)).await?;
    phone.sync().await?;
    let one = phone
        .local()
        .store_by_licence(&licence(1))?
        .ok_or("no store 1")?;
    let db = district.database();
    let mut bad = Vec::new();
    for kind in [
        Bad::BananaVerdict,
        Bad::VisitWithoutCheckIn,
        Bad::CheckInOfTheWrongType,
        Bad::ComplaintWithoutKind,
    ] {
        bad.push(plant_bad(
            &db,
            district.phones_dir(),
            &one,
            kind,
            at(MONDAY),
        )?);
    }
    assert!(!stored_changes(&db, &bad[0].0)?.is_empty());
    Ok((district, one, bad))
}

/// The lines of the report's section of damaged documents (after the empty line).
fn damaged_section(report: &str) -> Vec<&str> {
    report
        .split("\n\n")
        .nth(1)
        .map(|s| s.lines().collect())
        .unwrap_or_default()
}

async fn admin_report_names_the_damaged_documents_after_its_rows_and_reports_the_others(
    backend: Backend,
) -> TestResult {
    let (district, one, bad) = district_with_bad_documents(backend).await?;
    let report = district.server.admin(&["report"])?;
    let rows: Vec<&str> = report.split("\n\n").next().unwrap_or("").lines().collect();
    assert!(
        rows[0].starts_with("manager,name,month,stores,"),
        "{report}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("am-li,") && r.contains(",2,")),
        "{report}"
    );
    assert!(rows.iter().any(|r| r.starts_with("am-wu,")), "{report}");
    let section = damaged_section(&report);
    assert_eq!(
        section.first().copied(),
        Some("damaged_document,kind,store,territory,reason"),
        "{report}"
    );
    assert_eq!(section.len(), 1 + bad.len(), "{report}");
    for (id, kind) in &bad {
        let line = section
            .iter()
            .find(|l| l.starts_with(id.as_str()))
            .ok_or_else(|| format!("`{id}` is not named: {report}"))?;
        assert!(
            line.starts_with(&format!("{id},{kind},{one},am-li,")),
            "{line}"
        );
    }
    // A second report, with nothing new pulled, names them again.
    assert_eq!(
        damaged_section(&district.server.admin(&["report"])?).len(),
        5
    );
    Ok(())
}

async fn admin_reassign_moves_a_store_and_names_the_damaged_documents(
    backend: Backend,
) -> TestResult {
    let (district, one, bad) = district_with_bad_documents(backend).await?;
    // Store 2 moves, whatever the damage about store 1; and so does store 1 itself.
    for number in [2, 1] {
        let out = district
            .server
            .admin(&["reassign", &licence(number), "am-wu"])?;
        assert!(out.contains("moved store"), "{out}");
        for (id, _) in &bad {
            assert!(
                out.contains(&format!("note: document `{id}`")),
                "`{id}` is named: {out}"
            );
        }
    }
    // Wu's new phone gets both stores, and the damaged documents about store 1 as damaged.
    let wu = district.enroll("am-wu", "wu-phone", at(MONDAY)).await?;
    let report = wu.sync().await?;
    assert_eq!(report.damaged.len(), bad.len(), "{report:?}");
    assert_eq!(wu.local().store(&one)?.territory, "am-wu");
    assert!(wu.local().store_by_licence(&licence(2))?.is_some());
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(admin_report_names_the_damaged_documents_after_its_rows_and_reports_the_others: admin_report_names_the_damaged_documents_after_its_rows_and_reports_the_others_on_sqlite, admin_report_names_the_damaged_documents_after_its_rows_and_reports_the_others_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(admin_reassign_moves_a_store_and_names_the_damaged_documents: admin_reassign_moves_a_store_and_names_the_damaged_documents_on_sqlite, admin_reassign_moves_a_store_and_names_the_damaged_documents_on_postgres);
