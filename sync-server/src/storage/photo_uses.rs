//! The photos each visit uses, kept by the server as pushes land (schema 12 on SQLite, 11
//! on PostgreSQL): what `admin photo-reuse` and the reused photos' section of `admin report`
//! read, instead of loading every visit of the history.
//!
//! A push that stores a visit replaces that visit's rows with what the merged document
//! holds now, in the push's transaction: a photo removed by a later edit stops counting, and
//! the rows always match the stored document. Visits stored before the table existed are
//! listed as pending by the migration and filled in from their stored changes when a server
//! opens the database ([`BACKFILL_BATCH`] visits per transaction).

use std::collections::{BTreeMap, BTreeSet};

use fieldsync_core::Replica;

use crate::error::AppResult;

const DAY_MS: i64 = 86_400_000;

/// Visits filled in per transaction when a server opens a database stored before the table.
pub const BACKFILL_BATCH: usize = 500;

/// One use of a photo in a visit.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PhotoUse {
    pub visit: String,
    pub store: String,
    /// The UTC day (days since the epoch) the photo was taken, or else added.
    pub day: i64,
}

impl PhotoUse {
    /// [`PhotoUse::day`] written `YYYY-MM-DD`, as the reports list it.
    pub fn day_text(&self) -> String {
        chrono::DateTime::from_timestamp(self.day * 86_400, 0)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    }
}

/// The rows of one visit: each photo hash it uses with the UTC day it was taken (or else
/// added), each pair once.
pub type VisitPhotos = Vec<(String, i64)>;

/// The photos a visit's merged document uses, as rows of [`VisitPhotos`].
pub fn of_replica(replica: &Replica) -> VisitPhotos {
    let uses: BTreeSet<(String, i64)> = replica
        .photo_refs()
        .into_iter()
        .map(|photo| {
            let at = photo.taken_at.unwrap_or(photo.at);
            (photo.hash, at.0.div_euclid(DAY_MS))
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
