//! The store visit document: one per visit, written by its visitor.
//!
//! Check-in and check-out carry the device time and the GPS fix with its datum, and whether
//! the fix was inside the store's geofence (out of range is flagged, never blocked), judged
//! in WGS-84 whatever the datums of the fix and the store. The visit copies the store's
//! location (in WGS-84, `store_datum`) when it is created, so the verdict does not change
//! when the store is moved later. Notes are collaborative text; a supervisor may comment
//! afterwards.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::doc::{
    DOC_ROOT, Doc, HydrateValue, Obj, Scalar, Versions, empty_map, scalar_str, str_value,
    text_value,
};
use crate::error::{Error, Result};
use crate::geo::{Datum, GeoPoint, GpsFix};
use crate::ids::{DocId, DocKind};
use crate::store::LocalStore;
use crate::store::index::Derived;
use crate::store::retail_stores::store_facts;
use crate::time::Timestamp;

/// How far a check-in or check-out may lie ahead of the device's own clock: 5 minutes. The
/// app takes the time from the same clock, or from the GPS fix whose clock may run a little
/// ahead; a time further ahead cannot be true and is refused, naming the field.
pub const MAX_AHEAD_OF_DEVICE_CLOCK_MS: i64 = 5 * 60_000;

/// Why the visit was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VisitKind {
    /// The account manager's weekly visit (R1).
    Routine,
    /// The account manager's daily check of a demo-street store (R5).
    DemoStreetDailyCheck,
    /// A stop on the market team's weekly walkthrough (R5).
    MarketWalkthrough,
    /// A supervisor's monthly spot check (R4, R5).
    SupervisionSpotCheck,
    /// The monthly in-store training day in a functional terminal (R8).
    TrainingDay,
    /// Going on site for a complaint (R9).
    ComplaintOnSite,
}

/// The four activities of an in-store training day (R8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrainingActivity {
    BrandDisplay,
    NewBrandPromotion,
    InventoryAnalysis,
    OrderOptimisation,
}

impl VisitKind {
    pub const ALL: [VisitKind; 6] = [
        VisitKind::Routine,
        VisitKind::DemoStreetDailyCheck,
        VisitKind::MarketWalkthrough,
        VisitKind::SupervisionSpotCheck,
        VisitKind::TrainingDay,
        VisitKind::ComplaintOnSite,
    ];

    pub fn code(self) -> &'static str {
        match self {
            VisitKind::Routine => "routine",
            VisitKind::DemoStreetDailyCheck => "demo_street_daily",
            VisitKind::MarketWalkthrough => "market_walkthrough",
            VisitKind::SupervisionSpotCheck => "supervision_spot_check",
            VisitKind::TrainingDay => "training_day",
            VisitKind::ComplaintOnSite => "complaint_on_site",
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.code() == text)
            .ok_or_else(|| Error::invalid("kind", format!("unknown visit kind `{text}`")))
    }
}

impl TrainingActivity {
    pub const ALL: [TrainingActivity; 4] = [
        TrainingActivity::BrandDisplay,
        TrainingActivity::NewBrandPromotion,
        TrainingActivity::InventoryAnalysis,
        TrainingActivity::OrderOptimisation,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TrainingActivity::BrandDisplay => "brand_display",
            TrainingActivity::NewBrandPromotion => "new_brand_promotion",
            TrainingActivity::InventoryAnalysis => "inventory_analysis",
            TrainingActivity::OrderOptimisation => "order_optimisation",
        }
    }
}

/// A check-in or check-out as the phone records it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CheckPoint {
    pub at: Timestamp,
    /// `None` when the phone had no fix.
    pub gps: Option<GpsFix>,
}

/// A check-in or check-out as stored, with the geofence verdict.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecordedCheckPoint {
    pub at: Timestamp,
    pub gps: Option<GpsFix>,
    /// Metres from the store; `None` without a fix.
    pub distance_m: Option<f64>,
    /// Within the store's geofence; `None` without a fix.
    pub in_range: Option<bool>,
}

/// What the app gives to start a visit.
#[derive(Clone, Debug, PartialEq)]
pub struct NewVisit {
    pub store_id: DocId,
    pub kind: VisitKind,
    pub check_in: CheckPoint,
    /// The complaint being handled, for a [`VisitKind::ComplaintOnSite`] visit.
    pub complaint_id: Option<DocId>,
}

