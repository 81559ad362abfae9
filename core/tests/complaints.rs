//! Complaints and service requests through the public API: R9's clocks at their exact
//! edges, R10's three commitments, refused events, the territory query and concurrent
//! recording on two phones. Decided: done at exactly the due instant is met.

use fieldsync_core::fixtures::{ManualClock, sample_store};
use fieldsync_core::{
    ClockState, ComplaintEvent, ComplaintKind, DeviceIdentity, DocId, Error, LocalStore,
    MarketType, NewComplaint, StoreClassification, StoreOptions, Timestamp,
};

use ClockState::{Breached, Met, NotApplicable, NotStarted, Running};
use ComplaintEvent::{Callback, Handled, OnSite};

/// Monday, in working hours (08:30–17:30, UTC+8).
const MONDAY_10: &str = "2026-11-23T10:00:00+08:00";

fn t(s: &str) -> Timestamp {
    Timestamp::parse("t", s).expect("valid time")
}

fn mins(m: i64) -> i64 {
    m * 60_000
}

fn after(start: &str, ms: i64) -> Timestamp {
    Timestamp(t(start).0 + ms)
}

fn open(dir: &tempfile::TempDir, user: &str) -> (LocalStore, ManualClock) {
    let clock = ManualClock::starting_at(t(MONDAY_10));
    let options = StoreOptions {
        clock: clock.clock(),
        ..StoreOptions::default()
    };
    let store = LocalStore::open(
        dir.path().join(format!("{user}.db")),
        DeviceIdentity::new(user, format!("{user}-phone")),
        options,
    )
    .expect("open store");
    (store, clock)
}

fn send(from: &LocalStore, to: &LocalStore, id: &DocId) -> fieldsync_core::Result<()> {
    to.merge_changes(id, &from.export_changes(id, &[])?)
}

/// A complaint of `kind` received at `received`, recorded at that time; the clock is then
/// moved a month on so every event of the test is in the past.
fn received(
    db: &LocalStore,
    clock: &ManualClock,
    store: &DocId,
    kind: ComplaintKind,
    received: &str,
) -> fieldsync_core::Result<DocId> {
    clock.set(t(received));
    let id = db.create_complaint(NewComplaint {
        store_id: store.clone(),
        kind,
        received_at: t(received),
        description: "cartons arrived crushed".into(),
    })?;
    clock.set(t("2026-12-31T12:00:00+08:00"));
    Ok(id)
}

fn clock_of(db: &LocalStore, id: &DocId, event: ComplaintEvent, as_of: Timestamp) -> ClockState {
    let clocks = db.complaint(id).expect("complaint").clocks(as_of);
    clocks
        .into_iter()
        .find(|(e, _)| *e == event)
        .map(|(_, state)| state)
        .expect("the kind has this clock")
}

#[test]
fn an_urban_complaint_in_working_hours_must_be_met_on_site_within_an_hour()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let due = after(MONDAY_10, mins(60));
    for (minutes, expected) in [
        (
            59,
            Met {
                at: after(MONDAY_10, mins(59)),
                due,
            },
        ),
        (60, Met { at: due, due }),
        (
            61,
            Breached {
                due,
                at: Some(after(MONDAY_10, mins(61))),
            },
        ),
    ] {
        let id = received(&db, &clock, &store, ComplaintKind::Complaint, MONDAY_10)?;
        assert!(db.complaint(&id)?.on_site_applies);
        assert_eq!(clock_of(&db, &id, OnSite, due), Running { due });
        db.record_complaint_event(&id, OnSite, after(MONDAY_10, mins(minutes)), "")?;
        assert_eq!(
            clock_of(&db, &id, OnSite, after(MONDAY_10, mins(90))),
            expected
        );
    }
    let nobody_came = received(&db, &clock, &store, ComplaintKind::Complaint, MONDAY_10)?;
    let as_of = Timestamp(due.0 + 1);
    assert_eq!(
        clock_of(&db, &nobody_came, OnSite, as_of),
        Breached { due, at: None }
    );
    Ok(())
}

