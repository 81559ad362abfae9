//! A visit copies its store's location and geofence, a complaint whether its store is urban,
//! from what the phone last heard of the store. The server holds each copy to the values
//! the store has held (docs/adr/0019-store-copies.md): a forged copy (a store "moved" to
//! where the visitor stood, a wider geofence, an urban store called rural) is refused with
//! the field named and nothing stored, while a phone that has not heard of a move yet
//! still delivers what it made at the store's old place.
//!
//! The forger here is the phone's owner editing the phone's database (its store index, the
//! copies' source) between two openings. Every test runs on SQLite and on PostgreSQL with
//! two instances.

use std::path::PathBuf;

use axum::http::StatusCode;
use fieldsync_core::fixtures::{at, device, sample_store};
use fieldsync_core::protocol::ErrorBody;
use fieldsync_core::{
    CheckPoint, ComplaintKind, Datum, DocId, GeoPoint, GpsFix, LocalStore, MarketType,
    NewComplaint, NewVisit, Role, StoreClassification, VisitKind,
};
use fieldsync_server::Limits;
use fieldsync_server::admin::AdminDevice;
use fieldsync_server::storage::User;
use fieldsync_tests::Backend;
use fieldsync_tests::routes::{Instances, outbox_request};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const MONDAY: &str = "2026-11-23T09:00:00+08:00";

/// A district with one store of Li's and Li's phone, enrolled and synced.
struct District {
    server: Instances,
    dir: tempfile::TempDir,
    store: DocId,
    li: LocalStore,
    li_path: PathBuf,
    li_token: String,
}

impl District {
    async fn new(backend: Backend, label: &str) -> Fallible<District> {
        let dir = tempfile::tempdir()?;
        let server = Instances::open(backend, dir.path(), label, Limits::default())?;
        server.storage.add_user(
            &User {
                id: "am-li".into(),
                role: Role::AccountManager,
                name: "Li".into(),
            },
            0,
        )?;
        let store = {
            let admin = AdminDevice::open(dir.path(), server.storage.as_ref())?;
            let store = admin.local.create_store(sample_store("am-li", 1))?;
            admin.push()?;
            store
        };
        let token = server.enroll("am-li").await?;
        let li_path = dir.path().join("li.db");
        let (li, _) = device(&li_path, "am-li", at(MONDAY))?;
        server.sync_phone(&token, &li).await?;
        Ok(District {
            server,
            dir,
            store,
            li,
            li_path,
            li_token: token,
        })
    }

    /// Closes Li's phone, runs `sql` on its database, and opens it again.
    fn tamper(self, sql: &str) -> Fallible<District> {
        let District {
            server,
            dir,
            store,
            li,
            li_path,
            li_token,
        } = self;
        drop(li);
        rusqlite::Connection::open(&li_path)?.execute_batch(sql)?;
        let (li, _) = device(&li_path, "am-li", at(MONDAY))?;
        Ok(District {
            server,
            dir,
            store,
            li,
            li_path,
            li_token,
        })
    }

    /// The office moves the store to `to`.
    fn move_store(&self, to: GeoPoint) -> Fallible<()> {
        let admin = AdminDevice::open(self.dir.path(), self.server.storage.as_ref())?;
        admin.local.update_store_classification(
            &self.store,
            StoreClassification {
                location: Some(to),
                ..StoreClassification::default()
            },
        )?;
        admin.push()?;
        Ok(())
    }

    fn visit(&self, phone: &LocalStore) -> Fallible<DocId> {
        Ok(phone.create_visit(NewVisit {
            store_id: self.store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: at(MONDAY),
                gps: Some(GpsFix {
                    lat: 30.2701,
                    lng: 120.151,
                    accuracy_m: 8.0,
                    datum: Datum::Wgs84,
                }),
            },
            complaint_id: None,
        })?)
    }

    /// Pushes Li's whole outbox; the status and, for a refusal, its body.
    async fn push(&self) -> Fallible<(StatusCode, Option<ErrorBody>)> {
        let request = outbox_request(&self.li.outbox_batch(1_000)?, self.li.sync_cursor()?);
        let (status, _, body) = self.server.sync(&self.li_token, &request).await?;
        let refusal = (status != StatusCode::OK)
            .then(|| serde_json::from_slice(&body))
            .transpose()?;
        Ok((status, refusal))
    }

    /// Asserts that Li's push is refused for `doc` under `store_copy` at `field`, and that
    /// the server stored nothing of it.
    async fn assert_copy_refused(&self, doc: &DocId, field: &str) -> TestResult {
        let (status, body) = self.push().await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body:?}");
        let body = body.ok_or("a refusal has a body")?;
        let rejection = body
            .rejected
            .iter()
            .find(|r| r.doc == doc.as_str())
            .ok_or_else(|| format!("{doc} is not among the rejections: {body:?}"))?;
        assert_eq!(rejection.rule, "store_copy", "{rejection:?}");
        assert_eq!(rejection.field, field, "{rejection:?}");
        assert!(
            rejection.message.contains(self.store.as_str()),
            "the message names the store: {}",
            rejection.message
        );
        assert!(
            self.server
                .storage
                .document_changes(doc.as_str())?
                .is_empty(),
            "nothing of a refused document is stored"
        );
        Ok(())
    }
}

