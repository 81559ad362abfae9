//! The overview keeps each account manager's figures while nothing new counts for them: a
//! push from one manager's phone computes that manager's figures again and takes the
//! others' as kept; a store moved between territories computes both again. Each reused
//! overview equals one computed afresh over the same replica.

#[path = "support/console.rs"]
#[allow(dead_code)] // each test file uses part of the support
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use fieldsync_core::{PriceTagsOverTime, Role};
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::admin::report::ManagerRow;
use fieldsync_server::console::chart::Series;
use fieldsync_server::console::manager_figures::ManagerCache;
use fieldsync_server::console::overview::{Overview, options_for};
use fieldsync_server::console::replica::Replica;
use fieldsync_server::console::violations::MonthViolations;
use support::{Backend, Console, Fallible, TestResult, visit_at};

/// Everything an overview shows, in a comparable form.
type Shown = (
    Vec<ManagerRow>,
    BTreeMap<String, usize>,
    BTreeMap<String, [usize; 4]>,
    Vec<Series>,
    Vec<Series>,
    Vec<MonthViolations>,
    Vec<fieldsync_server::admin::damaged::Unreadable>,
);

fn shown(o: &Overview) -> Shown {
    (
        o.rows.clone(),
        o.covered.clone().into_iter().collect(),
        o.follow_ups_due.clone().into_iter().collect(),
        o.coverage.clone(),
        o.trend.clone(),
        o.violations.clone(),
        o.unreadable.clone(),
    )
}

/// The overview of `day` reusing `kept`, and the same computed afresh right after over the
/// same replica.
fn both(
    console: &Console,
    replica: &Replica,
    kept: &ManagerCache,
    day: NaiveDate,
) -> Fallible<(Shown, Shown)> {
    let storage = console.storage.as_ref();
    let mut memo = PriceTagsOverTime::default();
    Ok(replica.with_versions(storage, |local, versions| {
        let options = options_for(Some(day), 4, local.calendar())?;
        let reused = Overview::compute_reusing(
            local,
            storage.users()?,
            options.clone(),
            &mut memo,
            (versions, kept),
        )?;
        let afresh = Overview::compute(local, storage.users()?, options, &mut memo)?;
        Ok((shown(&reused), shown(&afresh)))
    })?)
}

fn row<'a>(shown: &'a Shown, manager: &str) -> Fallible<&'a ManagerRow> {
    Ok(shown
        .0
        .iter()
        .find(|r| r.manager == manager)
        .ok_or(format!("no row of {manager}"))?)
}

#[test]
fn an_overview_computes_again_only_the_managers_a_push_counts_for_on_sqlite() -> TestResult {
    reuse_on(Backend::Sqlite)
}

#[test]
fn an_overview_computes_again_only_the_managers_a_push_counts_for_on_postgres() -> TestResult {
    reuse_on(Backend::Postgres)
}

fn reuse_on(backend: Backend) -> TestResult {
    let console = Console::on(100, backend)?;
    console.import(&[
        "S1,S1,O,,A,30.26,120.16,B,C,2,B,100,0,0,,am-li",
        "S2,S2,O,,A,30.27,120.16,B,C,2,B,100,0,0,,am-li",
        "S3,S3,O,,A,30.28,120.16,Y,C,1,A,400,0,0,,am-wu",
        "S4,S4,O,,A,30.29,120.16,S,C,1,A,500,0,0,,am-wu",
    ])?;
    let (li, li_clock, li_info) =
        console.phone("am-li", Role::AccountManager, "2026-10-12T10:00:00+08:00")?;
    let (wu, wu_clock, wu_info) =
        console.phone("am-wu", Role::AccountManager, "2026-10-12T10:00:00+08:00")?;
    let s1 = li.store_by_licence("S1")?.ok_or("no S1")?;
    visit_at(&li, &s1, "2026-10-12T09:05:00+08:00", None)?;
    console.sync(&li, &li_clock, &li_info)?;
    let s3 = wu.store_by_licence("S3")?.ok_or("no S3")?;
    visit_at(&wu, &s3, "2026-10-12T09:30:00+08:00", None)?;
    console.sync(&wu, &wu_clock, &wu_info)?;

    let folder = tempfile::tempdir()?;
    let replica = Replica::new(folder.path());
    let kept = ManagerCache::default();
    let day = NaiveDate::from_ymd_opt(2026, 10, 14).ok_or("date")?;

    // The first overview computes both managers; the next, with nothing new, neither.
    let (reused, afresh) = both(&console, &replica, &kept, day)?;
    assert_eq!(reused, afresh);
    assert_eq!(kept.computed(), 2);
    let before = reused;
    let (reused, afresh) = both(&console, &replica, &kept, day)?;
    assert_eq!(reused, afresh);
    assert_eq!(kept.computed(), 2, "nothing new, yet figures were computed");

    // am-wu's phone pushes a visit: only am-wu's figures are computed again.
    wu_clock.set(fieldsync_core::fixtures::at("2026-10-13T10:00:00+08:00"));
    visit_at(&wu, &s3, "2026-10-13T09:30:00+08:00", None)?;
    console.sync(&wu, &wu_clock, &wu_info)?;
    let (reused, afresh) = both(&console, &replica, &kept, day)?;
    assert_eq!(reused, afresh);
    assert_eq!(kept.computed(), 3);
    assert_eq!(row(&reused, "am-wu")?.r9_visits_made, 2);
    assert_eq!(row(&before, "am-wu")?.r9_visits_made, 1);

    // The office moves S2 from am-li to am-wu: both are computed again.
    let office = fieldsync_core::fixtures::at("2026-10-13T11:00:00+08:00");
    let admin = AdminDevice::open_with_clock(
        &console.dir,
        console.storage.as_ref(),
        Arc::new(move || office),
    )?;
    admin.reassign("S2", "am-wu")?;
    drop(admin);
    let (reused, afresh) = both(&console, &replica, &kept, day)?;
    assert_eq!(reused, afresh);
    assert_eq!(kept.computed(), 5);
    assert_eq!(
        (row(&reused, "am-li")?.stores, row(&reused, "am-wu")?.stores),
        (1, 3)
    );

    // Another day judged: every manager again.
    let next = day.succ_opt().ok_or("date")?;
    let (reused, afresh) = both(&console, &replica, &kept, next)?;
    assert_eq!(reused, afresh);
    assert_eq!(kept.computed(), 7);
    Ok(())
}