#[test]
fn the_on_site_clock_does_not_apply_to_a_rural_store_or_outside_working_hours()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li");
    let urban = db.create_store(sample_store("am-li", 1))?;
    let rural = db.create_store(fieldsync_core::NewStore {
        market: MarketType::Rural,
        ..sample_store("am-li", 2)
    })?;
    let village = received(&db, &clock, &rural, ComplaintKind::Complaint, MONDAY_10)?;
    let evening = received(
        &db,
        &clock,
        &urban,
        ComplaintKind::Complaint,
        "2026-11-23T17:30:00+08:00",
    )?;
    let saturday = received(
        &db,
        &clock,
        &urban,
        ComplaintKind::Complaint,
        "2026-11-28T10:00:00+08:00",
    )?;
    for id in [&village, &evening, &saturday] {
        assert_eq!(
            clock_of(&db, id, OnSite, t("2026-11-30T00:00:00+08:00")),
            NotApplicable
        );
    }
    assert!(!db.complaint(&village)?.urban);

    // Decided at creation: the store turning rural later does not remove the clock.
    let id = received(&db, &clock, &urban, ComplaintKind::Complaint, MONDAY_10)?;
    db.update_store_classification(
        &urban,
        StoreClassification {
            market: Some(MarketType::Rural),
            ..StoreClassification::default()
        },
    )?;
    let due = after(MONDAY_10, mins(60));
    assert_eq!(clock_of(&db, &id, OnSite, due), Running { due });
    Ok(())
}

#[test]
fn a_complaint_handled_after_72_hours_is_breached() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let due = t("2026-11-26T10:00:00+08:00");
    let on_time = received(&db, &clock, &store, ComplaintKind::Complaint, MONDAY_10)?;
    let late = received(&db, &clock, &store, ComplaintKind::Complaint, MONDAY_10)?;
    let never = received(&db, &clock, &store, ComplaintKind::Complaint, MONDAY_10)?;
    db.record_complaint_event(&on_time, Handled, due, "replaced and apologised")?;
    let one_ms_late = Timestamp(due.0 + 1);
    db.record_complaint_event(&late, Handled, one_ms_late, "")?;

    let week_later = t("2026-11-30T10:00:00+08:00");
    assert_eq!(
        clock_of(&db, &on_time, Handled, week_later),
        Met { at: due, due }
    );
    assert_eq!(
        clock_of(&db, &late, Handled, week_later),
        Breached {
            due,
            at: Some(one_ms_late)
        }
    );
    assert_eq!(
        clock_of(&db, &never, Handled, due),
        Running { due },
        "due now is not late yet"
    );
    assert_eq!(
        clock_of(&db, &never, Handled, one_ms_late),
        Breached { due, at: None }
    );
    // Seen from before it was handled, the handling has not happened yet.
    assert_eq!(
        clock_of(&db, &on_time, Handled, t("2026-11-24T10:00:00+08:00")),
        Running { due }
    );
    Ok(())
}

#[test]
fn the_callback_clock_starts_only_when_the_complaint_is_handled() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let handled = t("2026-11-24T15:00:00+08:00");
    let due = t("2026-11-26T15:00:00+08:00");
    for (callback, expected) in [
        (due, Met { at: due, due }),
        (
            Timestamp(due.0 + mins(1)),
            Breached {
                due,
                at: Some(Timestamp(due.0 + mins(1))),
            },
        ),
    ] {
        let id = received(&db, &clock, &store, ComplaintKind::Complaint, MONDAY_10)?;
        assert_eq!(clock_of(&db, &id, Callback, handled), NotStarted);
        db.record_complaint_event(&id, Handled, handled, "")?;
        assert_eq!(
            clock_of(&db, &id, Callback, Timestamp(handled.0 - 1)),
            NotStarted
        );
        assert_eq!(clock_of(&db, &id, Callback, handled), Running { due });
        db.record_complaint_event(&id, Callback, callback, "owner satisfied")?;
        assert_eq!(
            clock_of(&db, &id, Callback, t("2026-12-01T00:00:00+08:00")),
            expected
        );
    }
    Ok(())
}

#[test]
fn a_callback_before_the_handling_is_refused_and_nothing_is_written() -> fieldsync_core::Result<()>
{
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = received(&db, &clock, &store, ComplaintKind::Complaint, MONDAY_10)?;
    let heads = db.heads(&id)?;
    let err = db
        .record_complaint_event(&id, Callback, t("2026-11-24T10:00:00+08:00"), "")
        .expect_err("not handled yet");
    assert_eq!(
        err.to_string(),
        "invalid `event`: `callback` needs `handled` first"
    );
    assert_eq!(db.heads(&id)?, heads);

    db.record_complaint_event(&id, Handled, t("2026-11-24T10:00:00+08:00"), "")?;
    let err = db
        .record_complaint_event(&id, Callback, t("2026-11-24T09:59:00+08:00"), "")
        .expect_err("before the handling");
    assert!(
        matches!(&err, Error::InvalidField { field, .. } if field == "happened_at"),
        "{err}"
    );
    db.record_complaint_event(&id, Callback, t("2026-11-24T11:00:00+08:00"), "")?;
    let err = db
        .record_complaint_event(&id, Handled, t("2026-11-24T12:00:00+08:00"), "")
        .expect_err("a correction may not move the handling after the callback");
    assert!(err.to_string().contains("after `callback`"), "{err}");
    Ok(())
}

