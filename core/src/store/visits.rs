//! The typed API of visits and their index row: starting a visit at a check-in, checking
//! out, notes, photos, training activities and comments, and `visit_index`. The document
//! itself is defined in `crate::kinds::visit`.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::doc::{DOC_ROOT, Doc, HydrateValue, Obj, Scalar, empty_map, str_value, text_value};
use crate::error::{Error, Result};
use crate::geo::GeoPoint;
use crate::ids::{DocId, DocKind};
use crate::kinds::visit::{
    CheckPoint, NewVisit, TrainingActivity, Visit, VisitKind, VisitRow, read, read_checkpoint,
    store_centre, validate_photo_hash,
};
use crate::store::LocalStore;
use crate::store::index::Derived;
use crate::store::retail_stores::store_facts;
use crate::store::visit_whole::VisitEnd;
use crate::time::Timestamp;

/// How far a check-in or check-out may lie ahead of the device's own clock: 5 minutes. The
/// app takes the time from the same clock, or from the GPS fix whose clock may run a little
/// ahead; a time further ahead cannot be true and is refused, naming the field.
pub const MAX_AHEAD_OF_DEVICE_CLOCK_MS: i64 = 5 * 60_000;

impl LocalStore {
    /// Starts a visit at `check_in`, made by this device's user. Refuses an unknown store,
    /// a bad GPS fix, and a check-in later than the device's clock allows
    /// ([`MAX_AHEAD_OF_DEVICE_CLOCK_MS`]); an out-of-range fix is recorded and flagged.
    pub fn create_visit(&self, new: NewVisit) -> Result<DocId> {
        self.create_visit_doc(new, None)
    }

    /// A new visit; with `end`, recorded whole (see `visit_whole.rs`).
    pub(super) fn create_visit_doc(&self, new: NewVisit, end: Option<VisitEnd>) -> Result<DocId> {
        if let Some(gps) = &new.check_in.gps {
            gps.validate("check_in.gps")?;
        }
        if let Some(gps) = end.as_ref().and_then(|e| e.check_out.gps.as_ref()) {
            gps.validate("check_out.gps")?;
        }
        if new.complaint_id.is_some() && new.kind != VisitKind::ComplaintOnSite {
            return Err(Error::invalid(
                "complaint_id",
                "only a complaint on-site visit refers to a complaint",
            ));
        }
        self.create_doc(DocKind::Visit, |conn, stamp| {
            if let Some(role) = super::enrollment::enrolled_role(conn)?
                && new.kind.recorded_by() != role
            {
                return Err(Error::invalid(
                    "kind",
                    format!(
                        "a `{}` visit is recorded only by role `{}`, and this phone's user is `{role}`",
                        new.kind.code(),
                        new.kind.recorded_by()
                    ),
                ));
            }
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
            if let Some(end) = &end {
                end.add_to(conn, &mut fields, &new, &facts, stamp.at)?;
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
            let check_in = read_checkpoint(doc, "check_in")?;
            check_check_out(check_out.at, check_in.at, stamp.at)?;
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

    /// Adds a photo reference by content hash (`sha256:<64 hex>`), or gives the photo
    /// referenced already a new caption, keeping what `add_photo` recorded of it.
    pub fn add_visit_photo(&self, id: &DocId, hash: &str, caption: &str) -> Result<()> {
        validate_photo_hash(hash)?;
        self.edit_doc(id, DocKind::Visit, "add photo", |doc, stamp, _| {
            let photos = photos_obj(doc)?;
            doc.put_entry_keeping(&photos, hash, vec![("caption", caption.into())], stamp)
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

/// Refuses a check-out at `at` before the check-in or later than the device's clock allows.
pub(super) fn check_check_out(at: Timestamp, check_in: Timestamp, now: Timestamp) -> Result<()> {
    check_not_ahead("check_out.at", at, now)?;
    if at < check_in {
        return Err(Error::invalid(
            "check_out.at",
            format!("check-out `{}` is before check-in `{}`", at.0, check_in.0),
        ));
    }
    Ok(())
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

pub(super) fn checkpoint_value(
    point: &CheckPoint,
    centre: &GeoPoint,
    radius_m: f64,
) -> HydrateValue {
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
    use crate::geo::{Datum, GpsFix};

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
