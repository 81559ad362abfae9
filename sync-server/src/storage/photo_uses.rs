//! The photos each visit uses, kept by the server as pushes land (schema 12 on SQLite, 11
//! on PostgreSQL): what `admin photo-reuse` and the reused photos' section of `admin report`
//! read, instead of loading every visit of the history.
//!
//! A push that stores a visit replaces that visit's rows with what the merged document
//! holds now, in the push's transaction: a photo removed by a later edit stops counting, and
//! the rows always match the stored document. Visits stored before the table existed are
//! listed as pending by the migration and filled in from their stored changes when a server
//! opens the database ([`BACKFILL_BATCH`] visits per transaction); so are the visits with
//! photos of a database whose days were UTC dates (before schema 16 on SQLite, 15 on
//! PostgreSQL).

use std::collections::{BTreeMap, BTreeSet};

use fieldsync_core::{FieldCalendar, Replica};

use crate::error::AppResult;

/// Visits filled in per transaction when a server opens a database stored before the table.
pub const BACKFILL_BATCH: usize = 500;

/// One use of a photo in a visit.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PhotoUse {
    pub visit: String,
    pub store: String,
    /// The district's local date (days since 1970-01-01) the photo was taken, or else
    /// added: [`local_day`].
    pub day: i64,
}

/// The district's local date of `at` as days since 1970-01-01 (the server's district is
/// the default calendar's, UTC+8): what a photo use's day and the report's month read, so
/// that a day turns at local midnight, not at 08:00.
pub fn local_day(at: fieldsync_core::Timestamp) -> i64 {
    let epoch = chrono::DateTime::UNIX_EPOCH.date_naive();
    FieldCalendar::default()
        .local(at)
        .date_naive()
        .signed_duration_since(epoch)
        .num_days()
}

impl PhotoUse {
    /// [`PhotoUse::day`] written `YYYY-MM-DD`, as the reports list it.
    pub fn day_text(&self) -> String {
        chrono::DateTime::from_timestamp(self.day * 86_400, 0)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    }
}

/// The rows of one visit: each photo hash it uses with the local day it was taken (or else
/// added), each pair once.
pub type VisitPhotos = Vec<(String, i64)>;

/// The photos a visit's merged document uses, as rows of [`VisitPhotos`].
pub fn of_replica(replica: &Replica) -> VisitPhotos {
    let uses: BTreeSet<(String, i64)> = replica
        .photo_refs()
        .into_iter()
        .map(|photo| {
            let at = photo.taken_at.unwrap_or(photo.at);
            (photo.hash, local_day(at))
        })
        .collect();
    uses.into_iter().collect()
}

/// The store and photos of a visit stored before the table existed, from its stored
/// changes: for the backfill.
pub fn of_stored(visit: &str, changes: &[Vec<u8>]) -> AppResult<(String, VisitPhotos)> {
    let replica = super::replica_cache::load_replica(visit, changes)?;
    let store = replica
        .summary()?
        .and_then(|s| s.store_id)
        .unwrap_or_default();
    Ok((store, of_replica(&replica)))
}

/// The query both backends run for [`reused`](crate::storage::SyncStorage::reused_photos):
/// every use of each photo used in more than one store or on more than one day, in the
/// order the report lists them.
pub const REUSED_QUERY: &str = "SELECT hash, visit, store, day FROM photo_uses
     WHERE hash IN (SELECT hash FROM photo_uses GROUP BY hash
                    HAVING COUNT(DISTINCT store) > 1 OR COUNT(DISTINCT day) > 1)
     ORDER BY hash, visit, store, day";

/// Rows of [`REUSED_QUERY`] grouped by photo hash.
pub fn grouped(
    rows: impl IntoIterator<Item = (String, PhotoUse)>,
) -> BTreeMap<String, Vec<PhotoUse>> {
    let mut reused: BTreeMap<String, Vec<PhotoUse>> = BTreeMap::new();
    for (hash, photo_use) in rows {
        reused.entry(hash).or_default().push(photo_use);
    }
    reused
}
