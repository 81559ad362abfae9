//! R8 asks each account manager for one day a month in one functional terminal: `admin
//! report`'s `r8_training_days` counts days, so two complete training visits on one day
//! (two terminals, or a visit checked in twice) are one day, and visits on two days are
//! two. It counted visits before (a review of the rules at their edges); the test failed
//! then with 2 for the one day.

#[path = "support/district.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod district;

use district::{District, HEADER, TestResult, day};
use fieldsync_core::fixtures::at;
use fieldsync_core::{CheckPoint, NewVisit, Role, TrainingActivity, VisitKind};

#[test]
fn two_training_visits_on_one_day_count_as_one_training_day_and_another_day_as_a_second()
-> TestResult {
    let district = District::new()?;
    let report = district.import(
        &[
            HEADER,
            "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,1,,am-li",
            "S2,S2,O,,A,30.26,120.16,B,C,2,B,100,0,1,,am-li",
        ]
        .join("\n"),
    )?;
    assert!(report.bad.is_empty(), "{report}");
    let li = district.phone("am-li", Role::AccountManager, "2026-11-10T09:00:00+08:00")?;
    district.sync(&li)?;
    let train = |licence: &str, when: &str| -> TestResult {
        let store = li.local.store_by_licence(licence)?.ok_or("no store")?;
        li.clock.set(at(when));
        let visit = li.local.create_visit(NewVisit {
            store_id: store,
            kind: VisitKind::TrainingDay,
            check_in: CheckPoint {
                at: at(when),
                gps: None,
            },
            complaint_id: None,
        })?;
        for activity in TrainingActivity::ALL {
            li.local
                .record_training_activity(&visit, activity, "done")?;
        }
        Ok(())
    };
    let days = || -> Result<String, Box<dyn std::error::Error>> {
        let rows = district.report(day("2026-11-01"), at("2026-12-03T09:00:00+08:00"))?;
        let li_row = rows
            .iter()
            .find(|r| r.get("manager").map(String::as_str) == Some("am-li"))
            .ok_or("no row for am-li")?;
        Ok(li_row.get("r8_training_days").cloned().unwrap_or_default())
    };
    train("S1", "2026-11-10T09:00:00+08:00")?;
    train("S2", "2026-11-10T14:00:00+08:00")?;
    district.sync(&li)?;
    assert_eq!(days()?, "1", "two visits on the 10th: one day");
    train("S1", "2026-11-17T09:00:00+08:00")?;
    district.sync(&li)?;
    assert_eq!(days()?, "2", "the 10th and the 17th");
    Ok(())
}