/// A supervisor's comment on a visit.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitComment {
    pub by: String,
    pub at: Timestamp,
    pub text: String,
}

/// A photo reference: the content hash now, the bytes later.
#[derive(Clone, Debug, PartialEq)]
pub struct PhotoRef {
    /// `sha256:` followed by 64 lower-case hex digits.
    pub hash: String,
    pub caption: String,
    pub by: String,
    pub at: Timestamp,
}

/// A visit as read from its document.
#[derive(Clone, Debug, PartialEq)]
pub struct Visit {
    pub id: DocId,
    pub store_id: DocId,
    pub visitor: String,
    pub kind: VisitKind,
    pub check_in: RecordedCheckPoint,
    pub check_out: Option<RecordedCheckPoint>,
    pub complaint_id: Option<DocId>,
    pub shelf_display_id: Option<DocId>,
    pub inventory_count_id: Option<DocId>,
    pub brand_promotion: String,
    pub notes: String,
    pub photos: Vec<PhotoRef>,
    pub comments: Vec<VisitComment>,
    /// For a training day: each of the four activities with its note once recorded.
    pub training: Vec<(TrainingActivity, Option<Versions<String>>)>,
}

impl Visit {
    /// Out of range at check-in or check-out: shown to a reviewer, never blocking.
    pub fn out_of_range(&self) -> bool {
        self.check_in.in_range == Some(false)
            || self.check_out.and_then(|c| c.in_range) == Some(false)
    }
}

