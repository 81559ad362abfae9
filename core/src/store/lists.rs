//! Lists an app's screens show, read from the index tables only (no document is loaded):
//! a visitor's visits of a day, and where a document's or a store's edits stand on their
//! way to the server ([`UploadState`]). The account manager's store list, which needs the
//! rules, is `rules/store_list.rs`. Each list names the [`Topics`] it reads, so a live
//! screen knows when to read it again.

use chrono::NaiveDate;
use rusqlite::params;

use crate::error::Result;
use crate::ids::DocId;
use crate::kinds::visit::VisitKind;
use crate::store::{LocalStore, Topics};
use crate::time::Timestamp;

/// Where the local edits of a document, or of every document about a store, stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadState {
    /// Nothing waits: the server holds every local edit.
    OnServer,
    /// Saved on this phone, waiting for a sync.
    SavedOnPhone,
    /// A sync is sending it now.
    Uploading,
    /// The server refused (one of) them: the user must look.
    Rejected,
}

impl UploadState {
    /// From an outbox aggregate: documents waiting, any refused, any in flight.
    pub(crate) fn of(pending: i64, rejected: bool, uploading: bool) -> UploadState {
        match (pending, rejected, uploading) {
            (0, _, _) => UploadState::OnServer,
            (_, true, _) => UploadState::Rejected,
            (_, false, true) => UploadState::Uploading,
            _ => UploadState::SavedOnPhone,
        }
    }
}

/// A visit as a day's list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitListRow {
    pub id: DocId,
    pub store_id: DocId,
    /// The store's name, empty when this device does not hold the store.
    pub store_name: String,
    pub kind: VisitKind,
    pub check_in: Timestamp,
    pub check_out: Option<Timestamp>,
    /// Whether check-in was inside the store's geofence; `None` without a GPS fix.
    pub in_range: Option<bool>,
    pub upload: UploadState,
}

const VISITS_OF_DAY: &str =
    "SELECT v.id, v.store_id, COALESCE(s.name, ''), v.kind, v.check_in_at, v.check_out_at,
            v.in_range, o.local_edits > o.confirmed_edits, o.rejected IS NOT NULL, o.uploading
     FROM visit_index v
     LEFT JOIN store_index s ON s.id = v.store_id
     LEFT JOIN outbox o ON o.doc_id = v.id
     WHERE v.visitor = ?1 AND v.check_in_at >= ?2 AND v.check_in_at < ?3
     ORDER BY v.check_in_at, v.id";

impl LocalStore {
    /// What [`visits_of_day`](Self::visits_of_day) reads: read it again when one changes.
    pub const VISITS_OF_DAY_TOPICS: Topics =
        Topics::VISITS.union(Topics::STORES).union(Topics::UPLOADS);

    /// The visits `visitor` checked in to on `day` (the district's calendar), in check-in
    /// order, with each one's upload state. Reads the index only.
    pub fn visits_of_day(&self, visitor: &str, day: NaiveDate) -> Result<Vec<VisitListRow>> {
        let cal = self.calendar();
        let (from, to) = (
            cal.start_of(day),
            cal.start_of(day + chrono::Duration::days(1)),
        );
        let rows = self.read(|conn| {
            let mut stmt = conn.prepare_cached(VISITS_OF_DAY)?;
            let rows = stmt
                .query_map(params![visitor, from.0, to.0], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<bool>>(6)?,
                        (
                            r.get::<_, Option<bool>>(7)?,
                            r.get::<_, Option<bool>>(8)?,
                            r.get::<_, Option<bool>>(9)?,
                        ),
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        rows.into_iter()
            .map(
                |(id, store, store_name, kind, check_in, check_out, in_range, outbox)| {
                    let (pending, rejected, uploading) = outbox;
                    Ok(VisitListRow {
                        id: DocId::parse("id", &id)?,
                        store_id: DocId::parse("store_id", &store)?,
                        store_name,
                        kind: VisitKind::parse(&kind)?,
                        check_in: Timestamp(check_in),
                        check_out: check_out.map(Timestamp),
                        in_range,
                        upload: UploadState::of(
                            i64::from(pending.unwrap_or(false)),
                            rejected.unwrap_or(false),
                            uploading.unwrap_or(false),
                        ),
                    })
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{at, device, sample_store};
    use crate::kinds::visit::{CheckPoint, NewVisit};

    #[test]
    fn the_days_visits_list_only_that_days_visits_of_that_visitor_with_their_upload_state()
    -> Result<()> {
        let dir = tempfile::tempdir()?;
        let (db, clock) = device(
            dir.path().join("a.db"),
            "am-li",
            at("2026-11-23T09:00:00+08:00"),
        )?;
        let store = db.create_store(sample_store("am-li", 1))?;
        let visit = |at: Timestamp| NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint { at, gps: None },
            complaint_id: None,
        };
        let yesterday = db.create_visit(visit(at("2026-11-22T16:00:00+08:00")))?;
        let first = db.create_visit(visit(at("2026-11-23T08:10:00+08:00")))?;
        clock.advance_minutes(60);
        let second = db.create_visit(visit(at("2026-11-23T09:30:00+08:00")))?;
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).expect("day");
        db.mark_uploading(std::slice::from_ref(&second), true)?;
        let rows = db.visits_of_day("am-li", day)?;
        let ids: Vec<&DocId> = rows.iter().map(|r| &r.id).collect();
        assert_eq!(ids, vec![&first, &second]);
        assert!(!ids.contains(&&yesterday));
        assert_eq!(rows[0].store_name, "Store 1");
        assert_eq!(rows[0].upload, UploadState::SavedOnPhone);
        assert_eq!(rows[1].upload, UploadState::Uploading);
        assert!(db.visits_of_day("mt-zhao", day)?.is_empty());
        Ok(())
    }
}