#[test]
fn events_before_receipt_in_the_future_or_of_another_kind_are_refused() -> fieldsync_core::Result<()>
{
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = received(&db, &clock, &store, ComplaintKind::Complaint, MONDAY_10)?;
    let heads = db.heads(&id)?;
    let err = db
        .record_complaint_event(&id, OnSite, t("2026-11-23T09:59:59+08:00"), "")
        .expect_err("before receipt");
    assert!(err.to_string().contains("is before receipt"), "{err}");
    let err = db
        .record_complaint_event(&id, Handled, Timestamp(clock.now().0 + 1), "")
        .expect_err("in the future");
    assert!(err.to_string().contains("is after now"), "{err}");
    let err = db
        .record_complaint_event(&id, ComplaintEvent::Refunded, t(MONDAY_10), "")
        .expect_err("a complaint is not refunded");
    assert_eq!(
        err.to_string(),
        "invalid `event`: `refunded` is not an event of a `complaint`"
    );
    assert_eq!(db.heads(&id)?, heads, "the refused events left no change");
    assert!(db.complaint(&id)?.events.is_empty());

    clock.set(t(MONDAY_10));
    let err = db
        .create_complaint(NewComplaint {
            store_id: DocId::new(),
            kind: ComplaintKind::Complaint,
            received_at: t(MONDAY_10),
            description: "rude delivery driver".into(),
        })
        .expect_err("unknown store");
    assert!(
        err.to_string()
            .starts_with("invalid `store_id`: unknown store"),
        "{err}"
    );
    Ok(())
}

#[test]
fn damaged_cartons_are_replaced_within_48_hours_and_a_wrong_deduction_within_3_working_days()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let damaged = received(
        &db,
        &clock,
        &store,
        ComplaintKind::DamagedCartons,
        MONDAY_10,
    )?;
    let due = t("2026-11-25T10:00:00+08:00");
    db.record_complaint_event(&damaged, ComplaintEvent::Replaced, due, "2 cartons")?;
    let as_of = t("2026-12-01T00:00:00+08:00");
    assert_eq!(
        db.complaint(&damaged)?.clocks(as_of),
        vec![(ComplaintEvent::Replaced, Met { at: due, due })]
    );

    // Friday afternoon: three working days end at midnight closing Wednesday.
    let friday = "2026-11-27T15:00:00+08:00";
    let deduction = received(&db, &clock, &store, ComplaintKind::WrongDeduction, friday)?;
    let due = t("2026-12-03T00:00:00+08:00");
    assert_eq!(db.complaint(&deduction)?.refund_due, Some(due));
    assert_eq!(
        clock_of(&db, &deduction, ComplaintEvent::Refunded, due),
        Running { due }
    );
    db.record_complaint_event(
        &deduction,
        ComplaintEvent::Refunded,
        Timestamp(due.0 + 1),
        "",
    )?;
    assert_eq!(
        clock_of(
            &db,
            &deduction,
            ComplaintEvent::Refunded,
            t("2026-12-10T00:00:00+08:00")
        ),
        Breached {
            due,
            at: Some(Timestamp(due.0 + 1))
        }
    );
    Ok(())
}

#[test]
fn a_request_stays_open_until_replied_visited_and_called_back() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let id = received(&db, &clock, &store, ComplaintKind::Request, MONDAY_10)?;
    let open_at = |s: &str| -> fieldsync_core::Result<Vec<Vec<ComplaintEvent>>> {
        let open = db.complaint_clocks("am-li", t(s))?;
        Ok(open.into_iter().map(|c| c.outstanding).collect())
    };
    use ComplaintEvent::{Replied, SatisfactionCallback, Visited};
    assert_eq!(
        open_at("2026-11-23T11:00:00+08:00")?,
        vec![vec![Replied, Visited, SatisfactionCallback]]
    );
    db.record_complaint_event(&id, Replied, t("2026-11-23T12:00:00+08:00"), "")?;
    let err = db
        .record_complaint_event(
            &id,
            SatisfactionCallback,
            t("2026-11-24T12:00:00+08:00"),
            "",
        )
        .expect_err("visit first");
    assert!(err.to_string().contains("needs `visited` first"), "{err}");
    db.record_complaint_event(&id, Visited, t("2026-11-24T09:00:00+08:00"), "")?;
    db.record_complaint_event(
        &id,
        SatisfactionCallback,
        t("2026-11-25T09:00:00+08:00"),
        "",
    )?;
    assert!(
        db.complaint(&id)?
            .clocks(t("2026-11-26T00:00:00+08:00"))
            .is_empty()
    );
    assert_eq!(
        open_at("2026-11-24T10:00:00+08:00")?,
        vec![vec![SatisfactionCallback]]
    );
    assert_eq!(
        db.complaint(&id)?.closed_at(),
        Some(t("2026-11-25T09:00:00+08:00"))
    );
    assert!(open_at("2026-11-25T09:00:00+08:00")?.is_empty());
    Ok(())
}

