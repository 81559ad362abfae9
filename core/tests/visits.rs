//! Store visits through the public API: recorded offline, read back, refused when wrong.

use fieldsync_core::fixtures::{ManualClock, sample_store};
use fieldsync_core::{
    CheckPoint, DeviceIdentity, DocKind, Error, GpsFix, LocalStore, MAX_AHEAD_OF_DEVICE_CLOCK_MS,
    NewVisit, StoreOptions, Timestamp, VisitKind,
};

fn t(s: &str) -> Timestamp {
    Timestamp::parse("t", s).expect("valid time")
}

fn open(dir: &tempfile::TempDir, user: &str) -> (LocalStore, ManualClock) {
    let clock = ManualClock::starting_at(t("2026-11-23T09:00:00+08:00"));
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

#[test]
fn a_visit_recorded_offline_reads_back_with_its_geofence_verdicts() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let shop = db.store(&store)?;
    let near = GpsFix::wgs84(shop.location.lat + 0.0005, shop.location.lng, 8.0);
    let far = GpsFix::wgs84(shop.location.lat + 0.01, shop.location.lng, 8.0);
    let visit = db.create_visit(NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: t("2026-11-23T09:05:00+08:00"),
            gps: Some(near),
        },
        complaint_id: None,
    })?;
    db.set_visit_notes(&visit, "owner asks for more slim packs")?;
    clock.set(t("2026-11-23T09:25:00+08:00"));
    db.check_out_visit(
        &visit,
        CheckPoint {
            at: t("2026-11-23T09:25:00+08:00"),
            gps: Some(far),
        },
    )?;

    let v = db.visit(&visit)?;
    assert_eq!(v.visitor, "am-li");
    assert_eq!(v.check_in.in_range, Some(true));
    assert_eq!(v.check_out.and_then(|c| c.in_range), Some(false));
    assert!(v.out_of_range(), "out of range is flagged, not blocked");
    assert_eq!(v.notes, "owner asks for more slim packs");
    Ok(())
}

#[test]
fn a_check_out_before_the_check_in_is_refused_and_nothing_is_written() -> fieldsync_core::Result<()>
{
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let visit = db.create_visit(NewVisit {
        store_id: store,
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: t("2026-11-23T09:05:00+08:00"),
            gps: None,
        },
        complaint_id: None,
    })?;
    let heads = db.heads(&visit)?;
    let err = db
        .check_out_visit(
            &visit,
            CheckPoint {
                at: t("2026-11-23T09:00:00+08:00"),
                gps: None,
            },
        )
        .expect_err("must refuse");
    assert!(
        matches!(&err, Error::InvalidField { field, .. } if field == "check_out.at"),
        "{err}"
    );
    assert_eq!(db.heads(&visit)?, heads, "the refused edit left no change");
    assert_eq!(db.visit(&visit)?.check_out, None);
    Ok(())
}

#[test]
fn a_visit_to_an_unknown_store_is_refused_naming_the_field() -> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = open(&dir, "am-li");
    let err = db
        .create_visit(NewVisit {
            store_id: fieldsync_core::DocId::new(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: t("2026-11-23T09:05:00+08:00"),
                gps: None,
            },
            complaint_id: None,
        })
        .expect_err("must refuse");
    assert!(
        err.to_string()
            .starts_with("invalid `store_id`: unknown store"),
        "{err}"
    );
    assert!(db.document_ids(fieldsync_core::DocKind::Visit)?.is_empty());
    Ok(())
}

#[test]
fn a_check_in_weeks_ahead_of_the_device_clock_is_refused_naming_check_in_at()
-> fieldsync_core::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, clock) = open(&dir, "am-li");
    let store = db.create_store(sample_store("am-li", 1))?;
    let visit_at = |at: Timestamp| NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint { at, gps: None },
        complaint_id: None,
    };
    let weeks_ahead = Timestamp(clock.now().0 + 21 * 86_400_000);
    let err = db
        .create_visit(visit_at(weeks_ahead))
        .expect_err("a check-in three weeks ahead of the device clock");
    assert!(
        matches!(&err, Error::InvalidField { field, .. } if field == "check_in.at"),
        "{err}"
    );
    let just_over = Timestamp(clock.now().0 + MAX_AHEAD_OF_DEVICE_CLOCK_MS + 1);
    assert!(db.create_visit(visit_at(just_over)).is_err());
    assert!(
        db.document_ids(DocKind::Visit)?.is_empty(),
        "nothing written"
    );

    // Within the stated tolerance (a GPS clock a little ahead) is accepted.
    let at_limit = Timestamp(clock.now().0 + MAX_AHEAD_OF_DEVICE_CLOCK_MS);
    let visit = db.create_visit(visit_at(at_limit))?;
    clock.advance_minutes(20);
    let err = db
        .check_out_visit(
            &visit,
            CheckPoint {
                at: Timestamp(clock.now().0 + 2 * 3_600_000),
                gps: None,
            },
        )
        .expect_err("a check-out two hours ahead");
    assert!(
        matches!(&err, Error::InvalidField { field, .. } if field == "check_out.at"),
        "{err}"
    );
    assert_eq!(db.visit(&visit)?.check_out, None, "nothing written");
    db.check_out_visit(
        &visit,
        CheckPoint {
            at: clock.now(),
            gps: None,
        },
    )?;
    Ok(())
}
