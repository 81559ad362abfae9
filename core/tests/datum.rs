//! Datums: a store located on a Chinese map (GCJ-02) and a fix from a GPS chip (WGS-84)
//! are compared like with like, so the 200 m geofence judges where people really stand.

use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::{
    CheckPoint, DEFAULT_GEOFENCE_M, Datum, GeoPoint, GpsFix, LocalStore, NewStore, NewVisit,
    Result, StoreClassification, VisitKind,
};

/// The door of a shop near Beijing railway station, as a GPS chip gives it.
const BEIJING_DOOR: (f64, f64) = (39.90105, 116.42079);
/// The door of a shop on Dongfeng Road in Kunming, as a GPS chip gives it.
const KUNMING_DOOR: (f64, f64) = (25.0389, 102.7183);

fn visit_with(db: &LocalStore, store: &fieldsync_core::DocId, fix: GpsFix) -> Result<bool> {
    let id = db.create_visit(NewVisit {
        store_id: store.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at: db.now()?,
            gps: Some(fix),
        },
        complaint_id: None,
    })?;
    let visit = db.visit(&id)?;
    assert_eq!(visit.check_in.gps.map(|g| g.datum), Some(fix.datum));
    Ok(visit.check_in.in_range == Some(true))
}

#[test]
fn a_shop_entered_from_a_gcj02_map_is_in_range_of_a_wgs84_fix_at_its_door() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    for (n, (lat, lng)) in [(1, BEIJING_DOOR), (2, KUNMING_DOOR)] {
        let door = GeoPoint::wgs84(lat, lng);
        // The office picked the shop on an Amap map: GCJ-02 degrees.
        let on_the_map = door.in_datum(Datum::Gcj02);
        let store = db.create_store(NewStore {
            location: on_the_map,
            ..sample_store("am-li", n)
        })?;
        assert_eq!(db.store(&store)?.location, on_the_map, "stored as entered");
        // The account manager stands 10 m north of the door; the phone's chip says WGS-84.
        let fix = GpsFix::wgs84(lat + 10.0 / 111_195.0, lng, 5.0);
        assert!(visit_with(&db, &store, fix)?, "in range at the door");

        // Read as if both were WGS-84, the same numbers put the shop hundreds of metres off.
        let naive = GeoPoint::wgs84(on_the_map.lat, on_the_map.lng);
        let offset = fix.point().distance_m(&naive);
        println!("store {n}: GCJ-02 offset taken as WGS-84 is {offset:.0} m");
        assert!(offset > DEFAULT_GEOFENCE_M, "{offset:.0} m");
    }
    Ok(())
}

#[test]
fn a_gcj02_fix_from_a_map_sdk_is_in_range_of_a_store_located_in_wgs84() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let door = GeoPoint::wgs84(BEIJING_DOOR.0, BEIJING_DOOR.1);
    let store = db.create_store(NewStore {
        location: door,
        ..sample_store("am-li", 1)
    })?;
    let sdk = door.in_datum(Datum::Gcj02);
    let fix = GpsFix {
        lat: sdk.lat,
        lng: sdk.lng,
        accuracy_m: 15.0,
        datum: Datum::Gcj02,
    };
    assert!(visit_with(&db, &store, fix)?);
    let taken_as_wgs84 = GpsFix {
        datum: Datum::Wgs84,
        ..fix
    };
    assert!(
        !visit_with(&db, &store, taken_as_wgs84)?,
        "without its datum the same fix is out of range"
    );
    Ok(())
}

#[test]
fn moving_a_store_to_a_gcj02_location_records_its_datum_and_judges_new_visits_by_it() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let (db, _) = device(
        dir.path().join("a.db"),
        "am-li",
        at("2026-11-23T09:00:00+08:00"),
    )?;
    let store = db.create_store(sample_store("am-li", 1))?;
    assert_eq!(db.store(&store)?.location.datum, Datum::Wgs84);
    let door = GeoPoint::wgs84(KUNMING_DOOR.0, KUNMING_DOOR.1);
    db.update_store_classification(
        &store,
        StoreClassification {
            location: Some(door.in_datum(Datum::Gcj02)),
            ..StoreClassification::default()
        },
    )?;
    assert_eq!(db.store(&store)?.location.datum, Datum::Gcj02);
    let versions = db
        .store_field_versions(&store, "datum")?
        .map(|v| v.value().clone());
    assert_eq!(versions.as_deref(), Some("gcj02"));
    assert!(visit_with(
        &db,
        &store,
        GpsFix::wgs84(door.lat, door.lng, 5.0)
    )?);
    Ok(())
}
