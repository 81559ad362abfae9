//! The server judges documents whole (core/src/kinds): the fields the rule fixes added
//! (a store's and a fix's datum, a visit's store datum, a notice's rating) pass as the
//! phone writes them, and a distance measured without the datum is refused.

use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::{
    CheckPoint, Datum, DocId, GeoPoint, GpsFix, IncomingChange, LocalStore, NewStore, NewTask,
    NewVisit, Pusher, Replica, Result, TaskOrigin, TerminalRating, VisitKind,
};

/// Whether the server takes the whole of `id` from `from`, pushed by `user` at noon.
fn accepted(from: &LocalStore, id: &DocId, user: &str) -> Result<bool> {
    let changes = from
        .export_changes(id, &[])?
        .iter()
        .map(|c| IncomingChange::parse(c))
        .collect::<Result<Vec<_>>>()?;
    let pusher = Pusher {
        user,
        received_at: at("2026-11-23T12:00:00+08:00").0,
    };
    let verdict = Replica::empty(id).apply(&changes, &pusher)?;
    if let Err(violation) = &verdict {
        println!("{id}: {violation}");
    }
    Ok(verdict.is_ok())
}

#[test]
fn the_server_takes_a_gcj02_store_its_visit_and_a_rating_notice_as_the_phone_writes_them()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let (admin, _) = device(
        dir.path().join("admin.db"),
        "admin-chen",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let (am, _) = device(
        dir.path().join("am.db"),
        "am-li",
        at("2026-11-23T10:00:00+08:00"),
    )?;
    let door = GeoPoint::wgs84(39.90105, 116.42079);
    let store = admin.create_store(NewStore {
        location: door.in_datum(Datum::Gcj02),
        functional_terminal: true,
        rating: Some(TerminalRating::Unqualified),
        ..sample_store("am-li", 1)
    })?;
    assert!(accepted(&admin, &store, "admin-chen")?);
    am.merge_changes(&store, &admin.export_changes(&store, &[])?)?;

    let visit = am.create_visit(NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: am.now()?,
            gps: Some(GpsFix::wgs84(door.lat, door.lng, 5.0)),
        },
        complaint_id: None,
    })?;
    assert_eq!(am.visit(&visit)?.check_in.in_range, Some(true));
    assert!(accepted(&am, &visit, "am-li")?);

    let rated_at = am.store(&store)?.rated_at.expect("rated");
    let notice = am.create_task(NewTask {
        store_id: store,
        title: "rectification notice".into(),
        description: String::new(),
        assignee: "am-li".into(),
        deadline: at("2026-12-01T18:00:00+08:00"),
        origin: Some(TaskOrigin::Rating { rated_at }),
    })?;
    assert!(accepted(&am, &notice, "am-li")?);
    Ok(())
}