impl LocalStore {
    /// Starts a visit at `check_in`, made by this device's user. Refuses an unknown store,
    /// a bad GPS fix, and a check-in later than the device's clock allows
    /// ([`MAX_AHEAD_OF_DEVICE_CLOCK_MS`]); an out-of-range fix is recorded and flagged.
    pub fn create_visit(&self, new: NewVisit) -> Result<DocId> {
        if let Some(gps) = &new.check_in.gps {
            gps.validate("check_in.gps")?;
        }
        if new.complaint_id.is_some() && new.kind != VisitKind::ComplaintOnSite {
            return Err(Error::invalid(
                "complaint_id",
                "only a complaint on-site visit refers to a complaint",
            ));
        }
        self.create_doc(DocKind::Visit, |conn, stamp| {
            check_not_ahead("check_in.at", new.check_in.at, stamp.at)?;
            let facts = store_facts(conn, "store_id", &new.store_id)?;
            if let Some(complaint) = &new.complaint_id {
                check_doc_of_store(
                    conn,
                    "complaint_id",
                    complaint,
                    DocKind::Complaint,
                    &new.store_id,
                )?;
            }
            let check_in = checkpoint_value(&new.check_in, &facts.location, facts.geofence_m);
            let training: HashMap<&str, HydrateValue> = HashMap::new();
            let mut fields: HashMap<&'static str, HydrateValue> = HashMap::from([
                ("store_id", str_value(new.store_id.as_str())),
                ("visitor", str_value(&stamp.by)),
                ("visit_kind", str_value(new.kind.code())),
                ("store_lat", HydrateValue::from(facts.location.lat)),
                ("store_lng", HydrateValue::from(facts.location.lng)),
                ("store_datum", str_value(facts.location.datum.code())),
                ("geofence_m", HydrateValue::from(facts.geofence_m)),
                ("check_in", check_in),
                ("brand_promotion", text_value("")),
                ("notes", text_value("")),
                ("photos", empty_map()),
                ("comments", empty_map()),
                ("training", HydrateValue::from(training)),
            ]);
            if let Some(c) = &new.complaint_id {
                fields.insert("complaint_id", str_value(c.as_str()));
            }
            Ok(fields)
        })
    }

    /// Reads a visit.
    pub fn visit(&self, id: &DocId) -> Result<Visit> {
        self.read_doc(id, DocKind::Visit, read)
    }

    /// Ends the visit. Refuses a check-out before the check-in or later than the device's
    /// clock allows ([`MAX_AHEAD_OF_DEVICE_CLOCK_MS`]).
    pub fn check_out_visit(&self, id: &DocId, check_out: CheckPoint) -> Result<()> {
        if let Some(gps) = &check_out.gps {
            gps.validate("check_out.gps")?;
        }
        self.edit_doc(id, DocKind::Visit, "check out", |doc, stamp, _| {
            check_not_ahead("check_out.at", check_out.at, stamp.at)?;
            let check_in = read_checkpoint(doc, "check_in")?;
            if check_out.at < check_in.at {
                return Err(Error::invalid(
                    "check_out.at",
                    format!(
                        "check-out `{}` is before check-in `{}`",
                        check_out.at.0, check_in.at.0
                    ),
                ));
            }
            let (centre, radius) = store_centre(doc)?;
            doc.put_value(
                &DOC_ROOT,
                "check_out",
                &checkpoint_value(&check_out, &centre, radius),
            )
        })
    }

    /// Records which shelf display and which inventory count the visit touched. Both must
    /// be documents of the visit's store.
    pub fn link_visit(
        &self,
        id: &DocId,
        shelf_display: Option<&DocId>,
        inventory_count: Option<&DocId>,
    ) -> Result<()> {
        self.edit_doc(id, DocKind::Visit, "link documents", |doc, _, conn| {
            let store = DocId::parse("store_id", &doc.req_str(&DOC_ROOT, "store_id")?)?;
            if let Some(d) = shelf_display {
                check_doc_of_store(conn, "shelf_display_id", d, DocKind::ShelfDisplay, &store)?;
                doc.put(&DOC_ROOT, "shelf_display_id", d.as_str())?;
            }
            if let Some(c) = inventory_count {
                check_doc_of_store(
                    conn,
                    "inventory_count_id",
                    c,
                    DocKind::InventoryCount,
                    &store,
                )?;
                doc.put(&DOC_ROOT, "inventory_count_id", c.as_str())?;
            }
            Ok(())
        })
    }

    /// Replaces the brand promotion notes (a minimal text diff, so concurrent edits merge).
    pub fn set_visit_brand_promotion(&self, id: &DocId, text: &str) -> Result<()> {
        self.edit_doc(id, DocKind::Visit, "edit brand promotion", |doc, _, _| {
            doc.update_text(&DOC_ROOT, "brand_promotion", text)
        })
    }

    /// Replaces the free notes (a minimal text diff, so concurrent edits merge).
    pub fn set_visit_notes(&self, id: &DocId, text: &str) -> Result<()> {
        self.edit_doc(id, DocKind::Visit, "edit notes", |doc, _, _| {
            doc.update_text(&DOC_ROOT, "notes", text)
        })
    }

    /// Appends to the free notes.
    pub fn append_visit_notes(&self, id: &DocId, text: &str) -> Result<()> {
        self.edit_doc(id, DocKind::Visit, "append notes", |doc, _, _| {
            doc.append_text(&DOC_ROOT, "notes", text)
        })
    }

    /// Adds a photo reference by content hash (`sha256:<64 hex>`).
    pub fn add_visit_photo(&self, id: &DocId, hash: &str, caption: &str) -> Result<()> {
        validate_photo_hash(hash)?;
        self.edit_doc(id, DocKind::Visit, "add photo", |doc, stamp, _| {
            let photos = photos_obj(doc)?;
            let entry = crate::doc::entry_value(vec![("caption", caption.into())], stamp);
            doc.put_value(&photos, hash, &entry)
        })
    }

    /// Records one activity of a training day (R8) with what was done.
    pub fn record_training_activity(
        &self,
        id: &DocId,
        activity: TrainingActivity,
        note: &str,
    ) -> Result<()> {
        if note.trim().is_empty() {
            return Err(Error::invalid(
                "note",
                format!("say what was done for `{}`", activity.code()),
            ));
        }
        self.edit_doc(
            id,
            DocKind::Visit,
            &format!("record {}", activity.code()),
            |doc, stamp, _| {
                if doc.str(&DOC_ROOT, "visit_kind").as_deref()
                    != Some(VisitKind::TrainingDay.code())
                {
                    return Err(Error::invalid(
                        "activity",
                        "only a training-day visit records training activities",
                    ));
                }
                let training = doc.container(&DOC_ROOT, "training")?;
                doc.put_stamped(&training, activity.code(), note, stamp)
            },
        )
    }

    /// A comment on the visit (supervisors comment on visits they review).
    pub fn comment_on_visit(&self, id: &DocId, text: &str) -> Result<()> {
        if text.trim().is_empty() {
            return Err(Error::invalid("comment", "must not be empty"));
        }
        self.edit_doc(id, DocKind::Visit, "comment", |doc, stamp, _| {
            let comments = doc.container(&DOC_ROOT, "comments")?;
            let key = DocId::new().to_string();
            let entry = crate::doc::entry_value(vec![("text", text.into())], stamp);
            doc.put_value(&comments, &key, &entry)
        })
    }

    /// Visits of a store, newest check-in first.
    pub fn visits_of_store(&self, store_id: &DocId) -> Result<Vec<DocId>> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(
            "SELECT id FROM visit_index WHERE store_id = ?1 ORDER BY check_in_at DESC",
        )?;
        let ids = stmt
            .query_map([store_id.as_str()], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.iter().map(|s| DocId::parse("id", s)).collect()
    }
}

