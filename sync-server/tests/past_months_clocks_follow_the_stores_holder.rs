//! A past month's R9 clocks stay with the account manager who held the store when they
//! counted (docs/adr/0029, 0030, 0034), through `admin report`: a clock breached counts
//! for whoever held the store when it fell due, a clock running at the end of `--day` for
//! whoever held it then, so a past month's row reads the same before and after the store
//! moves. Each test failed while the report credited the clocks to the store's holder now.

#[path = "support/district.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod district;

use district::{District, Fallible, HEADER, TestResult, day};
use fieldsync_core::fixtures::at;
use fieldsync_core::{ComplaintKind, NewComplaint, Role};

/// The cells `columns` of each manager's row of the report for `month`, made at `now`.
fn cells(
    district: &District,
    month: &str,
    now: &str,
    columns: &[&str],
) -> Fallible<Vec<(String, Vec<String>)>> {
    Ok(district
        .report(day(month), at(now))?
        .into_iter()
        .map(|r| {
            let cell = |c: &str| r.get(c).cloned().unwrap_or_default();
            (
                cell("manager"),
                columns.iter().map(|c| cell(c)).collect::<Vec<_>>(),
            )
        })
        .collect())
}

/// `r9_clocks_breached` counts the clocks whose deadline fell in the month (ADR 0030), for
/// the manager who held the store when each fell due: S1, Li's in November and moved to
/// Wu in December, leaves its November breaches in Li's November row.
#[test]
fn novembers_breached_complaint_clocks_stay_with_the_manager_who_held_the_store_in_november()
-> TestResult {
    let district = District::new()?;
    let report =
        district.import(&[HEADER, "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li"].join("\n"))?;
    assert!(report.bad.is_empty(), "{report}");
    let li = district.phone("am-li", Role::AccountManager, "2026-11-20T10:30:00+08:00")?;
    district.sync(&li)?;
    let s1 = li.local.store_by_licence("S1")?.ok_or("no S1")?;
    // Friday 20 November, 10:00, in working hours at an urban store: on site by 11:00 and
    // handled by Monday 23 November 10:00; neither ever happens, both breached in November.
    li.local.create_complaint(NewComplaint {
        store_id: s1,
        kind: ComplaintKind::Complaint,
        received_at: at("2026-11-20T10:00:00+08:00"),
        description: "the retailer called".into(),
    })?;
    district.sync(&li)?;
    let november = || {
        cells(
            &district,
            "2026-11-01",
            "2026-12-03T09:00:00+08:00",
            &["r9_clocks_breached"],
        )
    };
    let judged = vec![
        ("am-li".to_owned(), vec!["2".to_owned()]),
        ("am-wu".to_owned(), vec!["0".to_owned()]),
    ];
    assert_eq!(november()?, judged);
    district.reassign_at("S1", "am-wu", "2026-12-02T10:00:00+08:00")?;
    assert_eq!(
        november()?,
        judged,
        "November's breaches were Li's: S1 was hers when they fell due"
    );
    Ok(())
}

/// `r9_clocks_running` counts the clocks running at the end of `--day` for the manager
/// who held the store then: a clock running on 30 November about S1, moved to Wu in
/// December, stays in Li's November row.
#[test]
fn a_clock_running_at_the_end_of_november_stays_in_the_november_row_of_the_manager_who_held_the_store()
-> TestResult {
    let district = District::new()?;
    let report =
        district.import(&[HEADER, "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li"].join("\n"))?;
    assert!(report.bad.is_empty(), "{report}");
    let li = district.phone("am-li", Role::AccountManager, "2026-11-30T10:30:00+08:00")?;
    district.sync(&li)?;
    let s1 = li.local.store_by_licence("S1")?.ok_or("no S1")?;
    // Damaged cartons on Monday 30 November, 10:00: to be replaced by 2 December 10:00,
    // running at the end of November.
    li.local.create_complaint(NewComplaint {
        store_id: s1,
        kind: ComplaintKind::DamagedCartons,
        received_at: at("2026-11-30T10:00:00+08:00"),
        description: "two cartons crushed".into(),
    })?;
    district.sync(&li)?;
    let november = || {
        cells(
            &district,
            "2026-11-01",
            "2026-12-03T09:00:00+08:00",
            &["r9_clocks_running"],
        )
    };
    let judged = vec![
        ("am-li".to_owned(), vec!["1".to_owned()]),
        ("am-wu".to_owned(), vec!["0".to_owned()]),
    ];
    assert_eq!(november()?, judged);
    district.reassign_at("S1", "am-wu", "2026-12-02T09:00:00+08:00")?;
    assert_eq!(
        november()?,
        judged,
        "the clock running on 30 November was Li's: S1 was hers then"
    );
    Ok(())
}

/// A store moved between a complaint's receipt and its deadlines: each breach counts for
/// the manager who held the store when that clock fell due, not for the one who received
/// the complaint nor for the one holding the store at the month's end. S1 moves from Li
/// to Wu on Saturday 21 November: the on-site clock (due Friday 20, 11:00) is Li's breach,
/// the 72-hour clock (due Monday 23, 10:00) Wu's.
#[test]
fn a_breach_counts_for_the_manager_who_held_the_store_when_its_clock_fell_due() -> TestResult {
    let district = District::new()?;
    let report =
        district.import(&[HEADER, "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li"].join("\n"))?;
    assert!(report.bad.is_empty(), "{report}");
    let li = district.phone("am-li", Role::AccountManager, "2026-11-20T10:30:00+08:00")?;
    district.sync(&li)?;
    let s1 = li.local.store_by_licence("S1")?.ok_or("no S1")?;
    li.local.create_complaint(NewComplaint {
        store_id: s1,
        kind: ComplaintKind::Complaint,
        received_at: at("2026-11-20T10:00:00+08:00"),
        description: "the retailer called".into(),
    })?;
    district.sync(&li)?;
    district.reassign_at("S1", "am-wu", "2026-11-21T10:00:00+08:00")?;
    assert_eq!(
        cells(
            &district,
            "2026-11-01",
            "2026-12-03T09:00:00+08:00",
            &["r9_clocks_breached"],
        )?,
        vec![
            ("am-li".to_owned(), vec!["1".to_owned()]),
            ("am-wu".to_owned(), vec!["1".to_owned()]),
        ],
        "on site by 11:00 on the 20th was Li's to keep, handled by the 23rd Wu's"
    );
    Ok(())
}