/// Shown to guard the check: with `store_copy_refused` in `storage/push.rs` answering
/// `Ok(None)`, the forged visit was stored (200).
async fn a_visit_copying_a_location_its_store_never_held_is_refused_naming_store_lat_on(
    backend: Backend,
) -> TestResult {
    let d = District::new(backend, "copy_location").await?;
    // The store "moves" 1 km north, next to nothing: any fix there would read in range.
    let d = d.tamper("UPDATE store_index SET lat = lat + 0.01")?;
    let visit = d.visit(&d.li)?;
    d.assert_copy_refused(&visit, "store_lat").await
}

async fn a_visit_copying_a_geofence_its_store_never_held_is_refused_naming_geofence_m_on(
    backend: Backend,
) -> TestResult {
    let d = District::new(backend, "copy_geofence").await?;
    let d = d.tamper("UPDATE store_index SET geofence_m = 5000")?;
    let visit = d.visit(&d.li)?;
    d.assert_copy_refused(&visit, "geofence_m").await
}

async fn a_complaint_calling_an_urban_store_rural_is_refused_naming_urban_on(
    backend: Backend,
) -> TestResult {
    let d = District::new(backend, "copy_market").await?;
    // Rural: no one-hour on-site clock to meet.
    let d = d.tamper("UPDATE store_index SET market = 'X'")?;
    let complaint = d.li.create_complaint(NewComplaint {
        store_id: d.store.clone(),
        kind: ComplaintKind::Complaint,
        received_at: at("2026-11-23T08:30:00+08:00"),
        description: "two cartons short".into(),
    })?;
    d.assert_copy_refused(&complaint, "urban").await
}

async fn a_visit_made_at_the_place_a_store_had_before_the_office_moved_it_is_delivered_on(
    backend: Backend,
) -> TestResult {
    let d = District::new(backend, "copy_moved").await?;
    // The office moves the store twice, the second time to a place given in GCJ-02 (a map
    // SDK's), while Li's phone is offline and still knows the first place.
    d.move_store(GeoPoint::wgs84(30.28, 120.16))?;
    d.move_store(GeoPoint {
        lat: 30.2681,
        lng: 120.1562,
        datum: Datum::Gcj02,
    })?;
    let before_the_move = d.visit(&d.li)?;
    let delivered = d.server.sync_phone(&d.li_token, &d.li).await?;
    assert!(
        delivered
            .accepted
            .iter()
            .any(|a| a.doc == before_the_move.as_str()),
        "the visit made before the phone heard of the moves is delivered"
    );
    // Now the phone knows the GCJ-02 place (in WGS-84, as it copies it).
    // Now the phone knows the GCJ-02 place, and copies it in WGS-84.
    d.visit(&d.li)?;
    d.server.sync_phone(&d.li_token, &d.li).await?;
    // A second phone of Li's, enrolled after the moves, copies the latest place too.
    let token = d.server.enroll("am-li").await?;
    let (second, _) = device(d.dir.path().join("li-2.db"), "am-li", at(MONDAY))?;
    d.server.sync_phone(&token, &second).await?;
    d.visit(&second)?;
    d.server.sync_phone(&token, &second).await?;
    Ok(())
}

/// The check reads what the push itself writes to its stores: the office, which records
/// complaints too (admins record no visits), calls a store rural and records a complaint
/// about it, not urban any more, in one push.
async fn a_push_that_makes_a_store_rural_and_records_a_complaint_under_its_new_market_is_accepted_on(
    backend: Backend,
) -> TestResult {
    let d = District::new(backend, "copy_same_push").await?;
    let admin = AdminDevice::open(d.dir.path(), d.server.storage.as_ref())?;
    admin.local.update_store_classification(
        &d.store,
        StoreClassification {
            market: Some(MarketType::Rural),
            ..StoreClassification::default()
        },
    )?;
    let complaint = admin.local.create_complaint(NewComplaint {
        store_id: d.store.clone(),
        kind: ComplaintKind::Complaint,
        received_at: admin.local.now()?,
        description: "the retailer called the office".into(),
    })?;
    assert!(!admin.local.complaint(&complaint)?.urban);
    admin.push()?;
    assert!(
        !d.server
            .storage
            .document_changes(complaint.as_str())?
            .is_empty(),
        "the complaint under the new market is stored"
    );
    Ok(())
}

fieldsync_tests::on_sqlite_and_postgres!(a_visit_copying_a_location_its_store_never_held_is_refused_naming_store_lat_on: a_visit_copying_a_location_its_store_never_held_is_refused_naming_store_lat, a_visit_copying_a_location_its_store_never_held_is_refused_naming_store_lat_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_visit_copying_a_geofence_its_store_never_held_is_refused_naming_geofence_m_on: a_visit_copying_a_geofence_its_store_never_held_is_refused_naming_geofence_m, a_visit_copying_a_geofence_its_store_never_held_is_refused_naming_geofence_m_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_complaint_calling_an_urban_store_rural_is_refused_naming_urban_on: a_complaint_calling_an_urban_store_rural_is_refused_naming_urban, a_complaint_calling_an_urban_store_rural_is_refused_naming_urban_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_visit_made_at_the_place_a_store_had_before_the_office_moved_it_is_delivered_on: a_visit_made_at_the_place_a_store_had_before_the_office_moved_it_is_delivered, a_visit_made_at_the_place_a_store_had_before_the_office_moved_it_is_delivered_on_postgres);
fieldsync_tests::on_sqlite_and_postgres!(a_push_that_makes_a_store_rural_and_records_a_complaint_under_its_new_market_is_accepted_on: a_push_that_makes_a_store_rural_and_records_a_complaint_under_its_new_market_is_accepted, a_push_that_makes_a_store_rural_and_records_a_complaint_under_its_new_market_is_accepted_on_postgres);
