//! A visit recorded whole, for an app that saves a visit at check-out: its check-in, the
//! documents it touched and its check-out in the change that creates it, where
//! `create_visit`, `link_visit` and `check_out_visit` make three changes (three chunks,
//! three index and outbox updates, three checks of the document).

use std::collections::HashMap;

use rusqlite::Connection;

use crate::doc::{HydrateValue, str_value};
use crate::error::Result;
use crate::ids::{DocId, DocKind};
use crate::kinds::visit::{CheckPoint, NewVisit};
use crate::store::LocalStore;
use crate::store::retail_stores::StoreFacts;
use crate::store::visits::{check_check_out, check_doc_of_store, checkpoint_value};
use crate::time::Timestamp;

impl LocalStore {
    /// Records a visit taken whole, for a visit saved at check-out: its check-in, the shelf
    /// display and inventory count it touched, and its check-out, all in the change that
    /// creates it. The document is the one [`create_visit`](Self::create_visit),
    /// [`link_visit`](Self::link_visit) and [`check_out_visit`](Self::check_out_visit)
    /// make at this instant, in one change instead of three, and it refuses what they
    /// refuse.
    pub fn record_visit(
        &self,
        new: NewVisit,
        shelf_display: Option<&DocId>,
        inventory_count: Option<&DocId>,
        check_out: CheckPoint,
    ) -> Result<DocId> {
        self.create_visit_doc(
            new,
            Some(VisitEnd {
                shelf_display,
                inventory_count,
                check_out,
            }),
        )
    }
}

/// What [`LocalStore::record_visit`] adds to a new visit: its links and its check-out.
pub(super) struct VisitEnd<'a> {
    pub(super) shelf_display: Option<&'a DocId>,
    pub(super) inventory_count: Option<&'a DocId>,
    pub(super) check_out: CheckPoint,
}

impl VisitEnd<'_> {
    /// Checks the links and the check-out as `link_visit` and `check_out_visit` do, and
    /// adds them to the fields of the visit being created.
    pub(super) fn add_to(
        &self,
        conn: &Connection,
        fields: &mut HashMap<&'static str, HydrateValue>,
        new: &NewVisit,
        facts: &StoreFacts,
        now: Timestamp,
    ) -> Result<()> {
        check_check_out(self.check_out.at, new.check_in.at, now)?;
        if let Some(d) = self.shelf_display {
            check_doc_of_store(
                conn,
                "shelf_display_id",
                d,
                DocKind::ShelfDisplay,
                &new.store_id,
            )?;
            fields.insert("shelf_display_id", str_value(d.as_str()));
        }
        if let Some(c) = self.inventory_count {
            check_doc_of_store(
                conn,
                "inventory_count_id",
                c,
                DocKind::InventoryCount,
                &new.store_id,
            )?;
            fields.insert("inventory_count_id", str_value(c.as_str()));
        }
        let out = checkpoint_value(&self.check_out, &facts.location, facts.geofence_m);
        fields.insert("check_out", out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, device, sample_store};
    use crate::geo::GpsFix;
    use crate::kinds::visit::{Visit, VisitKind};
    use crate::store::index::tests::table_rows;
    use crate::{NewCountLine, NewInventoryCount};

    /// A visit's reading and its index row, its id set aside (they differ by it alone).
    fn seen(db: &LocalStore, id: &DocId) -> Result<(Visit, Vec<String>)> {
        let mut visit = db.visit(id)?;
        let prefix = format!("{id}|");
        let rows = table_rows(
            db,
            &["SELECT id, store_id, visitor, kind, check_in_at, check_out_at, in_range FROM visit_index"],
        )?
        .into_iter()
        .filter_map(|row| row.strip_prefix(&prefix).map(str::to_owned))
        .collect();
        visit.id = DocId::derived(DocKind::Visit, &visit.store_id);
        Ok((visit, rows))
    }

    #[test]
    fn a_visit_recorded_whole_reads_and_is_listed_as_one_created_linked_and_checked_out()
    -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (db, clock) = device(
            dir.path().join("a.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let store = db.create_store(sample_store("am-li", 1))?;
        let display = db.create_shelf_display(&store)?;
        let count = db.create_inventory_count(NewInventoryCount {
            store_id: store.clone(),
            lines: vec![NewCountLine {
                sku: "s1".to_owned(),
                name: "s1".to_owned(),
                book: 3,
            }],
        })?;
        let place = db.store(&store)?.location;
        let new = || NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: at("2026-11-23T09:00:00+08:00"),
                gps: Some(GpsFix::wgs84(place.lat + 0.0003, place.lng, 5.0)),
            },
            complaint_id: None,
        };
        // Far from the store at check-out: the flag must come out the same both ways.
        let out = CheckPoint {
            at: at("2026-11-23T09:20:00+08:00"),
            gps: Some(GpsFix::wgs84(place.lat + 0.01, place.lng, 5.0)),
        };
        clock.set(at("2026-11-23T09:20:00+08:00"));
        let stepwise = db.create_visit(new())?;
        db.link_visit(&stepwise, Some(&display), Some(&count))?;
        db.check_out_visit(&stepwise, out)?;
        let whole = db.record_visit(new(), Some(&display), Some(&count), out)?;
        assert_eq!(seen(&db, &whole)?, seen(&db, &stepwise)?);
        assert_eq!(db.history(&whole)?.len(), 1, "one change");
        assert!(seen(&db, &whole)?.0.out_of_range());
        Ok(())
    }

    #[test]
    fn a_visit_recorded_whole_refuses_what_linking_and_checking_out_refuse_and_writes_nothing()
    -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (db, _) = device(
            dir.path().join("a.db"),
            "am-li",
            at("2026-11-23T09:20:00+08:00"),
        )?;
        let store = db.create_store(sample_store("am-li", 1))?;
        let other = db.create_store(sample_store("am-li", 2))?;
        let elsewhere = db.create_shelf_display(&other)?;
        let new = NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: at("2026-11-23T09:00:00+08:00"),
                gps: None,
            },
            complaint_id: None,
        };
        let out = |time: &str| CheckPoint {
            at: at(time),
            gps: None,
        };
        let refusals = [
            (
                db.record_visit(
                    new.clone(),
                    Some(&elsewhere),
                    None,
                    out("2026-11-23T09:10:00+08:00"),
                ),
                "belongs to another store",
            ),
            (
                db.record_visit(new.clone(), None, None, out("2026-11-23T08:59:00+08:00")),
                "is before check-in",
            ),
            (
                db.record_visit(new.clone(), None, None, out("2026-11-23T10:00:00+08:00")),
                "ahead of the device clock",
            ),
        ];
        for (refused, why) in refusals {
            let err = refused.expect_err(why);
            assert!(err.to_string().contains(why), "{err}");
        }
        assert!(db.visits_of_store(&store)?.is_empty());
        Ok(())
    }
}
