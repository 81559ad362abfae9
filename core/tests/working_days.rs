//! R9 on the district's calendar: "refunded within 3 working days" skips public holidays
//! and counts make-up Saturdays and Sundays (调休), with China's 2026 calendar as the
//! district configures it (`docs/calendars/china-2026.txt`).

use fieldsync_core::fixtures::{ManualClock, at, sample_store};
use fieldsync_core::{
    ClockState, ComplaintEvent, ComplaintKind, DeviceIdentity, DocId, FieldCalendar, LocalStore,
    NewComplaint, Result, StoreOptions, WorkingDays,
};

const CHINA_2026: &str = include_str!("../../docs/calendars/china-2026.txt");

fn open(
    dir: &tempfile::TempDir,
    user: &str,
    calendar: FieldCalendar,
    now: &str,
) -> Result<(LocalStore, ManualClock)> {
    let clock = ManualClock::starting_at(at(now));
    let options = StoreOptions {
        calendar,
        clock: clock.clock(),
        ..StoreOptions::default()
    };
    let store = LocalStore::open(
        dir.path().join(format!("{user}.db")),
        DeviceIdentity::new(user, format!("{user}-phone")),
        options,
    )?;
    Ok((store, clock))
}

fn china_2026() -> Result<FieldCalendar> {
    Ok(FieldCalendar::default().with_working_days(WorkingDays::parse(CHINA_2026)?))
}

fn complaint(db: &LocalStore, store: &DocId, kind: ComplaintKind, at_: &str) -> Result<DocId> {
    db.create_complaint(NewComplaint {
        store_id: store.clone(),
        kind,
        received_at: at(at_),
        description: "deducted twice for the March order".into(),
    })
}

fn clock(db: &LocalStore, id: &DocId, event: ComplaintEvent, as_of: &str) -> Result<ClockState> {
    let clocks = db.complaint(id)?.clocks(at(as_of));
    Ok(clocks
        .into_iter()
        .find(|(e, _)| *e == event)
        .map(|(_, state)| state)
        .unwrap_or(ClockState::NotApplicable))
}

fn refund_clock(db: &LocalStore, id: &DocId, as_of: &str) -> Result<ClockState> {
    clock(db, id, ComplaintEvent::Refunded, as_of)
}

#[test]
fn a_wrong_deduction_received_before_the_spring_festival_is_due_on_the_third_working_day_after_it()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li", china_2026()?, "2026-02-13T10:00:00+08:00")?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = complaint(
        &db,
        &store,
        ComplaintKind::WrongDeduction,
        "2026-02-13T10:00:00+08:00",
    )?;
    // Saturday 14 is worked (1); 15–23 are the holiday; Tuesday 24 (2), Wednesday 25 (3).
    let due = at("2026-02-26T00:00:00+08:00");
    assert_eq!(db.complaint(&id)?.refund_due, Some(due));
    let open = db.complaint_clocks("am-li", at("2026-02-24T12:00:00+08:00"))?;
    assert_eq!(
        open[0].clocks,
        vec![(ComplaintEvent::Refunded, ClockState::Running { due })],
        "the index query judges by the same calendar"
    );
    clock.set(at("2026-02-25T16:00:00+08:00"));
    db.record_complaint_event(&id, ComplaintEvent::Refunded, clock.now(), "refunded")?;
    assert_eq!(
        refund_clock(&db, &id, "2026-03-01T00:00:00+08:00")?,
        ClockState::Met {
            at: at("2026-02-25T16:00:00+08:00"),
            due
        }
    );
    Ok(())
}

#[test]
fn a_complaint_recorded_without_the_calendar_is_judged_by_the_calendar_of_the_device_that_reads_it()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let now = "2026-02-13T10:00:00+08:00";
    let (stale, clock) = open(&dir, "am-li", FieldCalendar::default(), now)?;
    let (district, _) = open(&dir, "office", china_2026()?, now)?;
    let store = stale.create_store(sample_store("am-li", 1))?;
    let id = complaint(&stale, &store, ComplaintKind::WrongDeduction, now)?;
    clock.set(at("2026-02-25T16:00:00+08:00"));
    stale.record_complaint_event(&id, ComplaintEvent::Refunded, clock.now(), "refunded")?;
    for doc in [&store, &id] {
        district.merge_changes(doc, &stale.export_changes(doc, &[])?)?;
    }
    let as_of = "2026-03-01T00:00:00+08:00";
    // Monday to Friday only, the refund fell due in the middle of the holiday.
    assert!(matches!(
        refund_clock(&stale, &id, as_of)?,
        ClockState::Breached { .. }
    ));
    assert!(matches!(
        refund_clock(&district, &id, as_of)?,
        ClockState::Met { .. }
    ));
    Ok(())
}

#[test]
fn an_urban_complaint_on_a_public_holiday_has_no_on_site_clock_but_one_on_a_make_up_saturday_has()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li", china_2026()?, "2026-10-02T10:00:00+08:00")?;
    let store = db.create_store(sample_store("am-li", 1))?;
    let holiday = complaint(
        &db,
        &store,
        ComplaintKind::Complaint,
        "2026-10-02T10:00:00+08:00",
    )?;
    clock.set(at("2026-10-10T10:00:00+08:00"));
    let saturday = complaint(
        &db,
        &store,
        ComplaintKind::Complaint,
        "2026-10-10T10:00:00+08:00",
    )?;
    assert!(!db.complaint(&holiday)?.on_site_applies);
    assert!(db.complaint(&saturday)?.on_site_applies);
    Ok(())
}

fn on_site_clock(db: &LocalStore, id: &DocId, as_of: &str) -> Result<ClockState> {
    clock(db, id, ComplaintEvent::OnSite, as_of)
}

/// The document's `on_site_applies` is what the recording phone judged with its calendar;
/// a reader judges working hours with its own, in the document and in the index query, so
/// a stale calendar (or a forged flag) on the recording phone changes no one else's clocks.
/// Shown to guard it: with the readers taking the stored flag as it is, the district saw
/// the on-site clock not apply to the make-up Saturday's complaint.
#[test]
fn the_on_site_clock_is_judged_by_the_calendar_of_the_device_that_reads_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // 10 October 2026 is a make-up working Saturday.
    let now = "2026-10-10T10:00:00+08:00";
    let (stale, _) = open(&dir, "am-li", FieldCalendar::default(), now)?;
    let (district, _) = open(&dir, "office", china_2026()?, now)?;
    let store = stale.create_store(sample_store("am-li", 1))?;
    let id = complaint(&stale, &store, ComplaintKind::Complaint, now)?;
    for doc in [&store, &id] {
        district.merge_changes(doc, &stale.export_changes(doc, &[])?)?;
    }
    let as_of = "2026-10-10T10:30:00+08:00";
    assert!(!stale.complaint(&id)?.on_site_applies, "a Saturday off");
    assert_eq!(
        on_site_clock(&stale, &id, as_of)?,
        ClockState::NotApplicable
    );
    assert!(district.complaint(&id)?.on_site_applies, "a working day");
    let due = at("2026-10-10T11:00:00+08:00");
    assert_eq!(
        on_site_clock(&district, &id, as_of)?,
        ClockState::Running { due }
    );
    let open = district.complaint_clocks("am-li", at(as_of))?;
    assert!(
        open[0]
            .clocks
            .contains(&(ComplaintEvent::OnSite, ClockState::Running { due })),
        "the index query judges by the same calendar: {:?}",
        open[0].clocks
    );
    Ok(())
}