#[test]
fn complaint_clocks_lists_what_was_open_in_a_territory_as_of_an_instant()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li");
    let mine = db.create_store(sample_store("am-li", 1))?;
    let theirs = db.create_store(sample_store("am-zhou", 2))?;
    let closed = received(&db, &clock, &mine, ComplaintKind::Complaint, MONDAY_10)?;
    let open = received(
        &db,
        &clock,
        &mine,
        ComplaintKind::Complaint,
        "2026-11-23T11:00:00+08:00",
    )?;
    received(&db, &clock, &theirs, ComplaintKind::Complaint, MONDAY_10)?;
    db.record_complaint_event(&closed, OnSite, t("2026-11-23T10:40:00+08:00"), "")?;
    db.record_complaint_event(&closed, Handled, t("2026-11-24T10:00:00+08:00"), "")?;
    db.record_complaint_event(&closed, Callback, t("2026-11-25T10:00:00+08:00"), "")?;
    db.record_complaint_event(&open, Handled, t("2026-11-24T10:00:00+08:00"), "")?;

    let ids = |as_of: &str| -> fieldsync_core::Result<Vec<DocId>> {
        Ok(db
            .complaint_clocks("am-li", t(as_of))?
            .into_iter()
            .map(|c| c.id)
            .collect())
    };
    assert_eq!(
        ids("2026-11-23T10:30:00+08:00")?,
        vec![closed.clone()],
        "not received yet"
    );
    assert_eq!(
        ids("2026-11-25T09:59:59+08:00")?,
        vec![closed.clone(), open.clone()]
    );
    assert_eq!(
        ids("2026-11-25T10:00:00+08:00")?,
        vec![open.clone()],
        "closed by its callback"
    );

    let now = db.complaint_clocks("am-li", t("2026-11-25T12:00:00+08:00"))?;
    assert_eq!(now[0].store_id, mine);
    assert_eq!(now[0].kind, ComplaintKind::Complaint);
    assert_eq!(now[0].outstanding, vec![Callback]);
    let received_open = t("2026-11-23T11:00:00+08:00");
    assert_eq!(
        now[0].clocks,
        vec![
            (
                OnSite,
                Breached {
                    due: received_open.plus_hours(1),
                    at: None
                }
            ),
            (
                Handled,
                Met {
                    at: t("2026-11-24T10:00:00+08:00"),
                    due: received_open.plus_hours(72)
                }
            ),
            (
                Callback,
                Running {
                    due: t("2026-11-26T10:00:00+08:00")
                }
            ),
        ],
        "the index gives the same clocks as the document"
    );
    assert_eq!(
        now[0].clocks,
        db.complaint(&open)?.clocks(t("2026-11-25T12:00:00+08:00"))
    );
    assert!(
        db.complaint_clocks("am-wu", t("2026-11-25T12:00:00+08:00"))?
            .is_empty()
    );
    Ok(())
}

#[test]
fn two_people_recording_the_handling_concurrently_both_show_as_a_conflict()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (am, am_clock) = open(&dir, "am-li");
    let (office, office_clock) = open(&dir, "office-chen");
    let store = am.create_store(sample_store("am-li", 1))?;
    send(&am, &office, &store)?;
    let id = received(
        &office,
        &office_clock,
        &store,
        ComplaintKind::Complaint,
        MONDAY_10,
    )?;
    send(&office, &am, &id)?;
    am_clock.set(t("2026-12-01T00:00:00+08:00"));
    am.record_complaint_event(
        &id,
        Handled,
        t("2026-11-24T10:00:00+08:00"),
        "swapped cartons",
    )?;
    office.record_complaint_event(
        &id,
        Handled,
        t("2026-11-27T10:00:00+08:00"),
        "refund issued",
    )?;
    send(&am, &office, &id)?;
    send(&office, &am, &id)?;

    let (a, o) = (am.complaint(&id)?, office.complaint(&id)?);
    assert_eq!(a.events, o.events);
    let (event, handled) = &a.events[0];
    assert_eq!(*event, Handled);
    assert!(handled.is_conflict());
    let mut by: Vec<&str> = handled.all().map(|w| w.by.as_str()).collect();
    by.sort_unstable();
    assert_eq!(by, vec!["am-li", "office-chen"]);
    let as_of = t("2026-12-01T00:00:00+08:00");
    assert_eq!(
        a.clocks(as_of),
        o.clocks(as_of),
        "both devices judge the same version"
    );
    assert_eq!(
        am.complaint_clocks("am-li", as_of)?[0].clocks,
        a.clocks(as_of),
        "the index follows the version every device shows"
    );
    Ok(())
}