/// Refuses an instant `at` later than the device's clock `now` plus the tolerance.
fn check_not_ahead(field: &str, at: Timestamp, now: Timestamp) -> Result<()> {
    let limit = now.0.saturating_add(MAX_AHEAD_OF_DEVICE_CLOCK_MS);
    if at.0 > limit {
        return Err(Error::invalid(
            field,
            format!(
                "`{}` is {} minutes ahead of the device clock `{}` (at most {} allowed)",
                at.0,
                (at.0 - now.0) / 60_000,
                now.0,
                MAX_AHEAD_OF_DEVICE_CLOCK_MS / 60_000
            ),
        ));
    }
    Ok(())
}

fn photos_obj(doc: &mut Doc) -> Result<Obj> {
    doc.container(&DOC_ROOT, "photos")
}

pub(crate) fn validate_photo_hash(hash: &str) -> Result<()> {
    let ok = hash.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    });
    if !ok {
        return Err(Error::invalid(
            "photo",
            format!("`{hash}` is not a `sha256:<64 hex digits>` content hash"),
        ));
    }
    Ok(())
}

fn checkpoint_value(point: &CheckPoint, centre: &GeoPoint, radius_m: f64) -> HydrateValue {
    let mut map: HashMap<&str, HydrateValue> =
        HashMap::from([("at", HydrateValue::from(point.at.0))]);
    if let Some(gps) = point.gps {
        map.insert("lat", HydrateValue::from(gps.lat));
        map.insert("lng", HydrateValue::from(gps.lng));
        map.insert("accuracy_m", HydrateValue::from(gps.accuracy_m));
        map.insert("datum", str_value(gps.datum.code()));
        map.insert(
            "distance_m",
            HydrateValue::from(gps.point().distance_m(centre)),
        );
        map.insert(
            "in_range",
            HydrateValue::from(Scalar::Boolean(gps.in_range(centre, radius_m))),
        );
    }
    HydrateValue::from(map)
}

pub(crate) fn store_centre(doc: &Doc) -> Result<(GeoPoint, f64)> {
    let lat = doc
        .f64(&DOC_ROOT, "store_lat")
        .ok_or_else(|| doc.missing("store_lat"))?;
    let lng = doc
        .f64(&DOC_ROOT, "store_lng")
        .ok_or_else(|| doc.missing("store_lng"))?;
    let radius = doc
        .f64(&DOC_ROOT, "geofence_m")
        .ok_or_else(|| doc.missing("geofence_m"))?;
    let datum = read_datum(doc, &DOC_ROOT, "store_datum")?;
    Ok((GeoPoint { lat, lng, datum }, radius))
}

/// The datum at `key` of `obj`: WGS-84 when absent (written before datums were recorded);
/// an unknown code makes the document unreadable rather than misjudged.
fn read_datum(doc: &Doc, obj: &Obj, key: &str) -> Result<Datum> {
    match doc.str(obj, key) {
        None => Ok(Datum::Wgs84),
        Some(code) => {
            Datum::parse(key, &code).map_err(|e| Error::corrupt(doc.id.as_str(), e.to_string()))
        }
    }
}

fn read_checkpoint(doc: &Doc, key: &str) -> Result<RecordedCheckPoint> {
    let obj = doc.obj(&DOC_ROOT, key).ok_or_else(|| doc.missing(key))?;
    let gps = match (
        doc.f64(&obj, "lat"),
        doc.f64(&obj, "lng"),
        doc.f64(&obj, "accuracy_m"),
    ) {
        (Some(lat), Some(lng), Some(accuracy_m)) => Some(GpsFix {
            lat,
            lng,
            accuracy_m,
            datum: read_datum(doc, &obj, "datum")?,
        }),
        _ => None,
    };
    Ok(RecordedCheckPoint {
        at: doc
            .time(&obj, "at")
            .ok_or_else(|| doc.missing(&format!("{key}.at")))?,
        gps,
        distance_m: doc.f64(&obj, "distance_m"),
        in_range: doc.bool(&obj, "in_range"),
    })
}

fn opt_id(doc: &Doc, key: &str) -> Result<Option<DocId>> {
    doc.str(&DOC_ROOT, key)
        .map(|s| DocId::parse(key, &s))
        .transpose()
}

/// Photo references kept in the map at `key`, oldest first (visits and tasks share them).
pub(crate) fn read_photos(doc: &Doc, key: &str) -> Vec<PhotoRef> {
    let mut photos: Vec<PhotoRef> = doc
        .obj(&DOC_ROOT, key)
        .map(|obj| {
            doc.keys(&obj)
                .into_iter()
                .filter_map(|hash| {
                    let entry = doc.entry(&obj, &hash)?;
                    Some(PhotoRef {
                        caption: entry.str("caption").unwrap_or_default(),
                        by: entry.str("by").unwrap_or_default(),
                        at: entry.time("at").unwrap_or(Timestamp(0)),
                        hash,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    photos.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.hash.cmp(&b.hash)));
    photos
}

pub(crate) fn read(doc: &Doc) -> Result<Visit> {
    let photos = read_photos(doc, "photos");
    let mut comments: Vec<VisitComment> = doc
        .obj(&DOC_ROOT, "comments")
        .map(|obj| {
            doc.keys(&obj)
                .into_iter()
                .filter_map(|key| {
                    let entry = doc.entry(&obj, &key)?;
                    Some(VisitComment {
                        by: entry.str("by").unwrap_or_default(),
                        at: entry.time("at").unwrap_or(Timestamp(0)),
                        text: entry.str("text").unwrap_or_default(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    comments.sort_by_key(|c| c.at);
    let kind = VisitKind::parse(&doc.req_str(&DOC_ROOT, "visit_kind")?)
        .map_err(|e| Error::corrupt(doc.id.as_str(), e.to_string()))?;
    let training = match (kind, doc.obj(&DOC_ROOT, "training")) {
        (VisitKind::TrainingDay, Some(obj)) => TrainingActivity::ALL
            .into_iter()
            .map(|a| {
                let note = doc
                    .stamped(&obj, a.code())
                    .map(|v| v.map(|s| scalar_str(&s).unwrap_or_default()));
                (a, note)
            })
            .collect(),
        (VisitKind::TrainingDay, None) => TrainingActivity::ALL
            .into_iter()
            .map(|a| (a, None))
            .collect(),
        _ => Vec::new(),
    };
    Ok(Visit {
        id: doc.id.clone(),
        store_id: DocId::parse("store_id", &doc.req_str(&DOC_ROOT, "store_id")?)?,
        visitor: doc.req_str(&DOC_ROOT, "visitor")?,
        kind,
        check_in: read_checkpoint(doc, "check_in")?,
        check_out: match doc.obj(&DOC_ROOT, "check_out") {
            Some(_) => Some(read_checkpoint(doc, "check_out")?),
            None => None,
        },
        complaint_id: opt_id(doc, "complaint_id")?,
        shelf_display_id: opt_id(doc, "shelf_display_id")?,
        inventory_count_id: opt_id(doc, "inventory_count_id")?,
        brand_promotion: doc.text(&DOC_ROOT, "brand_promotion").unwrap_or_default(),
        notes: doc.text(&DOC_ROOT, "notes").unwrap_or_default(),
        photos,
        comments,
        training,
    })
}

/// A visit's row of `visit_index`, derived from the document (on a merge's worker threads;
/// see `local_store::feed_merge`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VisitRow {
    store_id: String,
    visitor: String,
    kind: String,
    check_in_at: i64,
    check_out_at: Option<i64>,
    in_range: Option<bool>,
}

impl VisitRow {
    /// Reads only what the index holds: of each checkpoint its time and whether it was in
    /// range, as [`read`] would give them, with the same errors.
    pub(crate) fn read(doc: &Doc) -> Result<VisitRow> {
        let checkpoint = |key: &str| -> Result<(i64, Option<bool>)> {
            let obj = doc.obj(&DOC_ROOT, key).ok_or_else(|| doc.missing(key))?;
            let at = doc
                .time(&obj, "at")
                .ok_or_else(|| doc.missing(&format!("{key}.at")))?;
            Ok((at.0, doc.bool(&obj, "in_range")))
        };
        let (check_in_at, in_range_in) = checkpoint("check_in")?;
        let check_out = match doc.obj(&DOC_ROOT, "check_out") {
            Some(_) => Some(checkpoint("check_out")?),
            None => None,
        };
        let in_range = match (in_range_in, check_out.and_then(|c| c.1)) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(true) && b.unwrap_or(true)),
        };
        Ok(VisitRow {
            store_id: doc.req_str(&DOC_ROOT, "store_id")?,
            visitor: doc.req_str(&DOC_ROOT, "visitor")?,
            kind: doc.req_str(&DOC_ROOT, "visit_kind")?,
            check_in_at,
            check_out_at: check_out.map(|c| c.0),
            in_range,
        })
    }
}

pub(crate) fn index(tx: &Connection, doc: &mut Doc) -> Result<()> {
    let row = match doc.derived::<Derived>() {
        Some(Derived::Visit(row)) => row.clone(),
        _ => VisitRow::read(doc)?,
    };
    write_row(tx, &doc.id, &row)
}

/// Writes a visit's index row.
pub(crate) fn write_row(tx: &Connection, id: &DocId, row: &VisitRow) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO visit_index (id, store_id, visitor, kind, check_in_at, check_out_at, in_range)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id.as_str(),
        row.store_id,
        row.visitor,
        row.kind,
        row.check_in_at,
        row.check_out_at,
        row.in_range,
    ])?;
    Ok(())
}

/// Checks that `id` is a document of `kind` about `store`; `field` names the input.
pub(crate) fn check_doc_of_store(
    conn: &Connection,
    field: &str,
    id: &DocId,
    kind: DocKind,
    store: &DocId,
) -> Result<()> {
    let row: Option<(String, Option<String>)> = rusqlite::OptionalExtension::optional(
        conn.prepare_cached("SELECT kind, store_id FROM documents WHERE id = ?1")?
            .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?))),
    )?;
    match row {
        None => Err(Error::invalid(field, format!("unknown {kind} `{id}`"))),
        Some((k, _)) if k != kind.as_str() => Err(Error::invalid(
            field,
            format!("`{id}` is a {k}, not a {kind}"),
        )),
        Some((_, s)) if s.as_deref() != Some(store.as_str()) => Err(Error::invalid(
            field,
            format!("{kind} `{id}` belongs to another store"),
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, device, sample_store};

    #[test]
    fn a_visit_and_a_store_written_before_datums_read_as_wgs84() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (db, _) = device(
            dir.path().join("a.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let store = db.create_store(sample_store("am-li", 1))?;
        let place = db.store(&store)?.location;
        let fix = GpsFix::wgs84(place.lat + 0.0003, place.lng, 5.0);
        let visit = db.create_visit(NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: db.now()?,
                gps: Some(fix),
            },
            complaint_id: None,
        })?;
        let before = db.visit(&visit)?;
        // Take the datums out, as the documents of an older build were written.
        db.edit_doc(&visit, DocKind::Visit, "old", |doc, _, _| {
            let check_in = doc.container(&DOC_ROOT, "check_in")?;
            doc.delete(&check_in, "datum")?;
            doc.delete(&DOC_ROOT, "store_datum")
        })?;
        db.edit_doc(&store, DocKind::Store, "old", |doc, _, _| {
            doc.delete(&DOC_ROOT, "datum")
        })?;
        assert_eq!(db.visit(&visit)?, before);
        assert_eq!(db.store(&store)?.location.datum, Datum::Wgs84);
        db.check_out_visit(
            &visit,
            CheckPoint {
                at: db.now()?,
                gps: Some(fix),
            },
        )?;
        let out = db.visit(&visit)?.check_out.and_then(|c| c.in_range);
        assert_eq!(out, Some(true));
        Ok(())
    }
}
